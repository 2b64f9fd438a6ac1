package main

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"net/url"
	"strings"

	"github.com/charter-dev/charter/auditlog"
	tclient "github.com/transparency-dev/tessera/client"
)

type logAuditCmd struct{}

// Run audits the log the server serves under /log/, as any C2SP tlog-tiles
// client would: it fetches the checkpoint, checks it extends the last one
// this user saw, then reads every tile and entry bundle over HTTP and
// recomputes the tree, trusting nothing the server says but the pinned key.
func (logAuditCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("log audit", flag.ContinueOnError)
	env.globalFlags(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	c, _, cp, err := latestCheckpoint(ctx, env)
	if err != nil {
		return err
	}
	root, err := url.Parse(strings.TrimSuffix(c.Server(), "/") + "/log/")
	if err != nil {
		return err
	}
	f, err := tclient.NewHTTPFetcher(root, nil)
	if err != nil {
		return err
	}
	if err := auditlog.Audit(ctx, f, cp); err != nil {
		return err
	}
	types := map[string]int{}
	for rec, err := range auditlog.ReadEntries(ctx, f, cp, 0) {
		if err != nil {
			return err
		}
		types[rec.Entry.Type]++
	}
	if env.JSON {
		return env.printJSON(map[string]any{"origin": cp.Origin, "size": cp.Size, "root": hex.EncodeToString(cp.Hash[:]), "entries": types})
	}
	fmt.Fprintf(env.Stdout, "audited %s: %s, every tile and entry bundle recomputed to root %s\n", cp.Origin, plural(int64(cp.Size), "entry|entries"), hex.EncodeToString(cp.Hash[:]))
	for t, n := range types {
		fmt.Fprintf(env.Stdout, "  %-16s %d\n", t, n)
	}
	return nil
}
