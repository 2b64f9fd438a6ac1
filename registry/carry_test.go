package registry

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/license"
	"github.com/rogpeppe/go-internal/txtar"
)

var updateParts = flag.Bool("update-parts", false, "regenerate testdata/parts.txtar")

func fileID(i int) content.ID {
	return content.IDFromDigest([32]byte{0xf1, byte(i >> 16), byte(i >> 8), byte(i)})
}

// filesParts divides a member list of n made-up files into parts.
func filesParts(t testing.TB, index content.ID, n int) []Part {
	i := 0
	var out []Part
	err := FilesPartsOf(index, n, func() (content.ID, error) { i++; return fileID(i - 1), nil }, func(p Part) error { out = append(out, p); return nil })
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// partEntry is the log entry of p signed by k.
func partEntry(t testing.TB, k *identity.Key, p Part) auditlog.Entry {
	env, err := identity.Sign(PartPayloadType, p.Encode(), k)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return auditlog.Entry{Type: p.Kind, Payload: raw}
}

func idOf(t testing.TB, b []byte) content.ID {
	info, err := content.Ingest(context.Background(), bytes.NewReader(b), io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return info.ID
}

// TestPartFitsEntry: the fullest part of either kind, signed, is a log
// entry under auditlog.MaxEntrySize, and it parses back.
func TestPartFitsEntry(t *testing.T) {
	k, _ := identity.Generate()
	doc := bytes.Repeat([]byte("x"), license.MaxTermsSize)
	for _, p := range append(TermsParts(idOf(t, doc), doc), filesParts(t, fileID(99), 3*PartFiles)[0]) {
		e := partEntry(t, k, p)
		b, err := auditlog.EncodeEntry(e.Type, e.Payload)
		if err != nil {
			t.Fatalf("%s part %d of %d: %v", p.Kind, p.Part, p.Parts, err)
		}
		if len(b) > auditlog.MaxEntrySize-1024 {
			t.Errorf("%s part: %d bytes, less than 1 KiB under the limit", p.Kind, len(b))
		}
		if got, err := OpenPart(e.Type, e.Payload, k.DID()); err != nil || !bytes.Equal(got.Encode(), p.Encode()) {
			t.Fatalf("OpenPart: %v", err)
		}
	}
	if n := len(TermsParts(fileID(1), doc)); n != MaxTermsParts {
		t.Fatalf("the largest terms take %d parts, MaxTermsParts is %d", n, MaxTermsParts)
	}
	if n := len(filesParts(t, fileID(99), 2*PartFiles+1)); n != 3 {
		t.Fatalf("2 full parts and one file: %d parts", n)
	}
	if ps := filesParts(t, fileID(99), 0); len(ps) != 1 || len(ps[0].Body) != 0 {
		t.Fatalf("an empty dataset: %+v", ps)
	}
}

// TestParsePartRefuses: everything but what Encode produces from a valid
// part is refused.
func TestParsePartRefuses(t *testing.T) {
	id := fileID(7).String()
	full := strings.Repeat("\x00", PartFiles*32)
	for _, tc := range []string{
		"",
		"charter/log-part@v1 license " + id + " 0 1",
		"charter/log-part@v2 license " + id + " 0 1\nx",
		"charter/log-part@v1  license " + id + " 0 1\nx",
		"charter/log-part@v1 licence " + id + " 0 1\nx",
		"charter/log-part@v1 license " + id + " 0 1 \nx",
		"charter/log-part@v1 license not-an-id 0 1\nx",
		"charter/log-part@v1 license " + strings.ToUpper(id) + " 0 1\nx",
		"charter/log-part@v1 license " + id + " 00 1\nx",
		"charter/log-part@v1 license " + id + " -0 1\nx",
		"charter/log-part@v1 license " + id + " +0 1\nx",
		"charter/log-part@v1 license " + id + " 1 1\nx",
		"charter/log-part@v1 license " + id + " 0 0\n",
		"charter/log-part@v1 license " + id + " 0 1\n",                     // empty terms
		"charter/log-part@v1 license " + id + " 0 3\nx",                    // not full, not last
		"charter/log-part@v1 license " + id + " 0 5\n" + full,              // over MaxTermsParts (and not full)
		"charter/log-part@v1 dataset.files " + id + " 0 1\n" + "123",       // not whole ids
		"charter/log-part@v1 dataset.files " + id + " 0 2\n" + full[:64],   // not full, not last
		"charter/log-part@v1 dataset.files " + id + " 1 2\n",               // empty last part
		"charter/log-part@v1 dataset.files " + id + " 0 65537\n" + full,    // over MaxParts
		"charter/log-part@v1 dataset.files " + id + " 0 1\n" + full + full, // over MaxPartBody
	} {
		if p, err := ParsePart([]byte(tc)); !errors.Is(err, ErrBadPart) {
			t.Errorf("ParsePart(%.80q) = %+v, %v; want ErrBadPart", tc, p.Kind, err)
		}
	}
	for _, ok := range []string{
		"charter/log-part@v1 dataset.files " + id + " 0 1\n",
		"charter/log-part@v1 dataset.files " + id + " 0 2\n" + full,
		"charter/log-part@v1 license " + id + " 1 2\n{}",
	} {
		p, err := ParsePart([]byte(ok))
		if err != nil || string(p.Encode()) != ok {
			t.Errorf("ParsePart(%.80q): %v", ok, err)
		}
	}
}

// FuzzParsePart: a part that parses encodes back to the same bytes.
func FuzzParsePart(f *testing.F) {
	f.Add([]byte("charter/log-part@v1 license " + fileID(1).String() + " 0 1\n{}"))
	f.Add([]byte("charter/log-part@v1 dataset.files " + fileID(1).String() + " 0 1\n" + strings.Repeat("a", 64)))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePart(b)
		if err != nil {
			return
		}
		if !bytes.Equal(p.Encode(), b) {
			t.Fatalf("re-encoded differently: %q", p.Encode())
		}
	})
}

