package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/client"
)

// stateDir is where the CLI remembers what it has seen of each log: the
// pinned verifier key and the last verified checkpoint.
func stateDir(env *Env) string {
	if d := os.Getenv("CHARTER_STATE"); d != "" {
		return d
	}
	return filepath.Join(filepath.Dir(env.Key), "logs")
}

// trustedLog pins the log key of the server on first use (or checks it
// against the pin) and returns it with the witness that remembers the
// last checkpoint.
func trustedLog(ctx context.Context, env *Env, c *client.Client) (string, *auditlog.Witness, error) {
	sum := sha256.Sum256([]byte(c.Server()))
	dir := filepath.Join(stateDir(env), hex.EncodeToString(sum[:8]))
	keyFile := filepath.Join(dir, "log.vkey")
	served, err := c.LogKey(ctx)
	if err != nil {
		return "", nil, err
	}
	pinned, err := os.ReadFile(keyFile)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", nil, err
		}
		if err := os.WriteFile(keyFile, []byte(served+"\n"), 0o600); err != nil {
			return "", nil, err
		}
	case err != nil:
		return "", nil, err
	default:
		if strings.TrimSpace(string(pinned)) != served {
			return "", nil, fmt.Errorf("the server's log key changed: pinned %q, served %q\nhint: a server that changes its log key is not the log you audited; if you trust the change, delete %s", strings.TrimSpace(string(pinned)), served, keyFile)
		}
	}
	w, err := auditlog.OpenWitness(filepath.Join(dir, "checkpoint"), served)
	if err != nil {
		return "", nil, err
	}
	return served, w, nil
}

// advance moves the witness to the server's latest checkpoint, checking
// that the log only grew since the last one this user saw.
func advance(ctx context.Context, c *client.Client, w *auditlog.Witness) (auditlog.Checkpoint, error) {
	old, ok := w.Latest()
	if !ok {
		raw, err := c.LogCheckpoint(ctx)
		if err != nil {
			return auditlog.Checkpoint{}, err
		}
		return w.Update(raw, nil)
	}
	text, err := c.LogConsistency(ctx, old.Size)
	if err != nil {
		if client.StatusCode(err) == 400 {
			return auditlog.Checkpoint{}, fmt.Errorf("%w: the log is now smaller than the %d entries you saw before\nhint: this log has been rolled back or replaced; do not trust it", auditlog.ErrShrunk, old.Size)
		}
		return auditlog.Checkpoint{}, err
	}
	cons, err := auditlog.ParseConsistency(text)
	if err != nil {
		return auditlog.Checkpoint{}, err
	}
	cp, err := w.UpdateFrom(cons)
	if err != nil {
		return cp, fmt.Errorf("%w\nhint: the log does not extend the checkpoint you saw before: it forked or shrank", err)
	}
	return cp, nil
}

// latestCheckpoint connects to the server, pins or checks its log key, and
// returns the latest checkpoint once it is shown to extend the last one
// this user saw.
func latestCheckpoint(ctx context.Context, env *Env) (*client.Client, string, auditlog.Checkpoint, error) {
	c, err := env.Client()
	if err != nil {
		return nil, "", auditlog.Checkpoint{}, err
	}
	key, w, err := trustedLog(ctx, env, c)
	if err != nil {
		return nil, "", auditlog.Checkpoint{}, err
	}
	cp, err := advance(ctx, c, w)
	return c, key, cp, err
}
