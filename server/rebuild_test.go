package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/catalog"
	catpostgres "github.com/charter-dev/charter/catalog/postgres"
	catsqlite "github.com/charter-dev/charter/catalog/sqlite"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/internal/datadir"
	"github.com/charter-dev/charter/ledger/postgres/pgtest"
	"github.com/jackc/pgx/v5"
)

func quietConfig(dir string) Config {
	return Config{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), ScrubInterval: -1, SettleInterval: -1}
}

// TestRebuildKeepsQuotaCounters: quota counters and corruption records are
// not in the log; a rebuild carries them over from the old catalog, and
// where they were lost (an old rebuild reset them, or the old catalog is
// unreadable) raises counters to what the log's receipts show was served.
// `admin check` reports a counter below the log. Before this change a
// rebuild dropped the counters (quotas started again) and the check said
// all was well.
func TestRebuildKeepsQuotaCounters(t *testing.T) {
	m := newMarket(t, Config{SessionIdle: time.Hour})
	ctx := context.Background()
	c, _ := client.New(m.hs.URL)
	c = c.WithKey(uploaderKey)
	c.ChunkSize = 64 << 10
	m.download(c)
	if _, err := c.WithGrant(m.consumer, m.grant.ID.String()).CloseSession(ctx); err != nil {
		t.Fatal(err)
	}
	m.download(c) // a second session, still open: counted but not yet receipted
	bogus := content.IDFromDigest([32]byte{9})
	if err := m.s.cat.MarkCorrupt(ctx, catalog.Corruption{ID: bogus, Offset: 1, Length: 2, Detail: "test", Found: time.Unix(1, 0)}); err != nil {
		t.Fatal(err)
	}
	m.hs.Close()
	m.s.Close() // logs the open session's receipt
	reopen := func() { m.start(quietConfig(m.dir)) }
	reopen()
	ops, err := m.s.cat.DumpOperational(ctx)
	if err != nil || len(ops) < 2 {
		t.Fatalf("operational rows before: %q %v", ops, err)
	}
	derived, _ := m.s.cat.Dump(ctx)
	m.hs.Close()
	m.s.Close()

	cfg := quietConfig(m.dir)
	rep, err := Rebuild(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Kept == "" || rep.Carried["grant_usage"] != 1 || rep.Carried["corruptions"] != 1 || rep.OldUnreadable != "" {
		t.Fatalf("rebuild report %+v", rep)
	}
	reopen()
	ops2, _ := m.s.cat.DumpOperational(ctx)
	derived2, _ := m.s.cat.Dump(ctx)
	if !slices.Equal(ops, ops2) {
		t.Fatalf("operational state changed by rebuild:\nbefore %q\nafter  %q", ops, ops2)
	}
	if !slices.Equal(derived, derived2) {
		t.Fatal("derived state changed by rebuild")
	}
	// Simulate the old rebuild: counters reset.
	if err := sqliteCatalog(t, m.s.cat).ResetQuotaCounters(ctx); err != nil {
		t.Fatal(err)
	}
	m.hs.Close()
	m.s.Close()
	chk, err := CheckCatalog(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(chk.Quota) != 1 || chk.Clean() {
		t.Fatalf("reset counters not reported: %+v", chk)
	}
	rep, err = Rebuild(ctx, cfg)
	if err != nil || rep.Raised != 1 {
		t.Fatalf("rebuild after reset: %+v %v", rep, err)
	}
	if chk, err := CheckCatalog(ctx, cfg); err != nil || !chk.Clean() {
		t.Fatalf("check after rebuild: %+v %v", chk, err)
	}
	// An unreadable old catalog: rebuilt anyway, counters from receipts.
	if err := os.WriteFile(filepath.Join(m.dir, "catalog.db"), bytes.Repeat([]byte("garbage!"), 1024), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err = Rebuild(ctx, cfg)
	if err != nil || rep.OldUnreadable == "" || rep.Raised != 1 {
		t.Fatalf("rebuild over a garbage catalog: %+v %v", rep, err)
	}
	if chk, err := CheckCatalog(ctx, cfg); err != nil || !chk.Clean() {
		t.Fatalf("check after rebuilding a garbage catalog: %+v %v", chk, err)
	}
}

// TestRebuildFailureLeavesFolder: a dataset index corrupted on disk made
// the old rebuild abort after it had moved the catalog aside, so the server
// would not start. A rebuild now either completes or leaves the catalog
// byte for byte as it was, and the server starts either way.
func TestRebuildFailureLeavesFolder(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, quietConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	c, _ := client.New(hs.URL)
	c = c.WithKey(uploaderKey)
	src := t.TempDir()
	for i, name := range []string{"a.txt", "b.txt"} {
		os.WriteFile(filepath.Join(src, name), bytes.Repeat([]byte{byte('a' + i)}, 100), 0o644)
	}
	info, _, err := c.PutDir(ctx, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	owner, _ := identity.Generate()
	id, _ := content.ParseID(info.ID)
	man := &asset.Manifest{Content: id, Name: "ds", MediaType: content.DatasetMediaType, Created: asset.NewTime(time.Now()), Threshold: 1,
		Owners: []asset.Owner{{DID: owner.DID(), Weight: 1}}, Contributors: []asset.Contributor{{DID: owner.DID(), Share: asset.Whole}}}
	env, _ := man.Sign(owner)
	if _, err := c.Register(ctx, env); err != nil {
		t.Fatal(err)
	}
	before, _ := s.cat.Dump(ctx)
	hs.Close()
	s.Close()
	// Corrupt the index on disk.
	m, _ := filepath.Glob(filepath.Join(dir, "blobs", "blobs", "*", info.ID))
	if len(m) != 1 {
		t.Fatal("index blob file not found")
	}
	raw, _ := os.ReadFile(m[0])
	raw[len(raw)/2] ^= 0x20
	os.WriteFile(m[0], raw, 0o600)
	sum := func() [32]byte {
		b, _ := os.ReadFile(filepath.Join(dir, "catalog.db"))
		return sha256.Sum256(b)
	}
	was := sum()
	_, rerr := Rebuild(ctx, quietConfig(dir))
	if rerr != nil {
		if sum() != was {
			t.Fatalf("failed rebuild (%v) changed the catalog", rerr)
		}
		t.Logf("rebuild refused: %v", rerr)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".rebuild-*")); len(left) > 0 {
		t.Fatalf("rebuild left %q behind", left)
	}
	s, err = Open(ctx, quietConfig(dir))
	if err != nil {
		t.Fatalf("server does not start after the rebuild: %v", err)
	}
	after, _ := s.cat.Dump(ctx)
	s.Close()
	if rerr != nil && !slices.Equal(before, after) {
		t.Fatal("catalog changed by a failed rebuild")
	}
}

// catalogFiles are the SQLite files of the data folder's catalog.
func catalogFiles(dir string) []string {
	p := filepath.Join(dir, "catalog.db")
	return []string{p, p + "-wal", p + "-shm"}
}

// rebuildEverywhere is `charter admin rebuild` of the data folder dir into
// its SQLite catalog and into a fresh PostgreSQL schema (--catalog
// postgres://…): both catalogs must hold want, row for row (Dump lines are
// the same on every backend), and `admin check --catalog postgres://…`
// must find nothing. Without PostgreSQL the second half skips, except
// under CI=true, where it fails.
func rebuildEverywhere(t *testing.T, dir string, want []string) {
	t.Helper()
	ctx := context.Background()
	if _, err := Rebuild(ctx, quietConfig(dir)); err != nil {
		t.Fatal(err)
	}
	sq, err := catsqlite.Open(ctx, filepath.Join(dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	got := dump(t, sq)
	sq.Close()
	if !slices.Equal(got, want) {
		t.Fatalf("SQLite rebuild differs from the live catalog:\n%s", diffLines(want, got))
	}
	schema := pgtest.Schema(t, "charter_rebuild")
	url := pgtest.DSN() + "&search_path=" + schema
	if !strings.Contains(pgtest.DSN(), "?") {
		url = pgtest.DSN() + "?search_path=" + schema
	}
	opts := datadir.Options{Logger: quietConfig(dir).Logger}
	rep, err := datadir.Rebuild(ctx, dir, url, opts)
	if err != nil {
		t.Fatalf("rebuild into PostgreSQL: %v", err)
	}
	t.Cleanup(func() { dropPGSchema(t, rep.Kept) })
	pg, err := catpostgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	got = dump(t, pg)
	pg.Close()
	if !slices.Equal(got, want) {
		t.Fatalf("PostgreSQL rebuild differs from the SQLite catalog:\n%s", diffLines(want, got))
	}
	chk, err := datadir.Check(ctx, dir, url, opts)
	if err != nil || !chk.Clean() {
		t.Fatalf("admin check --catalog postgres: %v %+v", err, chk)
	}
}

// dropPGSchema drops a schema a test left in the PostgreSQL test server.
func dropPGSchema(t *testing.T, schema string) {
	if schema == "" {
		return
	}
	conn := pgtest.Connect(t)
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
		t.Logf("schema %s left behind: %v", schema, err)
	}
}
