package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

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
	purpose := fs.String("purpose", "", "purpose of use, for licensed assets (train, infer, research, ...)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("get takes one content id\nhint: charter get bafkr4i... -o out.bin")
	}
	_ = purpose
	id, err := content.ParseID(pos[0])
	if err != nil {
		return err
	}
	c, err := env.Client()
	if err != nil {
		return err
	}
	c.Parallel = *parallel
	info, err := c.Info(ctx, id)
	if err != nil {
		return err
	}
	path := *out
	if path == "" {
		path = id.String()
	}
	res := getResult{ID: id.String(), Path: path, Kind: info.Kind}
	bar := newProgress(env, "get "+path, info.Size)
	opt := client.DownloadOptions{Progress: bar.set, Total: bar.total}
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
		fmt.Fprintf(env.Stdout, "%s: %d files, %d bytes, verified\n", path, res.Files, res.Size)
	} else {
		fmt.Fprintf(env.Stdout, "%s: %d bytes, verified\n", path, res.Size)
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
	_, err = c.Stream(ctx, id, env.Stdout, nil)
	return explainGetError(err)
}
