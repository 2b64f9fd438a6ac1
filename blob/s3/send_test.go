package s3_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"

	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/blob/s3"
	"github.com/charter-dev/charter/blob/storagetest"
	"github.com/charter-dev/charter/content"
)

// TestSendRange checks the send path (blob.Sender): ranges of a blob
// written with a declared id and of one written without (behind an index
// object), long ones spliced from the store's connection into an HTTP
// response, short ones and those with the splice off copied, all with the
// right bytes; a removed blob fails.
func TestSendRange(t *testing.T) {
	e := server(t)
	s := newStore(t, e, s3.Options{PartSize: s3.MinPartSize})
	ctx := context.Background()
	const size = 6<<20 + 12345
	data := storagetest.Bytes(11, size)
	id := storagetest.IDOf(data)
	if _, err := blob.Put(ctx, s, bytes.NewReader(data), &id); err != nil {
		t.Fatal(err)
	}
	other := storagetest.Bytes(12, size)
	otherInfo, err := blob.Put(ctx, s, bytes.NewReader(other), nil) // kept under uploads/
	if err != nil {
		t.Fatal(err)
	}
	blobs := map[string][]byte{id.String(): data, otherInfo.ID.String(): other}

	// The handler sends ?off=&n= of blob ?id to the response, whose
	// ReadFrom reaches the TCP socket: the spliced path.
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		off, _ := strconv.ParseInt(q.Get("off"), 10, 64)
		n, _ := strconv.ParseInt(q.Get("n"), 10, 64)
		bid, err := content.ParseID(q.Get("id"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rd, err := s.Open(r.Context(), blob.Key{ID: bid})
		if err != nil {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		defer rd.Close()
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		w.WriteHeader(http.StatusOK)
		if k, err := rd.(blob.Sender).SendRange(w, off, n); err != nil || k != n {
			t.Errorf("SendRange(%d, %d): %d bytes, %v", off, n, k, err)
		}
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: mux}
	go hs.Serve(l)
	defer hs.Close()

	for _, splice := range []bool{true, false} {
		s.SetSplice(splice)
		for k, want := range blobs {
			for _, r := range [][2]int64{{0, size}, {1<<20 + 7, 3 << 20}, {size - 2<<20, 2 << 20}, {100, 5000}, {size - 1, 1}, {0, 0}} {
				name := fmt.Sprintf("splice=%v/%s/%d+%d", splice, k[:12], r[0], r[1])
				resp, err := http.Get(fmt.Sprintf("http://%s/?id=%s&off=%d&n=%d", l.Addr(), k, r[0], r[1]))
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				got, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || !bytes.Equal(got, want[r[0]:r[0]+r[1]]) {
					t.Fatalf("%s: %d bytes (%v), not the range's", name, len(got), err)
				}
			}
			// Straight into a buffer (its ReadFrom copies).
			bid, _ := content.ParseID(k)
			rd, err := s.Open(ctx, blob.Key{ID: bid})
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if n, err := rd.(blob.Sender).SendRange(&buf, 3<<20, 2<<20); err != nil || n != 2<<20 || !bytes.Equal(buf.Bytes(), want[3<<20:5<<20]) {
				t.Fatalf("splice=%v: SendRange into a buffer: %d, %v", splice, n, err)
			}
			if _, err := rd.(blob.Sender).SendRange(&buf, size-10, 11); err == nil {
				t.Fatal("a range past the end was sent")
			}
			rd.Close()
		}
	}
	s.SetSplice(true)

	// A blob removed after Open: the GET finds nothing.
	rd, err := s.Open(ctx, blob.Key{ID: id})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	if err := s.Remove(ctx, blob.Key{ID: id}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := rd.(blob.Sender).SendRange(&buf, 0, size); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("send of a removed blob: %v, want ErrNotFound", err)
	}
}
