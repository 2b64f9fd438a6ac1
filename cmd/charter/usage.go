package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/metering"
)

func init() {
	register("usage", "signed usage under a grant: report", subcommands{
		"report": usageReportCmd{},
	})
}

type usageReportCmd struct{}

func (usageReportCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("usage report", flag.ContinueOnError)
	env.globalFlags(fs)
	tokens := fs.Int64("tokens", 0, "tokens processed")
	calls := fs.Int64("calls", 0, "calls (requests) made")
	runs := fs.Int64("runs", 0, "training runs")
	id := fs.String("id", "", "event id, the idempotency key (default: random); sending the same id again records nothing twice")
	at := fs.String("time", "", "when the usage happened, RFC 3339 (default: now)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("usage report takes one grant ID\nhint: charter usage report GRANT --tokens 12000")
	}
	gid, err := asset.ParseID(pos[0])
	if err != nil {
		return err
	}
	key, err := loadKey(env)
	if err != nil {
		return err
	}
	when := time.Now()
	if *at != "" {
		if when, err = time.Parse(time.RFC3339, *at); err != nil {
			return fmt.Errorf("--time %q: %w\nhint: use RFC 3339, e.g. 2026-11-26T09:00:00Z", *at, err)
		}
	}
	if *id == "" {
		*id = grant.NewNonce()
	}
	u := &metering.Usage{Calls: *calls, Grant: gid, ID: *id, Licensee: key.DID(), Runs: *runs, Time: asset.NewTime(when), Tokens: *tokens}
	envl, err := u.Sign(key)
	if err != nil {
		return fmt.Errorf("%w\nhint: quantities are whole numbers from 0 to %d, at least one positive", err, int64(metering.MaxQuantity))
	}
	c, err := env.Client()
	if err != nil {
		return err
	}
	a, err := c.ReportUsage(ctx, envl)
	if err != nil {
		return err
	}
	if env.JSON {
		return env.printJSON(a)
	}
	if a.Existed {
		fmt.Fprintf(env.Stdout, "usage %s was recorded before (log entry %d); nothing recorded twice\n", a.ID, a.LogIndex)
		return nil
	}
	fmt.Fprintf(env.Stdout, "usage %s recorded under grant %s: %s, %s, %s (log entry %d)\n", a.ID, a.Grant, plural(*tokens, "token"), plural(*calls, "call"), plural(*runs, "run"), a.LogIndex)
	return nil
}
