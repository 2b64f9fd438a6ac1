package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	rdebug "runtime/debug"
	"strings"
	"time"

	"github.com/charter-dev/charter/crowd"
	"github.com/charter-dev/charter/httpsig"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/server"
)

func init() {
	register("serve", "run the Charter service (embedded defaults, or the backends given as URLs)", serveCmd{})
}

type serveCmd struct{}

// serveFlags are the settings of `charter serve`.
type serveFlags struct {
	config, data, listen, s3addr, hfAddr       *string
	logFormat, pprofAddr, otlpEndpoint         *string
	accessLog                                  *bool
	b                                          backends
	scrub, settle                              *time.Duration
	verifyReads, debug, s3DirectReads          *bool
	maxUpload, grantsDay, quotaDay, quotaTotal *int64
	nonceLimit                                 *int
	crowd                                      crowdFlags
}

// crowdFlags size the pool keys without standing share (package crowd).
type crowdFlags struct {
	uploads, grants, statements, nonces *int64
	proven                              *string
}

func (c *crowdFlags) define(fs *flag.FlagSet) {
	c.uploads = fs.Int64("unproven-upload-bytes-day", crowd.DefaultUploadBytesDay, "bytes all keys without standing may upload per UTC day, together (each upload counts at least 64 KiB; -1: no pool)")
	c.grants = fs.Int64("unproven-grant-requests-day", crowd.DefaultGrantRequestsDay, "grant requests all keys without standing may make per UTC day, together (-1: no pool)")
	c.statements = fs.Int64("unproven-statements-day", crowd.DefaultStatementsDay, "registrations, proposals, approvals, usage reports and disputes all keys without standing may log per UTC day, together (-1: no pool)")
	c.nonces = fs.Int64("unproven-nonces", crowd.DefaultNonces, "live signed-request nonces all keys without standing may hold, together (-1: no pool)")
	c.proven = fs.String("proven-keys", "", "comma-separated DIDs the operator gives standing (they do not draw from the pool of keys without standing)")
}

// limits are the pool's sizes and the keys given standing.
func (c *crowdFlags) limits() (crowd.Limits, []identity.DID, error) {
	proven, err := parseDIDList(*c.proven)
	if err != nil {
		return crowd.Limits{}, nil, fmt.Errorf("--proven-keys: %w\nhint: list did:key DIDs separated by commas (`charter key new` prints a key's DID)", err)
	}
	return crowd.Limits{UploadBytesDay: *c.uploads, GrantRequestsDay: *c.grants, StatementsDay: *c.statements, Nonces: *c.nonces}, proven, nil
}

// parseDIDList reads comma-separated DIDs ("" is none).
func parseDIDList(s string) ([]identity.DID, error) {
	var out []identity.DID
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		d, err := identity.ParseDID(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a DID: %w", f, err)
		}
		out = append(out, d)
	}
	return out, nil
}

// defineServeFlags defines serve's flags on fs: the command line, and the
// names of the CHARTER_* variables and config file keys.
func defineServeFlags(fs *flag.FlagSet, env *Env) *serveFlags {
	env.globalFlags(fs)
	f := &serveFlags{}
	f.config = fs.String("config", "", "TOML file of settings named as these flags (env CHARTER_CONFIG); flags and CHARTER_<FLAG> variables override it")
	f.data = fs.String("data", "./charter-data", "data folder (the embedded backends, the keys, scratch files)")
	f.listen = fs.String("listen", "127.0.0.1:7070", "address to listen on")
	f.s3addr = fs.String("s3-addr", "", "also serve the S3-compatible read API on this address (e.g. 127.0.0.1:7071; see docs/integrations.md)")
	f.hfAddr = fs.String("hf-addr", "", "address of the Hugging Face-compatible read endpoint (HF_ENDPOINT for huggingface_hub, datasets, @huggingface/hub; docs/integrations.md); empty: not served")
	f.b.flags(fs)
	f.scrub = fs.Duration("scrub-interval", 24*time.Hour, "how often to re-verify every stored blob (0 disables)")
	f.verifyReads = fs.Bool("verify-reads", false, "verify every range on the server before sending it")
	f.s3DirectReads = fs.Bool("s3-direct-reads", false, "on an S3 blob store, answer a verified range of at least 1 MiB with its tree and a presigned URL (60 s) of its data, which the client fetches from the store and verifies; the range is charged when the URL is issued; the store's endpoint must be reachable by clients")
	f.maxUpload = fs.Int64("max-upload", server.DefaultMaxUpload, "largest accepted upload in bytes (-1: no limit)")
	f.grantsDay = fs.Int64("grant-requests-day", server.DefaultGrantRequestsDay, "grant requests one licensee key may make per UTC day (-1: no limit)")
	f.quotaDay = fs.Int64("upload-quota-day", server.DefaultUploadQuotaDay, "bytes one key may upload per UTC day (-1: no limit)")
	f.quotaTotal = fs.Int64("upload-quota-total", server.DefaultUploadQuotaTotal, "bytes one key may upload in all (-1: no limit)")
	f.nonceLimit = fs.Int("nonce-limit", httpsig.DefaultNonceLimit, "live signed-request nonces one key may hold (a nonce lives 90 s); a key past it gets 503 busy, no other key is affected")
	f.crowd.define(fs)
	f.settle = fs.Duration("settle-interval", time.Minute, "how often to settle metered use (0 disables; `charter settle` runs it at once)")
	f.debug = fs.Bool("debug", false, "log debug messages")
	f.logFormat = fs.String("log-format", "json", "log format on stderr: json (one object a line, for log collectors) or text")
	f.accessLog = fs.Bool("access-log", true, "log every request (request id, route, status, bytes, duration); false logs only server errors")
	f.otlpEndpoint = fs.String("otlp-endpoint", "", "send a trace span of every request to this OpenTelemetry collector's OTLP/HTTP base URL (e.g. http://127.0.0.1:4318); empty: the OTEL_EXPORTER_OTLP_ENDPOINT variable if set, else no tracing")
	f.pprofAddr = fs.String("pprof-addr", "", "serve Go's pprof profiles on this separate address (e.g. 127.0.0.1:6060; keep it private); off when empty")
	return f
}

