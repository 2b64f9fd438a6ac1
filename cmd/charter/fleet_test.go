package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/internal/testenv"
	"github.com/charter-dev/charter/ledger"
	ledgerpostgres "github.com/charter-dev/charter/ledger/postgres"
	"github.com/charter-dev/charter/ledger/postgres/pgtest"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	tclient "github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"
)

var fleetLong = flag.Bool("fleet.long", false, "TestFleet: more clients and rounds, two kills (a few minutes)")

// TestFleet runs three `charter serve` processes (the built binary) that
// share one PostgreSQL catalog and ledger, one S3 bucket (versitygw) and
// one transparency log in MariaDB, behind a round-robin proxy. Clients
// publish, request grants, download and report usage through the proxy
// while one replica is killed with SIGKILL and started again. Then:
// no statement is lost or applied twice (earnings are exactly the
// reported use, every published asset and every usage event is there
// once), `admin check` is clean, the ledger balances and matches every
// settlement root in the log, the log audits clean with tessera's client
// and transparency-dev/merkle (not Charter's verifier), every downloaded
// byte matches what was published, no settlement ran twice, and a signed
// request replayed to each replica is refused by each.
//
// It needs PostgreSQL, MariaDB and versitygw (.ci/run provides them); it
// skips without them outside CI and fails under CI=true.
func TestFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("the three-replica test runs without -short")
	}
	clients, rounds, kills := 3, 4, 1
	if *fleetLong {
		clients, rounds, kills = 4, 10, 2
	}
	f := startFleet(t)
	f.run(t, clients, rounds, kills)
	f.check(t)
}

// fleet is three replicas, their shared stores and the proxy before them.
type fleet struct {
	bin      string // the built charter binary
	dir      string
	keys     string // server.key and log.key, shared
	catalog  string
	ledger   string
	blobs    string
	log      string
	s3       *testenv.S3
	replicas []*replica
	proxy    *rrProxy
	proxyURL string

	mu      sync.Mutex
	expect  map[string]int64  // owner DID -> units its assets earned
	assets  map[string]string // asset id -> owner DID
	usage   map[string]bool   // licensee DID + " " + event id reported
	fails   []string          // failed attempts (retried)
	opKey   string
	started time.Time
}

// replica is one `charter serve` process.
type replica struct {
	i     int
	bin   string
	data  string
	addr  string
	args  []string
	env   []string
	cmd   *exec.Cmd
	done  chan struct{}
	out   *bytes.Buffer
	outMu sync.Mutex
}

// buildCharter builds the charter binary of this tree once per test run.
func buildCharter(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "charter")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Stderr = os.Stderr
	if out, err := cmd.Output(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func startFleet(t *testing.T) *fleet {
	ctx := context.Background()
	f := &fleet{dir: t.TempDir(), expect: map[string]int64{}, assets: map[string]string{}, usage: map[string]bool{}, started: time.Now()}
	// The stores first: each skips the test (fails under CI) if missing.
	pgURL := func(schema string) string {
		u := pgtest.DSN()
		if strings.Contains(u, "?") {
			return u + "&search_path=" + schema
		}
		return u + "?search_path=" + schema
	}
	f.catalog = pgURL(pgtest.Schema(t, "charter_fleet_cat"))
	f.ledger = pgURL(pgtest.Schema(t, "charter_fleet_ldg"))
	f.log = testenv.MySQLLog(t)
	f.s3 = testenv.StartS3(t)
	f.blobs = f.s3.URL(f.s3.Bucket(t), "fleet")
	f.bin = buildCharter(t)

	f.keys = filepath.Join(f.dir, "keys")
	if out, err := exec.Command(f.bin, "admin", "keys", "--out", f.keys).CombinedOutput(); err != nil {
		t.Fatalf("charter admin keys: %v\n%s", err, out)
	}
	f.opKey = filepath.Join(f.keys, "server.key")

	f.proxy = &rrProxy{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.proxyURL = "http://" + l.Addr().String()
	srv := &http.Server{Handler: f.proxy}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	for i := range 3 {
		r := f.newReplica(t, i)
		f.replicas = append(f.replicas, r)
		f.proxy.add(r.addr)
	}
	// Start them together: they race on creating the schemas and tables.
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i, r := range f.replicas {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = r.start(ctx) }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v\n%s", i, err, f.replicas[i].output())
		}
	}
	t.Cleanup(func() {
		for _, r := range f.replicas {
			r.stop()
		}
		if t.Failed() {
			for _, r := range f.replicas {
				t.Logf("replica %d output (last 8 KiB):\n%s", r.i, tail(r.output(), 8<<10))
			}
		}
	})
	return f
}

