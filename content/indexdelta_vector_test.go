package content

import (
	"bytes"
	"context"
	"io"
	"os"
	"testing"
)

// indexDeltaVectorID is the id of the index index-delta-example.json makes
// of index-example.json (docs/spec/dataset-index.md, "Delta").
const indexDeltaVectorID = "bafkr4ic6nsou2lumbhccxst7vlv3y55pjwlrqv4l4qmlijdibzctcyq72q"

// TestIndexDeltaVector checks the delta vector: it parses, applies to the
// example index, and makes the index with the documented id; Encode of the
// parsed delta gives back the file's bytes.
func TestIndexDeltaVector(t *testing.T) {
	baseRaw, err := os.ReadFile("testdata/index-example.json")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("testdata/index-delta-example.json")
	if err != nil {
		t.Fatal(err)
	}
	raw = bytes.TrimSuffix(raw, []byte("\n"))
	base, err := ParseIndex(bytes.TrimSuffix(baseRaw, []byte("\n")))
	if err != nil {
		t.Fatal(err)
	}
	d, err := ParseIndexDelta(raw)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := d.Encode(); !bytes.Equal(again, raw) {
		t.Fatalf("Encode of the vector:\n%s\nwant\n%s", again, raw)
	}
	bi, err := Ingest(context.Background(), bytes.NewReader(bytes.TrimSuffix(baseRaw, []byte("\n"))), io.Discard, io.Discard)
	if err != nil || bi.ID != d.Base {
		t.Fatalf("the vector's base %s is not index-example.json's id %s: %v", d.Base, bi.ID, err)
	}
	x, err := d.Apply(base)
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := x.Encode()
	info, err := Ingest(context.Background(), bytes.NewReader(enc), io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if info.ID.String() != indexDeltaVectorID {
		t.Fatalf("the delta makes %s (%d bytes), want %s", info.ID, len(enc), indexDeltaVectorID)
	}
}