func (serveCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	sf := defineServeFlags(fs, env)
	config, data, listen := sf.config, sf.data, sf.listen
	scrub, verifyReads, maxUpload, grantsDay, quotaDay, quotaTotal, nonceLimit, settle, debug := sf.scrub, sf.verifyReads, sf.maxUpload, sf.grantsDay, sf.quotaDay, sf.quotaTotal, sf.nonceLimit, sf.settle, sf.debug
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := fillFlags(fs, cmp.Or(*config, os.Getenv(envName("config"))), os.Getenv); err != nil {
		return err
	}
	b := sf.b
	if *nonceLimit < 1 {
		return fmt.Errorf("--nonce-limit %d: must be at least 1\nhint: each signed request holds one nonce for 90 s; the default %d allows about 700 requests a second per key", *nonceLimit, httpsig.DefaultNonceLimit)
	}
	pool, proven, err := sf.crowd.limits()
	if err != nil {
		return err
	}
	if os.Getenv("GOGC") == "" {
		rdebug.SetGCPercent(server.GCPercent)
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	lock, err := lockData(*data, "charter serve")
	if err != nil {
		return err
	}
	defer lock.Release()
	var handler slog.Handler
	switch *sf.logFormat {
	case "json":
		handler = slog.NewJSONHandler(env.Stderr, &slog.HandlerOptions{Level: level})
	case "text":
		handler = slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level})
	default:
		return fmt.Errorf("--log-format %q: want json or text\nhint: json suits log collectors (one object a line), text a terminal", *sf.logFormat)
	}
	log := slog.New(handler)
	if *sf.pprofAddr != "" {
		stopPprof, err := servePprof(ctx, *sf.pprofAddr, log)
		if err != nil {
			return err
		}
		defer stopPprof()
	}
	tracer, stopTracing, err := startTracing(ctx, *sf.otlpEndpoint, log)
	if err != nil {
		return err
	}
	defer stopTracing()
	si := *scrub
	if si == 0 {
		si = -1
	}
	st := *settle
	if st == 0 {
		st = -1
	}
	cfg := server.Config{DataDir: *data, Logger: log, AccessLog: *sf.accessLog, ScrubInterval: si, VerifyReads: *verifyReads, S3DirectReads: *sf.s3DirectReads, MaxUpload: *maxUpload, UploadQuotaDay: *quotaDay, UploadQuotaTotal: *quotaTotal, GrantRequestsDay: *grantsDay, SettleInterval: st, NonceLimit: *nonceLimit,
		Crowd: pool, ProvenKeys: proven, Tracer: tracer}
	var s3l net.Listener
	if *sf.s3addr != "" {
		if s3l, err = net.Listen("tcp", *sf.s3addr); err != nil {
			return fmt.Errorf("cannot listen on %s: %w\nhint: pick another --s3-addr address", *sf.s3addr, err)
		}
		defer s3l.Close()
		cfg.S3Endpoint = "http://" + s3l.Addr().String()
	}
	var hfl net.Listener
	if *sf.hfAddr != "" {
		if hfl, err = net.Listen("tcp", *sf.hfAddr); err != nil {
			return fmt.Errorf("cannot listen on %s: %w\nhint: pick another --hf-addr address", *sf.hfAddr, err)
		}
		defer hfl.Close()
	}
	// The address before the backends: on a taken one, nothing is opened.
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return listenError("serve", *listen, err)
	}
	defer l.Close()
	deps, done, err := b.open(ctx, cfg)
	if err != nil {
		return err
	}
	defer done()
	srv, err := server.New(ctx, deps)
	if err != nil {
		return err
	}
	defer srv.Close()
	url := "http://" + l.Addr().String()
	if env.JSON {
		out := map[string]string{"server": url, "data": *data}
		if s3l != nil {
			out["s3"] = cfg.S3Endpoint
		}
		for k, v := range b.describe() {
			out[k] = v
		}
		if hfl != nil {
			out["hf"] = "http://" + hfl.Addr().String()
		}
		env.printJSON(out)
	} else {
		fmt.Fprintf(env.Stdout, "charter serving %s on %s\n", *data, url)
		if hfl != nil {
			fmt.Fprintf(env.Stdout, "Hugging Face endpoint: HF_ENDPOINT=http://%s\n", hfl.Addr())
		}
	}
	if f, ok := env.Stdout.(*os.File); ok {
		f.Sync()
	}
	attrs := []any{"addr", url, "data", *data}
	for k, v := range b.describe() {
		attrs = append(attrs, k, v)
	}
	if s3l != nil {
		attrs = append(attrs, "s3", cfg.S3Endpoint)
		go func() {
			if err := srv.ServeS3(ctx, s3l); err != nil {
				log.Error("s3 listener", "err", err)
			}
		}()
	}
	if hfl != nil {
		attrs = append(attrs, "hf_endpoint", "http://"+hfl.Addr().String())
		go func() {
			if err := srv.ServeHF(ctx, hfl); err != nil {
				log.Error("Hugging Face listener", "err", err)
			}
		}()
	}
	log.Info("listening", attrs...)
	return srv.Serve(ctx, l)
}

// quietLogger logs warnings and errors to stderr.
func quietLogger(env *Env) *slog.Logger {
	return slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
