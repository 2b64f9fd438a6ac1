package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/client"
)

// One trust store for the log. Every command that verifies something the
// log vouches for (publish, get and grant request, verify, log ...) checks
// it against one pinned log key per server, kept in the user's state
// folder. The first contact with a server pins the key it serves and says
// so; a server that later serves another key is refused everywhere until
// the user re-pins on purpose with `charter log trust --reset`.

// stateDir is where the CLI keeps what it remembers between runs: the
// pinned log key and last checkpoint of each server, kept grants.
// CHARTER_STATE overrides it; otherwise $XDG_STATE_HOME/charter, or
// ~/.local/state/charter on Unix, or the user's config folder elsewhere.
// Never the working directory, never beside the key file.
func stateDir(env *Env) string {
	if d := os.Getenv("CHARTER_STATE"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "charter")
	}
	if runtime.GOOS != "windows" && runtime.GOOS != "darwin" && runtime.GOOS != "plan9" {
		if h, err := os.UserHomeDir(); err == nil {
			return filepath.Join(h, ".local", "state", "charter")
		}
	}
	if d, err := os.UserConfigDir(); err == nil {
		return filepath.Join(d, "charter", "state")
	}
	return filepath.Join(os.TempDir(), "charter-state-"+fmt.Sprint(os.Getuid()))
}

// logTrust is the trust state of one server's log.
type logTrust struct {
	server string
	dir    string // holds log.vkey and checkpoint
}

func trustFor(env *Env, server string) logTrust {
	sum := sha256.Sum256([]byte(server))
	return logTrust{server: server, dir: filepath.Join(stateDir(env), "logs", hex.EncodeToString(sum[:8]))}
}

func (t logTrust) keyFile() string        { return filepath.Join(t.dir, "log.vkey") }
func (t logTrust) checkpointFile() string { return filepath.Join(t.dir, "checkpoint") }

