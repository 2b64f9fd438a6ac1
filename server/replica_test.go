package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/blob/s3"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/catalog/postgres"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/httpsig"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/internal/testenv"
	leasepg "github.com/charter-dev/charter/lease/postgres"
	"github.com/charter-dev/charter/ledger/postgres/pgtest"
	"github.com/charter-dev/charter/license"
	"github.com/charter-dev/charter/metering"
	"github.com/jackc/pgx/v5/pgxpool"
)

// fleet is several in-process replicas over one set of real shared
// stores: a PostgreSQL catalog and lease table, a log in MariaDB
// (tessera's MySQL driver) and an S3 bucket (versitygw).
type fleet struct {
	t       testing.TB
	schema  string // the catalog's PostgreSQL schema
	leases  string // the lease store's URL (a schema of its own)
	logLoc  string
	s3      *testenv.S3
	bucket  string
	keys    string
	servers []*Server
	hs      []*httptest.Server
	// applies counts, by log index, the applications of an entry that
	// made (or recorded without effect) a change, across all replicas.
	appliesMu sync.Mutex
	applies   map[uint64]int
	// tune, when set, changes each replica's configuration before it
	// starts (benchmarks switch the crowd pool off).
	tune func(*Config)
	// sql, when set, counts the statements the replicas' catalogs send.
	sql *sqlCount
	// mysqlBase holds the MariaDB threads' CPU times at the first look
	// (mysqlCPU).
	mysqlBase map[string]time.Duration
	pgBase    map[int32]time.Duration // PostgreSQL backends' CPU at the last look (CHARTER_PGCPU_DEBUG)
}

// publish stores data and terms through one replica and registers the
// asset through another; it returns the asset and content ids.
func (f *fleet) publish(data []byte, template string) (asset.ID, content.ID) {
	f.t.Helper()
	owner, _ := identity.Generate()
	return f.publishBy(owner, data, template)
}

