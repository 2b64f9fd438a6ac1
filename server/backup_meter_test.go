package server

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/catalog"
	catsqlite "github.com/charter-dev/charter/catalog/sqlite"
	"github.com/charter-dev/charter/httpsig"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/internal/datadir"
	"github.com/charter-dev/charter/metering"
	"github.com/charter-dev/charter/registry"
)

// TestCatalogBehindLogReceipts: a catalog copied while a download session
// was open (a live backup's catalog, which its log copy may run ahead of)
// replays a receipt that sealed that session after the copy, and one of a
// session begun after the copy. The replay
// must bring the copy's session state forward: the bytes the copy still
// holds as open are in the logged receipt, so they are not sealed again
// into a second receipt (billed twice), and the grant's usage counter is
// raised to what the receipts show (admin check clean). Before, the
// restored server logged a second receipt of the copy's open bytes and
// admin check reported the grant's counter below the log's receipts.
func TestCatalogBehindLogReceipts(t *testing.T) {
	ctx := context.Background()
	m := newMarketSized(t, Config{SessionIdle: time.Hour}, 2, perGiB(1<<40), 300<<10)
	raw := "/v1/blobs/" + m.modelContent.String()
	get := func(rng string, sid ...string) {
		sess := "s1"
		if len(sid) > 0 {
			sess = sid[0]
		}
		w := m.signedData(m.consumer, "GET", raw, map[string]string{"Range": rng, HeaderSession: sess}, httpsig.WithHeadersIfPresent("range", "charter-session"))
		if code, b := m.send(w, nil); code != http.StatusPartialContent {
			t.Fatalf("%s: %d %s", rng, code, b)
		}
	}
	get("bytes=0-99999")
	// The copy: s1 open with 100,000 bytes, 1 request.
	snap := filepath.Join(t.TempDir(), "catalog.db")
	if err := datadir.VacuumInto(ctx, filepath.Join(m.dir, "catalog.db"), snap); err != nil {
		t.Fatal(err)
	}
	get("bytes=100000-129999")
	m.closeAs("s1") // one receipt: 130,000 bytes, 2 requests
	get("bytes=0-9999", "s2")
	m.closeAs("s2") // a session the copy never saw: 10,000 bytes, 1 request
	waitCovered(t, m.s)
	m.hs.Close()
	if err := m.s.Close(); err != nil {
		t.Fatal(err)
	}
	// Restore the copy: its log runs one receipt ahead.
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(filepath.Join(m.dir, "catalog.db"+suffix))
	}
	b, err := os.ReadFile(snap)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(m.dir, "catalog.db"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	// What Backup does to a catalog copy its log copy runs ahead of.
	cat, err := catsqlite.Open(ctx, filepath.Join(m.dir, "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	next, _, err := cat.Applied(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := datadir.CreditUnseenReceipts(ctx, cat, filepath.Join(m.dir, "log"), logCheckpoint(t, m.dir), next); err != nil {
		t.Fatal(err)
	}
	cat.Close()
	m.start(quietConfig(m.dir))
	// Whatever the restored server still holds of s1 seals now.
	c := m.consumer.DID().String()
	if _, err := m.s.closeSessions(ctx, catalog.SessionFilter{Session: "s1", Licensee: c}); err != nil {
		t.Fatal(err)
	}
	waitCovered(t, m.s)
	ids := map[string]int64{}
	var sum int64
	for rec, err := range m.s.tlog.Entries(ctx, 0) {
		if err != nil {
			t.Fatal(err)
		}
		if rec.Entry.Type != auditlog.TypeReceipt {
			continue
		}
		env, _ := identity.ParseEnvelope(rec.Entry.Payload)
		rc, id, err := metering.OpenReceipt(env)
		if err != nil {
			t.Fatal(err)
		}
		ids[id.String()] = rc.Bytes
		sum += rc.Bytes
	}
	if sum != 140000 || len(ids) != 2 {
		t.Fatalf("receipts %v record %d bytes; 140000 were served, in two receipts", ids, sum)
	}
	g, _, _ := m.s.grantOf(ctx, m.grant.ID.String())
	if used, reqs, _ := m.s.cat.QuotaUse(ctx, registry.QuotaKey(g)); used != 140000 || reqs != 3 {
		t.Fatalf("the quota counts %d bytes, %d requests; 140000 bytes, 3 requests were served", used, reqs)
	}
	m.hs.Close()
	if err := m.s.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := CheckCatalog(ctx, quietConfig(m.dir))
	if err != nil || !rep.Clean() {
		t.Fatalf("admin check: %v %+v", err, rep)
	}
}

// logCheckpoint reads and verifies the log checkpoint of data folder dir.
func logCheckpoint(t *testing.T, dir string) auditlog.Checkpoint {
	t.Helper()
	signer, err := auditlog.LoadKey(filepath.Join(dir, "keys", "log.key"))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := auditlog.NewVerifier(signer.VerifierKey())
	raw, err := os.ReadFile(filepath.Join(dir, "log", "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	cp, err := auditlog.OpenCheckpoint(raw, v)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}
