package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"

	"github.com/charter-dev/charter/identity"
)

func init() {
	register("key", "your signing key: new, show", subcommands{
		"new":  keyNewCmd{},
		"show": keyShowCmd{},
	})
}

type keyNewCmd struct{}

type keyResult struct {
	DID  string `json:"did"`
	Path string `json:"path"`
}

func (keyNewCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("key new", flag.ContinueOnError)
	env.globalFlags(fs)
	out := fs.String("out", "", "where to write the key (default: --key)")
	force := fs.Bool("force", false, "overwrite an existing key file")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	path := *out
	if path == "" {
		path = env.Key
	}
	if _, err := os.Stat(path); err == nil && !*force {
		return fmt.Errorf("%s already exists; not overwriting a key\nhint: pass --out NEWFILE, or --force if you really mean to replace it", path)
	}
	k, err := identity.Generate()
	if err != nil {
		return err
	}
	if err := k.Save(path); err != nil {
		return err
	}
	if env.JSON {
		return env.printJSON(keyResult{DID: k.DID().String(), Path: path})
	}
	fmt.Fprintln(env.Stdout, k.DID())
	return nil
}

type keyShowCmd struct{}

func (keyShowCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("key show", flag.ContinueOnError)
	env.globalFlags(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	k, err := loadKey(env)
	if err != nil {
		return err
	}
	if env.JSON {
		return env.printJSON(keyResult{DID: k.DID().String(), Path: env.Key})
	}
	fmt.Fprintln(env.Stdout, k.DID())
	return nil
}

// loadKey loads the user's key from --key.
func loadKey(env *Env) (*identity.Key, error) {
	k, err := identity.Load(env.Key)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no key at %s\nhint: run `charter key new` first, or pass --key FILE", env.Key)
	}
	return k, err
}
