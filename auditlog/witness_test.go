package auditlog

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestWitnessRefusesTamperedMemory(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store) {
		ctx := context.Background()
		s := newSigner(t, DefaultOrigin)
		l := openAt(t, st.new(t), s, Options{})
		appendN(t, l, 0, 3)
		cp, err := l.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "cp")
		w, err := OpenWitness(path, s.VerifierKey())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Update(cp.Raw, nil); err != nil {
			t.Fatal(err)
		}
		// Someone rewrites the remembered size to roll the client back.
		b, _ := os.ReadFile(path)
		b[len(DefaultOrigin)+1] = '1'
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := OpenWitness(path, s.VerifierKey()); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("OpenWitness of an edited file: %v", err)
		}
		// A witness for another key refuses the log's checkpoints.
		other, err := OpenWitness(filepath.Join(t.TempDir(), "cp"), newSigner(t, DefaultOrigin).VerifierKey())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other.Update(cp.Raw, nil); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("foreign checkpoint: %v", err)
		}
		if _, ok := other.Latest(); ok {
			t.Fatal("witness remembered a refused checkpoint")
		}
		// A proof that starts from the wrong size is refused before any math.
		w2, _ := OpenWitness(filepath.Join(t.TempDir(), "cp"), s.VerifierKey())
		w2.Update(cp.Raw, nil)
		appendN(t, l, 3, 3)
		c, err := l.ConsistencyProof(ctx, 2)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w2.UpdateFrom(c); !errors.Is(err, ErrBadProof) {
			t.Fatalf("proof from the wrong size: %v", err)
		}
	})
}

func TestCloseFlushesAndReopenServesEverything(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store) {
		ctx := context.Background()
		dir := st.new(t)
		s := newSigner(t, DefaultOrigin)
		l, err := OpenURL(ctx, dir, s, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var last uint64
		for i := range 5 {
			if last, err = l.Append(ctx, TypeUsage, payload(i)); err != nil {
				t.Fatal(err)
			}
		}
		// No waiting: Close itself waits for a checkpoint covering every append.
		if err := l.Close(ctx); err != nil {
			t.Fatal(err)
		}
		l2 := openAt(t, dir, s, Options{})
		cp, err := l2.Verify(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if cp.Size != last+1 {
			t.Fatalf("after reopen the checkpoint has %d entries, want %d", cp.Size, last+1)
		}
	})
}

func TestAppendAndProveHonoursContext(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store) {
		s := newSigner(t, DefaultOrigin)
		l, err := OpenURL(context.Background(), st.new(t), s, Options{CheckpointInterval: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close(context.Background())
		// The first checkpoint after Open is 2s away; give up sooner.
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		if _, err := l.AppendAndProve(ctx, TypeUsage, payload(0)); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("AppendAndProve past its deadline: %v", err)
		}
	})
}
