package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/metering"
)

func init() {
	register("fund", "operator deposit into a licensee's prepaid account: fund DID AMOUNT CURRENCY [--credit-limit AMOUNT] (signed with the server's key)", fundCmd{})
}

type fundCmd struct{}

func clientEarningsQuery(did, from, to, period string) client.EarningsQuery {
	return client.EarningsQuery{DID: did, From: from, To: to, Period: period}
}

func (fundCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("fund", flag.ContinueOnError)
	env.globalFlags(fs)
	credit := fs.String("credit-limit", "", "open the account with this credit line (fixed once the account is open)")
	from := fs.String("from", "bank", "external `ACCOUNT` the money comes from")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 3 {
		return fmt.Errorf("fund takes DID AMOUNT CURRENCY\nhint: charter fund did:key:z6Mk... 50 USD-4 --key DATA/keys/server.key")
	}
	did, err := identity.ParseDID(pos[0])
	if err != nil {
		return err
	}
	key, err := loadKey(env)
	if err != nil {
		return err
	}
	// "USD" is the licensee's prepaid currency of that code ("USD-4").
	cur, err := ledgerCurrency(ctx, env, key, did.String(), "licensee", pos[2])
	if err != nil {
		return err
	}
	amount, err := metering.ParseAmount(pos[1], cur)
	if err != nil {
		return err
	}
	var limit int64
	if *credit != "" {
		if limit, err = metering.ParseAmount(*credit, cur); err != nil {
			return err
		}
	}
	f := &metering.Fund{Amount: amount, Created: asset.NewTime(time.Now()), CreditLimit: limit, Currency: cur, From: *from, Licensee: did, Nonce: grant.NewNonce()}
	envl, err := f.Sign(key)
	if err != nil {
		return err
	}
	c, err := env.Client()
	if err != nil {
		return err
	}
	a, err := c.Fund(ctx, envl)
	if err != nil {
		return err
	}
	if env.JSON {
		return env.printJSON(a)
	}
	fmt.Fprintf(env.Stdout, "%s: balance %s", a.Account, money(a.Balance, a.Currency))
	if a.CreditLimit > 0 {
		fmt.Fprintf(env.Stdout, ", credit line %s", money(a.CreditLimit, a.Currency))
	}
	fmt.Fprintln(env.Stdout)
	return nil
}
