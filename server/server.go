// Package server is Charter's HTTP API and data plane.
//
// It stores uploads through blob.Put (the one path by which bytes enter
// storage, which computes and checks their id), serves downloads with HTTP
// Range and verified range reads (data plus Bao proof nodes), finds and
// reports corruption on its own disk, and answers every error as an RFC 9457
// problem document. The API is described by the OpenAPI 3.1 document served
// at /openapi.json.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	"k8s.io/klog/v2"

	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/crowd"
	"github.com/charter-dev/charter/httpsig"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/ledger"
	"github.com/charter-dev/charter/license"
	"github.com/charter-dev/charter/registry"
	"github.com/charter-dev/charter/settlement"
)

// Config configures a Server. The zero value of every field but DataDir
// is a sensible default.
type Config struct {
	// DataDir holds everything: blobs, outboards, catalog, log.
	DataDir string
	// Logger receives the server's log; nil means slog.Default().
	Logger *slog.Logger
	// AccessLog logs every request at Info (request id, route, status,
	// bytes, duration); without it only server errors are logged.
	AccessLog bool
	// ScrubInterval is how often every stored blob is re-verified against
	// its id. Zero means 24h; negative disables the background scrub.
	ScrubInterval time.Duration
	// VerifyReads makes the server verify every range it serves before
	// sending it. Clients verify every byte anyway; see docs/design/corruption.md.
	VerifyReads bool
	// S3DirectReads lets a client fetch the data of a verified range
	// straight from an S3 blob store, by a presigned URL the server hands
	// out with the range's tree after the grant and quota checks; the
	// range is charged when the URL is issued (direct.go). The store's
	// endpoint must be reachable by the clients; a client that cannot
	// reach it asks again without direct reads.
	S3DirectReads bool
	// MaxUpload limits one upload in bytes; zero means DefaultMaxUpload,
	// negative no limit.
	MaxUpload int64
	// UploadQuotaDay and UploadQuotaTotal limit the bytes one key may
	// upload per UTC day and in all; zero means DefaultUploadQuotaDay and
	// DefaultUploadQuotaTotal, negative no limit.
	UploadQuotaDay, UploadQuotaTotal int64
	// UploadPartSize is the part size of resumable uploads (resumable.go);
	// zero means DefaultUploadPartSize.
	UploadPartSize int64
	// GrantRequestsDay limits the grant requests one licensee key may have
	// evaluated per UTC day (each logs a decision record); zero means
	// DefaultGrantRequestsDay, negative no limit.
	GrantRequestsDay int64
	// LogOrigin names the transparency log in its checkpoints when the log
	// key is first made; default DefaultLogOrigin.
	LogOrigin string
	// LogOptions tune the transparency log (batching, checkpoint interval).
	LogOptions auditlog.Options
	// SettleInterval is how often the server settles receipts and usage
	// (docs/settlement.md). Zero means DefaultSettleInterval; negative
	// disables the periodic run (POST /v1/settle still settles).
	SettleInterval time.Duration
	// SessionIdle is how long a download session may stay idle before its
	// receipt is logged. Zero means DefaultSessionIdle.
	SessionIdle time.Duration

	// NonceLimit bounds the live request-signature nonces one key may
	// hold (zero: catsqlite.DefaultNonceLimit); a key at its bound gets
	// 503 and no other key is affected.
	NonceLimit int
	// Crowd sizes the pool all keys without standing share (package
	// crowd); the zero value means its defaults.
	Crowd crowd.Limits
	// ProvenKeys are keys the operator gives standing to.
	ProvenKeys []identity.DID
	// Catalog is the catalog Open runs on (catalog/postgres, for one); nil
	// means the embedded SQLite catalog, catalog.db in DataDir. New takes
	// Deps.Catalog instead.
	Catalog catalog.Catalog
	// S3Endpoint is the public URL of the S3-compatible read API
	// (S3Handler), announced with every credential issued; empty when
	// the server does not serve it.
	S3Endpoint string
	// Replica makes this server one of several sharing catalog, log,
	// blobs and leases (replica.go); nil means the only server of its
	// data folder.
	Replica *Replica
	// Tracer, when set, gets a span for every request (trace.go): its
	// route, status and request id, joined to the caller's trace when the
	// request carries a W3C traceparent. nil: no tracing.
	Tracer trace.TracerProvider
}

