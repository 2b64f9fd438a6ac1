package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/server"
)

// Invariant names one property the simulation checks.
type Invariant string

// The invariants. Each violation names one of them.
const (
	// InvUngrantedRead: a byte of content governed by terms that need a
	// grant was served to a request without a valid grant for the asset
	// that governs it (the first registration covering the content, in
	// log order), signed by the grant's licensee.
	InvUngrantedRead Invariant = "ungranted-read"
	// InvHonestBlocked: an honest operation failed.
	InvHonestBlocked Invariant = "honest-blocked"
	// InvSettlement: a settlement run failed, or left honest, funded use
	// unsettled.
	InvSettlement Invariant = "honest-settlement"
	// InvReplay: the server did not start again on its data folder (the
	// log did not replay).
	InvReplay Invariant = "log-replay"
	// InvCatalog: the catalog differs from the replay of the log
	// (server.CheckCatalog), or the check itself failed.
	InvCatalog Invariant = "catalog-replay"
	// InvLedger: the ledger's stored balances differ from the replay of
	// its journal, the journal's hash chain is broken, the books do not
	// balance, or a settlement entry in the log names a journal root the
	// journal does not have.
	InvLedger Invariant = "ledger-journal"
	// InvMetering: the bytes served under a metered grant in a session
	// differ from the bytes its receipts record.
	InvMetering Invariant = "metering-receipts"
	// InvLog: the log could not be read and verified, or shrank.
	InvLog Invariant = "log-verify"
)

// Invariants lists every invariant.
var Invariants = []Invariant{InvUngrantedRead, InvHonestBlocked, InvSettlement, InvReplay, InvCatalog, InvLedger, InvMetering, InvLog, InvCrowd}

// Violation is one broken invariant.
type Violation struct {
	Invariant Invariant
	Seed      uint64
	Step      int
	Op        string
	Detail    string
}

func (v Violation) String() string {
	return fmt.Sprintf("seed %d step %d [%s] %s: %s", v.Seed, v.Step, v.Invariant, v.Op, v.Detail)
}

// Config configures one simulation run.
type Config struct {
	Seed  uint64
	Steps int
	// Dir is a scratch folder; the data folder is made inside it.
	Dir string
	// Binary, when set, is a built charter binary: the server runs as a
	// `charter serve` process and restarts are SIGKILL. Otherwise the
	// server runs in process and restarts are Close and New.
	Binary string
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
	// Deadline, when set, ends the run early (between steps).
	Deadline time.Time
	// Skip names operations not to run (see the table in ops.go).
	Skip []string
	// Crowd adds the crowd of fresh keys (crowd.go): a small pool for
	// keys without standing, honest parties with standing, and the step
	// adv-crowd. In process only.
	Crowd bool
}

// Result is what a run did and found.
type Result struct {
	Seed       uint64
	Steps      int
	Restarts   int
	Ops        map[string]int
	Violations []Violation
	// LogEntries counts the log entries read, by type; SettlementRoots
	// the settlement entries whose journal root was checked.
	LogEntries      map[string]int
	SettlementRoots int
	// Fatal is set when the run could not go on (the server did not
	// start again); it is also recorded as a violation.
	Fatal error
}

// Run runs one simulation. It returns an error only when the harness
// itself fails; broken invariants are in the result.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	w := &world{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		res: &Result{Seed: cfg.Seed, Ops: map[string]int{}}, dir: filepath.Join(cfg.Dir, "data")}
	w.model = newModel()
	if err := w.setup(ctx); err != nil {
		w.teardown()
		return w.res, err
	}
	defer w.teardown()
	for w.step = 1; w.step <= cfg.Steps; w.step++ {
		if !cfg.Deadline.IsZero() && time.Now().After(cfg.Deadline) {
			break
		}
		if err := ctx.Err(); err != nil {
			return w.res, err
		}
		w.stepNo.Store(int64(w.step))
		op := w.pick()
		w.res.Ops[op.name]++
		w.op = op.name
		op.run(ctx)
		w.res.Steps = w.step
		if w.res.Fatal != nil {
			return w.res, nil
		}
		w.checkOnline(ctx)
	}
	// The end: settle everything honest, restart once more (sessions close
	// and log their receipts), and check everything.
	w.step++
	w.stepNo.Store(int64(w.step))
	w.op = "final"
	w.closeAllSessions(ctx)
	w.opSettle(ctx)
	w.restart(ctx, false)
	if w.res.Fatal == nil {
		w.checkOnline(ctx)
	}
	w.res.LogEntries, w.res.SettlementRoots = w.model.entries, w.model.checkedSettlements
	return w.res, nil
}

