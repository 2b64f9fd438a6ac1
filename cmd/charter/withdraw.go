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
	register("withdraw", "payout request: withdraw AMOUNT CURRENCY [--to ACCOUNT], a transfer of your earnings to an external account", withdrawCmd{})
}

type withdrawCmd struct{}

func (withdrawCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("withdraw", flag.ContinueOnError)
	env.globalFlags(fs)
	to := fs.String("to", "bank", "external `ACCOUNT` the payout goes to")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return fmt.Errorf("withdraw takes AMOUNT CURRENCY\nhint: charter withdraw 0.5 USD (your earnings' currency, as `charter earnings` prints it)")
	}
	key, err := loadKey(env)
	if err != nil {
		return err
	}
	// "USD" is the currency of that code your earnings are in ("USD-4").
	cur, err := ledgerCurrency(ctx, env, key, key.DID().String(), "contributor", pos[1])
	if err != nil {
		return err
	}
	amount, err := metering.ParseAmount(pos[0], cur)
	if err != nil {
		return err
	}
	w := &metering.Withdrawal{Amount: amount, Contributor: key.DID(), Created: asset.NewTime(time.Now()), Currency: cur, Nonce: grant.NewNonce(), To: *to}
	envl, err := w.Sign(key)
	if err != nil {
		return err
	}
	c, err := env.Client()
	if err != nil {
		return err
	}
	a, err := c.Withdraw(ctx, envl)
	if err != nil {
		return err
	}
	if env.JSON {
		return env.printJSON(a)
	}
	fmt.Fprintf(env.Stdout, "paid out %s to %s; balance %s\n", money(amount, cur), *to, money(a.Balance, a.Currency))
	return nil
}
