package content_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/charter-dev/charter/content"
)

func ExampleIngest() {
	var data, outboard bytes.Buffer
	info, err := content.Ingest(context.Background(), strings.NewReader("hello"), &data, &outboard)
	if err != nil {
		panic(err)
	}
	fmt.Println(info.ID, info.Size)
	fmt.Println(info.ID.Hex()) // what b3sum prints
	fmt.Println(outboard.Len() == int(content.OutboardSize(info.Size)))
	// Output:
	// bafkr4ihkr4ld3m4gqkjf4reryxsy2s5tkbxprqkow6fin2iiyvreuzzab4 5
	// ea8f163db38682925e4491c5e58d4bb3506ef8c14eb78a86e908c5624a67200f
	// true
}

func ExampleVerifyRange() {
	blob := bytes.Repeat([]byte("0123456789"), 10000) // 100000 bytes
	var outboard bytes.Buffer
	info, _ := content.Ingest(context.Background(), bytes.NewReader(blob), &bytes.Buffer{}, &outboard)

	// Server side: the slice for bytes [50000, 50010).
	var slice bytes.Buffer
	n, _ := content.SliceSize(info.Size, 50000, 10)
	if err := content.ExtractRange(&slice, bytes.NewReader(blob), bytes.NewReader(outboard.Bytes()), info.Size, 50000, 10); err != nil {
		panic(err)
	}
	start, end, _ := content.WidenRange(info.Size, 50000, 10)

	// Client side: only verified bytes reach got.
	var got bytes.Buffer
	size, err := content.VerifyRange(&got, &slice, info.ID, 50000, 10)
	fmt.Println(got.String(), size, err)
	fmt.Println("slice bytes:", n, "carrying data", start, "to", end)
	// Output:
	// 0123456789 100000 <nil>
	// slice bytes: 16584 carrying data 49152 to 65536
}

func ExampleParseIndex() {
	hello, _ := content.ParseID("bafkr4ihkr4ld3m4gqkjf4reryxsy2s5tkbxprqkow6fin2iiyvreuzzab4")
	x, _ := content.NewIndex([]content.File{{Path: "docs/hello.txt", Size: 5, ID: hello}})
	b, _ := x.Encode()
	fmt.Println(string(b))
	_, err := content.ParseIndex([]byte(strings.Replace(string(b), "docs/", "../", 1)))
	fmt.Println(err)
	// Output:
	// {"mediaType":"application/vnd.charter.dataset+json","version":1,"files":[{"path":"docs/hello.txt","size":5,"id":"bafkr4ihkr4ld3m4gqkjf4reryxsy2s5tkbxprqkow6fin2iiyvreuzzab4"}]}
	// content: bad dataset index: file 0: content: bad dataset path: "../hello.txt": "." or ".." segment
}
