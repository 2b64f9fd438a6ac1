package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
)

func init() {
	register("grant", "licence grants: request, list, revoke, approve", subcommands{
		"request": grantRequestCmd{},
		"list":    grantListCmd{},
		"revoke":  grantRevokeCmd{},
		"approve": grantApproveCmd{},
	})
}

// grantsDir keeps the grants this user obtained, for `get` to reuse.
func grantsDir(env *Env) string { return filepath.Join(stateDir(env), "grants") }

// saveGrant keeps a granted answer in the user's grants folder.
func saveGrant(env *Env, ans *api.GrantAnswer) (string, error) {
	if ans.Grant == nil {
		return "", nil
	}
	dir := grantsDir(env)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	p := filepath.Join(dir, ans.Grant.ID.String()+".json")
	return p, writeJSONFile(p, ans)
}

// findGrant returns a kept grant of this licensee for asset and purpose
// that is valid now.
func findGrant(env *Env, licensee identity.DID, a asset.ID, purpose string) *api.GrantAnswer {
	ents, err := os.ReadDir(grantsDir(env))
	if err != nil {
		return nil
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(grantsDir(env), e.Name()))
		if err != nil {
			continue
		}
		var ans api.GrantAnswer
		if json.Unmarshal(b, &ans) != nil || ans.Grant == nil {
			continue
		}
		g := ans.Grant
		if g.Licensee == licensee && g.Asset == a && g.Purpose == purpose && g.ValidAt(time.Now().Add(time.Minute)) {
			return &ans
		}
	}
	return nil
}

type grantRequestCmd struct{}

func grantFlags(fs *flag.FlagSet) (purpose *string, opt *client.GrantOptions) {
	opt = &client.GrantOptions{}
	purpose = fs.String("purpose", "", "purpose of use: train, fine-tune, infer, evaluate, embed, synthesize, research")
	fs.BoolVar(&opt.Commercial, "commercial", false, "the use is commercial")
	fs.BoolVar(&opt.Derivative, "derivative", false, "you will publish a derived asset")
	fs.StringVar(&opt.Territory, "territory", "", "ISO 3166-1 alpha-2 country where the use happens")
	fs.StringVar(&opt.Organisation, "org", "", "organisation you act for")
	return purpose, opt
}

func (grantRequestCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("grant request", flag.ContinueOnError)
	env.globalFlags(fs)
	purpose, opt := grantFlags(fs)
	out := fs.String("o", "", "also write the grant (with its decision, terms and receipts) to FILE")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *purpose == "" {
		return fmt.Errorf("grant request takes one asset ID and --purpose\nhint: charter grant request bafkr4i... --purpose research")
	}
	a, err := asset.ParseID(pos[0])
	if err != nil {
		return err
	}
	ans, err := requestGrant(ctx, env, a, *purpose, *opt)
	if err != nil {
		return err
	}
	if *out != "" {
		if err := writeJSONFile(*out, ans); err != nil {
			return err
		}
	}
	if env.JSON {
		return env.printJSON(ans)
	}
	return printGrantAnswer(env, ans)
}

// requestGrant requests a grant and keeps it when granted.
func requestGrant(ctx context.Context, env *Env, a asset.ID, purpose string, opt client.GrantOptions) (*api.GrantAnswer, error) {
	key, err := loadKey(env)
	if err != nil {
		return nil, err
	}
	c, err := env.Client()
	if err != nil {
		return nil, err
	}
	logKey, err := pinnedLogKey(ctx, env, c)
	if err != nil {
		return nil, err
	}
	ans, err := c.RequestGrant(ctx, key, a, purpose, opt)
	if err != nil {
		return nil, err
	}
	if ans.Status == "granted" {
		if _, err := verifyGrantAnswer(ans, logKey); err != nil {
			return nil, fmt.Errorf("the server's grant does not verify: %w", err)
		}
		if _, err := saveGrant(env, ans); err != nil {
			return nil, err
		}
	}
	return ans, nil
}

