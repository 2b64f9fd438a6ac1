package auditlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// newSigner makes a fresh log key.
func newSigner(t testing.TB, origin string) *Signer {
	t.Helper()
	skey, _, err := GenerateKey(origin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// openLog opens a log in dir and closes it at the end of the test.
func openLog(t testing.TB, dir string, s *Signer) *Log {
	t.Helper()
	l, err := Open(context.Background(), dir, s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(context.Background()) })
	return l
}

func payload(i int) []byte {
	return fmt.Appendf(nil, `{"payloadType":"application/vnd.charter.test+json","payload":"%d","signatures":[]}`, i)
}

// appendN appends n entries (payloads start to start+n-1) concurrently and
// waits until a checkpoint covers them all.
func appendN(t testing.TB, l *Log, start, n int) {
	t.Helper()
	ctx := context.Background()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		last uint64
	)
	errs := make(chan error, n)
	for i := start; i < start+n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			idx, err := l.Append(ctx, TypeAssetRegister, payload(i))
			if err != nil {
				errs <- err
				return
			}
			mu.Lock()
			last = max(last, idx)
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	waitSize(t, l, last+1)
}

func waitSize(t testing.TB, l *Log, size uint64) Checkpoint {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		cp, err := l.Checkpoint(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if cp.Size >= size {
			return cp
		}
		if time.Now().After(deadline) {
			t.Fatalf("checkpoint stuck at %d, want %d", cp.Size, size)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAppendAndProveRoundTrip(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store) {
		ctx := context.Background()
		s := newSigner(t, DefaultOrigin)
		l := openAt(t, st.new(t), s, Options{})
		const n = 20
		receipts := make([]Receipt, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := l.AppendAndProve(ctx, TypeGrant, payload(i))
				if err != nil {
					t.Error(err)
					return
				}
				receipts[i] = r
			}()
		}
		wg.Wait()
		seen := map[uint64]bool{}
		for i, r := range receipts {
			idx, cp, err := VerifyReceipt(r.Entry, r.Proof, s.VerifierKey())
			if err != nil {
				t.Fatalf("receipt %d: %v", i, err)
			}
			if idx != r.Index || cp.Size <= idx || cp.Origin != DefaultOrigin {
				t.Fatalf("receipt %d: index %d cp %v, want index %d", i, idx, cp, r.Index)
			}
			if seen[idx] {
				t.Fatalf("index %d assigned twice", idx)
			}
			seen[idx] = true
			got, err := l.Entry(ctx, idx)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, r.Entry) {
				t.Fatalf("Entry(%d) = %q, want %q", idx, got, r.Entry)
			}
			e, err := DecodeEntry(got)
			if err != nil || e.Type != TypeGrant || !bytes.Equal(e.Payload, payload(i)) {
				t.Fatalf("DecodeEntry = %+v, %v", e, err)
			}
			// The receipt proves this entry and no other.
			other := receipts[(i+1)%n].Entry
			if _, _, err := VerifyReceipt(other, r.Proof, s.VerifierKey()); !errors.Is(err, ErrBadProof) {
				t.Fatalf("receipt %d verified another entry: %v", i, err)
			}
			// And only under the log's key.
			if _, _, err := VerifyReceipt(r.Entry, r.Proof, newSigner(t, DefaultOrigin).VerifierKey()); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("receipt %d verified under another key: %v", i, err)
			}
		}
		// A later receipt for an old entry verifies too.
		r, err := l.ProveInclusion(ctx, receipts[0].Index)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := VerifyReceipt(receipts[0].Entry, r.Proof, s.VerifierKey()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestAppendRefusesBadEntries(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store) {
		ctx := context.Background()
		l := openAt(t, st.new(t), newSigner(t, DefaultOrigin), Options{})
		if _, err := l.Append(ctx, TypeUsage, bytes.Repeat([]byte("x"), MaxEntrySize)); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("oversize entry: %v", err)
		}
		if _, err := l.AppendAndProve(ctx, TypeUsage, make([]byte, 1<<20)); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("1 MiB entry: %v", err)
		}
		if _, err := l.Append(ctx, "Asset Register", []byte("{}")); !errors.Is(err, ErrBadType) {
			t.Fatalf("bad type: %v", err)
		}
		if _, err := l.Append(ctx, TypeUsage, nil); !errors.Is(err, ErrMalformed) {
			t.Fatalf("empty payload: %v", err)
		}
		// The largest entry that fits is accepted.
		max := MaxEntrySize - len(entryMagic) - len(TypeUsage) - 1
		if _, err := l.Append(ctx, TypeUsage, bytes.Repeat([]byte("x"), max)); err != nil {
			t.Fatalf("largest entry: %v", err)
		}
		cp := waitSize(t, l, 1)
		if cp.Size != 1 {
			t.Fatalf("log has %d entries, want 1", cp.Size)
		}
	})
}