// newReplica prepares replica i. Each is configured another way, so that
// all three ways are exercised: 0 by a config file, 1 by CHARTER_*
// variables, 2 by flags.
func (f *fleet) newReplica(t *testing.T, i int) *replica {
	r := &replica{i: i, bin: f.bin, data: filepath.Join(f.dir, fmt.Sprintf("replica%d", i)), out: &bytes.Buffer{}}
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	r.addr = addr
	settings := [][2]string{
		{"data", r.data}, {"listen", addr},
		{"catalog", f.catalog}, {"ledger", f.ledger}, {"blobs", f.blobs}, {"log", f.log},
		{"server-key", filepath.Join(f.keys, "server.key")}, {"log-key", filepath.Join(f.keys, "log.key")},
		{"settle-interval", "2s"}, {"scrub-interval", "0"},
	}
	r.env = append(os.Environ(),
		"AWS_ACCESS_KEY_ID="+f.s3.AccessKey, "AWS_SECRET_ACCESS_KEY="+f.s3.SecretKey, "AWS_REGION="+f.s3.Region,
		"AWS_CONFIG_FILE="+os.DevNull, "AWS_SHARED_CREDENTIALS_FILE="+os.DevNull)
	r.args = []string{"serve"}
	switch i {
	case 0:
		var b strings.Builder
		for _, s := range settings {
			fmt.Fprintf(&b, "%s = %q\n", s[0], s[1])
		}
		cfg := filepath.Join(f.dir, "replica0.toml")
		if err := os.WriteFile(cfg, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		r.args = append(r.args, "--config", cfg)
	case 1:
		for _, s := range settings {
			r.env = append(r.env, envName(s[0])+"="+s[1])
		}
	default:
		for _, s := range settings {
			r.args = append(r.args, "--"+s[0], s[1])
		}
	}
	return r
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// start runs the replica and waits until it answers /healthz.
func (r *replica) start(ctx context.Context) error {
	r.cmd = exec.Command(r.bin, r.args...)
	r.cmd.Env = r.env
	w := lockedWriter{r}
	r.cmd.Stdout, r.cmd.Stderr = w, w
	if err := r.cmd.Start(); err != nil {
		return err
	}
	r.done = make(chan struct{})
	go func() { r.cmd.Wait(); close(r.done) }()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-r.done:
			return fmt.Errorf("charter serve exited: %v", r.cmd.ProcessState)
		default:
		}
		resp, err := http.Get("http://" + r.addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("no answer at %s within 90 s", r.addr)
}

// kill sends SIGKILL and waits for the process to be gone.
func (r *replica) kill() {
	r.cmd.Process.Signal(syscall.SIGKILL)
	<-r.done
}

// stop ends the replica if it runs (SIGTERM, then SIGKILL).
func (r *replica) stop() {
	if r.cmd == nil || r.cmd.Process == nil {
		return
	}
	select {
	case <-r.done:
		return
	default:
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		r.kill()
	}
}

type lockedWriter struct{ r *replica }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.r.outMu.Lock()
	defer w.r.outMu.Unlock()
	return w.r.out.Write(b)
}

func (r *replica) output() string {
	r.outMu.Lock()
	defer r.outMu.Unlock()
	return r.out.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// rrProxy is a round-robin reverse proxy over the replicas. Like a load
// balancer's health check, it skips a replica that refuses connections;
// a request in flight when its replica dies gets 502.
type rrProxy struct {
	mu       sync.Mutex
	backends []string
	proxies  []*httputil.ReverseProxy
	next     atomic.Uint64
	// captured holds signed requests (small bodies) that succeeded, for
	// replaying them later.
	captured []capturedRequest
}

type capturedRequest struct {
	method, path string
	header       http.Header
	host         string
	body         []byte
	status       int
}

func (p *rrProxy) add(addr string) {
	u, _ := url.Parse("http://" + addr)
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = nil
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		http.Error(w, "proxy: "+err.Error(), http.StatusBadGateway)
	}
	p.mu.Lock()
	p.backends = append(p.backends, addr)
	p.proxies = append(p.proxies, rp)
	p.mu.Unlock()
}

func (p *rrProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	n := len(p.backends)
	p.mu.Unlock()
	start := int(p.next.Add(1))
	pick := -1
	for k := range n {
		i := (start + k) % n
		c, err := net.DialTimeout("tcp", p.backends[i], time.Second)
		if err == nil {
			c.Close()
			pick = i
			break
		}
	}
	if pick < 0 {
		http.Error(w, "proxy: no replica answers", http.StatusBadGateway)
		return
	}
	var capture *capturedRequest
	if r.Header.Get("Signature") != "" && r.ContentLength >= 0 && r.ContentLength <= 64<<10 {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		capture = &capturedRequest{method: r.Method, path: r.URL.RequestURI(), header: r.Header.Clone(), host: r.Host, body: body}
	}
	sw := &statusWriter{ResponseWriter: w}
	p.proxies[pick].ServeHTTP(sw, r)
	if capture != nil && sw.status/100 == 2 {
		capture.status = sw.status
		p.mu.Lock()
		p.captured = append(p.captured, *capture)
		p.mu.Unlock()
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// user is one client's home: its keys and CLI state.
type user struct {
	home             string
	owner            string // key files
	lic              string
	ownerDID, licDID string
}

// charter runs the CLI through the proxy as u, with key file key.
func (f *fleet) charter(ctx context.Context, u *user, key string, args ...string) (string, error) {
	args = append(args, "--key", key)
	cmd := exec.CommandContext(ctx, f.bin, args...)
	cmd.Dir = u.home
	cmd.Env = append(os.Environ(), "HOME="+u.home, "CHARTER_STATE="+filepath.Join(u.home, "state"), "CHARTER_SERVER="+f.proxyURL)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String(), fmt.Errorf("charter %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// retry runs the CLI until it succeeds, up to 8 times a second or more
// apart: a replica killed mid-request answers 502 through the proxy, and
// the client tries again, as a user would.
func (f *fleet) retry(ctx context.Context, u *user, key string, args ...string) (string, error) {
	var err error
	for attempt := range 8 {
		var out string
		if out, err = f.charter(ctx, u, key, args...); err == nil {
			return out, nil
		}
		f.mu.Lock()
		f.fails = append(f.fails, fmt.Sprintf("attempt %d: %v", attempt+1, err))
		f.mu.Unlock()
		time.Sleep(time.Second + time.Duration(attempt)*500*time.Millisecond)
	}
	return "", err
}

func (f *fleet) newUser(ctx context.Context, t *testing.T, i int) *user {
	u := &user{home: filepath.Join(f.dir, fmt.Sprintf("user%d", i))}
	if err := os.MkdirAll(u.home, 0o700); err != nil {
		t.Fatal(err)
	}
	u.owner, u.lic = filepath.Join(u.home, "owner.key"), filepath.Join(u.home, "licensee.key")
	for _, k := range []struct {
		path string
		did  *string
	}{{u.owner, &u.ownerDID}, {u.lic, &u.licDID}} {
		key, _, err := identity.LoadOrGenerate(k.path)
		if err != nil {
			t.Fatal(err)
		}
		*k.did = key.DID().String()
	}
	// The operator funds the licensee: 100 USD in units of 1/10,000 USD.
	if _, err := f.retry(ctx, u, f.opKey, "fund", u.licDID, "100", "USD-4"); err != nil {
		t.Fatal(err)
	}
	return u
}

// run drives the clients and kills replica 1 (then replica 2, when kills
// is 2) while they work.
func (f *fleet) run(t *testing.T, clients, rounds, kills int) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	users := make([]*user, clients)
	for i := range users {
		users[i] = f.newUser(ctx, t, i)
	}
	var progress atomic.Int64
	total := int64(clients * rounds)
	var wg sync.WaitGroup
	errc := make(chan error, clients+kills)
	clientsDone := make(chan struct{})
	for i, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(i), 42))
			for r := range rounds {
				if err := f.round(ctx, u, i, r, rng); err != nil {
					errc <- fmt.Errorf("client %d round %d: %w", i, r, err)
					return
				}
				progress.Add(1)
			}
		}()
	}
	// The killer: SIGKILL a replica when a third of the rounds are done,
	// restart it two seconds later.
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		for k := range kills {
			at := total * int64(k+1) / int64(kills+2)
			for progress.Load() < at {
				select {
				case <-ctx.Done():
					return
				case <-clientsDone:
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
			r := f.replicas[1+k%2]
			t.Logf("SIGKILL replica %d after %d of %d rounds", r.i, progress.Load(), total)
			r.kill()
			time.Sleep(2 * time.Second)
			if err := r.start(ctx); err != nil {
				errc <- fmt.Errorf("restart replica %d: %v\n%s", r.i, err, tail(r.output(), 4<<10))
				return
			}
			t.Logf("replica %d restarted", r.i)
		}
	}()
	wg.Wait()
	close(clientsDone)
	<-killed
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	f.mu.Lock()
	t.Logf("%d rounds by %d clients in %v; %d attempts failed and were retried", total, clients, time.Since(f.started).Round(time.Second), len(f.fails))
	for _, s := range f.fails {
		t.Logf("  %.300s", s)
	}
	f.mu.Unlock()
	if t.Failed() {
		t.FailNow()
	}
}

// round: publish a file under inference-metered terms, request a grant,
// download it (verified) and compare it with what was published, report
// usage twice with the same event id (at two replicas, by the round
// robin), and every other round ask for a settlement.
func (f *fleet) round(ctx context.Context, u *user, client, round int, rng *rand.Rand) error {
	size := 16<<10 + rng.IntN(768<<10)
	body := make([]byte, size)
	for i := range body {
		body[i] = byte(rng.Uint32())
	}
	name := fmt.Sprintf("c%d-r%d.bin", client, round)
	if err := os.WriteFile(filepath.Join(u.home, name), body, 0o600); err != nil {
		return err
	}
	out, err := f.retry(ctx, u, u.owner, "publish", name, "--name", name, "--license", "inference-metered", "--json")
	if err != nil {
		return err
	}
	var pub struct {
		Asset string `json:"asset"`
	}
	if err := json.Unmarshal([]byte(out), &pub); err != nil || pub.Asset == "" {
		return fmt.Errorf("publish answered %q: %v", out, err)
	}
	f.mu.Lock()
	f.assets[pub.Asset] = u.ownerDID
	f.mu.Unlock()

	out, err = f.retry(ctx, u, u.lic, "grant", "request", pub.Asset, "--purpose", "infer", "--json")
	if err != nil {
		return err
	}
	var ga struct {
		Status string `json:"status"`
		Grant  struct {
			ID string `json:"id"`
		} `json:"grant"`
	}
	if err := json.Unmarshal([]byte(out), &ga); err != nil || ga.Status != "granted" || ga.Grant.ID == "" {
		return fmt.Errorf("grant request answered %q: %v", out, err)
	}

	copyName := name + ".copy"
	if _, err := f.retry(ctx, u, u.lic, "get", pub.Asset, "-o", copyName, "--purpose", "infer"); err != nil {
		return err
	}
	got, err := os.ReadFile(filepath.Join(u.home, copyName))
	if err != nil {
		return err
	}
	if sha256.Sum256(got) != sha256.Sum256(body) {
		return fmt.Errorf("downloaded %s (%d bytes) differs from what was published (%d bytes)", pub.Asset, len(got), len(body))
	}
	os.Remove(filepath.Join(u.home, copyName))

	tokens := int64(1000 * (10 + rng.IntN(90)))
	id := fmt.Sprintf("run-%d-%d", client, round)
	// The same event twice (same id and time: the same statement), the
	// second at another replica: recorded once. A retry after a lost
	// answer is the same statement too.
	at := time.Now().UTC().Truncate(time.Second).Format(time.RFC3339)
	for range 2 {
		if _, err := f.retry(ctx, u, u.lic, "usage", "report", ga.Grant.ID, "--tokens", fmt.Sprint(tokens), "--id", id, "--time", at); err != nil {
			return err
		}
	}
	f.mu.Lock()
	f.usage[u.licDID+" "+id] = true
	f.expect[u.ownerDID] += tokens / 1000 * 20 // 0.0020 USD per 1k tokens, in 1/10,000 USD
	f.mu.Unlock()
	if round%2 == 1 {
		if _, err := f.retry(ctx, u, f.opKey, "settle"); err != nil {
			return err
		}
	}
	// Earnings are signed GETs: the proxy captures them for the replay check.
	if _, err := f.retry(ctx, u, u.owner, "earnings", "--json"); err != nil {
		return err
	}
	return nil
}

// check runs every check after the run.
func (f *fleet) check(t *testing.T) {
	ctx := context.Background()
	u := &user{home: filepath.Join(f.dir, "operator")}
	os.MkdirAll(u.home, 0o700)
	// A last settlement through the proxy, then let the replicas' own
	// timers run once more.
	if _, err := f.retry(ctx, u, f.opKey, "settle"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)

	t.Run("earnings", func(t *testing.T) { f.checkEarnings(t, u) })
	t.Run("replicas-agree", func(t *testing.T) { f.checkReplicasAgree(t) })
	entries := f.checkLogAudit(t)
	t.Run("log-statements", func(t *testing.T) { f.checkLogStatements(t, entries) })
	t.Run("ledger", func(t *testing.T) { f.checkLedger(t, entries) })
	t.Run("replay", func(t *testing.T) { f.checkReplay(t) })
	t.Run("admin-check", func(t *testing.T) { f.checkAdmin(t) })
}

// checkEarnings: every owner earned exactly the usage reported on its
// assets: a usage event lost or charged twice changes the figure.
func (f *fleet) checkEarnings(t *testing.T, op *user) {
	ctx := context.Background()
	for did, want := range f.expect {
		out, err := f.retry(ctx, op, f.opKey, "earnings", did, "--json")
		if err != nil {
			t.Error(err)
			continue
		}
		var e struct {
			Currencies []struct {
				Currency string `json:"currency"`
				Own      int64  `json:"own"`
			} `json:"currencies"`
		}
		if err := json.Unmarshal([]byte(out), &e); err != nil {
			t.Errorf("earnings of %s: %v: %s", did, err, out)
			continue
		}
		var own int64
		for _, c := range e.Currencies {
			own += c.Own
		}
		if own != want {
			t.Errorf("%s earned %d units, want %d (the usage reported on its assets, each once)", did, own, want)
		}
	}
}

// checkReplicasAgree: every replica knows every asset publish returned.
func (f *fleet) checkReplicasAgree(t *testing.T) {
	for _, r := range f.replicas {
		for id := range f.assets {
			resp, err := http.Get("http://" + r.addr + "/v1/assets/" + id)
			if err != nil {
				t.Errorf("replica %d: %v", r.i, err)
				continue
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("replica %d: GET /v1/assets/%s: %d %.200s (publish returned it)", r.i, id, resp.StatusCode, body)
			}
		}
	}
}

// logEntry is an entry of the log with its index.
type logEntry struct {
	index uint64
	auditlog.Entry
}

// checkLogAudit reads the whole log through the proxy with tessera's
// client, recomputes the tree with transparency-dev/merkle and compares
// it with the checkpoint, verified with the shared log key; every
// replica must serve that checkpoint or a later one.
func (f *fleet) checkLogAudit(t *testing.T) []logEntry {
	ctx := context.Background()
	var entries []logEntry
	t.Run("log-audit", func(t *testing.T) {
		signer, err := auditlog.LoadKey(filepath.Join(f.keys, "log.key"))
		if err != nil {
			t.Fatal(err)
		}
		v, err := note.NewVerifier(signer.VerifierKey())
		if err != nil {
			t.Fatal(err)
		}
		root, _ := url.Parse(f.proxyURL + "/log/")
		fetcher, err := tclient.NewHTTPFetcher(root, nil)
		if err != nil {
			t.Fatal(err)
		}
		cp, _, _, err := tclient.FetchCheckpoint(ctx, fetcher.ReadCheckpoint, v, v.Name())
		if err != nil {
			t.Fatalf("checkpoint: %v", err)
		}
		rf := compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
		cr := rf.NewEmptyRange(0)
		for k := uint64(0); k*256 < cp.Size; k++ {
			b, err := tclient.GetEntryBundle(ctx, fetcher.ReadEntryBundle, k, cp.Size)
			if err != nil {
				t.Fatalf("entry bundle %d: %v", k, err)
			}
			for j, e := range b.Entries {
				idx := k*256 + uint64(j)
				if err := cr.Append(rfc6962.DefaultHasher.HashLeaf(e), nil); err != nil {
					t.Fatal(err)
				}
				de, err := auditlog.DecodeEntry(e)
				if err != nil {
					t.Errorf("entry %d: %v", idx, err)
					continue
				}
				entries = append(entries, logEntry{idx, de})
			}
		}
		got, err := cr.GetRootHash(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, cp.Hash) {
			t.Fatalf("the %d entries served hash to %x, the checkpoint signs %x", cp.Size, got, cp.Hash)
		}
		for _, r := range f.replicas {
			rr, _ := url.Parse("http://" + r.addr + "/log/")
			rf, _ := tclient.NewHTTPFetcher(rr, nil)
			rcp, _, _, err := tclient.FetchCheckpoint(ctx, rf.ReadCheckpoint, v, v.Name())
			if err != nil {
				t.Errorf("replica %d checkpoint: %v", r.i, err)
			} else if rcp.Size < cp.Size {
				t.Errorf("replica %d serves checkpoint size %d, behind %d", r.i, rcp.Size, cp.Size)
			}
		}
		t.Logf("log audited: %d entries, root %x", cp.Size, cp.Hash)
	})
	return entries
}

// payloadOf opens a DSSE envelope's payload without checking the
// signature (the server checked it; here only the fields matter).
func payloadOf(raw []byte, v any) error {
	var env identity.Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return err
	}
	p, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return err
	}
	return json.Unmarshal(p, v)
}