func printGrantAnswer(env *Env, ans *api.GrantAnswer) error {
	switch ans.Status {
	case "granted":
		g := ans.Grant
		fmt.Fprintf(env.Stdout, "granted %s\nasset   %s\npurpose %s\nvalid   %s to %s\nlogged  decision entry %d, grant entry %d; decision re-checked\n",
			g.ID, g.Asset, g.Purpose, g.NotBefore.Time().Format(time.RFC3339), g.NotAfter.Time().Format(time.RFC3339), g.Decision, ans.GrantReceipt.Index)
	case "pending":
		fmt.Fprintf(env.Stdout, "request %s waits for the owners' approval\nowners approve it with: charter grant approve %s\n", ans.Request, ans.Request)
	case "denied":
		fmt.Fprintf(env.Stdout, "denied by the licence terms:\n")
		for _, r := range ans.Reasons {
			fmt.Fprintf(env.Stdout, "  - %s\n", r)
		}
		if ans.DecisionReceipt != nil {
			fmt.Fprintf(env.Stdout, "the decision is logged as entry %d\n", ans.DecisionReceipt.Index)
		}
		return fmt.Errorf("request denied: %s", strings.Join(ans.Reasons, "; "))
	default:
		fmt.Fprintf(env.Stdout, "request %s: %s\n", ans.Request, ans.Status)
	}
	return nil
}

type grantListCmd struct{}

func (grantListCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("grant list", flag.ContinueOnError)
	env.globalFlags(fs)
	a := fs.String("asset", "", "only grants of this asset")
	who := fs.String("licensee", "", "only grants of this licensee DID (\"me\": your key)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if *who == "me" {
		k, err := loadKey(env)
		if err != nil {
			return err
		}
		*who = k.DID().String()
	}
	c, err := env.Client()
	if err != nil {
		return err
	}
	l, err := c.Grants(ctx, *a, *who)
	if err != nil {
		return err
	}
	if env.JSON {
		return env.printJSON(l)
	}
	for _, g := range l.Grants {
		state := "active"
		if g.Revoked {
			state = "REVOKED"
		}
		fmt.Fprintf(env.Stdout, "grant   %s asset %s licensee %s %s (%s, %s)\n", g.ID, g.Asset, g.Licensee, state, plural(g.Bytes, "byte"), plural(g.Requests, "request"))
	}
	for _, p := range l.Pending {
		fmt.Fprintf(env.Stdout, "pending %s asset %s (%s)\n", p.ID, p.Asset, plural(int64(len(p.Votes)), "vote"))
	}
	if len(l.Grants)+len(l.Pending) == 0 {
		fmt.Fprintln(env.Stdout, "no grants")
	}
	return nil
}

type grantRevokeCmd struct{}

func (grantRevokeCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("grant revoke", flag.ContinueOnError)
	env.globalFlags(fs)
	reason := fs.String("reason", "", "why (logged)")
	var cosign multiFlag
	fs.Var(&cosign, "cosign", "another owner's key FILE (repeat) to reach the threshold")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("grant revoke takes one grant ID")
	}
	gid, err := asset.ParseID(pos[0])
	if err != nil {
		return err
	}
	keys, err := loadSigners(env, cosign)
	if err != nil {
		return err
	}
	c, err := env.Client()
	if err != nil {
		return err
	}
	g, err := c.Grant(ctx, gid.String())
	if err != nil {
		return err
	}
	assetID, err := asset.ParseID(g.Asset)
	if err != nil {
		return err
	}
	rv := &grant.Revocation{Asset: assetID, Created: asset.NewTime(time.Now()), Grant: gid, Reason: *reason}
	envl, err := rv.Sign(keys...)
	if err != nil {
		return err
	}
	out, err := c.Revoke(ctx, envl)
	if err != nil {
		return err
	}
	if env.JSON {
		return env.printJSON(out)
	}
	fmt.Fprintf(env.Stdout, "grant %s revoked; downloads under it stop at once\n", gid)
	return nil
}

type grantApproveCmd struct{}

func (grantApproveCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("grant approve", flag.ContinueOnError)
	env.globalFlags(fs)
	deny := fs.Bool("deny", false, "deny the request instead")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("grant approve takes one request ID")
	}
	rid, err := asset.ParseID(pos[0])
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
	l, err := c.Grants(ctx, "", "")
	if err != nil {
		return err
	}
	var assetID asset.ID
	for _, p := range l.Pending {
		if p.ID == rid.String() {
			assetID, _ = asset.ParseID(p.Asset)
		}
	}
	if assetID.IsZero() {
		return fmt.Errorf("no pending request %s\nhint: `charter grant list` shows pending requests", rid)
	}
	a := &grant.Approval{Approve: !*deny, Approver: key.DID(), Asset: assetID, Request: rid}
	envl, err := a.Sign(key)
	if err != nil {
		return err
	}
	ans, err := c.Vote(ctx, envl)
	if err != nil {
		return err
	}
	if env.JSON {
		return env.printJSON(ans)
	}
	fmt.Fprintf(env.Stdout, "request %s: %s\n", rid, ans.Status)
	return nil
}

var _ = errors.Is
var _ fs.FileMode