func TestEntriesReplay(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store) {
		ctx := context.Background()
		l := openAt(t, st.new(t), newSigner(t, DefaultOrigin), Options{})
		const n = 600 // two full bundles and a partial one
		appendN(t, l, 0, n)
		for _, from := range []uint64{0, 1, 255, 256, 300, 599} {
			var got []Record
			for r, err := range l.Entries(ctx, from) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, r)
			}
			if uint64(len(got)) != n-from {
				t.Fatalf("from %d: %d records, want %d", from, len(got), n-from)
			}
			seen := map[string]bool{}
			for i, r := range got {
				if r.Index != from+uint64(i) || r.Type != TypeAssetRegister {
					t.Fatalf("from %d: record %d = %d %q", from, i, r.Index, r.Type)
				}
				seen[string(r.Payload)] = true
			}
			if from == 0 {
				for i := range n {
					if !seen[string(payload(i))] {
						t.Fatalf("payload %d missing", i)
					}
				}
			}
		}
		if _, err := l.Verify(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Entry(ctx, n); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Entry beyond the end: %v", err)
		}
	})
}

func TestReopenKeepsLogAndKey(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store) {
		ctx := context.Background()
		dir := st.new(t)
		s := newSigner(t, "charter.test/reopen")
		l, err := OpenURL(ctx, dir, s, Options{})
		if err != nil {
			t.Fatal(err)
		}
		appendN(t, l, 0, 10)
		if err := l.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Append(ctx, TypeUsage, payload(1)); !errors.Is(err, ErrClosed) {
			t.Fatalf("append after close: %v", err)
		}
		if _, err := OpenURL(ctx, dir, newSigner(t, "charter.test/reopen"), Options{}); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("open with another key: %v", err)
		}
		l2 := openAt(t, dir, s, Options{})
		appendN(t, l2, 10, 5)
		cp, err := l2.Verify(ctx)
		if err != nil || cp.Size != 15 {
			t.Fatalf("Verify = %v, %v", cp, err)
		}
	})
}

func TestOpenNeedsMatchingVerifierKey(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store) {
		ctx := context.Background()
		s := newSigner(t, DefaultOrigin)
		if _, err := OpenURL(ctx, st.new(t), s.Signer, Options{}); !errors.Is(err, ErrKey) {
			t.Fatalf("bare signer without verifier key: %v", err)
		}
		other := newSigner(t, DefaultOrigin)
		if _, err := OpenURL(ctx, st.new(t), s.Signer, Options{VerifierKey: other.VerifierKey()}); !errors.Is(err, ErrKey) {
			t.Fatalf("mismatched verifier key: %v", err)
		}
		l, err := OpenURL(ctx, st.new(t), s.Signer, Options{VerifierKey: s.VerifierKey()})
		if err != nil {
			t.Fatal(err)
		}
		l.Close(ctx)
	})
}