// checkLogStatements: every reported usage event is in the log; no
// settlement ran twice (in log order, each settlement covers entries
// after the previous one's and extends the journal).
func (f *fleet) checkLogStatements(t *testing.T, entries []logEntry) {
	types := map[string]int{}
	usage := map[string]int{}
	var lastThrough, lastSize uint64
	settlements := 0
	for _, e := range entries {
		types[e.Type]++
		switch e.Type {
		case auditlog.TypeUsage:
			var u struct {
				ID       string `json:"id"`
				Licensee string `json:"licensee"`
			}
			if err := payloadOf(e.Payload, &u); err != nil {
				t.Errorf("usage entry %d: %v", e.index, err)
				continue
			}
			usage[u.Licensee+" "+u.ID]++
		case auditlog.TypeSettlement:
			var s struct {
				Through     uint64 `json:"through"`
				JournalSize uint64 `json:"journalSize"`
				Uses        int    `json:"uses"`
			}
			if err := payloadOf(e.Payload, &s); err != nil {
				t.Errorf("settlement entry %d: %v", e.index, err)
				continue
			}
			if settlements > 0 && (s.Through <= lastThrough || s.JournalSize < lastSize) {
				t.Errorf("settlement at entry %d covers through %d (journal %d) after one through %d (journal %d): a settlement ran twice or out of order", e.index, s.Through, s.JournalSize, lastThrough, lastSize)
			}
			settlements++
			lastThrough, lastSize = s.Through, s.JournalSize
		}
	}
	for k := range f.usage {
		if usage[k] == 0 {
			t.Errorf("usage event %s was reported but is not in the log", k)
		}
	}
	dups := 0
	for k, n := range usage {
		if !f.usage[k] {
			t.Errorf("usage event %s is in the log but nobody reported it", k)
		}
		dups += n - 1
	}
	t.Logf("log: %v; %d settlements; %d usage events, %d duplicate entries (applied as no-ops)", types, settlements, len(usage), dups)
}