// world is one simulation: the server, the actors, the model.
type world struct {
	cfg    Config
	rng    *rand.Rand
	res    *Result
	dir    string
	step   int
	stepNo atomic.Int64
	op     string

	mu         sync.Mutex // guards obs and res.Violations
	obs        []*observation
	checkedObs int
	inflight   atomic.Int64 // observed requests still being served
	crashing   atomic.Bool  // a restart runs under in-flight steps
	kills      atomic.Int64 // abrupt stops of the server so far
	smu        sync.Mutex   // guards the model's lists and the actors' grants during concurrent steps

	backend backend
	handler atomic.Pointer[http.Handler]
	fronts  []*httptest.Server
	audit   *client.Client // reads the log; its requests are not observed

	owners, licensees []*actor
	contributor       *actor
	adv               *actor
	operator          *identity.Key // the server's key: it signs deposits

	model    *model
	termsRef map[string]string // terms name -> content id of its encoding
	ops      []op
	crowd    *crowdServed // crowd mode only (crowd.go)
}

// actor is one party with its own keys and its own front door (so every
// request it makes is attributed to it).
type actor struct {
	name   string
	honest bool
	keys   []*identity.Key
	base   string
	c      *client.Client
	// grants this actor holds, by grant id, each with its own client (so
	// its download session stays the same until closed).
	held  map[string]*client.Client
	order []string // grant ids in the order received
}

func (a *actor) key() *identity.Key { return a.keys[0] }

// violate records a broken invariant.
func (w *world) violate(inv Invariant, format string, args ...any) {
	v := Violation{Invariant: inv, Seed: w.cfg.Seed, Step: w.step, Op: w.op, Detail: fmt.Sprintf(format, args...)}
	w.mu.Lock()
	w.res.Violations = append(w.res.Violations, v)
	w.mu.Unlock()
	w.cfg.Logf("VIOLATION %s", v)
}

// newKey makes a key from the run's random stream, so that a seed
// reproduces the same principals.
func (w *world) newKey() *identity.Key {
	var seed [32]byte
	for i := range seed {
		seed[i] = byte(w.rng.UintN(256))
	}
	k, err := identity.NewKeyFromSeed(seed[:])
	if err != nil {
		panic(err)
	}
	return k
}

func (w *world) setup(ctx context.Context) error {
	if err := os.MkdirAll(w.dir, 0o700); err != nil {
		return err
	}
	if w.cfg.Binary != "" {
		w.backend = &procBackend{bin: w.cfg.Binary, dir: w.dir, logPath: filepath.Join(w.cfg.Dir, "serve.log")}
	} else {
		w.backend = &inProcBackend{dir: w.dir, crowd: w.cfg.Crowd}
	}
	h, err := w.backend.start(ctx)
	if err != nil {
		return fmt.Errorf("sim: starting the server: %w", err)
	}
	w.handler.Store(&h)
	mk := func(name string, honest bool, keys int) *actor {
		a := &actor{name: name, honest: honest, held: map[string]*client.Client{}}
		for range keys {
			a.keys = append(a.keys, w.newKey())
		}
		hs := httptest.NewServer(w.observe(name, http.HandlerFunc(w.serve)))
		w.fronts = append(w.fronts, hs)
		a.base = hs.URL
		a.c = w.newClient(hs.URL).WithKey(a.keys[0]) // uploads are signed
		return a
	}
	w.owners = []*actor{mk("owner-olga", true, 1), mk("owner-omar", true, 1)}
	w.licensees = []*actor{mk("licensee-lena", true, 1), mk("licensee-liam", true, 1)}
	w.contributor = mk("contributor-cora", true, 1)
	w.adv = mk("adversary", false, 4)
	auditFront := httptest.NewServer(http.HandlerFunc(w.serve))
	w.fronts = append(w.fronts, auditFront)
	w.audit = w.newClient(auditFront.URL)
	if w.operator, err = loadOperator(w.dir); err != nil {
		return err
	}
	if err := w.model.init(ctx, w); err != nil {
		return err
	}
	w.audit = w.audit.WithKey(w.operator)
	w.termsRef = map[string]string{}
	for _, name := range termsNames {
		t, err := simTerms(name)
		if err != nil {
			return err
		}
		b, err := t.Encode()
		if err != nil {
			return err
		}
		id, err := put(ctx, w.audit, b, client.PutOptions{})
		if err != nil {
			return fmt.Errorf("sim: storing terms %s: %w", name, err)
		}
		w.termsRef[name] = id.String()
		w.model.terms[id.String()] = t
	}
	for _, l := range w.licensees {
		w.fund(ctx, l, 1)
	}
	if w.cfg.Crowd {
		w.setupCrowd(ctx)
	}
	return nil
}

func (w *world) newClient(base string) *client.Client {
	c, err := client.New(base)
	if err != nil {
		panic(err)
	}
	c.ChunkSize = 64 << 10
	c.Parallel = 2
	return c
}

