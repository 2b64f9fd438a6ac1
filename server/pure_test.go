package server

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/crowd"
	"github.com/charter-dev/charter/identity"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/auditlog"
	catpostgres "github.com/charter-dev/charter/catalog/postgres"
	catsqlite "github.com/charter-dev/charter/catalog/sqlite"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/internal/datadir"
	"github.com/charter-dev/charter/ledger/postgres/pgtest"
	"github.com/charter-dev/charter/registry"
)

// TestRebuildWithoutBlobs: apply is a pure function of the log and the
// catalog (issue 11). A market with a three-level lineage (rights to
// derive checked against terms) and a registered dataset is rebuilt from
// its log with an EMPTY blob store, into SQLite and into PostgreSQL: both
// equal the live catalog row for row, except the objects table, which
// describes the blob store itself (what is stored there), so a rebuild
// from no blobs has none. The log holds the carried terms and member list.
func TestRebuildWithoutBlobs(t *testing.T) {
	m := newMarketLevels(t, Config{}, 3)
	ctx := context.Background()
	var files []content.File
	for i, b := range []string{"first member", "second member", "third member"} {
		info, err := m.c.Put(ctx, strings.NewReader(b), int64(len(b)), client.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		id, _ := content.ParseID(info.ID)
		files = append(files, content.File{Path: "f" + string(rune('a'+i)), Size: int64(len(b)), ID: id})
	}
	x, err := content.NewIndex(files)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := x.Encode()
	info, err := m.c.Put(ctx, bytes.NewReader(raw), int64(len(raw)), client.PutOptions{Kind: client.KindDataset})
	if err != nil {
		t.Fatal(err)
	}
	index, _ := content.ParseID(info.ID)
	terms, err := m.s.cat.Asset(ctx, m.dataset)
	if err != nil {
		t.Fatal(err)
	}
	man := &asset.Manifest{Content: index, Name: "members", MediaType: content.DatasetMediaType, Created: asset.NewTime(time.Now()), Threshold: 1,
		License: terms.State.License, Owners: []asset.Owner{{DID: m.ann.DID(), Weight: 1}}, Contributors: []asset.Contributor{{DID: m.ann.DID(), Share: asset.Whole}}}
	env, err := man.Sign(m.ann)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.c.Register(ctx, env); err != nil {
		t.Fatal(err)
	}
	// The log carries the member list and the terms.
	kinds := map[string]int{}
	for rec, err := range m.s.tlog.Entries(ctx, 0) {
		if err != nil {
			t.Fatal(err)
		}
		kinds[rec.Entry.Type]++
	}
	if kinds[registry.TypeDatasetFiles] != 1 || kinds[auditlog.TypeLicense] == 0 {
		t.Fatalf("entries by type: %v, want a dataset.files part and licence terms", kinds)
	}
	waitCovered(t, m.s)
	live := dump(t, m.s.cat)
	m.hs.Close()
	if err := m.s.Close(); err != nil {
		t.Fatal(err)
	}
	want := slices.DeleteFunc(slices.Clone(live), func(l string) bool { return strings.HasPrefix(l, "object ") })
	if len(want) == len(live) || !slices.ContainsFunc(want, func(l string) bool { return strings.HasPrefix(l, "claim "+files[2].ID.String()) }) {
		t.Fatalf("the live catalog lacks objects or the dataset's claims:\n%s", strings.Join(live, "\n"))
	}

	// An empty blob store.
	blobs := filepath.Join(m.dir, "blobs")
	if err := os.Rename(blobs, blobs+".away"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(blobs, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, p := range catalogFiles(m.dir) {
		os.Remove(p)
	}
	if _, err := Rebuild(ctx, quietConfig(m.dir)); err != nil {
		t.Fatal(err)
	}
	sq, err := catsqlite.Open(ctx, filepath.Join(m.dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	got := dump(t, sq)
	sq.Close()
	if !slices.Equal(got, want) {
		t.Fatalf("SQLite rebuild without blobs differs from the live catalog (objects aside):\n%s", diffLines(want, got))
	}

	schema := pgtest.Schema(t, "charter_pure")
	url := pgtest.DSN() + "&search_path=" + schema
	if !strings.Contains(pgtest.DSN(), "?") {
		url = pgtest.DSN() + "?search_path=" + schema
	}
	rep, err := datadir.Rebuild(ctx, m.dir, url, datadir.Options{Logger: quietConfig(m.dir).Logger})
	if err != nil {
		t.Fatalf("rebuild into PostgreSQL without blobs: %v", err)
	}
	t.Cleanup(func() { dropPGSchema(t, rep.Kept) })
	pg, err := catpostgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	got = dump(t, pg)
	pg.Close()
	if !slices.Equal(got, want) {
		t.Fatalf("PostgreSQL rebuild without blobs differs from the live catalog (objects aside):\n%s", diffLines(want, got))
	}
}

var pureFiles = flag.Int("pure.files", 3_000, "files of the dataset TestLogGrowth registers (the figure in docs/performance.md: 1000000)")

// TestLogGrowth registers a dataset of -pure.files files (default 3,000:
// three parts of its member list) and measures what carrying its member
// list costs the log: bytes of log on disk (tiles and entry bundles) per
// file, entries, and the registration's time; then what one more
// registration under terms the log holds already costs. The figures are
// in docs/performance.md ("Log growth of carried documents").
func TestLogGrowth(t *testing.T) {
	f := newRegFixture(t)
	ctx := context.Background()
	alice := f.keys[0]
	n := *pureFiles
	start := time.Now()
	// Files take one of at most 500 contents (storing a blob costs tens
	// of milliseconds on a loaded machine); the member list holds every
	// file's id all the same, so the log grows as with distinct files.
	stored := make([]content.Info, min(n, 500))
	for i := range stored {
		b := fmt.Appendf(nil, "member %d of a big dataset\n", i)
		info, err := blob.Put(ctx, f.s.blobs, bytes.NewReader(b), nil)
		if err != nil {
			t.Fatal(err)
		}
		stored[i] = info
	}
	files := make([]content.File, n)
	for i := range n {
		info := stored[i%len(stored)]
		files[i] = content.File{Path: fmt.Sprintf("d%03d/f%07d", i%1000, i), Size: info.Size, ID: info.ID}
	}
	x, err := content.NewIndex(files)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := x.Encode()
	if err != nil {
		t.Fatal(err)
	}
	files = nil
	info, err := blob.Put(ctx, f.s.blobs, bytes.NewReader(raw), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stored %d files and an index of %d bytes in %s", n, len(raw), time.Since(start).Round(time.Millisecond))
	raw = nil
	terms := f.terms("research-only")

	// logBytes is what the log holds once its tiles are full: every
	// entry, its 2-byte length in an entry bundle and its 32-byte leaf
	// hash in a level-0 tile (higher levels add 1/256 of that). The
	// folder on disk holds more while tiles are partial: tessera keeps a
	// copy of each partial width.
	logBytes := func() int64 {
		waitCovered(t, f.s)
		var total int64
		for rec, err := range f.s.tlog.Entries(ctx, 0) {
			if err != nil {
				t.Fatal(err)
			}
			b, err := auditlog.EncodeEntry(rec.Entry.Type, rec.Entry.Payload)
			if err != nil {
				t.Fatal(err)
			}
			total += int64(len(b)) + 2 + 32
		}
		return total
	}
	before, entries := logBytes(), f.s.seq.Next()
	start = time.Now()
	f.publish(alice, info.ID, "big", terms, true)
	took := time.Since(start)
	grown, added := logBytes()-before, f.s.seq.Next()-entries
	if want := uint64(registry.FilesParts(n) + 2); added != want {
		t.Fatalf("registering the dataset added %d entries, want %d (terms, %d parts, registration)", added, want, registry.FilesParts(n))
	}
	perFile := float64(grown) / float64(n)
	t.Logf("dataset of %d files: %d log entries, %d bytes of log (%.1f per file), registered in %s", n, added, grown, perFile, took.Round(time.Millisecond))
	if perFile > 48 && n >= registry.PartFiles {
		t.Errorf("%.1f bytes of log per file, more than 48", perFile)
	}

	// One more registration under the same terms: the log carries nothing.
	before, entries = logBytes(), f.s.seq.Next()
	f.publish(alice, f.put([]byte("one more file")), "one more", terms, false)
	grown, added = logBytes()-before, f.s.seq.Next()-entries
	t.Logf("a registration under terms the log holds: %d entry, %d bytes of log", added, grown)
	if added != 1 {
		t.Fatalf("a registration under carried terms added %d entries", added)
	}
	// And one under new terms: one more entry.
	before, entries = logBytes(), f.s.seq.Next()
	f.publish(alice, f.put([]byte("one under new terms")), "new terms", f.terms("open"), false)
	grown, added = logBytes()-before, f.s.seq.Next()-entries
	t.Logf("a registration under new terms: %d entries, %d bytes of log", added, grown)
	if added != 2 {
		t.Fatalf("a registration under new terms added %d entries, want 2", added)
	}
}

// TestMemberListsDrawThePool: a key without standing pays one statement
// of the shared pool per part of a dataset's member list, so it cannot
// fill the log with lists: a dataset of three parts is refused (429
// unproven-pool) when the pool holds two statements, and the log does not
// grow; a dataset of one part registers.
func TestMemberListsDrawThePool(t *testing.T) {
	f := newCrowdFixture(t, crowd.Limits{UploadBytesDay: -1, GrantRequestsDay: -1, StatementsDay: 2, Nonces: -1})
	ctx := context.Background()
	stranger, _ := identity.Generate()
	member, err := blob.Put(ctx, f.s.blobs, strings.NewReader("one member"), nil)
	if err != nil {
		t.Fatal(err)
	}
	dataset := func(n int) content.ID {
		files := make([]content.File, n)
		for i := range files {
			files[i] = content.File{Path: fmt.Sprintf("f%05d", i), Size: member.Size, ID: member.ID}
		}
		x, err := content.NewIndex(files)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := x.Encode()
		info, err := blob.Put(ctx, f.s.blobs, bytes.NewReader(raw), nil)
		if err != nil {
			t.Fatal(err)
		}
		return info.ID
	}
	sign := func(index content.ID, name string) *identity.Envelope {
		m := f.manifest(index, name, []*identity.Key{stranger})
		m.MediaType = content.DatasetMediaType
		env, err := m.Sign(stranger)
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	before := f.s.seq.Next()
	code, _, body := f.post("/v1/assets", sign(dataset(2*registry.PartFiles+1), "three parts"))
	if code != http.StatusTooManyRequests || !strings.Contains(string(body), "unproven-pool") {
		t.Fatalf("a list of 3 parts with 2 statements left: %d %s", code, body)
	}
	if after := f.s.seq.Next(); after != before {
		t.Fatalf("the refused registration logged %d entries", after-before)
	}
	if code, _, body := f.post("/v1/assets", sign(dataset(3), "one part")); code != http.StatusCreated {
		t.Fatalf("a list of one part: %d %s", code, body)
	}
}
