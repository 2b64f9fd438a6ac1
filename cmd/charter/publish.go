package main

import (
	"context"
	"flag"
	"fmt"
	"math/big"
	"os"
	"strings"
	"time"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/license"
)

func init() {
	register("publish", "put + register (+ license) in one step: publish PATH [--owner DID=W]... [--contributor DID=PCT]... [--parent ID[=PCT]]... [--license T]", publishCmd{})
}

type publishCmd struct{}

// multiFlag collects a repeated flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// publishResult is the --json output of publish.
type publishResult struct {
	Asset    string              `json:"asset"`
	Content  string              `json:"content"`
	Kind     string              `json:"kind"`
	Claim    string              `json:"claim"`
	Priority string              `json:"priority"`
	License  string              `json:"license,omitempty"`
	LogIndex uint64              `json:"log_index"`
	Receipt  string              `json:"receipt_file,omitempty"`
	Answer   *api.RegisterAnswer `json:"answer"`
}

// parsePercent turns "20", "12.5" or "33.3333" into parts per million,
// exactly: no floating point.
func parsePercent(s string) (asset.Share, error) {
	s = strings.TrimSuffix(strings.TrimSpace(s), "%")
	r, ok := new(big.Rat).SetString(s)
	if !ok || r.Sign() < 0 {
		return 0, fmt.Errorf("%q is not a percentage", s)
	}
	r.Mul(r, big.NewRat(int64(asset.Whole), 100))
	if !r.IsInt() {
		return 0, fmt.Errorf("%q is finer than one part per million (at most 4 decimals)", s+"%")
	}
	if r.Cmp(big.NewRat(int64(asset.Whole), 1)) > 0 {
		return 0, fmt.Errorf("%q is over 100%%", s+"%")
	}
	return asset.Share(r.Num().Int64()), nil
}

func splitPair(flagName, v string) (string, string, error) {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" || val == "" {
		return "", "", fmt.Errorf("--%s %q: want KEY=VALUE", flagName, v)
	}
	return k, val, nil
}

