package auditlog

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"
)

var update = flag.Bool("update", false, "regenerate testdata/vectors.txtar from a real log")

const vectorsFile = "testdata/vectors.txtar"

// vectorEntries are the entries of the vector log, appended in order. Each
// payload ends with a newline so the txtar file holds the bytes exactly.
var vectorEntries = []Entry{
	{TypeAssetRegister, []byte(`{"payloadType":"application/vnd.charter.asset+json","payload":"eyJuYW1lIjoiZGF0YXNldCJ9","signatures":[{"keyid":"did:key:z6Mk","sig":"AAAA"}]}` + "\n")},
	{TypeLicense, []byte(`{"payloadType":"application/vnd.charter.license+json","payload":"e30=","signatures":[]}` + "\n")},
	{TypeGrant, []byte(`{"payloadType":"application/vnd.charter.grant+json","payload":"e30=","signatures":[]}` + "\n")},
	{TypeUsage, []byte("binary-safe\x00payload\n")},
	{"ledger.batch-root", []byte(`{"root":"c2V0dGxlbWVudA=="}` + "\n")},
}

func vectorFile(a *txtar.Archive, name string) []byte {
	for _, f := range a.Files {
		if f.Name == name {
			return f.Data
		}
	}
	return nil
}

func TestVectors(t *testing.T) {
	if *update {
		generateVectors(t)
	}
	a, err := txtar.ParseFile(vectorsFile)
	if err != nil {
		t.Fatal(err)
	}
	vkey := strings.TrimSpace(string(vectorFile(a, "log.vkey")))
	v, err := NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	cps := map[uint64]Checkpoint{}
	for i, want := range vectorEntries {
		entry := vectorFile(a, fmt.Sprintf("entry-%d", i))
		receipt := vectorFile(a, fmt.Sprintf("receipt-%d.tlog-proof", i))
		enc, _ := want.Encode()
		if !bytes.Equal(entry, enc) {
			t.Fatalf("entry-%d = %q, want %q", i, entry, enc)
		}
		idx, cp, err := VerifyReceipt(entry, receipt, vkey)
		if err != nil {
			t.Fatalf("receipt-%d: %v", i, err)
		}
		if idx != uint64(i) || cp.Size != uint64(i+1) {
			t.Fatalf("receipt-%d: index %d size %d", i, idx, cp.Size)
		}
		cps[cp.Size] = cp
		// Every mutation of a receipt is refused.
		for _, m := range receiptMutations(receipt) {
			if _, _, err := VerifyReceipt(entry, m.receipt, vkey); !errors.Is(err, m.want) {
				t.Errorf("receipt-%d %s: %v, want %v", i, m.name, err, m.want)
			}
		}
	}
	last, err := OpenCheckpoint(vectorFile(a, "checkpoint"), v)
	if err != nil {
		t.Fatal(err)
	}
	for _, old := range []uint64{1, 3} {
		c, err := ParseConsistency(vectorFile(a, fmt.Sprintf("consistency-%d-%d", old, last.Size)))
		if err != nil {
			t.Fatal(err)
		}
		newer, err := OpenCheckpoint(c.Checkpoint, v)
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyConsistency(cps[old], newer, c.Hashes); err != nil {
			t.Fatalf("consistency %d: %v", old, err)
		}
		if len(c.Hashes) > 0 {
			bad := bytes.Clone(c.Hashes[0])
			bad[0] ^= 1
			if err := VerifyConsistency(cps[old], newer, append([][]byte{bad}, c.Hashes[1:]...)); !errors.Is(err, ErrFork) {
				t.Fatalf("consistency %d with a bad hash: %v", old, err)
			}
		}
	}
}

type mutation struct {
	name    string
	receipt []byte
	want    error
}

// receiptMutations returns altered copies of a valid receipt and the error
// each must produce.
func receiptMutations(r []byte) []mutation {
	p, err := ParseProof(r)
	if err != nil {
		panic(err)
	}
	var ms []mutation
	add := func(name string, b []byte, want error) { ms = append(ms, mutation{name, b, want}) }
	q := p
	q.Index++
	add("index+1", q.Marshal(), ErrBadProof)
	for i := range p.Hashes {
		q := p
		q.Hashes = append([][]byte(nil), p.Hashes...)
		q.Hashes[i] = bytes.Clone(p.Hashes[i])
		q.Hashes[i][5] ^= 0x10
		add(fmt.Sprintf("hash %d flipped", i), q.Marshal(), ErrBadProof)
	}
	q = p
	q.Hashes = append(append([][]byte(nil), p.Hashes...), make([]byte, HashSize))
	add("extra hash", q.Marshal(), ErrBadProof)
	q = p
	q.Checkpoint = bytes.Replace(p.Checkpoint, []byte("\n\n"), []byte("\nx\n\n"), 1)
	add("checkpoint extension added", q.Marshal(), ErrBadSignature)
	add("truncated", r[:len(r)-10], ErrMalformed)
	add("no header", bytes.TrimPrefix(r, []byte(proofHeader+"\n")), ErrMalformed)
	add("CRLF", bytes.ReplaceAll(r, []byte("\n"), []byte("\r\n")), ErrMalformed)
	return ms
}

// generateVectors appends vectorEntries one by one to a fresh log under the
// test key in the vectors file (or a new key) and rewrites the file.
func generateVectors(t *testing.T) {
	ctx := context.Background()
	var skey string
	if a, err := txtar.ParseFile(vectorsFile); err == nil {
		skey = strings.TrimSpace(string(vectorFile(a, "log.skey")))
	}
	if skey == "" {
		var err error
		if skey, _, err = GenerateKey("charter.example/test-vectors"); err != nil {
			t.Fatal(err)
		}
	}
	s, err := NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Open(ctx, t.TempDir(), s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	a := &txtar.Archive{Comment: []byte(`Test vectors for the Charter audit log (docs/spec/log-entry.md,
docs/spec/checkpoint.md, docs/spec/receipt.md). Regenerate with
go test ./auditlog -run TestVectors -update. log.skey is a test key.
entry-N is encoded entry N; receipt-N.tlog-proof proves it under the
checkpoint of size N+1; consistency-A-B proves the tree of size B extends
the tree of size A (the checkpoints of size A are those in the receipts).
`)}
	file := func(name string, data []byte) {
		a.Files = append(a.Files, txtar.File{Name: name, Data: data})
	}
	file("log.skey", []byte(skey+"\n"))
	file("log.vkey", []byte(s.VerifierKey()+"\n"))
	for i, e := range vectorEntries {
		r, err := l.AppendAndProve(ctx, e.Type, e.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if r.Index != uint64(i) || r.Checkpoint.Size != uint64(i+1) {
			t.Fatalf("entry %d at index %d under size %d", i, r.Index, r.Checkpoint.Size)
		}
		file(fmt.Sprintf("entry-%d", i), r.Entry)
		file(fmt.Sprintf("receipt-%d.tlog-proof", i), r.Proof)
	}
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	file("checkpoint", cp.Raw)
	for _, old := range []uint64{1, 3} {
		c, err := l.ConsistencyProof(ctx, old)
		if err != nil {
			t.Fatal(err)
		}
		file(fmt.Sprintf("consistency-%d-%d", old, cp.Size), c.Marshal())
	}
	if err := os.MkdirAll(filepath.Dir(vectorsFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(vectorsFile, txtar.Format(a), 0o644); err != nil {
		t.Fatal(err)
	}
}
