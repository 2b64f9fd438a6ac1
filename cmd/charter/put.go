package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/charter-dev/charter/client"
)

func init() {
	register("put", "store a file or a folder (dataset); prints its content id", putCmd{})
}

type putCmd struct{}

// putResult is the --json output of put.
type putResult struct {
	ID    string `json:"id"`
	Size  int64  `json:"size"`
	Kind  string `json:"kind"`
	Files int    `json:"files,omitempty"`
}

func (putCmd) Run(ctx context.Context, env *Env, args []string) error {
	fs := flag.NewFlagSet("put", flag.ContinueOnError)
	env.globalFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("put takes one PATH (a file or a folder)\nhint: charter put ./data.bin")
	}
	res, err := putPath(ctx, env, pos[0])
	if err != nil {
		return err
	}
	if env.JSON {
		return env.printJSON(res)
	}
	fmt.Fprintln(env.Stdout, res.ID)
	return nil
}

// putPath stores a file or a folder and says what it stored.
func putPath(ctx context.Context, env *Env, path string) (putResult, error) {
	c, err := env.UploadClient()
	if err != nil {
		return putResult{}, err
	}
	fi, err := os.Stat(path)
	if err != nil {
		return putResult{}, err
	}
	if fi.IsDir() {
		bar := newProgress(env, "put "+path, 0)
		if base := lastIndex(env, c.Server(), path); base != nil {
			c = c.WithIndexBase(base) // putstate.go
		}
		info, idx, err := c.PutDir(ctx, path, func(done, total int64) {
			bar.total(total)
			bar.set(done)
		})
		bar.done()
		if err != nil {
			return putResult{}, err
		}
		saveIndex(env, c.Server(), path, idx)
		var size int64
		for _, f := range idx.Files {
			size += f.Size
		}
		// The client built a dataset index; the server calls it a dataset
		// only once a registration in the log says so.
		return putResult{ID: info.ID, Size: size, Kind: client.KindDataset, Files: len(idx.Files)}, nil
	}
	if !fi.Mode().IsRegular() {
		return putResult{}, fmt.Errorf("%s is not a regular file or folder", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return putResult{}, err
	}
	defer f.Close()
	opt := client.PutOptions{Resumed: func(held int64) {
		fmt.Fprintf(env.Stderr, "resuming the interrupted upload of %s: the server holds %d of %d bytes (%d%%); sending the rest\n", path, held, fi.Size(), held*100/max(fi.Size(), 1))
	}}
	large := fi.Size() > client.DefaultResumeAbove
	if large {
		// A large file goes in parts the server keeps: remember its id in
		// the state folder (putstate.go) so that a resumed put does not
		// hash it all again before asking which parts are held.
		if id := recordedID(env, c.Server(), path, fi); id != nil {
			opt.Want = id
		} else {
			id, _, err := client.HashReader(f)
			if err != nil {
				return putResult{}, err
			}
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return putResult{}, err
			}
			recordID(env, c.Server(), path, fi, id)
			opt.Want = &id
		}
	}
	bar := newProgress(env, "put "+path, fi.Size())
	opt.Progress = bar.set
	info, err := c.Put(ctx, f, fi.Size(), opt)
	bar.done()
	if large {
		var e *client.Error
		if err == nil || errors.As(err, &e) && strings.HasSuffix(e.Problem.Type, "/id-mismatch") {
			forgetID(env, c.Server(), path) // done, or the record was wrong
		}
	}
	if err != nil {
		return putResult{}, err
	}
	return putResult{ID: info.ID, Size: info.Size, Kind: info.Kind}, nil
}
