package storagetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/content"
)

// testModel runs random sequences of Put, Delete, Get and paged Enumerate
// against a store and a map, and checks that they agree after every step.
func testModel(t *testing.T, newStore func(t *testing.T) blob.Store) {
	rapid.Check(t, func(rt *rapid.T) {
		ctx := context.Background()
		s := newStore(t)
		model := map[content.ID][]byte{}
		// A small pool of contents so that puts repeat and deletes hit.
		pool := make([][]byte, 6)
		for i := range pool {
			pool[i] = Bytes(uint64(1000+i), []int{0, 1, 1024, 16 << 10, 16<<10 + 1, 50000}[i])
		}
		drawContent := func(rt *rapid.T) []byte { return pool[rapid.IntRange(0, len(pool)-1).Draw(rt, "content")] }

		actions := map[string]func(*rapid.T){
			"put": func(rt *rapid.T) {
				b := drawContent(rt)
				var want *content.ID
				if rapid.Bool().Draw(rt, "want") {
					id := IDOf(b)
					want = &id
				}
				info, err := blob.Put(ctx, s, bytes.NewReader(b), want)
				if err != nil {
					rt.Fatalf("Put: %v", err)
				}
				model[info.ID] = b
			},
			"putMismatch": func(rt *rapid.T) {
				b, other := drawContent(rt), drawContent(rt)
				want := IDOf(other)
				_, err := blob.Put(ctx, s, bytes.NewReader(b), &want)
				_, stored := model[want]
				switch {
				case bytes.Equal(b, other) || stored:
					// Same bytes, or want already stored (Put may skip reading).
					if err != nil {
						rt.Fatalf("Put: %v", err)
					}
					model[want] = other
				case !errors.Is(err, blob.ErrMismatch):
					rt.Fatalf("Put with wrong want = %v", err)
				}
			},
			"delete": func(rt *rapid.T) {
				id := IDOf(drawContent(rt))
				err := blob.Delete(ctx, s, id)
				if _, ok := model[id]; ok != (err == nil) || (!ok && !errors.Is(err, blob.ErrNotFound)) {
					rt.Fatalf("Delete(stored=%v) = %v", ok, err)
				}
				delete(model, id)
			},
			"get": func(rt *rapid.T) {
				id := IDOf(drawContent(rt))
				v, err := blob.Get(ctx, s, id)
				want, ok := model[id]
				if !ok {
					if !errors.Is(err, blob.ErrNotFound) {
						rt.Fatalf("Get of absent = %v", err)
					}
					return
				}
				if err != nil {
					rt.Fatalf("Get: %v", err)
				}
				defer v.Close()
				got, err := io.ReadAll(v)
				if err != nil || !bytes.Equal(got, want) {
					rt.Fatalf("Get read %d bytes, %v", len(got), err)
				}
			},
		}
		check := func(rt *rapid.T) {
			page := rapid.IntRange(1, 4).Draw(rt, "page")
			var got []content.ID
			after := content.ID{}
			for {
				n := 0
				err := s.Enumerate(ctx, after, func(id content.ID, size int64) error {
					if size != int64(len(model[id])) {
						rt.Fatalf("Enumerate size of %v = %d, want %d", id, size, len(model[id]))
					}
					got = append(got, id)
					after = id
					if n++; n == page {
						return blob.ErrStop
					}
					return nil
				})
				if err != nil {
					rt.Fatalf("Enumerate: %v", err)
				}
				if n < page {
					break
				}
			}
			var want []content.ID
			for id := range model {
				want = append(want, id)
			}
			slices.SortFunc(want, cmpID)
			if !slices.Equal(got, want) {
				rt.Fatalf("Enumerate = %v, model %v", got, want)
			}
		}
		names := slices.Sorted(maps.Keys(actions))
		for range rapid.IntRange(1, 24).Draw(rt, "steps") {
			actions[rapid.SampledFrom(names).Draw(rt, "action")](rt)
			check(rt)
		}
	})
}
