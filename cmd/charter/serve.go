package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	rdebug "runtime/debug"
	"time"

	"github.com/charter-dev/charter/httpsig"
	"github.com/charter-dev/charter/server"
)

func init() {
	register("serve", "run the Charter service (embedded defaults, or the backends given as URLs)", serveCmd{})
}

type serveCmd struct{}

func (serveCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	env.globalFlags(fs)
	config := fs.String("config", "", "TOML file of settings named as these flags (env CHARTER_CONFIG); flags and CHARTER_<FLAG> variables override it")
	data := fs.String("data", "./charter-data", "data folder (the embedded backends, the keys, scratch files)")
	listen := fs.String("listen", "127.0.0.1:7070", "address to listen on")
	var b backends
	fs.StringVar(&b.Catalog, "catalog", "", "catalog: postgres://user@host:5432/db?search_path=schema (default: catalog.db in the data folder)")
	fs.StringVar(&b.Ledger, "ledger", "", "ledger: postgres://user@host:5432/db?search_path=schema (default: ledger.db in the data folder)")
	fs.StringVar(&b.Blobs, "blobs", "", "blob store: s3://bucket/prefix?endpoint=URL, or a folder (default: blobs/ in the data folder)")
	fs.StringVar(&b.Log, "log", "", "transparency log: mysql://user:password@tcp(host:3306)/database, or a folder (default: log/ in the data folder)")
	fs.StringVar(&b.ServerKey, "server-key", "", "the server's key file, which replicas share (default: keys/server.key in the data folder, made if missing)")
	fs.StringVar(&b.LogKey, "log-key", "", "the log's signing key file, which replicas share (default: keys/log.key in the data folder, made if missing)")
	scrub := fs.Duration("scrub-interval", 24*time.Hour, "how often to re-verify every stored blob (0 disables)")
	verifyReads := fs.Bool("verify-reads", false, "verify every range on the server before sending it")
	maxUpload := fs.Int64("max-upload", server.DefaultMaxUpload, "largest accepted upload in bytes (-1: no limit)")
	grantsDay := fs.Int64("grant-requests-day", server.DefaultGrantRequestsDay, "grant requests one licensee key may make per UTC day (-1: no limit)")
	quotaDay := fs.Int64("upload-quota-day", server.DefaultUploadQuotaDay, "bytes one key may upload per UTC day (-1: no limit)")
	quotaTotal := fs.Int64("upload-quota-total", server.DefaultUploadQuotaTotal, "bytes one key may upload in all (-1: no limit)")
	nonceLimit := fs.Int("nonce-limit", httpsig.DefaultNonceLimit, "live signed-request nonces one key may hold (a nonce lives 90 s); a key past it gets 503 busy, no other key is affected")
	settle := fs.Duration("settle-interval", time.Minute, "how often to settle metered use (0 disables; `charter settle` runs it at once)")
	debug := fs.Bool("debug", false, "log debug messages")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	cfgFile := *config
	if cfgFile == "" {
		cfgFile = os.Getenv(envName("config"))
	}
	if err := fillFlags(fs, cfgFile, os.Getenv); err != nil {
		return err
	}
	if *nonceLimit < 1 {
		return fmt.Errorf("--nonce-limit %d: must be at least 1\nhint: each signed request holds one nonce for 90 s; the default %d allows about 700 requests a second per key", *nonceLimit, httpsig.DefaultNonceLimit)
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
	log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))
	si := *scrub
	if si == 0 {
		si = -1
	}
	st := *settle
	if st == 0 {
		st = -1
	}
	cfg := server.Config{DataDir: *data, Logger: log, ScrubInterval: si, VerifyReads: *verifyReads, MaxUpload: *maxUpload, UploadQuotaDay: *quotaDay, UploadQuotaTotal: *quotaTotal, GrantRequestsDay: *grantsDay, SettleInterval: st, NonceLimit: *nonceLimit}
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
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w\nhint: another charter serve may be running; pick another --listen address", *listen, err)
	}
	url := "http://" + l.Addr().String()
	if env.JSON {
		out := map[string]string{"server": url, "data": *data}
		for k, v := range b.describe() {
			out[k] = v
		}
		env.printJSON(out)
	} else {
		fmt.Fprintf(env.Stdout, "charter serving %s on %s\n", *data, url)
	}
	if f, ok := env.Stdout.(*os.File); ok {
		f.Sync()
	}
	attrs := []any{"addr", url, "data", *data}
	for k, v := range b.describe() {
		attrs = append(attrs, k, v)
	}
	log.Info("listening", attrs...)
	return srv.Serve(ctx, l)
}

// quietLogger logs warnings and errors to stderr.
func quietLogger(env *Env) *slog.Logger {
	return slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
