package auditlog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/mod/sumdb/note"
)

// Witness is a client's memory of a log: the last checkpoint it verified,
// kept in a file. Update accepts a newer checkpoint only with a proof that
// it extends the remembered one, so a client notices a log that forked or
// shrank. A Witness is safe for concurrent use; one file per log.
type Witness struct {
	path     string
	verifier note.Verifier

	mu     sync.Mutex
	latest *Checkpoint
}

// OpenWitness opens the witness file at path for the log whose verifier
// key is verifierKey. A missing file means nothing is remembered yet: the
// first checkpoint given to Update is trusted on first use.
func OpenWitness(path, verifierKey string) (*Witness, error) {
	v, err := NewVerifier(verifierKey)
	if err != nil {
		return nil, err
	}
	w := &Witness{path: path, verifier: v}
	raw, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return w, nil
	case err != nil:
		return nil, fmt.Errorf("auditlog: witness: %w", err)
	}
	cp, err := OpenCheckpoint(raw, v)
	if err != nil {
		return nil, fmt.Errorf("auditlog: witness file %s: %w", path, err)
	}
	w.latest = &cp
	return w, nil
}

// Latest returns the remembered checkpoint, if any.
func (w *Witness) Latest() (Checkpoint, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.latest == nil {
		return Checkpoint{}, false
	}
	return *w.latest, true
}

// Update verifies newCP (a signed checkpoint) and, with proof, a consistency
// proof from the remembered checkpoint's size to newCP's, that the log only
// grew. It then remembers newCP and returns it. Errors wrap ErrBadSignature,
// ErrShrunk or ErrFork; on error nothing is remembered.
func (w *Witness) Update(newCP []byte, proof [][]byte) (Checkpoint, error) {
	cp, err := OpenCheckpoint(newCP, w.verifier)
	if err != nil {
		return Checkpoint{}, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.latest != nil {
		if err := VerifyConsistency(*w.latest, cp, proof); err != nil {
			return Checkpoint{}, err
		}
		if cp.Size == w.latest.Size {
			return *w.latest, nil
		}
	}
	if err := writeFileAtomic(w.path, cp.Raw); err != nil {
		return Checkpoint{}, fmt.Errorf("auditlog: witness: %w", err)
	}
	w.latest = &cp
	return cp, nil
}

// UpdateFrom is Update with the text form of a consistency proof.
func (w *Witness) UpdateFrom(c Consistency) (Checkpoint, error) {
	if old, ok := w.Latest(); ok && c.OldSize != old.Size {
		return Checkpoint{}, fmt.Errorf("%w: proof starts at size %d, remembered size is %d", ErrBadProof, c.OldSize, old.Size)
	}
	return w.Update(c.Checkpoint, c.Hashes)
}

// writeFileAtomic replaces path with data: temporary file, fsync, rename,
// fsync of the directory.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
