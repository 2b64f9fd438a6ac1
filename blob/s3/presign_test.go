package s3_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/blob/s3"
	"github.com/charter-dev/charter/blob/storagetest"
)

// TestPresignRange: a presigned range (blob.Presigner) fetches exactly its
// bytes, of a blob written with a declared id and of one kept under
// uploads/; another range, no range, or the same range after the URL
// expired is refused by the store; lifetimes outside (0, MaxPresignTTL]
// and ranges outside the blob are refused.
func TestPresignRange(t *testing.T) {
	e := server(t)
	s := newStore(t, e, s3.Options{PartSize: s3.MinPartSize})
	ctx := context.Background()
	const size = 6<<20 + 12345
	data := storagetest.Bytes(21, size)
	id := storagetest.IDOf(data)
	if _, err := blob.Put(ctx, s, bytes.NewReader(data), &id); err != nil {
		t.Fatal(err)
	}
	other := storagetest.Bytes(22, size)
	oi, err := blob.Put(ctx, s, bytes.NewReader(other), nil) // kept under uploads/
	if err != nil {
		t.Fatal(err)
	}
	get := func(u string, h http.Header) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", u, nil)
		for k, v := range h {
			req.Header[k] = v
		}
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		b, _ := io.ReadAll(r.Body)
		return r.StatusCode, b
	}
	for _, c := range []struct {
		id   blob.Key
		want []byte
	}{{blob.Key{ID: id}, data}, {blob.Key{ID: oi.ID}, other}} {
		rd, err := s.Open(ctx, c.id)
		if err != nil {
			t.Fatal(err)
		}
		p := rd.(blob.Presigner)
		off, n := int64(1<<20+3), int64(4<<20)
		u, h, err := p.PresignRange(ctx, off, n, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if code, b := get(u, h); code != http.StatusPartialContent || !bytes.Equal(b, c.want[off:off+n]) {
			t.Fatalf("presigned range: %d, %d bytes", code, len(b))
		}
		if code, _ := get(u, http.Header{"Range": {"bytes=0-99"}}); code != http.StatusForbidden {
			t.Fatalf("another range: %d, want 403", code)
		}
		if code, _ := get(u, nil); code != http.StatusForbidden {
			t.Fatalf("no range: %d, want 403", code)
		}
		for _, bad := range []struct {
			off, n int64
			ttl    time.Duration
		}{{-1, 10, time.Second}, {0, 0, time.Second}, {size - 5, 6, time.Second}, {0, 10, 0}, {0, 10, s3.MaxPresignTTL + time.Second}} {
			if _, _, err := p.PresignRange(ctx, bad.off, bad.n, bad.ttl); err == nil {
				t.Errorf("PresignRange(%d, %d, %v): no error", bad.off, bad.n, bad.ttl)
			}
		}
		time.Sleep(3 * time.Second)
		if code, _ := get(u, h); code != http.StatusForbidden {
			t.Fatalf("expired URL: %d, want 403", code)
		}
		rd.Close()
	}
}
