package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/server"
)

type adminKeysCmd struct{}

// Run makes the two keys every replica of one deployment shares: the
// server's key (server.key: grants, receipts, settlements, the
// operator) and the log's signing key (log.key). Existing files are kept.
func (adminKeysCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("admin keys", flag.ContinueOnError)
	env.globalFlags(fs)
	out := fs.String("out", "", "folder to write server.key and log.key to (created, owner-only)")
	origin := fs.String("origin", server.DefaultLogOrigin, "the log's name in its checkpoints (fixed once the log has entries)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("admin keys: no --out folder\nhint: charter admin keys --out /etc/charter/keys, then give every replica --server-key /etc/charter/keys/server.key --log-key /etc/charter/keys/log.key")
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return fmt.Errorf("admin keys: %w", err)
	}
	sk := filepath.Join(*out, "server.key")
	k, made, err := identity.LoadOrGenerate(sk)
	if err != nil {
		return err
	}
	lk := filepath.Join(*out, "log.key")
	_, statErr := os.Stat(lk)
	s, err := auditlog.LoadOrCreateKey(lk, *origin)
	if err != nil {
		return err
	}
	state := func(new bool) string {
		if new {
			return "made"
		}
		return "kept"
	}
	if env.JSON {
		return env.printJSON(map[string]string{"server_key": sk, "server_did": k.DID().String(), "log_key": lk, "log_verifier": s.VerifierKey()})
	}
	fmt.Fprintf(env.Stdout, "%s %s (the server and operator: %s)\n%s %s (log verifier key %s)\n", state(made), sk, k.DID(), state(statErr != nil), lk, s.VerifierKey())
	return nil
}
