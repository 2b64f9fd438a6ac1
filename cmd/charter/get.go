package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
	"os"
	"strings"
	"time"

	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
)

func init() {
	register("get", "verified download of a file or dataset", getCmd{})
	register("cat", "write a verified file to stdout", catCmd{})
}

type getCmd struct{}

// getResult is the --json output of get.
type getResult struct {
	ID    string `json:"id"`
	Path  string `json:"path"`
	Size  int64  `json:"size"`
	Kind  string `json:"kind"`
	Files int    `json:"files,omitempty"`
}

func (getCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	env.globalFlags(fs)
	out := fs.String("o", "", "output file or folder (default: the id)")
	parallel := fs.Int("parallel", 4, "ranges fetched at once")
	purpose, gopt := grantFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("get takes one content id\nhint: charter get bafkr4i... -o out.bin")
	}
	id, err := content.ParseID(pos[0])
	if err != nil {
		return err
	}
	c, err := env.Client()
	if err != nil {
		return err
	}
	c.Parallel = *parallel
	id, info, err := resolve(ctx, c, id)
	if err != nil {
		return err
	}
	if c, err = licensedClient(ctx, env, c, info, *purpose, *gopt); err != nil {
		return err
	}
	if len(info.Licensed) > 0 {
		// End the download session: the server logs its receipt.
		defer c.CloseSession(context.WithoutCancel(ctx))
	}
	path := *out
	if path == "" {
		path = id.String()
	}
	if info.Kind != client.KindDataset && len(info.Licensed) == 0 && c.IsDataset(ctx, id, info.Size) {
		info.Kind = client.KindDataset // an index put and not registered
	}
	res := getResult{ID: id.String(), Path: path, Kind: info.Kind}
	bar := newProgress(env, "get "+path, info.Size)
	opt := client.DownloadOptions{Progress: bar.set, Total: bar.total, Resumed: func(part string, verified, total int64) {
		fmt.Fprintf(env.Stderr, "resuming %s from %s: %s of %s already verified\n", path, part, plural(verified, "byte"), plural(total, "byte"))
	}}
	if info.Kind == client.KindDataset {
		idx, err := c.GetDataset(ctx, id, path, opt)
		bar.done()
		if err != nil {
			return explainGetError(err)
		}
		for _, f := range idx.Files {
			res.Size += f.Size
		}
		res.Files = len(idx.Files)
	} else {
		if fi, err := os.Stat(path); err == nil && fi.IsDir() {
			return fmt.Errorf("%s is a folder\nhint: pass -o FILE", path)
		}
		res.Size, err = c.DownloadFile(ctx, id, path, opt)
		bar.done()
		if err != nil {
			return explainGetError(err)
		}
	}
	if env.JSON {
		return env.printJSON(res)
	}
	if info.Kind == client.KindDataset {
		fmt.Fprintf(env.Stdout, "%s: %s, %s, verified\n", path, plural(int64(res.Files), "file"), plural(res.Size, "byte"))
	} else {
		fmt.Fprintf(env.Stdout, "%s: %s, verified\n", path, plural(res.Size, "byte"))
	}
	return nil
}

func explainGetError(err error) error {
	if errors.Is(err, content.ErrCorrupt) {
		return fmt.Errorf("%w\nhint: the server sent bytes that do not match the id; nothing unverified was kept and the server was told to check its copy", err)
	}
	return err
}

type catCmd struct{}

func (catCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("cat", flag.ContinueOnError)
	env.globalFlags(fs)
	purpose, gopt := grantFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("cat takes one content id")
	}
	id, err := content.ParseID(pos[0])
	if err != nil {
		return err
	}
	c, err := env.Client()
	if err != nil {
		return err
	}
	id, info, err := resolve(ctx, c, id)
	if err != nil {
		return err
	}
	if c, err = licensedClient(ctx, env, c, info, *purpose, *gopt); err != nil {
		return err
	}
	_, err = c.Stream(ctx, id, env.Stdout, nil)
	return explainGetError(err)
}

// licensedClient returns c itself for content that is free to read, or a
// client that signs its requests under a grant for licensed content: a
// grant kept from before, or one requested now for purpose.
func licensedClient(ctx context.Context, env *Env, c *client.Client, info client.BlobInfo, purpose string, opt client.GrantOptions) (*client.Client, error) {
	if len(info.Licensed) == 0 {
		return c, nil
	}
	if _, err := pinnedLogKey(ctx, env, c); err != nil {
		return nil, err // a grant is only as good as the log that vouches for it
	}
	if purpose == "" {
		return nil, fmt.Errorf("%s is licensed content of asset %s\nhint: say what you will use it for: --purpose train|fine-tune|infer|evaluate|embed|synthesize|research", info.ID, info.Licensed[0])
	}
	key, err := loadKey(env)
	if err != nil {
		return nil, err
	}
	for _, a := range info.Licensed {
		aid, err := asset.ParseID(a)
		if err != nil {
			return nil, err
		}
		if g := findGrant(env, key.DID(), aid, purpose); g != nil {
			return c.WithGrant(key, g.Grant.ID.String()), nil
		}
	}
	// A grant issued since, for example by the owners' approval of a
	// queued request.
	for _, a := range info.Licensed {
		l, err := c.Grants(ctx, a, key.DID().String())
		if err != nil {
			return nil, err
		}
		for _, g := range l.Grants {
			envl, err := identity.ParseEnvelope(g.Envelope)
			if err != nil || g.Revoked {
				continue
			}
			gr, err := grant.OpenGrant(envl)
			if err == nil && gr.Purpose == purpose && gr.ValidAt(time.Now().Add(time.Minute)) {
				return c.WithGrant(key, gr.ID.String()), nil
			}
		}
	}
	aid, _ := asset.ParseID(info.Licensed[0])
	ans, err := requestGrant(ctx, env, aid, purpose, opt)
	if err != nil {
		return nil, err
	}
	switch ans.Status {
	case "granted":
		if !env.JSON {
			fmt.Fprintf(env.Stderr, "granted %s for %s until %s (decision logged as entry %d)\n", ans.Grant.ID, purpose, ans.Grant.NotAfter.Time().Format("2006-01-02 15:04Z"), ans.Grant.Decision)
		}
		return c.WithGrant(key, ans.Grant.ID.String()), nil
	case "pending":
		return nil, fmt.Errorf("access to asset %s needs its owners' approval; request %s is queued\nhint: run the same command again once they approved (charter grant approve %s)", aid, ans.Request, ans.Request)
	}
	return nil, fmt.Errorf("access denied by the licence terms of asset %s: %s", aid, strings.Join(ans.Reasons, "; "))
}

// resolve accepts a content id or an asset id and returns the content id
// and what the server holds under it.
func resolve(ctx context.Context, c *client.Client, id content.ID) (content.ID, client.BlobInfo, error) {
	info, err := c.Info(ctx, id)
	if client.StatusCode(err) == 404 {
		if aid, aerr := asset.ParseID(id.String()); aerr == nil {
			if v, aerr := c.Asset(ctx, aid); aerr == nil {
				id = v.State.Manifest.Content
				info, err = c.Info(ctx, id)
			}
		}
	}
	return id, info, err
}
