package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/charter-dev/charter/server"
)

func init() {
	register("admin", "operate a data folder (server stopped): admin rebuild [--data DIR] | admin check [--data DIR]", subcommands{
		"rebuild": adminRebuildCmd{},
		"check":   adminCheckCmd{},
	})
}

type adminRebuildCmd struct{}

func (adminRebuildCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("admin rebuild", flag.ContinueOnError)
	env.globalFlags(fs)
	data := fs.String("data", "./charter-data", "data folder")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	kept, err := server.Rebuild(ctx, server.Config{DataDir: *data, Logger: quietLogger(env)})
	if err != nil {
		return err
	}
	if env.JSON {
		return env.printJSON(map[string]string{"data": *data, "old_catalog": kept})
	}
	fmt.Fprintf(env.Stdout, "catalog rebuilt from the log and blobs in %s\n", *data)
	if kept != "" {
		fmt.Fprintf(env.Stdout, "the old catalog is kept as %s\n", kept)
	}
	return nil
}

type adminCheckCmd struct{}

func (adminCheckCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("admin check", flag.ContinueOnError)
	env.globalFlags(fs)
	data := fs.String("data", "./charter-data", "data folder")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	missing, extra, err := server.CheckCatalog(ctx, server.Config{DataDir: *data, Logger: quietLogger(env)})
	if err != nil {
		return err
	}
	if env.JSON {
		env.printJSON(map[string]any{"ok": len(missing)+len(extra) == 0, "missing": missing, "unexpected": extra})
	} else {
		for _, l := range missing {
			fmt.Fprintf(env.Stdout, "missing or changed: %.200s\n", l)
		}
		for _, l := range extra {
			fmt.Fprintf(env.Stdout, "not backed by the log: %.200s\n", l)
		}
	}
	if len(missing)+len(extra) > 0 {
		return fmt.Errorf("the catalog differs from the log in %d rows\nhint: `charter admin rebuild` recreates it from the log", len(missing)+len(extra))
	}
	if !env.JSON {
		fmt.Fprintln(env.Stdout, "catalog matches the log")
	}
	return nil
}
