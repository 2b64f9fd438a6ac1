package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/charter-dev/charter/identity"
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
	console := fs.Bool("console", false, "print a link that opens the web console's owner view of your earnings for 15 minutes, then exit")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return fmt.Errorf("earnings takes at most one DID")
	}
	// Earnings are visible to their DID and the operator only: the
	// request is signed with --key.
	key, err := loadKey(env)
	if err != nil {
		return fmt.Errorf("%w\nhint: earnings are shown only to their DID's key and the operator's", err)
	}
	did := key.DID().String()
	if len(pos) == 1 {
		if _, err := identity.ParseDID(pos[0]); err != nil {
			return err
		}
		did = pos[0]
	}
	c, err := env.Client()
	if err != nil {
		return err
	}
	if *console {
		return consoleLink(env, c.Server(), did, key)
	}
	e, err := c.WithKey(key).Earnings(ctx, clientEarningsQuery(did, *from, *to, *period))
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
		f := func(v int64) string { return money(v, ce.Currency) }
		fmt.Fprintf(env.Stdout, "== %s earnings in %s\n", did, currencyCode(ce.Currency))
		for _, a := range ce.Assets {
			fmt.Fprintf(env.Stdout, "asset %s: %s (own %s, royalties %s)\n", a.Asset, f(a.Total), f(a.Own), f(a.Royalties))
			for _, s := range a.Sources {
				how := "own use"
				if len(s.Path) > 1 {
					how = "royalty via " + strings.Join(s.Path, " > ")
				}
				fmt.Fprintf(env.Stdout, "  %s from %s of %s (%s)\n", f(s.Amount), plural(int64(s.Uses), "use"), s.Used, how)
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

// consoleViewLifetime is how long a console link made by `earnings
// --console` lets a browser read the DID's money.
const consoleViewLifetime = 15 * time.Minute

// consoleLink prints the address of the console's owner view of did with a
// view token signed by key. The token rides in the URL fragment, which
// browsers do not send to servers or proxies; the page sends it in the
// Charter-View header of its money reads. Whoever holds the link can read
// the DID's money until it expires.
func consoleLink(env *Env, server, did string, key *identity.Key) error {
	d, err := identity.ParseDID(did)
	if err != nil {
		return fmt.Errorf("%q is not a DID: %w", did, err)
	}
	now := time.Now()
	v := metering.NewView(d, now, consoleViewLifetime)
	tok, err := v.Token(key)
	if err != nil {
		return err
	}
	link := strings.TrimSuffix(server, "/") + "/#/owner?did=" + d.String() + "&view=" + tok // a did:key needs no escaping
	if env.JSON {
		return env.printJSON(struct {
			URL     string `json:"url"`
			Expires string `json:"expires"`
		}{link, v.Expires.Time().UTC().Format(time.RFC3339)})
	}
	fmt.Fprintf(env.Stdout, "%s\n", link)
	fmt.Fprintf(env.Stderr, "open this link in your browser; it shows the earnings of %s until %s (keep it private: whoever has it can read them until then)\n", did, v.Expires.Time().Local().Format(time.Kitchen))
	return nil
}