// TestPartVectors checks testdata/parts.txtar: the payloads and log
// entries of a licence part and a dataset.files part, signed by a key
// made from a fixed seed (Ed25519 signatures are deterministic).
func TestPartVectors(t *testing.T) {
	k, err := identity.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	terms := []byte(`{"example":"licence terms"}`)
	parts := []Part{TermsParts(idOf(t, terms), terms)[0], filesParts(t, fileID(1000), 2)[0]}
	ar := &txtar.Archive{Comment: []byte("Vectors of carried parts (docs/spec/log-entry.md, \"Carried documents\"),\nsigned by the key of seed 32 x 0x07: " + k.DID().String() + "\nRegenerate: go test ./registry -run TestPartVectors -update-parts\n")}
	for _, p := range parts {
		e := partEntry(t, k, p)
		entry, err := auditlog.EncodeEntry(e.Type, e.Payload)
		if err != nil {
			t.Fatal(err)
		}
		ar.Files = append(ar.Files,
			txtar.File{Name: p.Kind + ".payload.hex", Data: []byte(hex.EncodeToString(p.Encode()) + "\n")},
			txtar.File{Name: p.Kind + ".entry", Data: append(entry, '\n')})
	}
	const file = "testdata/parts.txtar"
	if *updateParts {
		if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, txtar.Format(ar)) {
		t.Fatalf("%s differs from what the code produces (-update-parts regenerates it):\n%s", file, txtar.Format(ar))
	}
	// The entries in the file open as parts that re-encode to the payloads.
	got := txtar.Parse(want)
	for i := 0; i < len(got.Files); i += 2 {
		payload, _ := hex.DecodeString(strings.TrimSpace(string(got.Files[i].Data)))
		e, err := auditlog.DecodeEntry(bytes.TrimSuffix(got.Files[i+1].Data, []byte("\n")))
		if err != nil {
			t.Fatal(err)
		}
		p, err := OpenPart(e.Type, e.Payload, k.DID())
		if err != nil || !bytes.Equal(p.Encode(), payload) {
			t.Fatalf("vector %s: %v", got.Files[i+1].Name, err)
		}
	}
}

