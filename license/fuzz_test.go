package license

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

func addSeeds(f *testing.F, glob string) {
	paths, _ := filepath.Glob(filepath.Join("testdata", glob))
	if len(paths) == 0 {
		f.Fatalf("no seeds for %s", glob)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzParse: the terms parser never panics, every error is ErrInvalidTerms,
// every accepted document re-encodes to a canonical fixed point, compiles,
// and decides without error.
func FuzzParse(f *testing.F) {
	addSeeds(f, "terms/*.json")
	if a, err := txtar.ParseFile(filepath.Join("testdata", "invalid-terms.txtar")); err == nil {
		for _, file := range a.Files {
			f.Add(file.Data)
		}
	}
	f.Add([]byte(validDoc()))
	f.Fuzz(func(t *testing.T, b []byte) {
		tm, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidTerms) {
				t.Fatalf("error %v is not ErrInvalidTerms", err)
			}
			return
		}
		canon, err := tm.Encode()
		if err != nil {
			t.Fatalf("accepted terms do not encode: %v", err)
		}
		back, err := Parse(canon)
		if err != nil {
			t.Fatalf("canonical form does not parse: %v\n%s", err, canon)
		}
		again, err := back.Encode()
		if err != nil || !bytes.Equal(canon, again) {
			t.Fatalf("canonical form is not a fixed point:\n%s\n%s", canon, again)
		}
		c, err := Compile(tm)
		if err != nil {
			t.Fatalf("accepted terms do not compile: %v", err)
		}
		if _, err := c.Decide(baseRequest()); err != nil {
			t.Fatalf("decision failed: %v\n%s", err, c.Text)
		}
	})
}

// FuzzParseRequest: the request parser never panics and accepted requests
// are canonical fixed points.
func FuzzParseRequest(f *testing.F) {
	addSeeds(f, "records/*/request.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRequest(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("error %v is not ErrInvalidRequest", err)
			}
			return
		}
		canon, err := r.Encode()
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseRequest(canon)
		if err != nil {
			t.Fatalf("canonical form does not parse: %v\n%s", err, canon)
		}
		if again, _ := back.Encode(); !bytes.Equal(canon, again) {
			t.Fatalf("not a fixed point:\n%s\n%s", canon, again)
		}
		if _, err := Decide(mustTemplate(t, "open"), r); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzParseRecord: the record parser never panics, and Recheck of any
// parsed record against the stored vectors either passes or fails with a
// sentinel error.
func FuzzParseRecord(f *testing.F) {
	addSeeds(f, "records/*/record.json")
	terms, err := os.ReadFile(filepath.Join("testdata", "terms", "research-only.json"))
	if err != nil {
		f.Fatal(err)
	}
	req, err := os.ReadFile(filepath.Join("testdata", "records", "research-only-allows-research", "request.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := ParseRecord(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidRecord) {
				t.Fatalf("error %v is not ErrInvalidRecord", err)
			}
			return
		}
		err = Recheck(rec, terms, req)
		if err != nil && !errors.Is(err, ErrMismatch) && !errors.Is(err, ErrUnsupportedCompiler) {
			t.Fatalf("Recheck: unexpected error %v", err)
		}
	})
}
