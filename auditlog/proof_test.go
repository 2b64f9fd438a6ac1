package auditlog

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

func TestTreeHashMatchesCompactRange(t *testing.T) {
	rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	var leaves [][]byte
	r := rf.NewEmptyRange(0)
	for n := 1; n <= 300; n++ {
		l := rfc6962.DefaultHasher.HashLeaf(fmt.Appendf(nil, "leaf %d", n))
		leaves = append(leaves, l)
		if err := r.Append(l, nil); err != nil {
			t.Fatal(err)
		}
		want, _ := r.GetRootHash(nil)
		if got := treeHash(leaves); !bytes.Equal(got, want) {
			t.Fatalf("size %d: treeHash %x, compact range %x", n, got, want)
		}
	}
	if got := treeHash(nil); !bytes.Equal(got, rfc6962.DefaultHasher.EmptyRoot()) {
		t.Fatalf("empty tree hash %x", got)
	}
}

func TestParseProof(t *testing.T) {
	cp := "example.com/log\n2\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— example.com/log AAAA\n"
	h := "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ="
	good := "c2sp.org/tlog-proof@v1\nextra aGVsbG8=\nindex 1\n" + h + "\n\n" + cp
	p, err := ParseProof([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if p.Index != 1 || string(p.Extra) != "hello" || len(p.Hashes) != 1 || string(p.Checkpoint) != cp {
		t.Fatalf("ParseProof = %+v", p)
	}
	if got := p.Marshal(); string(got) != good {
		t.Fatalf("Marshal = %q", got)
	}
	for name, bad := range map[string]string{
		"no header":        "index 1\n" + h + "\n\n" + cp,
		"v2":               "c2sp.org/tlog-proof@v2\nindex 1\n\n" + cp,
		"leading zero":     "c2sp.org/tlog-proof@v1\nindex 01\n\n" + cp,
		"negative":         "c2sp.org/tlog-proof@v1\nindex -1\n\n" + cp,
		"no index":         "c2sp.org/tlog-proof@v1\n" + h + "\n\n" + cp,
		"extra after idx":  "c2sp.org/tlog-proof@v1\nindex 1\nextra aGVsbG8=\n\n" + cp,
		"empty extra":      "c2sp.org/tlog-proof@v1\nextra \nindex 1\n\n" + cp,
		"short hash":       "c2sp.org/tlog-proof@v1\nindex 1\nAAAA\n\n" + cp,
		"unpadded hash":    "c2sp.org/tlog-proof@v1\nindex 1\n" + strings.TrimSuffix(h, "=") + "\n\n" + cp,
		"no checkpoint":    "c2sp.org/tlog-proof@v1\nindex 1\n\n",
		"no blank line":    "c2sp.org/tlog-proof@v1\nindex 1\n",
		"index too big":    "c2sp.org/tlog-proof@v1\nindex 18446744073709551616\n\n" + cp,
		"65 hashes":        "c2sp.org/tlog-proof@v1\nindex 1\n" + strings.Repeat(h+"\n", 65) + "\n" + cp,
		"space after hash": "c2sp.org/tlog-proof@v1\nindex 1\n" + h + " \n\n" + cp,
	} {
		if _, err := ParseProof([]byte(bad)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestOpenCheckpointBody(t *testing.T) {
	s := newSigner(t, "example.com/log")
	v, _ := NewVerifier(s.VerifierKey())
	sign := func(text string) []byte {
		b, err := note.Sign(&note.Note{Text: text}, s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	root := "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
	cp, err := OpenCheckpoint(sign("example.com/log\n0\n"+root+"\next one\n"), v)
	if err != nil || cp.Size != 0 || cp.Hash != sha256.Sum256(nil) || len(cp.Extensions) != 1 {
		t.Fatalf("OpenCheckpoint = %+v, %v", cp, err)
	}
	for name, text := range map[string]string{
		"two lines":    "example.com/log\n0\n",
		"leading zero": "example.com/log\n00\n" + root + "\n",
		"short hash":   "example.com/log\n0\nAAAA\n",
		"plus size":    "example.com/log\n+1\n" + root + "\n",
	} {
		if _, err := OpenCheckpoint(sign(text), v); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// The origin must be the key's name.
	if _, err := OpenCheckpoint(sign("other.example/log\n0\n"+root+"\n"), v); !errors.Is(err, ErrBadSignature) {
		t.Errorf("foreign origin: %v", err)
	}
	// A cosignature by an unknown witness is ignored.
	w := newSigner(t, "witness.example")
	both, err := note.Sign(&note.Note{Text: "example.com/log\n0\n" + root + "\n"}, s, w)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenCheckpoint(both, v); err != nil {
		t.Errorf("cosigned checkpoint: %v", err)
	}
	// Signed only by someone else.
	if _, err := OpenCheckpoint(must(note.Sign(&note.Note{Text: "example.com/log\n0\n" + root + "\n"}, w)), v); !errors.Is(err, ErrBadSignature) {
		t.Errorf("unsigned by the log: %v", err)
	}
	if _, err := OpenCheckpoint([]byte("garbage"), v); !errors.Is(err, ErrMalformed) {
		t.Errorf("garbage: %v", err)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestVerifyConsistencyEdges(t *testing.T) {
	a := Checkpoint{Origin: "o", Size: 0, Hash: sha256.Sum256(nil)}
	b := Checkpoint{Origin: "o", Size: 5, Hash: [32]byte{1}}
	if err := VerifyConsistency(a, b, nil); err != nil {
		t.Errorf("from empty: %v", err)
	}
	if err := VerifyConsistency(a, b, [][]byte{make([]byte, 32)}); !errors.Is(err, ErrFork) {
		t.Errorf("from empty with hashes: %v", err)
	}
	if err := VerifyConsistency(b, b, nil); err != nil {
		t.Errorf("same: %v", err)
	}
	c := b
	c.Hash[0] = 2
	if err := VerifyConsistency(b, c, nil); !errors.Is(err, ErrFork) {
		t.Errorf("same size, other root: %v", err)
	}
	if err := VerifyConsistency(b, a, nil); !errors.Is(err, ErrShrunk) {
		t.Errorf("shrunk: %v", err)
	}
	d := b
	d.Origin = "p"
	if err := VerifyConsistency(b, d, nil); !errors.Is(err, ErrMalformed) {
		t.Errorf("other log: %v", err)
	}
	e := Checkpoint{Origin: "o", Size: 9, Hash: [32]byte{3}}
	if err := VerifyConsistency(b, e, [][]byte{make([]byte, 32)}); !errors.Is(err, ErrFork) || !errors.Is(err, ErrBadProof) {
		t.Errorf("bad proof: %v", err)
	}
}

func vectorSeeds(f *testing.F, prefix string) *txtar.Archive {
	a, err := txtar.ParseFile(vectorsFile)
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range a.Files {
		if strings.HasPrefix(file.Name, prefix) {
			f.Add(file.Data)
		}
	}
	return a
}

func FuzzParseProof(f *testing.F) {
	vectorSeeds(f, "receipt-")
	f.Add([]byte("c2sp.org/tlog-proof@v1\nextra aGVsbG8=\nindex 0\n\nx\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseProof(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		// The text form is canonical: what parses marshals back unchanged.
		if got := p.Marshal(); !bytes.Equal(got, b) {
			t.Fatalf("Marshal(ParseProof(%q)) = %q", b, got)
		}
	})
}

func FuzzParseConsistency(f *testing.F) {
	vectorSeeds(f, "consistency-")
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseConsistency(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		if got := c.Marshal(); !bytes.Equal(got, b) {
			t.Fatalf("Marshal(ParseConsistency(%q)) = %q", b, got)
		}
	})
}

// FuzzVerifyReceipt feeds arbitrary receipts for a fixed entry: nothing but
// the genuine receipt may verify, and nothing may panic.
func FuzzVerifyReceipt(f *testing.F) {
	a := vectorSeeds(f, "receipt-2")
	vkey := strings.TrimSpace(string(vectorFile(a, "log.vkey")))
	entry := vectorFile(a, "entry-2")
	genuine := vectorFile(a, "receipt-2.tlog-proof")
	f.Fuzz(func(t *testing.T, r []byte) {
		idx, cp, err := VerifyReceipt(entry, r, vkey)
		if err != nil {
			for _, e := range []error{ErrMalformed, ErrBadSignature, ErrBadProof} {
				if errors.Is(err, e) {
					return
				}
			}
			t.Fatalf("unexpected error class: %v", err)
		}
		if idx != 2 || cp.Size != 3 {
			t.Fatalf("forged receipt verified: index %d, %v\n%q\ngenuine:\n%q", idx, cp, r, genuine)
		}
	})
}

func FuzzParseCheckpointBody(f *testing.F) {
	f.Add("example.com/log\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n")
	f.Add("example.com/log\n12\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\next\n")
	f.Fuzz(func(t *testing.T, text string) {
		cp, err := parseCheckpointBody(text)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error class: %v", err)
			}
			return
		}
		// Re-render the body: it must be the input.
		var b strings.Builder
		fmt.Fprintf(&b, "%s\n%d\n%s\n", cp.Origin, cp.Size, mustB64(cp.Hash[:]))
		for _, e := range cp.Extensions {
			b.WriteString(e + "\n")
		}
		if b.String() != text {
			t.Fatalf("body %q re-renders as %q", text, b.String())
		}
	})
}

func mustB64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