// DefaultLogOrigin is the origin line of a new log's checkpoints.
const DefaultLogOrigin = "charter.local/log"

// Server is a running Charter service. Create it with New, serve its
// Handler, and Close it when done.
type Server struct {
	cfg   Config
	log   *slog.Logger
	blobs blob.Store
	cat   catalog.Catalog
	tlog  *auditlog.Log
	// key is the server's own identity; it signs grants and receipts.
	key *identity.Key
	mux *http.ServeMux
	// handler is mux behind the observer's middleware (observe.go).
	handler http.Handler
	obs     *observer

	// reg applies log entries to the catalog; seq applies them in log
	// order; inflight serialises validate-append-apply per statement key
	// (sequence.go).
	reg      *registry.Registry
	seq      *registry.Sequencer
	inflight keyLocks
	// licenseCheck checks an asset's licence reference, when set.
	licenseCheck func(ctx context.Context, ref string) error
	// nonces remembers signed data requests to refuse replays.
	nonces httpsig.NonceStore
	// listed are the keys the operator gave standing; standing caches
	// the keys found to have it (crowd.go).
	listed   map[identity.DID]bool
	standing standingCache
	// verifySlot lets one verify report at a time read the disk
	// (verifyreport.go).
	verifySlot chan struct{}
	// termsCache holds parsed licence terms by content id.
	termsCache sync.Map
	// assetCache holds asset records for hot paths; assetGen counts
	// registry changes (see assetRecord).
	assetCache sync.Map
	assetGen   atomic.Uint64
	// grantCache holds opened grant statements by grant id (they never
	// change; revocation is in the catalog record); credKey is the key
	// read credentials are derived with (s3cred.go).
	grantCache  sync.Map
	credKeyOnce sync.Once
	credKey     []byte
	// creds caches read credentials on a single server (readmemo.go).
	creds credCache
	// gov caches, on a single server, which assets govern content and
	// licensees' live grants, emptied by every applied log entry
	// (readmemo.go).
	gov govCache
	// indexes caches parsed dataset indexes for the S3 API (s3.go).
	indexes indexCache
	// cpw follows the log's checkpoint for requests awaiting receipts.
	cpw *checkpointWatch

	scrubMu   sync.Mutex
	lastScrub scrubReport
	lastAudit logAudit // of the log, with the last scrub

	// ledger holds the money; money settles and pays out from it
	// (package settlement); settleMu orders settlement runs and their
	// lease on replicas.
	ledger   ledger.Ledger
	money    *settlement.Service
	settleMu sync.Mutex

	// rep is set on a replica (replica.go, follow.go).
	rep *replicaState

	stop context.CancelFunc
	wg   sync.WaitGroup
}

// Deps are what a Server runs on: its backends, its key and its settings.
// cmd/charter opens each backend (from a URL, or the embedded default in
// the data folder, see OpenDefaults) and hands them to New; a test or an
// embedding program may hand it any backend. From New on the Server owns
// them: Close closes them, and so does New when it fails.
type Deps struct {
	// Catalog holds the state derived from the log (catalog/sqlite,
	// catalog/postgres).
	Catalog catalog.Catalog
	// Ledger holds the money (ledger/sqlite, ledger/postgres).
	Ledger ledger.Ledger
	// Blobs stores uploaded bytes and their outboards (blob/localfs,
	// blob/s3); closed on Close when it is an io.Closer.
	Blobs blob.Store
	// Log is the transparency log, opened with the log's signing key.
	Log *auditlog.Log
	// Key is the server's own identity, the operator's key: it signs
	// grants, receipts and settlements, and funds accounts. Replicas of
	// one deployment share it.
	Key *identity.Key
	// Config holds the settings (logger, intervals, limits, replica
	// mode). New opens nothing from it: its DataDir, when set, only names
	// files in hints, and its Catalog is ignored.
	Config Config
	// LedgerName names the ledger in the hints of its verification (a
	// file or a database); default "the ledger".
	LedgerName string
}

// closeDeps closes every backend d holds.
func closeDeps(d Deps) error {
	var errs []error
	if d.Log != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		errs = append(errs, d.Log.Close(ctx))
		cancel()
	}
	if c, ok := d.Blobs.(interface{ Close() error }); ok {
		errs = append(errs, c.Close())
	}
	if d.Catalog != nil {
		errs = append(errs, d.Catalog.Close())
	}
	if d.Ledger != nil {
		errs = append(errs, d.Ledger.Close())
	}
	return errors.Join(errs...)
}

