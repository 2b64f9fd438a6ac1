package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
)

func init() {
	register("log", "audit the transparency log: checkpoint, prove, verify, audit, trust", subcommands{
		"checkpoint": logCheckpointCmd{},
		"prove":      logProveCmd{},
		"verify":     verifyCmd{name: "log verify"},
		"audit":      logAuditCmd{},
		"trust":      logTrustCmd{},
	})
}

type checkpointResult struct {
	Origin string `json:"origin"`
	Size   uint64 `json:"size"`
	Root   string `json:"root"`
	LogKey string `json:"log_key"`
	// First is true when no earlier checkpoint of this log was remembered:
	// consistency could not be checked.
	First bool `json:"first_contact,omitempty"`
}

type logCheckpointCmd struct{}

func (logCheckpointCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("log checkpoint", flag.ContinueOnError)
	env.globalFlags(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	_, key, cp, first, err := latestCheckpointSeen(ctx, env)
	if err != nil {
		return err
	}
	res := checkpointResult{Origin: cp.Origin, Size: cp.Size, Root: hex.EncodeToString(cp.Hash[:]), LogKey: key, First: first}
	if env.JSON {
		return env.printJSON(res)
	}
	fmt.Fprintf(env.Stdout, "log %s\nsize %d\nroot %s\n", res.Origin, res.Size, res.Root)
	if first {
		fmt.Fprintln(env.Stdout, "verified: signature by the pinned key; this is the first checkpoint you saw of this log, remembered so that later ones must extend it")
	} else {
		fmt.Fprintln(env.Stdout, "verified: signature by the pinned key, and consistency with the last checkpoint you saw")
	}
	return nil
}

type logProveCmd struct{}

func (logProveCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("log prove", flag.ContinueOnError)
	env.globalFlags(fs)
	out := fs.String("o", "", "write the receipt bundle to FILE (default stdout)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("log prove takes one entry INDEX")
	}
	idx, err := strconv.ParseUint(pos[0], 10, 64)
	if err != nil {
		return fmt.Errorf("%q is not a log index", pos[0])
	}
	c, key, _, err := latestCheckpoint(ctx, env)
	if err != nil {
		return err
	}
	b, err := c.LogProof(ctx, idx)
	if err != nil {
		return err
	}
	if _, err := verifyBundle(b, key); err != nil {
		return err
	}
	raw, _ := json.MarshalIndent(b, "", "  ")
	raw = append(raw, '\n')
	if *out != "" {
		if err := os.WriteFile(*out, raw, 0o644); err != nil {
			return err
		}
		if !env.JSON {
			fmt.Fprintf(env.Stdout, "entry %d (%s): receipt verified, written to %s\n", b.Index, b.EntryType, *out)
			return nil
		}
	}
	_, err = env.Stdout.Write(raw)
	return err
}
