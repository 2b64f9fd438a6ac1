package blob

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/charter-dev/charter/content"
)

// Verified reads a whole stored blob, returning only bytes checked against
// its content id with the stored Bao outboard. Corrupt, truncated or
// overlong data or outboard make Read fail with an error wrapping
// content.ErrCorrupt; bytes returned before that were verified.
type Verified struct {
	r        *content.Reader
	data, ob Reader
}

// Get opens id for a verified sequential read. It returns ErrNotFound
// (wrapped) if either part is missing.
func Get(ctx context.Context, o Opener, id content.ID) (*Verified, error) {
	data, err := o.Open(ctx, Key{id, Data})
	if err != nil {
		return nil, fmt.Errorf("blob: get %s: %w", id, err)
	}
	ob, err := o.Open(ctx, Key{id, Outboard})
	if err != nil {
		data.Close()
		return nil, fmt.Errorf("blob: get %s: %w", id, err)
	}
	return &Verified{r: content.NewReader(data, ob, id), data: data, ob: ob}, nil
}

// Read implements io.Reader.
func (v *Verified) Read(p []byte) (int, error) { return v.r.Read(p) }

// WriteTo implements io.WriterTo.
func (v *Verified) WriteTo(w io.Writer) (int64, error) { return v.r.WriteTo(w) }

// Size returns the content size recorded in the outboard; it is proven
// only once Read has returned io.EOF.
func (v *Verified) Size() (int64, error) { return v.r.Size() }

// Close closes both parts.
func (v *Verified) Close() error {
	return errors.Join(v.data.Close(), v.ob.Close())
}