// loadOperator reads the server's key from the data folder: the operator
// signs deposits with it.
func loadOperator(dir string) (*identity.Key, error) {
	p := filepath.Join(dir, "keys", "server.key")
	if _, err := os.Stat(p); err != nil {
		return nil, fmt.Errorf("sim: the server made no key: %w", err)
	}
	k, _, err := identity.LoadOrGenerate(p)
	return k, err
}

func (w *world) serve(rw http.ResponseWriter, r *http.Request) {
	h := w.handler.Load()
	if h == nil || *h == nil {
		http.Error(rw, "restarting", http.StatusServiceUnavailable)
		return
	}
	(*h).ServeHTTP(rw, r)
}

func (w *world) teardown() {
	for _, f := range w.fronts {
		f.CloseClientConnections()
		f.Close()
	}
	if w.backend != nil {
		w.backend.stop(context.Background(), false)
	}
}

// backend runs the server under test.
type backend interface {
	// start starts the server on the data folder and returns its handler.
	start(ctx context.Context) (http.Handler, error)
	// stop stops it: gracefully, or abruptly (SIGKILL for a process).
	stop(ctx context.Context, crash bool) error
}

// inProcBackend is server.New on the data folder.
type inProcBackend struct {
	dir      string
	crowd    bool
	s        *server.Server
	inflight sync.RWMutex // held for reading by every request in a handler
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func serverConfig(dir string) server.Config {
	return server.Config{DataDir: dir, Logger: quietLogger(), ScrubInterval: -1, SettleInterval: -1, SessionIdle: time.Hour}
}

func (b *inProcBackend) start(ctx context.Context) (http.Handler, error) {
	cfg := serverConfig(b.dir)
	if b.crowd {
		cfg = crowdConfig(cfg)
	}
	s, err := server.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	b.s = s
	h := s.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.inflight.RLock()
		defer b.inflight.RUnlock()
		h.ServeHTTP(w, r)
	}), nil
}

func (b *inProcBackend) stop(ctx context.Context, crash bool) error {
	if b.s == nil {
		return nil
	}
	// A graceful stop is http.Server.Shutdown's, as `charter serve` does
	// it: requests already in a handler finish before the server closes
	// (the caller has stopped routing new ones to it). Closing under them
	// leaves what they were recording to the next start, which a check of
	// the stopped folder would report as a difference.
	if !crash {
		b.inflight.Lock()
		defer b.inflight.Unlock()
	}
	err := b.s.Close()
	b.s = nil
	return err
}

// procBackend runs a built `charter serve` and reaches it through a
// reverse proxy that keeps the Host header (requests are signed over it).
type procBackend struct {
	bin, dir, logPath string
	cmd               *exec.Cmd
	done              chan error
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func (b *procBackend) start(ctx context.Context) (http.Handler, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(b.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(b.bin, "serve", "--data", b.dir, "--listen", addr, "--settle-interval", "0", "--scrub-interval", "0")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	b.cmd, b.done = cmd, make(chan error, 1)
	go func() { b.done <- cmd.Wait(); logf.Close() }()
	target := &url.URL{Scheme: "http", Host: addr}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(target.String() + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		select {
		case err := <-b.done:
			b.cmd = nil
			tail, _ := os.ReadFile(b.logPath)
			return nil, fmt.Errorf("charter serve exited (%v): %s", err, lastLines(string(tail), 5))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.stop(ctx, true)
			return nil, errors.New("charter serve did not answer /healthz within 60s")
		}
	}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.Out.Host = pr.In.Host
	}, ErrorLog: nil, ErrorHandler: func(rw http.ResponseWriter, r *http.Request, err error) {
		rw.WriteHeader(http.StatusBadGateway)
	}}
	return rp, nil
}

func (b *procBackend) stop(ctx context.Context, crash bool) error {
	if b.cmd == nil {
		return nil
	}
	sig := syscall.SIGTERM
	if crash {
		sig = syscall.SIGKILL
	}
	b.cmd.Process.Signal(sig)
	select {
	case <-b.done:
	case <-time.After(30 * time.Second):
		b.cmd.Process.Kill()
		<-b.done
	}
	b.cmd = nil
	return nil
}

func lastLines(s string, n int) string {
	ls := strings.Split(strings.TrimSpace(s), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, " | ")
}

// Summary returns the counts of the operations a result ran, sorted.
func (r *Result) Summary() string {
	names := make([]string, 0, len(r.Ops))
	for n := range r.Ops {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s=%d ", n, r.Ops[n])
	}
	return strings.TrimSpace(b.String())
}

// closeAllSessions has every licensee (the adversary too) close the
// download session of every grant it holds, so that every byte served is
// receipted before the final checks.
func (w *world) closeAllSessions(ctx context.Context) {
	for _, a := range append(append([]*actor{}, w.licensees...), w.adv) {
		for _, gc := range a.held {
			if _, err := gc.CloseSession(ctx); err != nil && a.honest {
				w.honestFail(a, "closing a session at the end", err)
			}
		}
	}
}