// TestApplyReadsTheLog: applying a dataset registration claims the files
// of the member list the log carried before it; without the list the
// dataset is unindexed, and the list's last part, logged later, guards it.
// A part not signed by the server key, or logged twice, has no effect.
// A derivation whose parent's terms the log does not carry does not apply.
// No blob store is involved: the registry has none.
func TestApplyReadsTheLog(t *testing.T) {
	ctx := context.Background()
	op, _ := identity.Generate()
	alice, _ := identity.Generate()
	cat := newCatalog(t)
	r := New(Config{Operator: op.DID(), Logger: quiet()})
	var idx uint64
	apply := func(e auditlog.Entry) error {
		i := idx
		idx++
		err := cat.Update(ctx, i, func(tx catalog.Tx) error { return r.Apply(ctx, tx, i, e) })
		if err != nil && !errors.Is(err, catalog.ErrNoEffect) {
			t.Fatalf("entry %d: %v", i, err)
		}
		return err
	}
	dataset := func(index content.ID, name string) (auditlog.Entry, asset.ID) {
		m := &asset.Manifest{Content: index, Name: name, MediaType: content.DatasetMediaType,
			Created: asset.NewTime(time.Unix(1_800_000_000, 0)), Threshold: 1, Owners: []asset.Owner{{DID: alice.DID(), Weight: 1}}, Contributors: []asset.Contributor{{DID: alice.DID(), Share: asset.Whole}}}
		env, err := m.Sign(alice)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := env.Marshal()
		_, id, _, err := asset.OpenManifest(env)
		if err != nil {
			t.Fatal(err)
		}
		return auditlog.Entry{Type: auditlog.TypeAssetRegister, Payload: raw}, id
	}
	claimed := func(file content.ID) []asset.ID {
		cl, err := cat.ContentClaims(ctx, file.String())
		if err != nil {
			t.Fatal(err)
		}
		var out []asset.ID
		for _, c := range cl {
			out = append(out, c.Asset)
		}
		return out
	}

	// A list of 2 parts, then the registration.
	indexA := fileID(500_000)
	n := PartFiles + 3
	for _, p := range filesParts(t, indexA, n) {
		if err := apply(partEntry(t, op, p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := apply(partEntry(t, op, filesParts(t, indexA, n)[1])); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("a part logged twice: %v, want a duplicate", err)
	}
	e, a := dataset(indexA, "a")
	if err := apply(e); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, PartFiles - 1, PartFiles, n - 1} {
		if got := claimed(fileID(i)); len(got) != 1 || got[0] != a {
			t.Fatalf("file %d: claimed by %v, want %s", i, got, a)
		}
	}
	if got := claimed(fileID(n)); len(got) != 0 {
		t.Fatalf("a file not in the list is claimed by %v", got)
	}

	// A registration before its list: unindexed until the last part.
	indexB := fileID(600_000)
	e, b := dataset(indexB, "b")
	if err := apply(e); err != nil {
		t.Fatal(err)
	}
	un, _ := cat.Unindexed(ctx)
	if len(un) != 1 || un[0].Asset != b {
		t.Fatalf("unindexed: %+v, want %s", un, b)
	}
	stranger, _ := identity.Generate()
	bParts := filesParts(t, indexB, PartFiles+2)
	if err := apply(partEntry(t, stranger, bParts[1])); !errors.Is(err, catalog.ErrNoEffect) || errors.Is(err, ErrDuplicate) {
		t.Fatalf("a part signed by another key: %v", err)
	}
	// Parts in any order: the one that makes the list whole guards.
	if err := apply(partEntry(t, op, bParts[1])); err != nil {
		t.Fatal(err)
	}
	if un, _ := cat.Unindexed(ctx); len(un) != 1 {
		t.Fatalf("unindexed with half its list: %+v", un)
	}
	if err := apply(partEntry(t, op, bParts[0])); err != nil {
		t.Fatal(err)
	}
	if un, _ := cat.Unindexed(ctx); len(un) != 0 {
		t.Fatalf("unindexed after the list: %+v", un)
	}
	if got := claimed(fileID(1)); len(got) != 2 || got[1] != b {
		t.Fatalf("file 1 after b's list: claimed by %v", got)
	}

	// Terms: a derivation reads its parent's terms from the log.
	if err := r.applyDerivationCheck(ctx, cat, "not carried"); !errors.Is(err, ErrBadTerms) {
		t.Fatalf("terms not in the log: %v", err)
	}
	terms, _ := license.Template("open")
	doc, _ := terms.Encode()
	tid := idOf(t, doc)
	if err := r.applyDerivationCheck(ctx, cat, tid.String()); !errors.Is(err, ErrBadTerms) || !errors.Is(err, errNotCarried) {
		t.Fatalf("terms not in the log: %v", err)
	}
	// Parts of other bytes under the terms' id do not pass as the terms.
	if err := apply(partEntry(t, op, TermsParts(tid, []byte(`{"forged":true}`))[0])); err != nil {
		t.Fatal(err)
	}
	if err := r.applyDerivationCheck(ctx, cat, tid.String()); !errors.Is(err, ErrBadTerms) || errors.Is(err, errNotCarried) {
		t.Fatalf("forged terms: %v", err)
	}
	tid2 := idOf(t, append(doc, ' '))
	if err := apply(partEntry(t, op, TermsParts(tid2, append(doc, ' '))[0])); err != nil {
		t.Fatal(err)
	}
	if err := r.applyDerivationCheck(ctx, cat, tid2.String()); err != nil {
		t.Fatalf("terms carried by the log: %v", err)
	}
	if err := r.applyDerivationCheck(ctx, cat, tid2.String()); err != nil {
		t.Fatalf("terms carried by the log, parsed before: %v", err)
	}
}

var checkIndex uint64 = 1 << 40

// applyDerivationCheck reads the terms ref from the log in a catalog
// transaction, as a derivation's apply does.
func (r *Registry) applyDerivationCheck(ctx context.Context, cat catalog.Applier, ref string) error {
	var got error
	checkIndex++
	err := cat.Update(ctx, checkIndex, func(tx catalog.Tx) error {
		_, got = r.termsLookup(tx)(ref)
		return fmt.Errorf("%w: read only", catalog.ErrNoEffect)
	})
	if !errors.Is(err, catalog.ErrNoEffect) {
		return err
	}
	return got
}
