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
	register("dispute", "disputes hold an asset's revenue: open, resolve, list", subcommands{
		"open":    disputeOpenCmd{},
		"list":    disputeListCmd{},
		"resolve": disputeResolveCmd{},
	})
}

type disputeOpenCmd struct{}

func (disputeOpenCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("dispute open", flag.ContinueOnError)
	env.globalFlags(fs)
	reason := fs.String("reason", "", "why (logged)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *reason == "" {
		return fmt.Errorf("dispute open takes one asset ID and --reason\nhint: charter dispute open ASSET --reason 'contributor missing'")
	}
	aid, err := asset.ParseID(pos[0])
	if err != nil {
		return err
	}
	key, err := loadKey(env)
	if err != nil {
		return err
	}
	d := &metering.Dispute{Asset: aid, Created: asset.NewTime(time.Now()), Nonce: grant.NewNonce(), Opener: key.DID(), Reason: *reason}
	envl, err := d.Sign(key)
	if err != nil {
		return err
	}
	c, err := env.Client()
	if err != nil {
		return err
	}
	a, err := c.OpenDispute(ctx, envl)
	if err != nil {
		return err
	}
	if env.JSON {
		return env.printJSON(a)
	}
	fmt.Fprintf(env.Stdout, "dispute %s open on asset %s (log entry %d); its revenue is held until the owners resolve it\n", a.Dispute, a.Asset, a.LogIndex)
	return nil
}

type disputeResolveCmd struct{}

func (disputeResolveCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("dispute resolve", flag.ContinueOnError)
	env.globalFlags(fs)
	release := fs.Bool("release", false, "pay the held revenue to the contributors")
	void := fs.Bool("void", false, "void the held splits; the money stays with the asset")
	var cosign multiFlag
	fs.Var(&cosign, "cosign", "another owner's key FILE (repeat) to reach the threshold")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *release == *void {
		return fmt.Errorf("dispute resolve takes one dispute ID and one of --release or --void")
	}
	did, err := asset.ParseID(pos[0])
	if err != nil {
		return err
	}
	c, err := env.Client()
	if err != nil {
		return err
	}
	keys, err := loadSigners(env, cosign)
	if err != nil {
		return err
	}
	ds, err := c.Disputes(ctx, "")
	if err != nil {
		return err
	}
	var aid asset.ID
	for _, d := range ds {
		if d.ID == did.String() {
			aid, _ = asset.ParseID(d.Asset)
		}
	}
	if aid.IsZero() {
		return fmt.Errorf("no dispute %s on this server", did)
	}
	outcome := metering.Release
	if *void {
		outcome = metering.Void
	}
	r := &metering.Resolution{Asset: aid, Created: asset.NewTime(time.Now()), Dispute: did, Outcome: outcome}
	envl, err := r.Sign(keys...)
	if err != nil {
		return err
	}
	a, err := c.ResolveDispute(ctx, did.String(), envl)
	if err != nil {
		return err
	}
	if env.JSON {
		return env.printJSON(a)
	}
	fmt.Fprintf(env.Stdout, "dispute %s %s (log entry %d): %d held splits released, %d voided\n", a.Dispute, a.Status, a.LogIndex, a.Released, a.Voided)
	return nil
}
