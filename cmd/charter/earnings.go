package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/charter-dev/charter/metering"
)

func init() {
	register("earnings", "earnings statement of a DID (default: yours) by asset, source and period", earningsCmd{})
}

type earningsCmd struct{}

func (earningsCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("earnings", flag.ContinueOnError)
	env.globalFlags(fs)
	from := fs.String("from", "", "start (RFC 3339 or YYYY-MM-DD, inclusive)")
	to := fs.String("to", "", "end (RFC 3339 or YYYY-MM-DD, exclusive)")
	period := fs.String("period", "day", "period of the totals: day or month")
	lines := fs.Bool("lines", false, "list every posting")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return fmt.Errorf("earnings takes at most one DID")
	}
	did := ""
	if len(pos) == 1 {
		did = pos[0]
	} else {
		key, err := loadKey(env)
		if err != nil {
			return err
		}
		did = key.DID().String()
	}
	c, err := env.Client()
	if err != nil {
		return err
	}
	e, err := c.Earnings(ctx, clientEarningsQuery(did, *from, *to, *period))
	if err != nil {
		return err
	}
	if env.JSON {
		return env.printJSON(e)
	}
	if len(e.Currencies) == 0 {
		fmt.Fprintf(env.Stdout, "%s has no earnings\n", did)
		return nil
	}
	for _, ce := range e.Currencies {
		f := func(v int64) string { return metering.FormatAmount(v, ce.Currency) + " " + ce.Currency }
		fmt.Fprintf(env.Stdout, "== %s earnings in %s\n", did, ce.Currency)
		for _, a := range ce.Assets {
			fmt.Fprintf(env.Stdout, "asset %s: %s (own %s, royalties %s)\n", a.Asset, f(a.Total), f(a.Own), f(a.Royalties))
			for _, s := range a.Sources {
				how := "own use"
				if len(s.Path) > 1 {
					how = "royalty via " + strings.Join(s.Path, " > ")
				}
				fmt.Fprintf(env.Stdout, "  %s from %d uses of %s (%s)\n", f(s.Amount), s.Uses, s.Used, how)
			}
		}
		for _, p := range ce.Periods {
			fmt.Fprintf(env.Stdout, "period %s: %s (own %s, royalties %s, payouts %s)\n", p.Period, f(p.Total), f(p.Own), f(p.Royalties), f(p.Payouts))
		}
		if *lines {
			for _, l := range ce.Lines {
				fmt.Fprintf(env.Stdout, "  %s %s %s %s %s\n", l.Time, l.Kind, f(l.Amount), l.Transfer, strings.Join(l.Path, " > "))
			}
		}
		fmt.Fprintf(env.Stdout, "total %s: own %s, royalties %s, payouts %s, held %s, balance %s\n", f(ce.Total), f(ce.Own), f(ce.Royalties), f(ce.Payouts), f(ce.Held), f(ce.Balance))
	}
	return nil
}