// publishBy is publish with owner as the asset's owner.
func (f *fleet) publishBy(owner *identity.Key, data []byte, template string) (asset.ID, content.ID) {
	t := f.t
	t.Helper()
	ctx := context.Background()
	info, err := f.client(0, owner).Put(ctx, bytes.NewReader(data), int64(len(data)), client.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cid, _ := content.ParseID(info.ID)
	terms, _ := license.Template(template)
	tb, _ := terms.Encode()
	tinfo, err := f.client(1, owner).Put(ctx, bytes.NewReader(tb), int64(len(tb)), client.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := &asset.Manifest{Content: cid, Name: "shared", MediaType: "application/octet-stream", Created: asset.NewTime(time.Now()), Threshold: 1,
		Owners: []asset.Owner{{DID: owner.DID(), Weight: 1}}, Contributors: []asset.Contributor{{DID: owner.DID(), Share: asset.Whole}}, License: tinfo.ID}
	env, _ := m.Sign(owner)
	ans, err := f.client(1, owner).Register(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	aid, _ := asset.ParseID(ans.Asset)
	return aid, cid
}

// countingCatalog is a replica's catalog counting the entries it applies.
type countingCatalog struct {
	*postgres.Catalog
	f *fleet
}

func (c countingCatalog) UpdateSeq(ctx context.Context, changes []catalog.Change) []error {
	errs := c.Catalog.UpdateSeq(ctx, changes)
	c.f.appliesMu.Lock()
	defer c.f.appliesMu.Unlock()
	for i, err := range errs {
		if err == nil || errors.Is(err, catalog.ErrNoEffect) {
			c.f.applies[changes[i].Index]++
		}
	}
	return errs
}

// appliedOnce checks that every entry of the log's first n was applied
// exactly once, by whichever replica.
func (f *fleet) appliedOnce(n uint64) {
	f.t.Helper()
	f.appliesMu.Lock()
	defer f.appliesMu.Unlock()
	for i := range n {
		if c := f.applies[i]; c != 1 {
			f.t.Errorf("log entry %d was applied %d times", i, c)
		}
	}
}

func newFleet(t testing.TB, n int) *fleet {
	t.Helper()
	return newFleetTuned(t, n, nil)
}

// newFleetTuned is newFleet with each replica's configuration changed by
// tune.
func newFleetTuned(t testing.TB, n int, tune func(*Config)) *fleet {
	t.Helper()
	f := &fleet{t: t, s3: testenv.StartS3(t), logLoc: testenv.MySQLLog(t), applies: map[uint64]int{}, tune: tune, sql: new(sqlCount)}
	f.bucket = f.s3.Bucket(t)
	f.schema = pgtest.Schema(t, "replicas")
	u, err := url.Parse(pgtest.DSN())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", pgtest.Schema(t, "replicas_lease"))
	q.Set("application_name", f.schema)
	u.RawQuery = q.Encode()
	f.leases = u.String()
	// One set of keys for the fleet, made once.
	f.keys = filepath.Join(t.TempDir(), "keys")
	if _, err := auditlog.LoadOrCreateKey(filepath.Join(f.keys, "log.key"), DefaultLogOrigin); err != nil {
		t.Fatal(err)
	}
	if _, _, err := identity.LoadOrGenerate(filepath.Join(f.keys, "server.key")); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		f.start(i)
	}
	return f
}

// pgConfig is the catalog's pool configuration (its own schema).
func (f *fleet) pgConfig() *pgxpool.Config {
	cfg, err := pgxpool.ParseConfig(pgtest.DSN())
	if err != nil {
		f.t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = f.schema
	cfg.ConnConfig.RuntimeParams["application_name"] = f.schema // finds this fleet's backends (BenchmarkGrantsReplicas)
	if f.sql != nil {
		cfg.ConnConfig.Tracer = f.sql
	}
	return cfg
}

// start starts replica i (again, after stop) on its own connections to
// the shared stores, as a process of its own would.
func (f *fleet) start(i int) {
	t := f.t
	ctx := context.Background()
	cat, err := postgres.OpenConfig(ctx, f.pgConfig())
	if err != nil {
		t.Fatal(err)
	}
	ls, err := leasepg.Open(ctx, f.leases)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ls.Close)
	logKey, err := auditlog.LoadKey(filepath.Join(f.keys, "log.key"))
	if err != nil {
		t.Fatal(err)
	}
	tl, err := auditlog.OpenURL(ctx, f.logLoc, logKey, auditlog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bs, err := s3.New(f.s3.Client(), f.bucket, s3.Options{})
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := identity.LoadOrGenerate(filepath.Join(f.keys, "server.key"))
	if err != nil {
		t.Fatal(err)
	}
	d := Deps{Catalog: countingCatalog{cat, f}, Log: tl, Blobs: bs, Key: key, Config: Config{
		Logger: slog.New(slog.NewTextHandler(testLogW, &slog.HandlerOptions{Level: slog.LevelDebug})), ScrubInterval: -1, SettleInterval: -1,
		SessionIdle: 3 * time.Second, UploadQuotaTotal: replicaQuota,
		Replica: &Replica{ID: fmt.Sprintf("replica-%d", i), Lease: ls, LeaseTTL: 3 * time.Second},
	}}
	if f.tune != nil {
		f.tune(&d.Config)
	}
	if err := OpenDefaults(ctx, t.TempDir(), &d); err != nil {
		t.Fatal(err)
	}
	s, err := New(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	for len(f.servers) <= i {
		f.servers, f.hs = append(f.servers, nil), append(f.hs, nil)
	}
	f.servers[i], f.hs[i] = s, hs
	t.Cleanup(func() { f.stop(i) })
}

// stop closes replica i.
func (f *fleet) stop(i int) {
	if f.servers[i] == nil {
		return
	}
	f.hs[i].Close()
	f.servers[i].Close()
	f.servers[i], f.hs[i] = nil, nil
}

func (f *fleet) client(i int, k *identity.Key) *client.Client {
	c, err := client.New(f.hs[i%len(f.hs)].URL)
	if err != nil {
		f.t.Fatal(err)
	}
	return c.WithKey(k)
}

// settled waits until the shared catalog has applied the whole log.
func (f *fleet) settled(s *Server) uint64 {
	f.t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(20 * time.Second)
	for {
		// Replicas apply their entries once integrated; a checkpoint
		// covering them follows within a second.
		cp, err := s.tlog.PublishIntegrated(ctx)
		if err != nil {
			f.t.Fatal(err)
		}
		next, above, err := s.cat.Applied(ctx)
		if err != nil {
			f.t.Fatal(err)
		}
		if next == cp.Size && len(above) == 0 {
			return next
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("the catalog applied up to %d (and %d above), the log holds %d", next, len(above), cp.Size)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// check compares the shared catalog with one rebuilt from the shared log.
func (f *fleet) check(s *Server) {
	f.t.Helper()
	rep, err := CheckShared(context.Background(), s.cat, s.tlog, s.blobs, f.keys, s.log)
	if err != nil {
		f.t.Fatal(err)
	}
	if !rep.Clean() {
		f.t.Fatalf("the shared catalog differs from the log's replay: missing %q, extra %q, quota %q", rep.Missing, rep.Extra, rep.Quota)
	}
}

// TestReplicasShareStores runs two replicas over the real shared stores,
// sends every kind of statement to both at once, and checks that every
// statement the log holds was applied exactly once, in log order (the
// shared catalog equals one rebuilt from the log), that a signed request
// replayed to the other replica is refused, that an entry whose replica
// died between append and apply is applied by the others, and that the
// background lease moves when its holder stops.
func TestReplicasShareStores(t *testing.T) {
	f := newFleet(t, 2)
	ctx := context.Background()
	data := bytes.Repeat([]byte("replicated bytes "), 20_000)
	aid, cid := f.publish(data, "research-only")

	// Workers alternate replicas for every step of the loop.
	const workers, rounds = 6, 4
	var grants, receipts, usages atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers*rounds)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, _ := identity.Generate()
			for r := range rounds {
				a, err := f.client(w+r, k).RequestGrant(ctx, k, aid, "research", client.GrantOptions{})
				if err != nil || a.Status != "granted" {
					errs <- fmt.Errorf("grant: %v %+v", err, a)
					continue
				}
				grants.Add(1)
				gc := f.client(w+r+1, k).WithGrant(k, a.Grant.ID.String()).WithSession(fmt.Sprintf("s-%d-%d", w, r))
				var got bytes.Buffer
				if _, err := gc.Stream(ctx, cid, &got, nil); err != nil || !bytes.Equal(got.Bytes(), data) {
					errs <- fmt.Errorf("download: %v (%d bytes)", err, got.Len())
					continue
				}
				// The session is closed through the other replica.
				sc := f.client(w+r, k).WithGrant(k, a.Grant.ID.String()).WithSession(fmt.Sprintf("s-%d-%d", w, r))
				if _, err := sc.CloseSession(ctx); err != nil {
					errs <- fmt.Errorf("close session: %v", err)
					continue
				}
				receipts.Add(1)
				u := &metering.Usage{Grant: a.Grant.ID, ID: fmt.Sprintf("u-%d-%d", w, r), Licensee: k.DID(), Time: asset.NewTime(time.Now()), Tokens: 100}
				uenv, _ := u.Sign(k)
				if _, err := f.client(w+r+1, k).ReportUsage(ctx, uenv); err != nil {
					errs <- fmt.Errorf("usage: %v", err)
					continue
				}
				usages.Add(1)
				// The same report again, through the other replica: the
				// logged one, not a second.
				if a, err := f.client(w+r, k).ReportUsage(ctx, uenv); err != nil || !a.Existed {
					errs <- fmt.Errorf("a repeated usage report: %v %+v, want the existing one", err, a)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	f.appliedOnce(f.settled(f.servers[0]))
	f.check(f.servers[0])
	dump, err := f.servers[0].cat.Dump(ctx)
	if err != nil {
		t.Fatal(err)
	}
	count := func(prefix string) (n int64) {
		for _, l := range dump {
			if len(l) > len(prefix) && l[:len(prefix)] == prefix {
				n++
			}
		}
		return n
	}
	if g := count("grant "); g != grants.Load() {
		t.Errorf("the catalog holds %d grants, %d were granted", g, grants.Load())
	}
	if u := count("usage "); u != usages.Load() {
		t.Errorf("the catalog holds %d usage events, %d were accepted", u, usages.Load())
	}
	if r := count("receipt "); r < receipts.Load() {
		t.Errorf("the catalog holds %d receipts, %d sessions were closed", r, receipts.Load())
	}

	t.Run("ReplayedRequestRefusedByEveryReplica", func(t *testing.T) {
		k, _ := identity.Generate()
		body := []byte("signed once, sent to every replica")
		req, _ := http.NewRequest(http.MethodPost, f.hs[0].URL+"/v1/blobs", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/octet-stream")
		if err := httpsig.Sign(req, k, time.Now()); err != nil {
			t.Fatal(err)
		}
		for i, want := range []int{http.StatusCreated, http.StatusUnauthorized, http.StatusUnauthorized} {
			r2, _ := http.NewRequest(http.MethodPost, f.hs[i%2].URL+"/v1/blobs", bytes.NewReader(body))
			r2.Header = req.Header.Clone()
			resp, err := http.DefaultClient.Do(r2)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Errorf("sending #%d to replica %d: %d %s, want %d", i, i%2, resp.StatusCode, b, want)
			}
		}
	})

	t.Run("UploadQuotaSharedAcrossReplicas", func(t *testing.T) {
		// One key's uploads count against one quota whichever replica
		// takes them: the counters are catalog rows.
		k, _ := identity.Generate()
		part := bytes.Repeat([]byte{7}, replicaQuota*2/3)
		resp, b := uploadTo(t, f.hs[0].URL, k, part)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("first upload: %d %s", resp.StatusCode, b)
		}
		part[0] = 8 // other content, same key
		resp, b = uploadTo(t, f.hs[1].URL, k, part)
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("an upload past the key's quota, through the other replica: %d %s, want 429", resp.StatusCode, b)
		}
	})

	t.Run("EntryOfADeadReplicaIsApplied", func(t *testing.T) {
		// A replica that appended a statement and died before applying it
		// leaves it in the log only: the others apply it.
		k, _ := identity.Generate()
		a, err := f.client(0, k).RequestGrant(ctx, k, aid, "research", client.GrantOptions{})
		if err != nil {
			t.Fatal(err)
		}
		u := &metering.Usage{Grant: a.Grant.ID, ID: "orphan", Licensee: k.DID(), Time: asset.NewTime(time.Now()), Tokens: 7}
		uenv, _ := u.Sign(k)
		raw, _ := uenv.Marshal()
		logKey, _ := auditlog.LoadKey(filepath.Join(f.keys, "log.key"))
		dead, err := auditlog.OpenURL(ctx, f.logLoc, logKey, auditlog.Options{})
		if err != nil {
			t.Fatal(err)
		}
		idx, err := dead.Append(ctx, auditlog.TypeUsage, raw)
		if err != nil {
			t.Fatal(err)
		}
		dead.Close(ctx) // publishes a checkpoint covering it, then "dies"
		start := time.Now()
		if next := f.settled(f.servers[1]); next <= idx {
			t.Fatalf("entry %d not applied (watermark %d)", idx, next)
		}
		t.Logf("an orphaned entry was applied %v after its replica died", time.Since(start).Round(time.Millisecond))
		if _, err := f.servers[1].cat.Usage(ctx, a.Grant.ID.String(), "orphan"); err != nil {
			t.Fatalf("the orphaned usage report is not in the catalog: %v", err)
		}
		f.check(f.servers[1])
	})

	t.Run("ReceiptSealedByADeadReplicaIsLogged", func(t *testing.T) {
		// A replica sealed a download session into a receipt and died
		// before logging it: the background lease holder logs it.
		k, _ := identity.Generate()
		a, err := f.client(0, k).RequestGrant(ctx, k, aid, "research", client.GrantOptions{})
		if err != nil {
			t.Fatal(err)
		}
		gc := f.client(0, k).WithGrant(k, a.Grant.ID.String()).WithSession("dies-sealed")
		if _, err := gc.Stream(ctx, cid, io.Discard, nil); err != nil {
			t.Fatal(err)
		}
		sealed, err := f.servers[0].sealSessions(ctx, catalog.SessionFilter{Session: "dies-sealed", Licensee: k.DID().String()})
		if err != nil || len(sealed) != 1 {
			t.Fatalf("sealing: %d receipts, %v", len(sealed), err)
		}
		deadline := time.Now().Add(15 * time.Second)
		for {
			rs, err := f.servers[1].cat.Receipts(ctx, a.Grant.ID.String(), 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(rs) == 1 {
				break
			}
			if len(rs) > 1 || time.Now().After(deadline) {
				t.Fatalf("the grant has %d receipts, want the one sealed", len(rs))
			}
			time.Sleep(100 * time.Millisecond)
		}
		f.appliedOnce(f.settled(f.servers[1]))
	})

	t.Run("SettlementRunsOnceAcrossReplicas", func(t *testing.T) {
		before, _, err := f.servers[0].cat.Settlements(ctx, 1000)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		outs := make([]*Settlement, 2)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, err := f.servers[i].Settle(ctx)
				if err != nil {
					t.Error(err)
				}
				outs[i] = out
			}()
		}
		wg.Wait()
		f.settled(f.servers[0])
		after, _, err := f.servers[0].cat.Settlements(ctx, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(after) - len(before); n != 1 {
			t.Errorf("two concurrent settlement runs on two replicas logged %d settlements, want 1 (runs: %+v, %+v)", n, outs[0], outs[1])
		}
		f.appliedOnce(f.settled(f.servers[0]))
		f.check(f.servers[0])
	})

	t.Run("BackgroundLeaseMoves", func(t *testing.T) {
		ls := f.servers[0].rep.Lease
		holder := func() string {
			l, ok, err := ls.Acquire(ctx, leaseBackground, "observer", time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				return "" // nobody held it; the observer's millisecond ends at once
			}
			return l.Holder
		}
		var h string
		deadline := time.Now().Add(5 * time.Second)
		for h = holder(); h == "" && time.Now().Before(deadline); h = holder() {
			time.Sleep(50 * time.Millisecond)
		}
		if h != "replica-0" && h != "replica-1" {
			t.Fatalf("background lease held by %q", h)
		}
		time.Sleep(500 * time.Millisecond)
		if n0, n1 := f.servers[0].rep.running.Load(), f.servers[1].rep.running.Load(); n0+n1 != 1 {
			t.Fatalf("background work runs %d times on replica-0 and %d on replica-1, want once in all", n0, n1)
		}
		i := int(h[len(h)-1] - '0')
		f.stop(i) // a clean stop releases the lease; a crash lets it expire
		other := fmt.Sprintf("replica-%d", 1-i)
		deadline = time.Now().Add(5 * time.Second)
		for h = holder(); h != other && time.Now().Before(deadline); h = holder() {
			time.Sleep(50 * time.Millisecond)
		}
		if h != other {
			t.Fatalf("after %s stopped, the background lease is held by %q, want %s", fmt.Sprintf("replica-%d", i), h, other)
		}
	})
}

// replicaQuota is the upload quota of a key on the test fleet.
const replicaQuota = 3 << 20

// uploadTo stores body at the server at base, signed by k.
func uploadTo(t *testing.T, base string, k *identity.Key, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/blobs", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/octet-stream")
	if err := httpsig.Sign(req, k, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// testLogW receives the replicas' warnings: set CHARTER_TEST_LOG=1 to see them.
var testLogW = func() io.Writer {
	if os.Getenv("CHARTER_TEST_LOG") != "" {
		return os.Stderr
	}
	return io.Discard
}()

// TestReplicaSeesAnotherReplicasAssetChange: a replica that answered a
// grant request for an asset (its record cached at the catalog's
// generation) refuses the next request once another replica applied the
// owners' delisting, with no call between the two: the generation its
// replay check reads has moved.
func TestReplicaSeesAnotherReplicasAssetChange(t *testing.T) {
	f := newFleet(t, 2)
	ctx := context.Background()
	owner, _ := identity.Generate()
	aid, _ := f.publishBy(owner, []byte("cached on one replica, delisted on the other"), "research-only")
	k, _ := identity.Generate()
	if a, err := f.client(1, k).RequestGrant(ctx, k, aid, "research", client.GrantOptions{}); err != nil || a.Status != "granted" {
		t.Fatalf("grant through replica 1: %v %+v", err, a)
	}
	v, err := f.client(0, owner).Asset(ctx, aid)
	if err != nil {
		t.Fatal(err)
	}
	pr := &asset.Proposal{Asset: aid, Change: asset.Change{Kind: asset.Delist},
		Expires: asset.NewTime(time.Now().Add(time.Hour)), Nonce: asset.NewNonce(), Proposer: owner.DID(), Version: v.State.Version}
	env, _ := pr.Sign(owner)
	if a, err := f.client(0, owner).Propose(ctx, env); err != nil || a.Status != "applied" {
		t.Fatalf("delisting through replica 0: %v %+v", err, a)
	}
	_, err = f.client(1, k).RequestGrant(ctx, k, aid, "research", client.GrantOptions{})
	if err == nil || !strings.Contains(err.Error(), "delisted") {
		t.Fatalf("a grant request through replica 1 after the delisting: %v, want refused as delisted", err)
	}
}
