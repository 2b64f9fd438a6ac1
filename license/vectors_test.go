package license

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

var update = flag.Bool("update", false, "rewrite the test vectors in testdata/")

// checkVector compares got with testdata/name, or writes it with -update.
func checkVector(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the implementation:\n got %s\nwant %s", path, got, want)
	}
}

func vectorTerms(t *testing.T) map[string]*Terms {
	m := Templates()
	full, err := Parse([]byte(validDoc()))
	if err != nil {
		t.Fatal(err)
	}
	m["full"] = full
	return m
}

// TestVectorsTerms: every template and the full-vocabulary document have a
// canonical encoding in testdata/terms/, its hashes in testdata/terms/,
// and their compiled policy text in testdata/compiled/.
func TestVectorsTerms(t *testing.T) {
	for name, tm := range vectorTerms(t) {
		b, err := tm.Encode()
		if err != nil {
			t.Fatal(err)
		}
		checkVector(t, "terms/"+name+".json", append(b, '\n'))
		h := Sum(b)
		checkVector(t, "terms/"+name+".hash", []byte("sha256 "+h.SHA256+"\nblake3 "+h.BLAKE3+"\n"))
		c, err := Compile(tm)
		if err != nil {
			t.Fatal(err)
		}
		checkVector(t, "compiled/"+name+".cedar", c.Text)

		// The stored vector parses back to the same canonical bytes, so
		// another implementation can start from the files alone.
		stored, err := os.ReadFile(filepath.Join("testdata", "terms", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		back, err := Parse(stored)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if b2, _ := back.Encode(); !bytes.Equal(b2, bytes.TrimSuffix(stored, []byte("\n"))) {
			t.Errorf("%s: stored terms are not canonical", name)
		}
	}
}

// recordVectors are decisions whose request, record and entities are kept
// in testdata/records/<name>/.
func recordVectors() map[string]struct {
	terms string
	req   Request
} {
	r := baseRequest()
	commercialTrain := r
	commercialTrain.Purpose, commercialTrain.Commercial = Train, true
	approval := r
	approval.Purpose = Train
	viaOrg := r
	viaOrg.Licensee, viaOrg.Purpose, viaOrg.Territory = bob, Train, "FR"
	viaOrg.Organisations, viaOrg.Organisation = []string{"acme", "globex"}, "acme"
	viaOrg.Time = t0
	outsider := r
	outsider.Licensee, outsider.Territory, outsider.Derivative = didKey("carol"), "RU", true
	outsider.Time = t0.AddDate(1, 0, 0)
	return map[string]struct {
		terms string
		req   Request
	}{
		"research-only-allows-research":         {"research-only", r},
		"research-only-denies-commercial-train": {"research-only", commercialTrain},
		"approval-required-train":               {"approval-required", approval},
		"full-member-of-listed-organisation":    {"full", viaOrg},
		"full-denies-outsider":                  {"full", outsider},
	}
}

func TestVectorsRecords(t *testing.T) {
	all := vectorTerms(t)
	for name, v := range recordVectors() {
		tm := all[v.terms]
		rec, _, err := Record(tm, v.req)
		if err != nil {
			t.Fatal(err)
		}
		rb, _ := rec.Encode()
		reqb, _ := v.req.Encode()
		r := v.req
		_ = r.normalize()
		dir := "records/" + name + "/"
		checkVector(t, dir+"request.json", append(reqb, '\n'))
		checkVector(t, dir+"entities.json", append(entitiesJSON(&r), '\n'))
		checkVector(t, dir+"record.json", append(rb, '\n'))
		checkVector(t, dir+"terms", []byte("terms/"+v.terms+".json\n"))

		// Re-check from the stored files alone, as a third party would.
		read := func(p string) []byte {
			b, err := os.ReadFile(filepath.Join("testdata", p))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		stored, err := ParseRecord(read(dir + "record.json"))
		if err != nil {
			t.Fatal(err)
		}
		termsPath := strings.TrimSpace(string(read(dir + "terms")))
		if err := Recheck(stored, read(termsPath), read(dir+"request.json")); err != nil {
			t.Errorf("%s: stored record does not re-check: %v", name, err)
		}
		ents := bytes.TrimSuffix(read(dir+"entities.json"), []byte("\n"))
		if Sum(ents) != stored.Entities {
			t.Errorf("%s: stored entities do not hash to the record's", name)
		}
		pol := read("compiled/" + strings.TrimSuffix(filepath.Base(termsPath), ".json") + ".cedar")
		if Sum(pol) != stored.Policy {
			t.Errorf("%s: stored policy does not hash to the record's", name)
		}
	}
}

// TestVectorsInvalidTerms: testdata/invalid-terms.txtar holds documents
// that must be refused; each file is named <member>/<case>.json, with "_"
// for errors about the whole document.
func TestVectorsInvalidTerms(t *testing.T) {
	a, err := txtar.ParseFile(filepath.Join("testdata", "invalid-terms.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Files) < 20 {
		t.Fatalf("only %d invalid vectors", len(a.Files))
	}
	for _, f := range a.Files {
		field := filepath.Dir(f.Name)
		if field == "_" {
			field = ""
		}
		_, err := Parse(f.Data)
		var fe *FieldError
		if !errors.Is(err, ErrInvalidTerms) || !errors.As(err, &fe) {
			t.Errorf("%s: accepted or wrong error: %v", f.Name, err)
			continue
		}
		if fe.Field != field {
			t.Errorf("%s: error names %q: %v", f.Name, fe.Field, err)
		}
	}
}
