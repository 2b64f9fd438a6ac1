package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/charter-dev/charter/car"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
)

func init() {
	register("export", "export a file or dataset as a CAR for IPFS/Filecoin: export ID --car -o FILE", exportCmd{})
}

type exportCmd struct{}

type exportResult struct {
	ID   string `json:"id"`
	Root string `json:"root"`
	Path string `json:"path"`
}

func (exportCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	env.globalFlags(fs)
	asCAR := fs.Bool("car", false, "write a CAR (UnixFS, CIDv1, 1 MiB raw leaves); the only format so far")
	out := fs.String("o", "", "output file")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *out == "" {
		return fmt.Errorf("export takes one content id and -o FILE\nhint: charter export bafkr4i... --car -o data.car")
	}
	if !*asCAR {
		return fmt.Errorf("choose an export format\nhint: pass --car")
	}
	if dir := filepath.Dir(*out); !isDir(dir) {
		// Else the CAR writer's temporary file name would show in the error.
		return fmt.Errorf("cannot write %s: folder %s does not exist\nhint: create it first, or write somewhere else", *out, dir)
	}
	id, err := content.ParseID(pos[0])
	if err != nil {
		return err
	}
	c, err := env.Client()
	if err != nil {
		return err
	}
	info, err := c.Info(ctx, id)
	if err != nil {
		return err
	}
	var src car.Source
	if info.Kind == client.KindDataset || (len(info.Licensed) == 0 && c.IsDataset(ctx, id, info.Size)) {
		idx, err := c.FetchIndex(ctx, id)
		if err != nil {
			return err
		}
		entries := make([]car.Entry, len(idx.Files))
		for i, f := range idx.Files {
			entries[i] = car.Entry{Path: f.Path, Open: verifiedOpener(c, f.ID)}
		}
		if src, err = car.Dataset(entries); err != nil {
			return err
		}
	} else {
		src = car.File(verifiedOpener(c, id))
	}
	root, err := car.WriteFile(ctx, *out, src)
	if err != nil {
		return err
	}
	if env.JSON {
		return env.printJSON(exportResult{ID: id.String(), Root: root.String(), Path: *out})
	}
	fmt.Fprintf(env.Stdout, "%s: CAR with root %s\n", *out, root)
	return nil
}

// verifiedOpener streams the verified bytes of id from the server.
func verifiedOpener(c *client.Client, id content.ID) car.OpenFunc {
	return func(ctx context.Context) (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go func() {
			_, err := c.Stream(ctx, id, pw, nil)
			pw.CloseWithError(err)
		}()
		return pr, nil
	}
}

// isDir reports whether path is an existing folder.
func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}
