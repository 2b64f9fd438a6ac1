// Package memstore is an in-memory blob.Store for tests and short-lived
// processes. It keeps every byte in memory and loses them on exit.
package memstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/content"
)

// Store is an in-memory blob.Store. The zero value is not usable; call New.
type Store struct {
	mu    sync.RWMutex
	parts map[blob.Key][]byte
}

// New returns an empty Store.
func New() *Store { return &Store{parts: make(map[blob.Key][]byte)} }

var _ blob.Store = (*Store)(nil)

// Stage starts a write held in memory until Commit.
func (s *Store) Stage(ctx context.Context) (blob.Staged, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &staged{s: s}, nil
}

type staged struct {
	s    *Store
	buf  bytes.Buffer
	done bool
}

func (w *staged) Write(p []byte) (int, error) {
	if w.done {
		return 0, blob.ErrClosed
	}
	return w.buf.Write(p)
}

func (w *staged) Commit(ctx context.Context, k blob.Key) error {
	if w.done {
		return blob.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if !k.Part.Valid() || k.ID.IsZero() {
		return fmt.Errorf("memstore: commit: invalid key %v", k)
	}
	w.done = true
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if _, ok := w.s.parts[k]; !ok {
		w.s.parts[k] = bytes.Clone(w.buf.Bytes())
	}
	w.buf = bytes.Buffer{}
	return nil
}

func (w *staged) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.buf = bytes.Buffer{}
	return nil
}

// Open returns a reader over a copy-free view of the stored bytes.
func (s *Store) Open(ctx context.Context, k blob.Key) (blob.Reader, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	b, ok := s.parts[k]
	s.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("memstore: open %s: %w", k, blob.ErrNotFound)
	}
	return reader{bytes.NewReader(b)}, nil
}

type reader struct{ *bytes.Reader }

func (reader) Close() error { return nil }

// Stat returns the size of k.
func (s *Store) Stat(ctx context.Context, k blob.Key) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.RLock()
	b, ok := s.parts[k]
	s.mu.RUnlock()
	if !ok {
		return 0, fmt.Errorf("memstore: stat %s: %w", k, blob.ErrNotFound)
	}
	return int64(len(b)), nil
}

// Remove deletes k.
func (s *Store) Remove(ctx context.Context, k blob.Key) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.parts[k]; !ok {
		return fmt.Errorf("memstore: remove %s: %w", k, blob.ErrNotFound)
	}
	delete(s.parts, k)
	return nil
}

// Enumerate lists stored data parts in digest order.
func (s *Store) Enumerate(ctx context.Context, after content.ID, fn func(content.ID, int64) error) error {
	type entry struct {
		id   content.ID
		d    [32]byte
		size int64
	}
	ad := after.Digest()
	var list []entry
	s.mu.RLock()
	for k, b := range s.parts {
		if k.Part != blob.Data {
			continue
		}
		d := k.ID.Digest()
		if bytes.Compare(d[:], ad[:]) > 0 {
			list = append(list, entry{k.ID, d, int64(len(b))})
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(list, func(a, b entry) int { return bytes.Compare(a.d[:], b.d[:]) })
	for _, e := range list {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(e.id, e.size); err != nil {
			if errors.Is(err, blob.ErrStop) {
				return nil
			}
			return err
		}
	}
	return nil
}