// pinned returns the pinned key, or "" when none is.
func (t logTrust) pinned() (string, error) {
	b, err := os.ReadFile(t.keyFile())
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

func (t logTrust) pin(key string) error {
	if err := os.MkdirAll(t.dir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(t.dir+"/server", []byte(t.server+"\n"), 0o600); err != nil {
		return err
	}
	tmp := t.keyFile() + ".tmp"
	if err := os.WriteFile(tmp, []byte(key+"\n"), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, t.keyFile())
}

// errLogKeyChanged is wrapped by every refusal of a changed log key.
var errLogKeyChanged = errors.New("the server's log key changed")

func changedKeyError(server, pinned, served string) error {
	return fmt.Errorf("%w: you pinned %q for %s, it now uses %q\nhint: a log that changes its key is not the log you trusted; if its operator moved to a new log on purpose, re-pin with `charter log trust --reset --server %s`", errLogKeyChanged, pinned, server, served, server)
}

// pinnedLogKey returns the log key pinned for the client's server: on
// first contact it pins the key the server serves and says so on stderr;
// later, a different served key is refused.
func pinnedLogKey(ctx context.Context, env *Env, c *client.Client) (string, error) {
	t := trustFor(env, c.Server())
	served, err := c.LogKey(ctx)
	if err != nil {
		return "", err
	}
	pinned, err := t.pinned()
	if err != nil {
		return "", err
	}
	switch {
	case pinned == "":
		if err := t.pin(served); err != nil {
			return "", fmt.Errorf("pinning the log key: %w", err)
		}
		fmt.Fprintf(env.Stderr, "first contact with %s: pinned its log key %s (in %s); a different key will be refused\n", c.Server(), served, t.keyFile())
	case pinned != served:
		return "", changedKeyError(c.Server(), pinned, served)
	}
	return served, nil
}

// serverLogKey is pinnedLogKey for the configured server.
func serverLogKey(ctx context.Context, env *Env) (string, error) {
	c, err := env.Client()
	if err != nil {
		return "", err
	}
	return pinnedLogKey(ctx, env, c)
}

// offlineLogKey is the key an offline check trusts: the one given, else
// the one pinned for the configured server ("" when none is pinned).
func offlineLogKey(env *Env, given string) (key string, pinned bool, err error) {
	if given != "" {
		return given, false, nil
	}
	k, err := trustFor(env, env.Server).pinned()
	return k, k != "", err
}

// trustedLog pins or checks the server's log key and returns it with the
// witness that remembers the last checkpoint this user saw of it.
func trustedLog(ctx context.Context, env *Env, c *client.Client) (string, *auditlog.Witness, error) {
	key, err := pinnedLogKey(ctx, env, c)
	if err != nil {
		return "", nil, err
	}
	w, err := auditlog.OpenWitness(trustFor(env, c.Server()).checkpointFile(), key)
	if err != nil {
		return "", nil, err
	}
	return key, w, nil
}

// advance moves the witness to the server's latest checkpoint, checking
// that the log only grew since the last one this user saw. first is true
// when there was none: nothing could be checked for consistency.
func advance(ctx context.Context, c *client.Client, w *auditlog.Witness) (cp auditlog.Checkpoint, first bool, err error) {
	old, ok := w.Latest()
	if !ok {
		raw, err := c.LogCheckpoint(ctx)
		if err != nil {
			return auditlog.Checkpoint{}, true, err
		}
		cp, err := w.Update(raw, nil)
		return cp, true, err
	}
	text, err := c.LogConsistency(ctx, old.Size)
	if err != nil {
		if client.StatusCode(err) == 400 {
			return auditlog.Checkpoint{}, false, fmt.Errorf("%w: the log is now smaller than the %d entries you saw before\nhint: this log has been rolled back or replaced; do not trust it", auditlog.ErrShrunk, old.Size)
		}
		return auditlog.Checkpoint{}, false, err
	}
	cons, err := auditlog.ParseConsistency(text)
	if err != nil {
		return auditlog.Checkpoint{}, false, err
	}
	cp, err = w.UpdateFrom(cons)
	if err != nil {
		return cp, false, fmt.Errorf("%w\nhint: the log does not extend the checkpoint you saw before: it forked or shrank", err)
	}
	return cp, false, nil
}

// latestCheckpoint connects to the server, pins or checks its log key, and
// returns the latest checkpoint once it is shown to extend the last one
// this user saw.
func latestCheckpoint(ctx context.Context, env *Env) (*client.Client, string, auditlog.Checkpoint, error) {
	c, key, cp, _, err := latestCheckpointSeen(ctx, env)
	return c, key, cp, err
}

// latestCheckpointSeen is latestCheckpoint, also saying whether this was
// the first checkpoint this user saw of the log (nothing to compare with).
func latestCheckpointSeen(ctx context.Context, env *Env) (*client.Client, string, auditlog.Checkpoint, bool, error) {
	c, err := env.Client()
	if err != nil {
		return nil, "", auditlog.Checkpoint{}, false, err
	}
	key, w, err := trustedLog(ctx, env, c)
	if err != nil {
		return nil, "", auditlog.Checkpoint{}, false, err
	}
	cp, first, err := advance(ctx, c, w)
	return c, key, cp, first, err
}

// logTrustCmd shows or resets the pinned log key of the server.
type logTrustCmd struct{}

func (logTrustCmd) Run(ctx context.Context, env *Env, args []string) error {
	fl := flag.NewFlagSet("log trust", flag.ContinueOnError)
	env.globalFlags(fl)
	reset := fl.Bool("reset", false, "forget the pinned key and last checkpoint of this server, and pin the key it serves now")
	if _, err := parse(fl, args); err != nil {
		return err
	}
	c, err := env.Client()
	if err != nil {
		return err
	}
	t := trustFor(env, c.Server())
	old, err := t.pinned()
	if err != nil {
		return err
	}
	if *reset {
		served, err := c.LogKey(ctx)
		if err != nil {
			return err
		}
		if err := os.Remove(t.checkpointFile()); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if err := t.pin(served); err != nil {
			return err
		}
		if env.JSON {
			return env.printJSON(map[string]string{"server": c.Server(), "log_key": served, "previous_log_key": old, "state": t.dir})
		}
		if old != "" && old != served {
			fmt.Fprintf(env.Stdout, "re-pinned %s: log key %s (was %s); the last checkpoint you saw of the old key is forgotten\n", c.Server(), served, old)
		} else {
			fmt.Fprintf(env.Stdout, "pinned %s: log key %s\n", c.Server(), served)
		}
		return nil
	}
	if env.JSON {
		return env.printJSON(map[string]string{"server": c.Server(), "log_key": old, "state": t.dir})
	}
	if old == "" {
		fmt.Fprintf(env.Stdout, "no log key pinned for %s yet: the next command that talks to it pins the key it serves\n", c.Server())
		return nil
	}
	fmt.Fprintf(env.Stdout, "%s: pinned log key %s\nstate in %s\n", c.Server(), old, t.dir)
	return nil
}

// pinAt reads the pin for server in the state folder state (for tests).
func (e *Env) pinAt(state, server string) (string, bool, error) {
	sum := sha256.Sum256([]byte(server))
	t := logTrust{server: server, dir: filepath.Join(state, "logs", hex.EncodeToString(sum[:8]))}
	k, err := t.pinned()
	return k, k != "", err
}