// flipByte changes one byte of a file in the log directory.
func flipByte(t *testing.T, dir, rel string, off int) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(rel))
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0x01
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// tamperedLog makes a closed log of 300 entries (one full bundle and a
// partial one), lets tamper edit its files, and reopens it.
func tamperedLog(t *testing.T, tamper func(dir string)) *Log {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	s := newSigner(t, DefaultOrigin)
	l, err := Open(ctx, dir, s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 0, 300)
	if _, err := l.Verify(ctx); err != nil {
		t.Fatalf("before tampering: %v", err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	tamper(dir)
	return openLog(t, dir, s)
}

func TestTamperedEntryBundleDetected(t *testing.T) {
	ctx := context.Background()
	// Byte 40 of the first bundle is inside entry 0's payload.
	l := tamperedLog(t, func(dir string) { flipByte(t, dir, "tile/entries/000", 40) })
	if _, err := l.Verify(ctx); !errors.Is(err, ErrTampered) {
		t.Fatalf("Verify: %v", err)
	}
	for _, i := range []uint64{0, 5, 255} {
		if _, err := l.Entry(ctx, i); !errors.Is(err, ErrTampered) {
			t.Fatalf("Entry(%d): %v", i, err)
		}
	}
	if _, err := l.ProveInclusion(ctx, 0); !errors.Is(err, ErrTampered) {
		t.Fatalf("ProveInclusion: %v", err)
	}
	var err error
	for _, err = range l.Entries(ctx, 0) {
		if err != nil {
			break
		}
	}
	if !errors.Is(err, ErrTampered) {
		t.Fatalf("Entries: %v", err)
	}
	// The error locates the damage for an operator: file and entry, hashes
	// in base64 rather than byte arrays.
	var te *TamperedError
	if !errors.As(err, &te) || te.File != "tile/entries/000" || te.Entry != 0 {
		t.Fatalf("Entries: want a *TamperedError for entry 0 in tile/entries/000, got %#v", err)
	}
	if msg := err.Error(); strings.Contains(msg, "[") || !strings.Contains(msg, "entry 0 in tile/entries/000 does not match the signed checkpoint") {
		t.Fatalf("Entries: %s", msg)
	}
	// The untouched partial bundle still reads.
	if _, err := l.Entry(ctx, 299); err != nil {
		t.Fatalf("Entry(299): %v", err)
	}
}

func TestTamperedTileDetected(t *testing.T) {
	ctx := context.Background()
	// Leaf hash 7 of the first level-0 tile.
	l := tamperedLog(t, func(dir string) { flipByte(t, dir, "tile/0/000", 7*HashSize+3) })
	if _, err := l.Verify(ctx); !errors.Is(err, ErrTampered) {
		t.Fatalf("Verify: %v", err)
	}
	// Leaf 6's proof uses leaf hash 7.
	if _, err := l.ProveInclusion(ctx, 6); !errors.Is(err, ErrTampered) {
		t.Fatalf("ProveInclusion(6): %v", err)
	}
	if _, err := l.Entry(ctx, 100); !errors.Is(err, ErrTampered) {
		t.Fatalf("Entry(100): %v", err)
	}
}

func TestTamperedFirstLeafHashDetectedByVerify(t *testing.T) {
	ctx := context.Background()
	l := tamperedLog(t, func(dir string) { flipByte(t, dir, "tile/0/000", 0) })
	if _, err := l.Verify(ctx); !errors.Is(err, ErrTampered) {
		t.Fatalf("Verify: %v", err)
	}
	if _, err := l.ProveInclusion(ctx, 1); !errors.Is(err, ErrTampered) {
		t.Fatalf("ProveInclusion(1): %v", err)
	}
}

func TestDeletedFilesDetected(t *testing.T) {
	ctx := context.Background()
	for _, rel := range []string{"tile/entries/000", "tile/0/000", "tile/1/000.p/1"} {
		t.Run(rel, func(t *testing.T) {
			l := tamperedLog(t, func(dir string) {
				if err := os.Remove(filepath.Join(dir, rel)); err != nil {
					t.Fatal(err)
				}
			})
			if _, err := l.Verify(ctx); !errors.Is(err, ErrTampered) {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}

func TestTamperedCheckpointDetected(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := newSigner(t, DefaultOrigin)
	l := openLog(t, dir, s)
	appendN(t, l, 0, 3)
	// Size line "3" becomes "2": the signature no longer covers the text.
	flipByte(t, dir, "checkpoint", len(DefaultOrigin)+1)
	if _, err := l.Checkpoint(ctx); !errors.Is(err, ErrTampered) {
		t.Fatalf("Checkpoint: %v", err)
	}
	if _, err := l.Verify(ctx); !errors.Is(err, ErrTampered) {
		t.Fatalf("Verify: %v", err)
	}
}

func TestConsistencyAndWitness(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store) {
		ctx := context.Background()
		s := newSigner(t, DefaultOrigin)
		dir := st.new(t)
		l := openAt(t, dir, s, Options{})
		w, err := OpenWitness(filepath.Join(t.TempDir(), "witness", "log.checkpoint"), s.VerifierKey())
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := w.Latest(); ok {
			t.Fatal("new witness remembers a checkpoint")
		}
		appendN(t, l, 0, 7)
		cp1, err := l.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Update(cp1.Raw, nil); err != nil { // trust on first use
			t.Fatal(err)
		}
		appendN(t, l, 7, 300)
		c, err := l.ConsistencyProof(ctx, cp1.Size)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := ParseConsistency(c.Marshal())
		if err != nil {
			t.Fatal(err)
		}
		cp2, err := w.UpdateFrom(c2)
		if err != nil {
			t.Fatal(err)
		}
		if cp2.Size < 307 {
			t.Fatalf("witness at %d", cp2.Size)
		}
		if err := VerifyConsistency(cp1, cp2, c.Hashes); err != nil {
			t.Fatal(err)
		}
		// A reopened witness remembers.
		w2, err := OpenWitness(w.path, s.VerifierKey())
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := w2.Latest(); got.Size != cp2.Size || got.Hash != cp2.Hash {
			t.Fatalf("reopened witness at %v, want %v", got, cp2)
		}
		// Shrunk: the old checkpoint is refused.
		if _, err := w2.Update(cp1.Raw, nil); !errors.Is(err, ErrShrunk) {
			t.Fatalf("older checkpoint: %v", err)
		}

		// A fork: the same key signs a different history.
		fork := openAt(t, st.new(t), s, Options{})
		appendN(t, fork, 1000, int(cp2.Size))
		fcp, err := fork.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if fcp.Size == cp2.Size {
			if _, err := w2.Update(fcp.Raw, nil); !errors.Is(err, ErrFork) {
				t.Fatalf("same-size fork: %v", err)
			}
		}
		appendN(t, fork, 1000+int(fcp.Size), 10)
		fc, err := fork.ConsistencyProof(ctx, cp2.Size)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w2.Update(fc.Checkpoint, fc.Hashes); !errors.Is(err, ErrFork) {
			t.Fatalf("larger fork: %v", err)
		}
		if got, _ := w2.Latest(); got.Hash != cp2.Hash {
			t.Fatal("witness moved to a forked checkpoint")
		}
		// The genuine log moves on.
		appendN(t, l, 307, 3)
		c3, err := l.ConsistencyProof(ctx, cp2.Size)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w2.UpdateFrom(c3); err != nil {
			t.Fatal(err)
		}
		if _, err := l.ConsistencyProof(ctx, 1<<40); !errors.Is(err, ErrNotFound) {
			t.Fatalf("proof from beyond the end: %v", err)
		}
	})
}

// truncate cuts a file in the log directory to n bytes.
func truncate(t *testing.T, dir, rel string, n int64) {
	t.Helper()
	if err := os.Truncate(filepath.Join(dir, filepath.FromSlash(rel)), n); err != nil {
		t.Fatal(err)
	}
}
