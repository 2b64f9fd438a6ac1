package car

import (
	"context"
	"fmt"
	"io"

	"github.com/charter-dev/charter/content"
)

// FromIndex returns the Source for a Charter dataset: one file per entry
// of idx, its bytes read with open (blob.Get, for example, which verifies
// them against the id). The dataset index itself is not exported.
func FromIndex(idx *content.Index, open func(ctx context.Context, id content.ID) (io.ReadCloser, error)) (Source, error) {
	es := make([]Entry, len(idx.Files))
	for i, f := range idx.Files {
		id := f.ID
		es[i] = Entry{Path: f.Path, Open: func(ctx context.Context) (io.ReadCloser, error) {
			rc, err := open(ctx, id)
			if err != nil {
				return nil, fmt.Errorf("open %s: %w", id, err)
			}
			return rc, nil
		}}
	}
	return Dataset(es)
}

// FromContent returns the Source for one Charter blob, read with open.
func FromContent(id content.ID, open func(ctx context.Context, id content.ID) (io.ReadCloser, error)) Source {
	return File(func(ctx context.Context) (io.ReadCloser, error) { return open(ctx, id) })
}
