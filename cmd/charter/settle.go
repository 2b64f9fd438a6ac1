package main

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strings"
)

func init() {
	register("settle", "charge receipts and usage, split revenue up the lineage, log the ledger root", settleCmd{})
}

type settleCmd struct{}

func (settleCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("settle", flag.ContinueOnError)
	env.globalFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("settle takes no arguments")
	}
	// Settling on demand is the operator's: the answer lists every
	// licensee's failed charges. The server settles on its own anyway.
	key, err := loadKey(env)
	if err != nil {
		return fmt.Errorf("%w\nhint: settle on demand is the operator's: pass --key DATA/keys/server.key", err)
	}
	c, err := env.Client()
	if err != nil {
		return err
	}
	s, err := c.WithKey(key).Settle(ctx)
	if err != nil {
		return err
	}
	if env.JSON {
		return env.printJSON(s)
	}
	if s.LogIndex == 0 && len(s.Failed) == 0 {
		fmt.Fprintln(env.Stdout, "nothing to settle")
		return nil
	}
	var gross []string
	for cur, v := range s.Gross {
		gross = append(gross, money(v, cur))
	}
	slices.Sort(gross)
	if len(gross) == 0 {
		gross = []string{"0"}
	}
	fmt.Fprintf(env.Stdout, "settled %s: %s (%s), %s\n", plural(int64(s.Uses), "use"), plural(int64(s.Charged+s.Existed), "charge"), strings.Join(gross, ", "), plural(int64(s.Postings), "split posting"))
	if s.Released+s.Voided > 0 {
		fmt.Fprintf(env.Stdout, "held splits released %d, voided %d\n", s.Released, s.Voided)
	}
	if s.LogIndex != 0 {
		fmt.Fprintf(env.Stdout, "ledger journal root %s (%s) logged as settlement entry %d\n", s.JournalRoot, plural(int64(s.JournalSize), "entry|entries"), s.LogIndex)
	}
	for _, f := range s.Failed {
		fmt.Fprintf(env.Stdout, "not charged: %s: %s\n", f.Use, f.Error)
	}
	if len(s.Failed) > 0 {
		fmt.Fprintln(env.Stdout, "hint: uses that could not be charged stay unsettled; fund the licensees (charter fund) and settle again")
	}
	return nil
}
