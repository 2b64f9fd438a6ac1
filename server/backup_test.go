package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/internal/datadir"
	ledgersqlite "github.com/charter-dev/charter/ledger/sqlite"
	"github.com/charter-dev/charter/metering"
	"github.com/charter-dev/charter/settlement"
	tclient "github.com/transparency-dev/tessera/client"
)

// TestBackupLive backs up a data folder while its server takes writes
// (uploads, registrations, licensed downloads with receipts, usage
// reports, settlements), restores the backup onto a new folder, and checks
// the restored folder: the catalog matches its log (admin check clean,
// quota counters included), the ledger's journal verifies and its books
// balance, the log audits (every tile recomputed to the checkpoint's root),
// every blob verifies, and the restored server appends where the backup
// ends.
func TestBackupLive(t *testing.T) {
	m := newMarket(t, Config{SessionIdle: 30 * time.Millisecond})
	ctx := context.Background()
	m.fund(m.consumer.DID(), 10_000_000)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writes atomic.Int64
	errc := make(chan error, 8)
	writer := func(name string, step func(i int) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := step(i); err != nil {
					errc <- fmt.Errorf("%s %d: %w", name, i, err)
					return
				}
				writes.Add(1)
			}
		}()
	}
	writer("register", func(i int) error {
		b := make([]byte, 1000+i*37%5000)
		rand.Read(b)
		info, err := m.c.Put(ctx, bytes.NewReader(b), int64(len(b)), client.PutOptions{})
		if err != nil {
			return err
		}
		id, _ := content.ParseID(info.ID)
		man := &asset.Manifest{Content: id, Name: fmt.Sprintf("f%d", i), MediaType: "application/octet-stream", Created: asset.NewTime(time.Now()), Threshold: 1,
			Owners: []asset.Owner{{DID: m.ann.DID(), Weight: 1}}, Contributors: []asset.Contributor{{DID: m.ann.DID(), Share: asset.Whole}}}
		env, _ := man.Sign(m.ann)
		_, err = m.c.Register(ctx, env)
		return err
	})
	writer("download", func(i int) error {
		c, _ := client.New(m.hs.URL)
		c.ChunkSize = 64 << 10
		gc := c.WithGrant(m.consumer, m.grant.ID.String())
		_, err := gc.DownloadFile(ctx, m.modelContent, filepath.Join(t.TempDir(), "model"), client.DownloadOptions{})
		return err
	})
	writer("usage", func(i int) error {
		u := &metering.Usage{Grant: m.grant.ID, ID: fmt.Sprintf("u%d", i), Licensee: m.consumer.DID(), Time: asset.NewTime(time.Now()), Tokens: int64(1000 + i)}
		if code, b := m.report(m.consumer, u); code != http.StatusCreated {
			return fmt.Errorf("usage: %d %s", code, b)
		}
		if i%5 == 4 {
			_, err := m.s.Settle(ctx)
			return err
		}
		return nil
	})
	time.Sleep(time.Second)
	before := writes.Load()
	dst := filepath.Join(t.TempDir(), "backup")
	rep, err := datadir.Backup(ctx, m.dir, dst)
	if err != nil {
		t.Fatal(err)
	}
	during := writes.Load() - before
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	m.hs.Close()
	m.s.Close()
	select {
	case err := <-errc:
		t.Fatal(err)
	default:
	}
	t.Logf("backup %+v; %d writes before it, %d while it ran", rep, before, during)
	if during == 0 || rep.LogSize == 0 || rep.Blobs < 3 || len(rep.Corrupt) != 0 {
		t.Fatalf("backup did not run against a server taking writes: %+v, %d writes during", rep, during)
	}

	// Restore onto a new folder.
	restored := filepath.Join(t.TempDir(), "restored")
	if out, err := exec.Command("cp", "-a", dst, restored).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	s, err := Open(ctx, quietConfig(restored))
	if err != nil {
		t.Fatalf("restored server does not start: %v", err)
	}
	sc, err := s.Scrub(ctx)
	if err != nil || sc.Corrupt != 0 || int64(sc.Blobs) != rep.Blobs {
		t.Fatalf("scrub of the restored blobs: %+v %v (backup copied %d)", sc, err, rep.Blobs)
	}
	s.Close()
	chk, err := CheckCatalog(ctx, quietConfig(restored))
	if err != nil || !chk.Clean() {
		t.Fatalf("admin check of the restored folder: %+v %v", chk, err)
	}
	ldg, err := ledgersqlite.Open(ctx, filepath.Join(restored, "ledger.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ldg.VerifyChain(ctx); err != nil {
		t.Fatalf("restored ledger journal: %v", err)
	}
	bals, err := ldg.Balances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	net := map[string]int64{}
	for id, b := range bals {
		_, cur := settlement.SplitCurrency(id)
		net[cur] += b.Net()
	}
	for cur, n := range net {
		if n != 0 {
			t.Fatalf("restored ledger does not balance in %s: %d", cur, n)
		}
	}
	if len(bals) == 0 {
		t.Fatal("restored ledger is empty")
	}
	ldg.Close()
	audit := func(dir string) auditlog.Checkpoint {
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
		if err := auditlog.Audit(ctx, tclient.FileFetcher{Root: filepath.Join(dir, "log")}, cp); err != nil {
			t.Fatalf("log audit of %s: %v", dir, err)
		}
		return cp
	}
	// The restored server may have logged receipts of sessions the
	// backup caught open or sealed; the backup's log is a prefix of it.
	bcp, rcp := audit(dst), audit(restored)
	if bcp.Size != rep.LogSize || rcp.Size < bcp.Size {
		t.Fatalf("backup log %d entries (report %d), restored %d", bcp.Size, rep.LogSize, rcp.Size)
	}
	var prefix [][]byte
	for r, err := range auditlog.ReadEntries(ctx, tclient.FileFetcher{Root: filepath.Join(dst, "log")}, bcp, 0) {
		if err != nil {
			t.Fatal(err)
		}
		prefix = append(prefix, append([]byte(r.Type+"\n"), r.Payload...))
	}
	i := 0
	for r, err := range auditlog.ReadEntries(ctx, tclient.FileFetcher{Root: filepath.Join(restored, "log")}, rcp, 0) {
		if err != nil {
			t.Fatal(err)
		}
		if i < len(prefix) && !bytes.Equal(prefix[i], append([]byte(r.Type+"\n"), r.Payload...)) {
			t.Fatalf("restored log entry %d differs from the backup's", i)
		}
		i++
	}
	// The restored server appends where the backup ends.
	m.dir = restored
	m.start(quietConfig(restored))
	b := []byte("after the restore")
	info, err := m.c.Put(ctx, bytes.NewReader(b), int64(len(b)), client.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := content.ParseID(info.ID)
	man := &asset.Manifest{Content: id, Name: "after", MediaType: "text/plain", Created: asset.NewTime(time.Now()), Threshold: 1,
		Owners: []asset.Owner{{DID: m.max.DID(), Weight: 1}}, Contributors: []asset.Contributor{{DID: m.max.DID(), Share: asset.Whole}}}
	env, _ := man.Sign(m.max)
	ans, err := m.c.Register(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	if ans.Receipt == nil || ans.Receipt.Index < rcp.Size {
		t.Fatalf("first entry after the restore: %+v, want index >= %d", ans.Receipt, rcp.Size)
	}
	m.hs.Close()
	m.s.Close()
	if cp := audit(restored); cp.Size <= ans.Receipt.Index {
		t.Fatalf("log after one more entry: %d", cp.Size)
	}
	if chk, err := CheckCatalog(ctx, quietConfig(restored)); err != nil || !chk.Clean() {
		t.Fatalf("admin check after writing to the restored folder: %+v %v", chk, err)
	}
}
