package s3_test

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/blob/s3"
	"github.com/charter-dev/charter/blob/storagetest"
	"github.com/charter-dev/charter/content"
)

// countingTransport counts the GETs of data objects (not outboards), those
// without a Range, and the connections opened.
type countingTransport struct {
	mu    sync.Mutex
	gets  int
	whole int
	dials int
	rt    *http.Transport
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet && !strings.HasSuffix(r.URL.Path, ".obao") {
		c.mu.Lock()
		c.gets++
		if r.Header.Get("Range") == "" {
			c.whole++
		}
		c.mu.Unlock()
	}
	return c.rt.RoundTrip(r)
}

func (c *countingTransport) counts() (gets, dials int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gets, c.dials
}

// TestReadAhead checks what the reader asks the S3 server for: a range
// the caller hinted (as the server's slice handler does) is one GET, the
// whole object hinted is one GET without a Range (which servers can send
// with sendfile), a
// long sequential read without a hint is a few growing ranges rather than
// one request per read, both reuse connections, and reads anywhere return
// the right bytes.
func TestReadAhead(t *testing.T) {
	e := server(t)
	ct := &countingTransport{rt: http.DefaultTransport.(*http.Transport).Clone()}
	dial := ct.rt.DialContext
	ct.rt.DialContext = func(ctx context.Context, network, addr string) (c net.Conn, err error) {
		ct.mu.Lock()
		ct.dials++
		ct.mu.Unlock()
		return dial(ctx, network, addr)
	}
	cl := awss3.New(awss3.Options{Region: e.Region, BaseEndpoint: aws.String(e.Endpoint), UsePathStyle: true,
		Credentials:                credentials.NewStaticCredentialsProvider(e.AccessKey, e.SecretKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		HTTPClient:                 &http.Client{Transport: ct}})
	s, err := s3.New(cl, e.Bucket(t), s3.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const size = 40 << 20
	data := storagetest.Bytes(7, size)
	id := storagetest.IDOf(data)
	if _, err := blob.Put(ctx, s, bytes.NewReader(data), &id); err != nil {
		t.Fatal(err)
	}

	t.Run("HintedSlices", func(t *testing.T) {
		g0, d0 := ct.counts()
		const chunk = 8 << 20
		for off := int64(0); off < size; off += chunk {
			d, err := s.Open(ctx, blob.Key{ID: id})
			if err != nil {
				t.Fatal(err)
			}
			o, err := s.Open(ctx, blob.Key{ID: id, Part: blob.Outboard})
			if err != nil {
				t.Fatal(err)
			}
			ws, we, _ := content.WidenRange(size, off, chunk)
			blob.Hint(d, ws, we)
			var slice bytes.Buffer
			if err := content.ExtractRange(&slice, d, o, size, off, chunk); err != nil {
				t.Fatal(err)
			}
			d.Close()
			o.Close()
			var got bytes.Buffer
			if _, err := content.VerifyRange(&got, &slice, id, off, chunk); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), data[off:off+chunk]) {
				t.Fatalf("slice at %d: wrong bytes", off)
			}
		}
		g1, d1 := ct.counts()
		if n := g1 - g0; n != size/chunk {
			t.Errorf("%d hinted slices of the data sent %d ranged GETs, want one each", size/chunk, n)
		}
		if n := d1 - d0; n > 3 {
			t.Errorf("%d slices opened %d connections; a range read to its end should give its connection back", size/chunk, n)
		}
	})

	t.Run("WholeObject", func(t *testing.T) {
		ct.mu.Lock()
		g0, w0 := ct.gets, ct.whole
		ct.mu.Unlock()
		r, err := s.Open(ctx, blob.Key{ID: id})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		blob.Hint(r, 0, size)
		got, err := io.ReadAll(io.NewSectionReader(r, 0, size))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("whole read: %d bytes, %v", len(got), err)
		}
		ct.mu.Lock()
		g1, w1 := ct.gets, ct.whole
		ct.mu.Unlock()
		if g1-g0 != 1 || w1-w0 != 1 {
			t.Errorf("a hinted read of the whole object sent %d GETs, %d of them without a Range; want one, without", g1-g0, w1-w0)
		}
	})

	t.Run("Sequential", func(t *testing.T) {
		g0, _ := ct.counts()
		r, err := s.Open(ctx, blob.Key{ID: id})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		got, err := io.ReadAll(io.NewSectionReader(r, 0, size))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("sequential read: %d bytes, %v", len(got), err)
		}
		g1, _ := ct.counts()
		// 64 KiB doubling to 16 MiB: 64K..8M covers 16 MiB - 64 KiB in
		// 9 ranges, then 16 MiB ranges.
		if n := g1 - g0; n > 12 {
			t.Errorf("a sequential read of 40 MiB sent %d ranged GETs, want at most 12", n)
		}
	})

	t.Run("Random", func(t *testing.T) {
		r, err := s.Open(ctx, blob.Key{ID: id})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		rng := rand.New(rand.NewPCG(3, 4))
		for range 50 {
			off := rng.Int64N(size)
			n := min(rng.Int64N(300<<10)+1, size-off)
			p := make([]byte, n)
			if m, err := r.ReadAt(p, off); m != len(p) || (err != nil && err != io.EOF) {
				t.Fatalf("ReadAt(%d bytes at %d) = %d, %v", n, off, m, err)
			}
			if !bytes.Equal(p, data[off:off+n]) {
				t.Fatalf("ReadAt(%d bytes at %d): wrong bytes", n, off)
			}
			// Sometimes continue sequentially, past the end of a range.
			if rng.IntN(2) == 0 && off+n < size {
				q := make([]byte, min(size-off-n, 200<<10))
				if m, err := r.ReadAt(q, off+n); m != len(q) || (err != nil && err != io.EOF) {
					t.Fatalf("ReadAt(%d bytes at %d) = %d, %v", len(q), off+n, m, err)
				}
				if !bytes.Equal(q, data[off+n:off+n+int64(len(q))]) {
					t.Fatalf("ReadAt(%d bytes at %d): wrong bytes", len(q), off+n)
				}
			}
		}
	})
}