// checkLedger verifies the PostgreSQL ledger: its hash chain, every
// settlement root the log recorded, stored balances against the replay,
// and that money only moved (every currency sums to zero).
func (f *fleet) checkLedger(t *testing.T, entries []logEntry) {
	ctx := context.Background()
	schema, err := firstSchema(f.ledger)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledgerpostgres.Open(ctx, f.ledger, &ledgerpostgres.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var anchors []ledger.Anchor
	for _, e := range entries {
		if e.Type != auditlog.TypeSettlement {
			continue
		}
		var s struct {
			JournalRoot string `json:"journalRoot"`
			JournalSize uint64 `json:"journalSize"`
		}
		if err := payloadOf(e.Payload, &s); err != nil || s.JournalSize == 0 {
			continue
		}
		a := ledger.Anchor{Root: ledger.Root{Size: s.JournalSize}, LogIndex: e.index}
		h, err := hexDecode32(s.JournalRoot)
		if err != nil {
			t.Errorf("settlement entry %d: journal root %q: %v", e.index, s.JournalRoot, err)
			continue
		}
		a.Root.Hash = h
		anchors = append(anchors, a)
	}
	if _, err := ledger.Verify(ctx, l, anchors); err != nil {
		t.Errorf("ledger: %v", err)
	}
	bal, err := l.Balances(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, b := range bal {
		sum += b.Net()
	}
	if sum != 0 {
		t.Errorf("the balances of %d accounts sum to %d, not 0", len(bal), sum)
	}
	t.Logf("ledger: %d accounts, %d settlement roots verified", len(bal), len(anchors))
}

func hexDecode32(s string) (h [32]byte, err error) {
	var b []byte
	if _, err = fmt.Sscanf(s, "%x", &b); err != nil {
		return h, err
	}
	if len(b) != 32 {
		return h, errors.New("not 32 bytes")
	}
	copy(h[:], b)
	return h, nil
}

// checkReplay sends every captured signed request again, straight to
// each replica: each must refuse it as a replay.
func (f *fleet) checkReplay(t *testing.T) {
	f.proxy.mu.Lock()
	caps := append([]capturedRequest(nil), f.proxy.captured...)
	f.proxy.mu.Unlock()
	// One of each path kind is enough; prefer recent ones (their
	// signatures are still within their validity window).
	byKind := map[string]capturedRequest{}
	for _, c := range caps {
		kind := c.method + " " + strings.SplitN(strings.TrimPrefix(c.path, "/v1/"), "/", 2)[0]
		byKind[kind] = c
	}
	if len(byKind) == 0 {
		t.Fatal("the proxy captured no signed request that succeeded")
	}
	for kind, c := range byKind {
		// Closing a session the signer has no open session of answers an
		// empty list without spending a nonce (server/metering.go): a
		// replay of it must change nothing, not be refused.
		noop := c.method == http.MethodPost && strings.HasPrefix(c.path, "/v1/sessions/")
		for _, r := range f.replicas {
			req, err := http.NewRequest(c.method, "http://"+r.addr+c.path, bytes.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header = c.header.Clone()
			req.Host = c.host
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("replay %s to replica %d: %v", kind, r.i, err)
				continue
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if noop {
				var ans struct {
					Receipts []json.RawMessage `json:"receipts"`
				}
				if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &ans) != nil || len(ans.Receipts) != 0 {
					t.Errorf("replica %d answered a replayed session close (%s) with %d: %.300s (want 200 and no receipt)", r.i, c.path, resp.StatusCode, body)
				}
				continue
			}
			if resp.StatusCode/100 == 2 || !bytes.Contains(body, []byte("used before")) {
				t.Errorf("replica %d answered a replayed %s (%s) with %d: %.300s", r.i, kind, c.path, resp.StatusCode, body)
			}
		}
	}
	t.Logf("replayed %d signed requests to each of %d replicas", len(byKind), len(f.replicas))
}

// checkAdmin runs `charter admin check` over the shared backends, as an
// operator would after an incident.
func (f *fleet) checkAdmin(t *testing.T) {
	// With replica 0's config file, as an operator would: the settings
	// of serve that admin check does not take (listen, intervals) are
	// skipped; --data is a scratch folder for the check's lock.
	cmd := exec.Command(f.bin, "admin", "check", "--config", filepath.Join(f.dir, "replica0.toml"), "--data", filepath.Join(f.dir, "check"))
	cmd.Env = f.replicas[2].env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("charter admin check: %v\n%s", err, out)
		return
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		t.Log(sc.Text())
	}
}
