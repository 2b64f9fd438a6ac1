package auditlog

import (
	"context"
	"testing"
)

// TestProveEntryUnder checks the tile-subtree proof builder at tile
// boundaries and across tile levels: every receipt must verify offline,
// and must match the proof tessera's own builder gives.
func TestProveEntryUnder(t *testing.T) {
	forEachStore(t, func(t *testing.T, st store) {
		ctx := context.Background()
		s := newSigner(t, "example.com/fastproof")
		l := openAt(t, st.new(t), s, Options{})
		const n = 70000 // past one level-1 tile (65,536 leaves)
		appendN(t, l, 0, n)
		cp, err := l.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if cp.Size < n {
			t.Fatalf("checkpoint size %d", cp.Size)
		}
		for _, i := range []uint64{0, 1, 255, 256, 257, 511, 65535, 65536, 65537, 69000, n - 2, n - 1} {
			raw, err := l.Entry(ctx, i)
			if err != nil {
				t.Fatal(err)
			}
			e, err := DecodeEntry(raw)
			if err != nil {
				t.Fatal(err)
			}
			r, err := l.ProveEntryUnder(ctx, cp, i, e.Type, e.Payload)
			if err != nil {
				t.Fatalf("entry %d: %v", i, err)
			}
			if _, _, err := VerifyReceipt(r.Entry, r.Proof, s.VerifierKey()); err != nil {
				t.Fatalf("entry %d: receipt does not verify: %v", i, err)
			}
			ref, err := l.ProveInclusion(ctx, i)
			if err != nil {
				t.Fatal(err)
			}
			if string(ref.Proof) != string(r.Proof) && ref.Checkpoint.Size == cp.Size {
				t.Fatalf("entry %d: proof differs from tessera's", i)
			}
		}
		// Wrong bytes at an index are refused.
		if _, err := l.ProveEntryUnder(ctx, cp, 5, "test", []byte("not the entry")); err == nil {
			t.Fatal("proved bytes that are not in the log")
		}
	})
}