// New returns a server on the backends in d, after replaying into the
// catalog the log entries it has not applied and verifying the ledger
// against its journal and the settlement roots in the log.
func New(ctx context.Context, d Deps) (*Server, error) {
	if d.Catalog == nil || d.Ledger == nil || d.Blobs == nil || d.Log == nil || d.Key == nil {
		closeDeps(d)
		return nil, errors.New("server: New needs a catalog, a ledger, a blob store, a log and a key\nhint: server.OpenDefaults opens the embedded ones of a data folder")
	}
	cfg := d.Config
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	// tessera logs through klog, a process-wide logger: route its warnings
	// and errors into the first server's log, once, before any log runs.
	routeKlog(cfg.Logger)
	if cfg.ScrubInterval == 0 {
		cfg.ScrubInterval = 24 * time.Hour
	}
	if d.LedgerName == "" {
		d.LedgerName = "the ledger"
	}
	cat, tlog, key, blobs := d.Catalog, d.Log, d.Key, d.Blobs
	s := &Server{cfg: cfg, log: cfg.Logger, blobs: blobs, cat: cat, tlog: tlog, key: key, mux: http.NewServeMux(), ledger: d.Ledger}
	var err error
	if cfg.Replica != nil {
		if s.rep, err = newReplicaState(*cfg.Replica, cat); err != nil {
			s.Close()
			return nil, err
		}
	}
	s.money = settlement.New(settlement.Config{
		Catalog: cat, Ledger: d.Ledger, Logger: cfg.Logger, SharedFailures: s.shared(),
		Terms: func(ctx context.Context, ref string) (*license.Terms, error) {
			t, _, err := s.loadTerms(ctx, ref)
			return t, err
		},
		Append: func(ctx context.Context, payload []byte) (uint64, error) {
			idx, _, err := s.signAndAppend(ctx, "settlement", auditlog.TypeSettlement, payload)
			return idx, err
		},
	})
	s.cpw = newCheckpointWatch(tlog)
	s.reg = registry.New(registry.Config{Operator: key.DID(), Logger: cfg.Logger})
	s.licenseCheck = s.checkTermsRef
	// In the database: replays stay refused across restarts. Keys
	// without standing share one pool of nonces (crowd.go).
	s.nonces = crowdNonces{s: s, own: cat.Nonces(cfg.NonceLimit, time.Now), pool: cat.Nonces(int(cfg.Crowd.Resolved().Nonces), time.Now), poolLimit: cfg.Crowd.Resolved().Nonces}
	s.verifySlot = make(chan struct{}, 1)
	s.listed = make(map[identity.DID]bool, len(cfg.ProvenKeys))
	for _, d := range cfg.ProvenKeys {
		s.listed[d] = true
	}
	s.obs = newObserver(s)
	s.obs.tracer = newRequestTracer(cfg.Tracer)
	s.routes()
	s.handler = s.obs.wrap(s.mux, s.log, cfg.AccessLog)
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = stop
	s.seq = s.reg.NewSequencer(bg, cat, tlog, s.forgetAssets)
	s.seq.OnApplied(s.gov.forget)
	if s.shared() {
		s.seq.Follow(s.rep.followWatermark(bg, cat))
	}
	if err := s.replay(ctx); err != nil {
		s.Close()
		return nil, explainTampered(logDir(cfg.DataDir), err)
	}
	if !s.shared() { // a replica does it under the background lease
		if err := s.finishSessions(ctx); err != nil {
			s.Close()
			return nil, err
		}
	}
	// A ledger edited outside Charter is refused before it pays out.
	if err := s.money.Verify(ctx); err != nil {
		s.Close()
		return nil, settlement.ExplainLedger(d.LedgerName, cfg.DataDir, err)
	}
	var loops []func(context.Context)
	if cfg.ScrubInterval > 0 {
		loops = append(loops, s.scrubLoop)
	}
	idle := cfg.SessionIdle
	if idle <= 0 {
		idle = DefaultSessionIdle
	}
	loops = append(loops, func(ctx context.Context) { s.sessionLoop(ctx, idle) })
	if !s.shared() {
		loops = append(loops, s.recordUnlisted) // once, after a crash mid-upload
	}
	if every := cfg.SettleInterval; every >= 0 {
		if every == 0 {
			every = DefaultSettleInterval
		}
		loops = append(loops, func(ctx context.Context) { s.settleLoop(ctx, every) })
	}
	loops = append(loops, s.carryUnindexed) // once: lists a log written before carrying lacks
	if s.shared() {
		// One replica at a time runs them; every replica follows the log.
		background := loops
		loops = []func(context.Context){func(ctx context.Context) { s.backgroundLoops(ctx, background) }, s.follow}
	}
	for _, loop := range loops {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			loop(bg)
		}()
	}
	return s, nil
}

