package content

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"testing"
	"testing/iotest"
)

// parseIndexReference is the decode-everything parser ParseIndex was
// before IndexReader: strict JSON decoding, then re-encoding and comparing
// bytes. FuzzIndexReader checks that the streaming reader accepts exactly
// what it accepts and returns the same files.
func parseIndexReference(b []byte) (*Index, error) {
	if len(b) > MaxIndexBytes {
		return nil, fmt.Errorf("%w: too large", ErrBadIndex)
	}
	var doc struct {
		MediaType *string `json:"mediaType"`
		Version   *int    `json:"version"`
		Files     *[]struct {
			Path *string `json:"path"`
			Size *int64  `json:"size"`
			ID   *string `json:"id"`
		} `json:"files"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadIndex, err)
	}
	if doc.MediaType == nil || doc.Version == nil || doc.Files == nil || *doc.MediaType != DatasetMediaType || *doc.Version != IndexVersion || len(*doc.Files) > MaxIndexEntries {
		return nil, ErrBadIndex
	}
	x := &Index{Files: make([]File, len(*doc.Files))}
	for i, f := range *doc.Files {
		if f.Path == nil || f.Size == nil || f.ID == nil {
			return nil, ErrBadIndex
		}
		id, err := ParseID(*f.ID)
		if err != nil {
			return nil, ErrBadIndex
		}
		x.Files[i] = File{Path: *f.Path, Size: *f.Size, ID: id}
	}
	enc, err := x.Encode()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(enc, b) {
		return nil, ErrBadIndex
	}
	return x, nil
}

func indexSeeds() [][]byte {
	x, _ := NewIndex([]File{{Path: "a.txt", Size: 1, ID: idOf("x")}, {Path: "d/b", Size: 0, ID: idOf("")}})
	enc, _ := x.Encode()
	empty, _ := (&Index{}).Encode()
	id := idOf("x").String()
	head := `{"mediaType":"application/vnd.charter.dataset+json","version":1,"files":[`
	entry := func(p string, size string) string {
		return `{"path":"` + p + `","size":` + size + `,"id":"` + id + `"}`
	}
	return [][]byte{
		enc, empty,
		[]byte(head + entry(`a`, "1") + "," + entry(`a.txt`, "2") + "," + entry(`a/b`, "3") + "]}"), // a is a file and a directory
		[]byte(head + entry(`x`, "1") + "," + entry(`xy/z`, "2") + "," + entry(`xy/zw/k`, "3") + "]}"),
		[]byte(head + entry(`q\"uote`, "0") + "]}"),
		[]byte(head + entry(`q\u0022uote`, "0") + "]}"),
		[]byte(head + entry(`a`, "01") + "]}"),
		[]byte(head + entry(`a`, "-0") + "]}"),
		[]byte(head + entry(`a`, "9223372036854775807") + "," + entry(`b`, "1") + "]}"),
		[]byte(head + entry(`b`, "1") + "," + entry(`a`, "1") + "]}"),
		[]byte(head + entry(`a`, "1") + "]} "),
		[]byte(`{"mediaType":"application/vnd.charter.dataset+json","version":2,"files":[]}`),
		[]byte(`{"mediaType":"application/vnd.charter.dataset+json","version":1,"files":[{"path":"../x","size":-1,"id":"b"}]}`),
		[]byte(`{}`),
	}
}

func FuzzIndexReader(f *testing.F) {
	for _, s := range indexSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, werr := parseIndexReference(b)
		got, gerr := ParseIndex(b)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("reference: %v, streaming: %v\n%q", werr, gerr, b)
		}
		if gerr != nil {
			if !errors.Is(gerr, ErrBadIndex) {
				t.Fatalf("error does not wrap ErrBadIndex: %v", gerr)
			}
			return
		}
		if fmt.Sprint(want.Files) != fmt.Sprint(got.Files) {
			t.Fatalf("files differ:\n%v\n%v", want.Files, got.Files)
		}
		// The same through a reader that returns one byte at a time.
		r := NewIndexReader(iotest.OneByteReader(bytes.NewReader(b)))
		for i := 0; ; i++ {
			f, err := r.Next()
			if err == io.EOF {
				if i != len(got.Files) {
					t.Fatalf("%d files streamed, want %d", i, len(got.Files))
				}
				break
			}
			if err != nil || f != got.Files[i] {
				t.Fatalf("file %d: %v %v, want %v", i, f, err, got.Files[i])
			}
		}
	})
}

// TestIndexReaderBoundedMemory streams an index of 200,000 files and
// checks that the heap does not grow with it: the reader keeps no file.
func TestIndexReaderBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 20 MB")
	}
	const n = 200_000
	id := idOf("x").String()
	pr, pw := io.Pipe()
	go func() {
		w := pw
		io.WriteString(w, `{"mediaType":"application/vnd.charter.dataset+json","version":1,"files":[`)
		for i := 0; i < n; i++ {
			if i > 0 {
				io.WriteString(w, ",")
			}
			fmt.Fprintf(w, `{"path":"dir/file-%09d.bin","size":%d,"id":"%s"}`, i, i, id)
		}
		io.WriteString(w, "]}")
		w.Close()
	}()
	var before, peak runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r := NewIndexReader(pr)
	for i := 0; ; i++ {
		_, err := r.Next()
		if err == io.EOF {
			if i != n {
				t.Fatalf("%d files, want %d", i, n)
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if i%50_000 == 0 {
			runtime.GC()
			runtime.ReadMemStats(&peak)
			if grow := int64(peak.HeapAlloc) - int64(before.HeapAlloc); grow > 4<<20 {
				t.Fatalf("heap grew by %d bytes after %d files", grow, i)
			}
		}
	}
	if r.Files() != n {
		t.Fatalf("Files() = %d", r.Files())
	}
}
