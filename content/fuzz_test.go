package content

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/charter-dev/charter/internal/visible"
)

func FuzzParseID(f *testing.F) {
	f.Add(idOf("hello").String())
	f.Add("bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")
	f.Add("QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG")
	f.Add("")
	f.Add("b")
	f.Add("zb2rhe5P4gXftAwvA4eXQ5HJwsER2owDyS9sKaQRRVQPn93bA")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseID(s)
		if err != nil {
			return
		}
		if id.IsZero() {
			t.Fatal("parsed a zero id")
		}
		again, err := ParseID(id.String())
		if err != nil || again != id {
			t.Fatalf("ParseID(%q).String() = %q does not round-trip: %v", s, id.String(), err)
		}
	})
}

func FuzzParseIndex(f *testing.F) {
	x, _ := NewIndex([]File{{Path: "a.txt", Size: 1, ID: idOf("x")}, {Path: "d/b", Size: 0, ID: idOf("")}})
	enc, _ := x.Encode()
	f.Add(enc)
	empty, _ := (&Index{}).Encode()
	f.Add(empty)
	f.Add([]byte(`{"mediaType":"application/vnd.charter.dataset+json","version":1,"files":[{"path":"../x","size":-1,"id":"b"}]}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"mediaType":"application/vnd.charter.dataset+json","version":1,"files":[{"path":"a\u202eb","size":1,"id":"` + idOf("x").String() + `"}]}`))
	f.Add([]byte(`{"mediaType":"application/vnd.charter.dataset+json","version":1,"files":[{"path":"a` + "\u200d" + `b","size":1,"id":"` + idOf("x").String() + `"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := ParseIndex(b)
		if err != nil {
			return
		}
		enc, err := x.Encode()
		if err != nil {
			t.Fatalf("parsed index does not encode: %v", err)
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("accepted a non-canonical encoding:\n%q\n%q", b, enc)
		}
		for _, fl := range x.Files {
			if err := ValidatePath(fl.Path); err != nil {
				t.Fatalf("accepted bad path: %v", err)
			}
			if err := visible.Check(fl.Path, false); err != nil {
				t.Fatalf("accepted a path that does not display as itself: %v", err)
			}
			if _, err := SafeJoin("/root", fl.Path); err != nil {
				t.Fatalf("valid path %q refused by SafeJoin: %v", fl.Path, err)
			}
		}
	})
}

// fuzzBlob is the content FuzzVerifyRange and FuzzReader check against:
// three full groups and a partial one.
var fuzzBlob = func() blob {
	c := randomBytes(99, 3*GroupSize+100)
	var ob bytes.Buffer
	info, err := Ingest(context.Background(), bytes.NewReader(c), io.Discard, &ob)
	if err != nil {
		panic(err)
	}
	return blob{data: c, outboard: ob.Bytes(), id: info.ID}
}()

// checkVerified fails unless got is exactly the content's bytes from offset on.
func checkVerified(t *testing.T, content, got []byte, offset int64) {
	t.Helper()
	if len(got) == 0 {
		return
	}
	if offset < 0 || offset > int64(len(content)) || int64(len(got)) > int64(len(content))-offset ||
		!bytes.Equal(got, content[offset:offset+int64(len(got))]) {
		t.Fatalf("wrote %d unverified bytes at offset %d", len(got), offset)
	}
}

func FuzzVerifyRange(f *testing.F) {
	b := fuzzBlob
	size := int64(len(b.data))
	for _, r := range []rng{{0, 1}, {GroupSize - 1, 2}, {size - 1, 1}, {2 * GroupSize, 100}, {0, size}} {
		var s bytes.Buffer
		ExtractRange(&s, bytes.NewReader(b.data), bytes.NewReader(b.outboard), size, r.off, r.n)
		f.Add(s.Bytes(), r.off, r.n)
	}
	f.Add([]byte{}, int64(0), int64(0))
	f.Add(make([]byte, 8), int64(0), int64(0))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, int64(1<<62), int64(1))
	f.Fuzz(func(t *testing.T, slice []byte, offset, length int64) {
		var got bytes.Buffer
		_, err := VerifyRange(&got, bytes.NewReader(slice), b.id, offset, length)
		checkVerified(t, b.data, got.Bytes(), offset)
		if err == nil && int64(got.Len()) != length {
			t.Fatalf("success with %d bytes for a %d-byte range", got.Len(), length)
		}
	})
}

func FuzzReader(f *testing.F) {
	b := fuzzBlob
	f.Add(b.data, b.outboard)
	f.Add(b.data[:100], b.outboard[:72])
	f.Add([]byte{}, make([]byte, 8))
	f.Fuzz(func(t *testing.T, data, outboard []byte) {
		got, err := io.ReadAll(NewReader(bytes.NewReader(data), bytes.NewReader(outboard), b.id))
		checkVerified(t, b.data, got, 0)
		if err == nil && !bytes.Equal(got, b.data) {
			t.Fatal("success with wrong content")
		}
	})
}
