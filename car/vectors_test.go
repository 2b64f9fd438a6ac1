package car_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"io"
	"os"
	"testing"

	"golang.org/x/crypto/chacha20"

	"github.com/charter-dev/charter/car"
)

var large = flag.Bool("car.large", false, "also run the 1 GiB test vectors and large benchmarks")

type vectorFile struct {
	Path     string  `json:"path"`
	Text     *string `json:"text"`
	ChaCha20 string  `json:"chacha20"`
	Size     int64   `json:"size"`
}

type vector struct {
	Name    string       `json:"name"`
	Source  string       `json:"source"`
	Large   bool         `json:"large"`
	Dataset bool         `json:"dataset"`
	Files   []vectorFile `json:"files"`
	Names   *struct {
		Seed        string `json:"seed"`
		Count       int    `json:"count"`
		NameLen     int    `json:"name_len"`
		LastNameLen int    `json:"last_name_len"`
		Alphabet    string `json:"alphabet"`
	} `json:"names"`
	Root string `json:"root"`
}

func loadVectors(t testing.TB) []vector {
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Vectors []vector }
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f.Vectors
}

// keystream returns a reader of the first size bytes of the ChaCha20
// keystream keyed by sha2-256(seed) with a zero nonce.
func keystream(seed string, size int64) io.Reader {
	key := sha256.Sum256([]byte(seed))
	c, err := chacha20.NewUnauthenticatedCipher(key[:], make([]byte, chacha20.NonceSize))
	if err != nil {
		panic(err)
	}
	return io.LimitReader(&cipherReader{c}, size)
}

type cipherReader struct{ c *chacha20.Cipher }

func (r *cipherReader) Read(p []byte) (int, error) {
	clear(p)
	r.c.XORKeyStream(p, p)
	return len(p), nil
}

func opener(f vectorFile) car.OpenFunc {
	return func(context.Context) (io.ReadCloser, error) {
		if f.Text != nil {
			return io.NopCloser(bytes.NewReader([]byte(*f.Text))), nil
		}
		return io.NopCloser(keystream(f.ChaCha20, f.Size)), nil
	}
}

func (v vector) source(t testing.TB) car.Source {
	if !v.Dataset {
		return car.File(opener(v.Files[0]))
	}
	var es []car.Entry
	for _, f := range v.Files {
		es = append(es, car.Entry{Path: f.Path, Open: opener(f)})
	}
	if n := v.Names; n != nil {
		stream, _ := io.ReadAll(keystream(n.Seed, 1<<20))
		x := "x"
		off := 0
		for i := range n.Count {
			l := n.NameLen
			if i == n.Count-1 {
				l = n.LastNameLen
			}
			name := make([]byte, l)
			for j := range name {
				name[j] = n.Alphabet[int(stream[off+j])%len(n.Alphabet)]
			}
			off += l
			es = append(es, car.Entry{Path: string(name), Open: opener(vectorFile{Text: &x})})
		}
	}
	src, err := car.Dataset(es)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// TestVectors checks the root CIDs against those other implementations give.
func TestVectors(t *testing.T) {
	ctx := context.Background()
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			if v.Large && !*large {
				t.Skip("large vector; run with -car.large")
			}
			root, err := car.Root(ctx, v.source(t))
			if err != nil {
				t.Fatal(err)
			}
			if root.String() != v.Root {
				t.Fatalf("root = %s, want %s (%s)", root, v.Root, v.Source)
			}
		})
	}
}
