package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/internal/datadir"
	"github.com/charter-dev/charter/internal/dirlock"
	"github.com/charter-dev/charter/registry"
)

func init() {
	register("admin", "operate a data folder: rebuild, check, backup, keys", subcommands{
		"rebuild": adminRebuildCmd{},
		"check":   adminCheckCmd{},
		"backup":  adminBackupCmd{},
		"keys":    adminKeysCmd{},
	})
}

// lockData takes the data folder's lock for command: one owner at a time
// (serve, demo, admin).
func lockData(dir, command string) (*dirlock.Lock, error) {
	return dirlock.Acquire(dir, command+" --data "+dir)
}

type adminRebuildCmd struct{}

// Run rebuilds the catalog from the log and blobs with package registry
// (no server runs). It takes the backend flags of serve (--catalog,
// --ledger, --blobs, --log, the key files, --config and CHARTER_*
// variables), so one config file serves both: the catalog it names (the
// data folder's catalog.db by default) is rebuilt from the log and blobs
// it names.
func (adminRebuildCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("admin rebuild", flag.ContinueOnError)
	env.globalFlags(fs)
	config := fs.String("config", "", "TOML file of settings, as `charter serve` takes it (env CHARTER_CONFIG)")
	data := fs.String("data", "./charter-data", "data folder (with backend URLs: the keys and stores they leave out)")
	var b backends
	b.flags(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := fillFlags(fs, cmp.Or(*config, os.Getenv(envName("config"))), os.Getenv); err != nil {
		return err
	}
	catURL := &b.Catalog
	lock, err := lockData(*data, "charter admin rebuild")
	if err != nil {
		return err
	}
	defer lock.Release()
	var rep catalog.RebuildReport
	if b.shared() {
		rep, err = b.rebuild(ctx, *data, quietLogger(env))
	} else {
		rep, err = datadir.Rebuild(ctx, *data, *catURL, datadir.Options{Logger: quietLogger(env)})
	}
	if err != nil {
		return err
	}
	if env.JSON {
		return env.printJSON(struct {
			Data string `json:"data"`
			catalog.RebuildReport
		}{*data, rep})
	}
	where := *data
	switch {
	case b.shared():
		where = "the stores given (catalog " + b.describe()["catalog"] + ", log " + b.describe()["log"] + ", blobs " + b.describe()["blobs"] + ")"
	case *catURL != "":
		where = "PostgreSQL (the log and blobs of " + *data + ")"
	}
	fmt.Fprintf(env.Stdout, "catalog rebuilt from the log and blobs in %s\n", where)
	for t, n := range rep.Carried {
		fmt.Fprintf(env.Stdout, "carried over from the old catalog: %d rows of %s\n", n, t)
	}
	if rep.OldUnreadable != "" {
		fmt.Fprintf(env.Stdout, "the old catalog could not be read (%s): quota counters come from the log's receipts alone\n", rep.OldUnreadable)
	}
	if rep.Raised > 0 {
		fmt.Fprintf(env.Stdout, "%d quota counters raised to what the log's receipts show was served\n", rep.Raised)
	}
	if rep.Kept != "" {
		fmt.Fprintf(env.Stdout, "the old catalog is kept as %s\n", rep.Kept)
	}
	return nil
}

type adminCheckCmd struct{}

func (adminCheckCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("admin check", flag.ContinueOnError)
	env.globalFlags(fs)
	config := fs.String("config", "", "TOML file of settings, as `charter serve` takes it (env CHARTER_CONFIG)")
	data := fs.String("data", "./charter-data", "data folder (with backend URLs: a scratch folder for the check)")
	var b backends
	b.flags(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if err := fillFlags(fs, cmp.Or(*config, os.Getenv(envName("config"))), os.Getenv); err != nil {
		return err
	}
	catURL := &b.Catalog
	lock, err := lockData(*data, "charter admin check")
	if err != nil {
		return err
	}
	defer lock.Release()
	var (
		rep  *registry.CheckReport
		lc   *api.LedgerCheck
		lerr error
	)
	if b.shared() {
		// A deployment on shared stores (replicas): check the catalog
		// against a rebuild from the shared log and blobs, and the shared
		// ledger against the settlement roots the log recorded.
		if rep, lc, lerr, err = b.check(ctx, *data, quietLogger(env)); err != nil {
			return err
		}
	} else {
		if rep, err = datadir.Check(ctx, *data, *catURL, datadir.Options{Logger: quietLogger(env)}); err != nil {
			return err
		}
		// The ledger against its journal and the log's settlement roots
		// (read from the catalog just checked).
		var cat catalog.Catalog
		if *catURL != "" {
			if cat, err = datadir.OpenCatalog(ctx, *data, *catURL); err != nil {
				return err
			}
			defer cat.Close()
		}
		lc, lerr = datadir.CheckLedger(ctx, *data, cat)
	}
	if env.JSON {
		env.printJSON(struct {
			OK bool `json:"ok"`
			*registry.CheckReport
			Ledger *api.LedgerCheck `json:"ledger"`
		}{rep.Clean() && lerr == nil, rep, lc})
	} else {
		for _, l := range rep.Missing {
			fmt.Fprintf(env.Stdout, "missing or changed: %.200s\n", l)
		}
		for _, l := range rep.Extra {
			fmt.Fprintf(env.Stdout, "not backed by the log: %.200s\n", l)
		}
		for _, l := range rep.Quota {
			fmt.Fprintf(env.Stdout, "quota counter drift: %.200s\n", l)
		}
	}
	if lerr != nil {
		return lerr
	}
	rebuild := "charter admin rebuild --data " + *data
	if *catURL != "" {
		rebuild += " --catalog <the same URL>"
	}
	if b.shared() {
		rebuild = "charter admin rebuild with the same backends"
	}
	if n := len(rep.Missing) + len(rep.Extra); n > 0 {
		return fmt.Errorf("the catalog differs from the log in %d rows\nhint: `%s` recreates it from the log, keeping quota counters", n, rebuild)
	}
	if len(rep.Quota) > 0 {
		return fmt.Errorf("%d per-grant quota counters disagree with the log (below what its receipts show was served, or of a grant it does not hold)\nhint: `%s` raises them to the log's figures", len(rep.Quota), rebuild)
	}
	if !env.JSON {
		fmt.Fprintln(env.Stdout, "catalog matches the log; quota counters cover every logged receipt")
		fmt.Fprintf(env.Stdout, "ledger: %d journal entries verified against %d settlement roots in the log; %d balances match the journal\n", lc.JournalSize, lc.Anchors, lc.Accounts)
	}
	return nil
}

type adminBackupCmd struct{}

// Run copies the data folder into a new folder, consistently, whether a
// server runs on it or not (server.Backup says how). It refuses while
// another admin command owns the folder.
func (adminBackupCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("admin backup", flag.ContinueOnError)
	env.globalFlags(fs)
	data := fs.String("data", "./charter-data", "data folder to back up")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("admin backup takes the new folder to write\nhint: charter admin backup /backups/charter-$(date +%%F) --data ./charter-data")
	}
	dst := pos[0]
	h, held, err := dirlock.Held(*data)
	if err != nil {
		return err
	}
	switch {
	case held && strings.HasPrefix(h.Command, "charter admin"):
		return fmt.Errorf("data folder %s is in use by process %d (%s)\nhint: back up once it has finished", *data, h.PID, h.Command)
	case !held:
		// No server: hold the folder so nothing starts meanwhile.
		lock, err := lockData(*data, "charter admin backup")
		if err != nil {
			return err
		}
		defer lock.Release()
	}
	out, err := dirlock.Acquire(dst, "charter admin backup (destination)")
	if err != nil {
		return err
	}
	defer out.Release()
	rep, err := datadir.Backup(ctx, *data, dst)
	if err != nil {
		return err
	}
	if env.JSON {
		env.printJSON(struct {
			Data   string `json:"data"`
			Backup string `json:"backup"`
			*api.BackupReport
		}{*data, dst, rep})
	} else {
		fmt.Fprintf(env.Stdout, "backed up %s into %s: log %d entries (audited), catalog, ledger, keys, %d blobs (%d bytes, each re-hashed)\n", *data, dst, rep.LogSize, rep.Blobs, rep.Bytes)
		fmt.Fprintf(env.Stdout, "restore: copy %s to the new data folder and run `charter serve --data` on it\n", dst)
	}
	if len(rep.Corrupt) > 0 {
		return fmt.Errorf("%d blobs are corrupt in %s and are not in the backup: %s\nhint: put their content again (charter put), then back up again", len(rep.Corrupt), *data, strings.Join(rep.Corrupt, ", "))
	}
	return nil
}
