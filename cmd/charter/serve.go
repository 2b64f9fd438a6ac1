package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/charter-dev/charter/httpsig"
	"github.com/charter-dev/charter/server"
)

func init() {
	register("serve", "run the Charter service on embedded defaults", serveCmd{})
}

type serveCmd struct{}

func (serveCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	env.globalFlags(fs)
	data := fs.String("data", "./charter-data", "data folder (blobs, log, catalog)")
	listen := fs.String("listen", "127.0.0.1:7070", "address to listen on")
	scrub := fs.Duration("scrub-interval", 24*time.Hour, "how often to re-verify every stored blob (0 disables)")
	verifyReads := fs.Bool("verify-reads", false, "verify every range on the server before sending it")
	maxUpload := fs.Int64("max-upload", server.DefaultMaxUpload, "largest accepted upload in bytes (-1: no limit)")
	grantsDay := fs.Int64("grant-requests-day", server.DefaultGrantRequestsDay, "grant requests one licensee key may make per UTC day (-1: no limit)")
	quotaDay := fs.Int64("upload-quota-day", server.DefaultUploadQuotaDay, "bytes one key may upload per UTC day (-1: no limit)")
	quotaTotal := fs.Int64("upload-quota-total", server.DefaultUploadQuotaTotal, "bytes one key may upload in all (-1: no limit)")
	nonceLimit := fs.Int("nonce-limit", httpsig.DefaultNonceLimit, "live signed-request nonces one key may hold (a nonce lives 90 s); a key past it gets 503 busy, no other key is affected")
	settle := fs.Duration("settle-interval", time.Minute, "how often to settle metered use (0 disables; `charter settle` runs it at once)")
	catURL := fs.String("catalog", "", "catalog to run on: postgres://user@host:5432/db?search_path=schema (default: the SQLite catalog.db in the data folder)")
	debug := fs.Bool("debug", false, "log debug messages")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *nonceLimit < 1 {
		return fmt.Errorf("--nonce-limit %d: must be at least 1\nhint: each signed request holds one nonce for 90 s; the default %d allows about 700 requests a second per key", *nonceLimit, httpsig.DefaultNonceLimit)
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
	cat, err := openCatalog(ctx, *catURL)
	if err != nil {
		return err
	}
	// The backends given as URLs, then the embedded defaults in the data
	// folder for the rest; the server owns them all from New on.
	deps := server.Deps{
		Catalog: cat,
		Config:  server.Config{Logger: log, ScrubInterval: si, VerifyReads: *verifyReads, MaxUpload: *maxUpload, UploadQuotaDay: *quotaDay, UploadQuotaTotal: *quotaTotal, GrantRequestsDay: *grantsDay, SettleInterval: st, NonceLimit: *nonceLimit},
	}
	if err := server.OpenDefaults(ctx, *data, &deps); err != nil {
		if cat != nil {
			cat.Close()
		}
		return err
	}
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
		env.printJSON(map[string]string{"server": url, "data": *data})
	} else {
		fmt.Fprintf(env.Stdout, "charter serving %s on %s\n", *data, url)
	}
	if f, ok := env.Stdout.(*os.File); ok {
		f.Sync()
	}
	log.Info("listening", "addr", url, "data", *data)
	return srv.Serve(ctx, l)
}

// quietLogger logs warnings and errors to stderr.
func quietLogger(env *Env) *slog.Logger {
	return slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
