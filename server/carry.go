package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/license"
	"github.com/charter-dev/charter/registry"
)

// Applying a log entry reads the log and the catalog, never the blob
// store (registry, "Carried documents"): before appending a statement
// whose apply needs licence terms or a dataset's member list, the server
// reads them from the blob store, where it verified them, and appends
// them in parts signed by its key. Each document is carried once: a
// document whose parts the catalog holds already is not appended again.

// carryTerms puts the licence terms ref names into the log, unless it
// holds them.
func (s *Server) carryTerms(ctx context.Context, ref string) error {
	id, err := content.ParseID(ref)
	if err != nil {
		return err // the checks answered this already
	}
	return s.carry(ctx, auditlog.TypeLicense, id, func(emit func(registry.Part) error) error {
		v, err := blob.Get(ctx, s.blobs, id)
		if err != nil {
			return err
		}
		defer v.Close()
		doc, err := io.ReadAll(io.LimitReader(v, license.MaxTermsSize+1))
		if err != nil {
			return err
		}
		for _, p := range registry.TermsParts(id, doc) {
			if err := emit(p); err != nil {
				return err
			}
		}
		return nil
	})
}

// carryIndex puts the member list of dataset index id, of files files,
// into the log, unless it holds it. The index is read one file at a time.
func (s *Server) carryIndex(ctx context.Context, id content.ID, files int) error {
	return s.carry(ctx, registry.TypeDatasetFiles, id, func(emit func(registry.Part) error) error {
		v, err := blob.Get(ctx, s.blobs, id)
		if err != nil {
			return err
		}
		defer v.Close()
		rd := content.NewIndexReader(v)
		next := func() (content.ID, error) {
			f, err := rd.Next()
			if err == io.EOF {
				return content.ID{}, fmt.Errorf("index %s changed while it was read: fewer than %d files", id, files)
			}
			return f.ID, err
		}
		return registry.FilesPartsOf(id, files, next, emit)
	})
}

// carryAtOnce is how many parts of one document carry appends at once:
// tessera sequences concurrent appends in one batch, so a million-file
// list (715 parts) takes a few dozen batches, not 715.
const carryAtOnce = 32

// carry appends the parts parts emits of document id of kind, each signed
// by the server key, up to carryAtOnce at a time, and returns once every
// one is applied, unless the catalog holds every part already. Copies of
// one document are carried one at a time; a part the log holds already
// applies without effect. The parts' order in the log does not matter:
// the statement that needs them is appended after all of them.
func (s *Server) carry(ctx context.Context, kind string, id content.ID, parts func(emit func(registry.Part) error) error) error {
	unlock := s.inflight.lock("carry:" + kind + ":" + id.String())
	defer unlock()
	have, n, err := s.cat.PartCount(ctx, kind, id.String())
	if err != nil {
		return err
	}
	if n > 0 && have == n {
		return nil
	}
	var (
		wg    sync.WaitGroup
		slots = make(chan struct{}, carryAtOnce)
		mu    sync.Mutex
		first error
	)
	failed := func() error {
		mu.Lock()
		defer mu.Unlock()
		return first
	}
	err = parts(func(p registry.Part) error {
		if err := failed(); err != nil {
			return err
		}
		env, err := identity.Sign(registry.PartPayloadType, p.Encode(), s.key)
		if err != nil {
			return err
		}
		raw, err := env.Marshal()
		if err != nil {
			return err
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			if _, err := s.commit(ctx, kind, raw); err != nil && !errors.Is(err, catalog.ErrNoEffect) {
				mu.Lock()
				if first == nil {
					first = fmt.Errorf("carrying %s part %d of %s into the log: %w", kind, p.Part, id, err)
				}
				mu.Unlock()
			}
		})
		return nil
	})
	wg.Wait()
	if err != nil {
		return err
	}
	return failed()
}

// readIndex reads the stored dataset index id (verified against its id,
// one file at a time) and calls each for every file; it returns how many
// files it read. A missing, corrupt or invalid index is
// registry.ErrIndexUnreadable; errors of each are returned as they are.
func (s *Server) readIndex(ctx context.Context, id content.ID, each func(content.File) error) (int, error) {
	v, err := blob.Get(ctx, s.blobs, id)
	if err != nil {
		if errors.Is(err, blob.ErrNotFound) {
			return 0, fmt.Errorf("%w: %s is not stored: %w", registry.ErrIndexUnreadable, id, err)
		}
		return 0, err
	}
	defer v.Close()
	rd := content.NewIndexReader(v)
	for {
		f, err := rd.Next()
		if err == io.EOF {
			return rd.Files(), nil
		}
		if err != nil {
			return rd.Files(), fmt.Errorf("%w: %s: %w", registry.ErrIndexUnreadable, id, err)
		}
		if err := each(f); err != nil {
			return rd.Files(), err
		}
	}
}

// carryUnindexed runs once at start: it puts into the log the member list
// of every unindexed dataset whose index is stored (a log written before
// member lists were carried, rebuilt), which guards the dataset again.
func (s *Server) carryUnindexed(ctx context.Context) {
	un, err := s.cat.Unindexed(ctx)
	if err != nil {
		if ctx.Err() == nil { // not a server closed at once
			s.log.Error("listing unindexed datasets", "err", err)
		}
		return
	}
	for _, u := range un {
		id, err := content.ParseID(u.Content)
		if err != nil {
			continue
		}
		if _, err := s.blobs.Stat(ctx, blob.Key{ID: id, Part: blob.Data}); err != nil {
			continue // not stored: the operator's to restore (healthz names it)
		}
		if err := s.reindex(ctx, id); err != nil && ctx.Err() == nil {
			s.log.Error("putting a dataset's member list into the log", "asset", u.Asset, "index", id, "err", err)
		}
	}
}