// Handler returns the HTTP handler of the whole API.
func (s *Server) Handler() http.Handler { return s.handler }

// Close stops background work and closes the data folder. Shut down the
// HTTP server that serves Handler first (Serve does): a request still in a
// handler when Close runs may leave what it was recording to the next
// start, which replays the log and records stored blobs.
func (s *Server) Close() error {
	if s.stop != nil {
		s.stop()
	}
	if s.seq != nil {
		s.seq.Stop()
	}
	s.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Open download sessions stay in the catalog: the next start (or
	// another replica) closes them when they go idle.
	lerr := s.tlog.Close(ctx)
	var berr error
	if c, ok := s.blobs.(interface{ Close() error }); ok {
		berr = c.Close()
	}
	return errors.Join(lerr, berr, s.cat.Close(), s.ledger.Close())
}

// Serve serves the API on l until ctx is cancelled, then shuts down
// gracefully.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	return serveOn(ctx, l, s.Handler())
}

// ServeS3 serves the S3-compatible read API (S3Handler) on l until ctx
// is cancelled.
func (s *Server) ServeS3(ctx context.Context, l net.Listener) error {
	hs := &http.Server{Handler: s.S3Handler(), ReadHeaderTimeout: 10 * time.Second, BaseContext: func(net.Listener) context.Context { return ctx }}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	}()
	if err := hs.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// replay applies every log entry the catalog has not applied yet
// (registry.Replay), once the log's checkpoint covers everything sequenced
// before a crash; the ordered applier then starts after the last entry.
func (s *Server) replay(ctx context.Context) error {
	// Replicas skip the wait: others keep appending, and what a dead
	// replica left is applied by the follower.
	if !s.shared() {
		if err := s.awaitIntegrated(ctx); err != nil {
			return err
		}
	}
	end, _, err := s.reg.Replay(ctx, s.cat, s.tlog)
	if err != nil {
		return err
	}
	s.forgetAssets()
	s.seq.Start(end)
	return nil
}

// awaitIntegrated waits briefly for the checkpoint to stop growing, so that
// entries sequenced before a restart are covered before replay.
func (s *Server) awaitIntegrated(ctx context.Context) error {
	interval := s.cfg.LogOptions.CheckpointInterval
	if interval <= 0 {
		interval = auditlog.DefaultCheckpointInterval
	}
	var last uint64
	for i := 0; i < 50; i++ {
		cp, err := s.tlog.Checkpoint(ctx)
		if err != nil && !errors.Is(err, auditlog.ErrNotFound) {
			return fmt.Errorf("server: log checkpoint: %w", err)
		}
		if err == nil && i > 0 && cp.Size == last {
			return nil
		}
		if err == nil {
			last = cp.Size
		}
		time.Sleep(3 * interval / 2)
	}
	return nil
}

var klogOnce sync.Once

// routeKlog routes tessera's klog warnings and errors into logger, once
// per process, before any log runs (a log opened first races with it).
func routeKlog(logger *slog.Logger) {
	if logger == nil {
		logger = slog.Default()
	}
	klogOnce.Do(func() { klog.SetSlogLogger(slog.New(minLevel{logger.Handler(), slog.LevelWarn})) })
}

// minLevel drops records below a level.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (m minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.min && m.Handler.Enabled(ctx, l)
}

func (m minLevel) WithAttrs(a []slog.Attr) slog.Handler {
	return minLevel{m.Handler.WithAttrs(a), m.min}
}
func (m minLevel) WithGroup(n string) slog.Handler { return minLevel{m.Handler.WithGroup(n), m.min} }
