package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/client"
)

// The list commands besides `asset list` and `grant list`: each follows
// the server's pages to the end (client.Disputes, client.Proposals).

func init() {
	register("proposals", "list governance proposals: proposals [--asset ID] [--status pending|applied]", proposalListCmd{})
}

type disputeListCmd struct{}

func (disputeListCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("dispute list", flag.ContinueOnError)
	env.globalFlags(fs)
	var q client.DisputeQuery
	fs.StringVar(&q.Asset, "asset", "", "only the disputes on this asset")
	fs.StringVar(&q.Status, "status", "", "only the disputes in this state: open, released or voided")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	c, err := env.Client()
	if err != nil {
		return err
	}
	ds, err := c.DisputesWhere(ctx, q)
	if err != nil {
		return err
	}
	if env.JSON {
		return env.printJSON(map[string]any{"disputes": ds})
	}
	for _, d := range ds {
		fmt.Fprintf(env.Stdout, "%s  asset %s  %-8s opened by %s: %s\n", d.ID, d.Asset, d.Status, d.Opener, oneLine(d.Reason))
	}
	if len(ds) == 0 {
		fmt.Fprintln(env.Stdout, "no disputes")
	}
	return nil
}

type proposalListCmd struct{}

func (proposalListCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("proposals", flag.ContinueOnError)
	env.globalFlags(fs)
	a := fs.String("asset", "", "only the proposals on this asset")
	status := fs.String("status", "", "only the proposals in this state: pending or applied")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	c, err := env.Client()
	if err != nil {
		return err
	}
	ps, err := c.Proposals(ctx, *a, *status)
	if err != nil {
		return err
	}
	if env.JSON {
		return env.printJSON(map[string]any{"proposals": ps})
	}
	for _, p := range ps {
		fmt.Fprintf(env.Stdout, "%s  asset %s  %-7s approved by %s\n", p.ID, p.Asset, p.Status, approvers(p))
	}
	if len(ps) == 0 {
		fmt.Fprintln(env.Stdout, "no proposals")
	}
	return nil
}

func approvers(p *api.ProposalRecord) string {
	if len(p.Approvers) == 0 {
		return "nobody yet"
	}
	return strings.Join(p.Approvers, ", ")
}

// oneLine keeps a stranger's text to one line of the terminal.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