func (publishCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("publish", flag.ContinueOnError)
	env.globalFlags(fs)
	var owners, contributors, parents, cosign multiFlag
	fs.Var(&owners, "owner", "owner DID=WEIGHT (repeat; default: your key, weight 1)")
	fs.Var(&contributors, "contributor", "contributor DID=PERCENT of revenue (repeat; default: you, 100)")
	fs.Var(&parents, "parent", "parent asset ID[=ROYALTY-PERCENT] (repeat): what this was derived from or trained on; the royalty defaults to what the parent's terms ask, and an owner's derivative grant on it is cited")
	var grants multiFlag
	fs.Var(&grants, "grant", "grant ID to cite as the right to derive (repeat; default: the newest valid derivative grant an owner holds on each parent)")
	fs.Var(&cosign, "cosign", "another owner's key FILE to sign with (repeat)")
	threshold := fs.Int64("threshold", 0, "owner weight needed to change the asset (default: total weight)")
	absolute := fs.Bool("absolute", false, "parents' royalties stack absolutely (share of the gross) instead of relatively (default: as the parent's terms ask)")
	name := fs.String("name", "", "asset name (default: the file or folder name)")
	desc := fs.String("description", "", "description")
	media := fs.String("media-type", "", "media type (default: a file's own, from its name, else application/octet-stream; a folder: the dataset type)")
	lic := fs.String("license", "", "licence terms: a template name (charter license templates) or a terms FILE")
	receiptOut := fs.String("receipt", "", "write the registration receipt bundle to FILE")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("publish takes one PATH\nhint: charter publish ./dataset --license research-only")
	}
	signers, err := loadSigners(env, cosign)
	if err != nil {
		return err
	}
	key := signers[0]
	logKey, err := serverLogKey(ctx, env)
	if err != nil {
		return err
	}
	put, err := putPath(ctx, env, pos[0])
	if err != nil {
		return err
	}
	cid, err := content.ParseID(put.ID)
	if err != nil {
		return err
	}
	m := &asset.Manifest{Content: cid, Name: *name, Description: *desc, MediaType: *media, Created: asset.NewTime(time.Now())}
	if m.Name == "" {
		m.Name = baseName(pos[0])
	}
	if m.MediaType == "" {
		m.MediaType = fileMediaType(pos[0])
		if put.Kind == "dataset" {
			m.MediaType = content.DatasetMediaType
		}
	}
	owns, total, err := parseOwners("owner", owners)
	if err != nil {
		return err
	}
	m.Owners = owns
	if len(owners) == 0 {
		m.Owners = []asset.Owner{{DID: key.DID(), Weight: 1}}
		total = 1
	}
	m.Threshold = *threshold
	if m.Threshold == 0 {
		m.Threshold = total
	}
	if m.Contributors, err = parseContributors("contributor", contributors); err != nil {
		return err
	}
	if len(contributors) == 0 {
		m.Contributors = []asset.Contributor{{DID: key.DID(), Share: asset.Whole}}
	}
	var childTerms *license.Terms
	var childRaw []byte
	if *lic != "" {
		if childTerms, err = loadTerms(*lic); err != nil {
			return err
		}
		if childRaw, err = childTerms.Encode(); err != nil {
			return err
		}
		ref, err := storeTerms(ctx, env, *lic)
		if err != nil {
			return err
		}
		m.License = ref
	}
	c, err := env.Client()
	if err != nil {
		return err
	}
	cited := map[asset.ID]asset.ID{} // parent -> grant named by --grant
	for _, g := range grants {
		gid, err := asset.ParseID(g)
		if err != nil {
			return fmt.Errorf("--grant %s: %w", g, err)
		}
		rec, err := c.Grant(ctx, g)
		if err != nil {
			return fmt.Errorf("--grant %s: %w", g, err)
		}
		pa, err := asset.ParseID(rec.Asset)
		if err != nil {
			return err
		}
		cited[pa] = gid
	}
	rights := map[asset.ID]*heldRight{}
	for _, p := range parents {
		k, v, hasPct := strings.Cut(p, "=")
		a, err := asset.ParseID(k)
		if err != nil {
			return fmt.Errorf("--parent %s: %w", p, err)
		}
		r, err := findRight(ctx, c, a, m.Owners, license.AllowsCommercial(childTerms), cited[a])
		if err != nil {
			return fmt.Errorf("--parent %s: %w", k, err)
		}
		par := asset.Parent{Asset: a, Stacking: asset.Relative}
		if r != nil {
			rights[a] = r
			par.Grant = r.grant.ID
			if d := r.terms.Derivatives; d.Royalty > 0 {
				par.Royalty, par.Stacking = asset.Share(d.Royalty), asset.Stacking(d.Stacking)
			}
		}
		if hasPct {
			if par.Royalty, err = parsePercent(v); err != nil {
				return fmt.Errorf("--parent %s: %w", k, err)
			}
		}
		if *absolute {
			par.Stacking = asset.Absolute
		}
		m.Parents = append(m.Parents, par)
	}
	envl, err := m.Sign(signers...)
	if err != nil {
		return err
	}
	ans, err := c.Register(ctx, envl)
	if err != nil {
		return err
	}
	res := publishResult{Asset: ans.Asset, Content: put.ID, Kind: put.Kind, Claim: ans.Claim, Priority: ans.Priority, License: m.License, Answer: ans}
	if ans.Receipt != nil {
		res.LogIndex = ans.Receipt.Index
		if _, err := verifyBundle(ans.Receipt, logKey); err != nil {
			return fmt.Errorf("the server's receipt does not verify: %w", err)
		}
	}
	if *receiptOut != "" {
		var doc any = ans.Receipt
		if len(m.Parents) > 0 {
			// A derived asset's receipt carries the evidence of its right
			// to derive, so that verify can re-check it offline.
			if doc, err = registrationDocument(ctx, c, ans.Receipt, rights, m, childRaw); err != nil {
				return err
			}
		}
		if err := writeJSONFile(*receiptOut, doc); err != nil {
			return err
		}
		res.Receipt = *receiptOut
	}
	if env.JSON {
		return env.printJSON(res)
	}
	fmt.Fprintf(env.Stdout, "asset   %s\ncontent %s (%s)\nclaim   %s\nlogged  entry %d, receipt verified\n", res.Asset, res.Content, res.Kind, res.Claim, res.LogIndex)
	for _, p := range m.Parents {
		fmt.Fprintf(env.Stdout, "parent  %s: royalty %s %s, under grant %s\n", p.Asset, p.Royalty, p.Stacking, p.Grant)
	}
	if res.Claim == "conflict" {
		fmt.Fprintf(env.Stdout, "warning: this content was registered first by others as %s; your registration is recorded as a conflicting claim\n", res.Priority)
	}
	return nil
}

func baseName(p string) string {
	p = strings.TrimRight(p, "/")
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		p = p[i+1:]
	}
	if p == "" || p == "." {
		return "untitled"
	}
	return p
}

func writeJSONFile(path string, v any) error {
	b, err := jsonIndent(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
