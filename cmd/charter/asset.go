package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/client"
)

func init() {
	register("asset", "registered assets: show, lineage, list", subcommands{
		"show":    assetShowCmd{},
		"lineage": assetLineageCmd{},
		"list":    assetListCmd{},
		"ls":      assetListCmd{},
	})
}

type assetShowCmd struct{}

func oneAssetArg(env *Env, name string, args []string) (asset.ID, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	env.globalFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return asset.ID{}, err
	}
	if len(pos) != 1 {
		return asset.ID{}, fmt.Errorf("%s takes one asset ID", name)
	}
	return asset.ParseID(pos[0])
}

func (assetShowCmd) Run(ctx context.Context, env *Env, args []string) error {
	id, err := oneAssetArg(env, "asset show", args)
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
	if env.JSON {
		return env.printJSON(v)
	}
	st := v.State
	m := st.Manifest
	w := env.Stdout
	fmt.Fprintf(w, "asset       %s\nname        %s\n", st.Asset, m.Name)
	if m.Description != "" {
		fmt.Fprintf(w, "description %s\n", m.Description)
	}
	fmt.Fprintf(w, "content     %s (%s)\ncreated     %s\nversion     %d\nclaim       %s", m.Content, m.MediaType, m.Created.Time().Format("2006-01-02 15:04:05Z"), st.Version, v.Claim)
	if v.Claim != "priority" {
		fmt.Fprintf(w, " (priority claim: %s)", v.Priority)
	}
	fmt.Fprintln(w)
	if st.Delisted {
		fmt.Fprintln(w, "state       DELISTED")
	}
	fmt.Fprintf(w, "threshold   %d\n", st.Threshold)
	for _, o := range st.Owners {
		fmt.Fprintf(w, "owner       %s weight %d\n", o.DID, o.Weight)
	}
	for _, ct := range st.Contributors {
		fmt.Fprintf(w, "contributor %s %s\n", ct.DID, ct.Share)
	}
	for _, p := range m.Parents {
		fmt.Fprintf(w, "parent      %s royalty %s (%s)\n", p.Asset, p.Royalty, p.Stacking)
	}
	for _, ch := range v.Children {
		fmt.Fprintf(w, "child       %s\n", ch)
	}
	if st.License != "" {
		fmt.Fprintf(w, "license     %s\n", st.License)
	}
	for _, cf := range v.Conflicts {
		fmt.Fprintf(w, "same content also registered as %s\n", cf)
	}
	for _, p := range v.Proposals {
		fmt.Fprintf(w, "proposal    %s %s (approved by %s)\n", p.ID, p.Status, strings.Join(p.Approvers, ", "))
	}
	fmt.Fprintln(w, "trail:")
	for _, t := range v.Trail {
		fmt.Fprintf(w, "  #%d %s: %s\n", t.LogIndex, t.Type, t.Summary)
	}
	return nil
}

type assetLineageCmd struct{}

func (assetLineageCmd) Run(ctx context.Context, env *Env, args []string) error {
	id, err := oneAssetArg(env, "asset lineage", args)
	if err != nil {
		return err
	}
	c, err := env.Client()
	if err != nil {
		return err
	}
	l, err := c.Lineage(ctx, id)
	if err != nil {
		return err
	}
	if env.JSON {
		return env.printJSON(lineageJSON(l))
	}
	fmt.Fprintf(env.Stdout, "lineage of %s\n", id)
	if len(l.Up) == 0 {
		fmt.Fprintln(env.Stdout, "up: no parents")
	}
	for _, n := range l.Up {
		fmt.Fprintf(env.Stdout, "%sup %d: %s %q (royalty %s, %s) parent of %s\n", strings.Repeat("  ", -n.Depth-1), -n.Depth, n.Asset, n.Name, n.Royalty, n.Stacking, n.Child)
	}
	if len(l.Down) == 0 {
		fmt.Fprintln(env.Stdout, "down: no descendants")
	}
	for _, n := range l.Down {
		fmt.Fprintf(env.Stdout, "%sdown %d: %s %q (pays %s to %s)\n", strings.Repeat("  ", n.Depth-1), n.Depth, n.Asset, n.Name, n.Royalty, n.Parent)
	}
	return nil
}

type assetListCmd struct{}

func (assetListCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("asset list", flag.ContinueOnError)
	env.globalFlags(fs)
	var q client.AssetQuery
	fs.StringVar(&q.Owner, "owner", "", "only the assets this `DID` owns (now)")
	fs.StringVar(&q.MediaType, "media", "", "only the assets of this media type")
	fs.StringVar(&q.Content, "content", "", "only the assets registered on this content id")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	c, err := env.Client()
	if err != nil {
		return err
	}
	all, err := c.AssetsWhere(ctx, q)
	if err != nil {
		return err
	}
	if env.JSON {
		return env.printJSON(map[string]any{"assets": all})
	}
	for _, a := range all {
		fmt.Fprintf(env.Stdout, "%s  %-24s %s\n", a.State.Asset, a.State.Manifest.Name, a.Claim)
	}
	return nil
}

// lineageNode is one edge of `asset lineage --json`. Royalty is in parts
// per million (1000000 is 100%), as shares and royalties are in every
// signed statement and every other command's JSON.
type lineageNode struct {
	Asset    string      `json:"asset"`
	Name     string      `json:"name"`
	Depth    int         `json:"depth"`
	Parent   string      `json:"parent,omitempty"`
	Child    string      `json:"child,omitempty"`
	Royalty  asset.Share `json:"royalty"`
	Stacking string      `json:"stacking,omitempty"`
}

type lineageOut struct {
	Asset string        `json:"asset"`
	Up    []lineageNode `json:"up"`
	Down  []lineageNode `json:"down"`
}

func lineageJSON(l *api.Lineage) lineageOut {
	conv := func(ns []api.LineageNode) []lineageNode {
		out := []lineageNode{}
		for _, n := range ns {
			r, _ := parsePercent(n.Royalty) // the server writes asset.Share.String
			out = append(out, lineageNode{Asset: n.Asset, Name: n.Name, Depth: n.Depth, Parent: n.Parent, Child: n.Child, Royalty: r, Stacking: n.Stacking})
		}
		return out
	}
	return lineageOut{Asset: l.Asset, Up: conv(l.Up), Down: conv(l.Down)}
}
