package blob

import (
	"context"
	"errors"
)

// Grouper is a Stager that can commit many writes together, paying for
// durability once per group rather than once per write: many small blobs
// uploaded in one request are made durable by one flush of the file system
// instead of four fsyncs each (blob/localfs).
type Grouper interface {
	Group(ctx context.Context) (Group, error)
}

// Group is a set of staged writes that become visible together. Put a blob
// into a group with Put(ctx, g, r, want): its bytes are hashed and checked
// as always, and its Commit only records the key; nothing is visible until
// Group.Commit, which makes every recorded write durable and visible (each
// key atomically, outboard before data as Put ordered them) before it
// returns. A blob whose Put failed (a mismatch, a short read) was aborted
// and is not part of the group; the others are. Exactly one of Commit or
// Abort must be called; Abort after Commit is a no-op, so it is safe to
// defer.
type Group interface {
	Stager
	Commit(ctx context.Context) error
	Abort() error
}

// NewGroup returns a group on s: s's own when s is a Grouper, else one
// that stages each write with s and, at Commit, commits them one after
// the other (each as durable as s makes one write; an S3 PUT is durable
// when it returns). Either way nothing is visible before Commit.
func NewGroup(ctx context.Context, s Stager) (Group, error) {
	if gs, ok := s.(Grouper); ok {
		return gs.Group(ctx)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &deferGroup{s: s}, nil
}

// deferGroup defers each staged write's Commit to the group's.
type deferGroup struct {
	s       Stager
	writes  []*deferred // every write started
	pending []*deferred // in the order Put committed them
	done    bool
}

type deferred struct {
	g      *deferGroup
	st     Staged
	key    Key
	queued bool
}

func (g *deferGroup) Stage(ctx context.Context) (Staged, error) {
	return g.stage(func() (Staged, error) { return g.s.Stage(ctx) })
}

// StageKey keeps the backend's single write to the final key (an S3
// multipart upload) when it has one.
func (g *deferGroup) StageKey(ctx context.Context, k Key) (Staged, error) {
	ks, ok := g.s.(KeyStager)
	if !ok {
		return g.Stage(ctx)
	}
	return g.stage(func() (Staged, error) { return ks.StageKey(ctx, k) })
}

func (g *deferGroup) stage(start func() (Staged, error)) (Staged, error) {
	if g.done {
		return nil, ErrClosed
	}
	st, err := start()
	if err != nil {
		return nil, err
	}
	d := &deferred{g: g, st: st}
	g.writes = append(g.writes, d)
	return d, nil
}

func (d *deferred) Write(p []byte) (int, error) {
	if d.queued {
		return 0, ErrClosed
	}
	return d.st.Write(p)
}

func (d *deferred) Commit(ctx context.Context, k Key) error {
	if d.queued || d.g.done {
		return ErrClosed
	}
	d.queued, d.key = true, k
	d.g.pending = append(d.g.pending, d)
	return nil
}

// Abort discards the write unless it is queued in the group, which then
// owns it.
func (d *deferred) Abort() error {
	if d.queued {
		return nil
	}
	return d.st.Abort()
}

func (g *deferGroup) Commit(ctx context.Context) error {
	if g.done {
		return ErrClosed
	}
	g.done = true
	var err error
	for i, d := range g.pending {
		if err = d.st.Commit(ctx, d.key); err != nil {
			for _, rest := range g.pending[i+1:] {
				rest.st.Abort()
			}
			break
		}
	}
	g.abortUnqueued()
	return err
}

func (g *deferGroup) Abort() error {
	if g.done {
		return nil
	}
	g.done = true
	var errs []error
	for _, d := range g.pending {
		errs = append(errs, d.st.Abort())
	}
	g.abortUnqueued()
	return errors.Join(errs...)
}

func (g *deferGroup) abortUnqueued() {
	for _, d := range g.writes {
		if !d.queued {
			d.st.Abort()
		}
	}
}
