package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/charter-dev/charter/asset"
)

func init() {
	register("propose", "propose a governed change to an asset: propose ID --set-owners DID=W... --threshold N | --set-contributors DID=PCT... | --set-license T | --delist | --relist", proposeCmd{})
	register("approve", "approve a proposal with your key: approve PROPOSAL-ID", approveCmd{})
}

type proposeCmd struct{}

type proposalResult struct {
	Asset    string `json:"asset"`
	Proposal string `json:"proposal"`
	Status   string `json:"status"`
	Version  uint64 `json:"version"`
	LogIndex uint64 `json:"log_index"`
}

func (proposeCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("propose", flag.ContinueOnError)
	env.globalFlags(fs)
	var owners, contributors multiFlag
	fs.Var(&owners, "set-owners", "new owner DID=WEIGHT (repeat)")
	threshold := fs.Int64("threshold", 0, "new threshold (with --set-owners; default: total weight)")
	fs.Var(&contributors, "set-contributors", "new contributor DID=PERCENT (repeat)")
	lic := fs.String("set-license", "", "new licence terms: template name or FILE")
	delist := fs.Bool("delist", false, "delist the asset")
	relist := fs.Bool("relist", false, "relist the asset")
	expires := fs.Duration("expires", 72*time.Hour, "how long owners have to approve")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("propose takes one asset ID")
	}
	id, err := asset.ParseID(pos[0])
	if err != nil {
		return err
	}
	key, err := loadKey(env)
	if err != nil {
		return err
	}
	c, err := env.Client()
	if err != nil {
		return err
	}
	v, err := c.Asset(ctx, id)
	if err != nil {
		return err
	}
	var ch asset.Change
	n := 0
	if len(owners) > 0 {
		n++
		ch.Kind = asset.SetOwners
		var total int64
		if ch.Owners, total, err = parseOwners("set-owners", owners); err != nil {
			return err
		}
		ch.Threshold = *threshold
		if ch.Threshold == 0 {
			ch.Threshold = total
		}
	}
	if len(contributors) > 0 {
		n++
		ch.Kind = asset.SetContributors
		if ch.Contributors, err = parseContributors("set-contributors", contributors); err != nil {
			return err
		}
	}
	if *lic != "" {
		n++
		ref, err := storeTerms(ctx, env, *lic)
		if err != nil {
			return err
		}
		ch.Kind, ch.License = asset.SetLicense, &ref
	}
	if *delist {
		n++
		ch.Kind = asset.Delist
	}
	if *relist {
		n++
		ch.Kind = asset.Relist
	}
	if n != 1 {
		return fmt.Errorf("a proposal makes exactly one change\nhint: pass one of --set-owners, --set-contributors, --set-license, --delist, --relist")
	}
	p := &asset.Proposal{Asset: id, Change: ch, Expires: asset.NewTime(time.Now().Add(*expires)), Nonce: asset.NewNonce(), Proposer: key.DID(), Version: v.State.Version}
	envl, err := p.Sign(key)
	if err != nil {
		return err
	}
	ans, err := c.Propose(ctx, envl)
	if err != nil {
		return err
	}
	res := proposalResult{Asset: ans.Asset, Proposal: ans.Proposal, Status: ans.Status, Version: ans.Version}
	if ans.Receipt != nil {
		res.LogIndex = ans.Receipt.Index
	}
	if env.JSON {
		return env.printJSON(res)
	}
	fmt.Fprintf(env.Stdout, "proposal %s: %s (asset %s, version %d, log entry %d)\n", res.Proposal, res.Status, res.Asset, res.Version, res.LogIndex)
	if res.Status == "pending" {
		fmt.Fprintf(env.Stdout, "other owners approve it with: charter approve %s\n", res.Proposal)
	}
	return nil
}

type approveCmd struct{}

func (approveCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("approve", flag.ContinueOnError)
	env.globalFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("approve takes one proposal ID")
	}
	pid, err := asset.ParseID(pos[0])
	if err != nil {
		return err
	}
	key, err := loadKey(env)
	if err != nil {
		return err
	}
	c, err := env.Client()
	if err != nil {
		return err
	}
	p, _, err := c.Proposal(ctx, pid)
	if err != nil {
		return err
	}
	a, err := asset.NewApproval(p, key.DID())
	if err != nil {
		return err
	}
	envl, err := a.Sign(key)
	if err != nil {
		return err
	}
	ans, err := c.Approve(ctx, envl)
	if err != nil {
		return err
	}
	res := proposalResult{Asset: ans.Asset, Proposal: ans.Proposal, Status: ans.Status, Version: ans.Version}
	if ans.Receipt != nil {
		res.LogIndex = ans.Receipt.Index
	}
	if env.JSON {
		return env.printJSON(res)
	}
	fmt.Fprintf(env.Stdout, "approved %s (%s): %s; asset %s now at version %d\n", pid, p.Change.Kind, res.Status, res.Asset, res.Version)
	return nil
}
