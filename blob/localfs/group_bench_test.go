package localfs

import (
	"bytes"
	"context"
	"testing"

	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/content"
	"lukechampine.com/blake3"
)

// BenchmarkGroupCommit stores 256 blobs of 10 KB in one group (one
// batch upload's worth) against, in the same run, 256 single puts.
// Reported: group-ms and single-ms per 256 blobs and their ratio.
//
//	go test ./blob/localfs -run '^$' -bench GroupCommit -benchtime 5x
func BenchmarkGroupCommit(b *testing.B) {
	ctx := context.Background()
	var group, single float64
	for i := range b.N {
		s, err := Open(ctx, b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		blobs := make([][]byte, 256)
		for j := range blobs {
			blobs[j] = bytes.Repeat([]byte{byte(i), byte(j), byte(j >> 8), 7}, 2560)
		}
		t := nowMs()
		g, _ := s.Group(ctx)
		for _, x := range blobs {
			id := content.IDFromDigest(blake3.Sum256(x))
			if _, err := blob.Put(ctx, g, bytes.NewReader(x), &id); err != nil {
				b.Fatal(err)
			}
		}
		if err := g.Commit(ctx); err != nil {
			b.Fatal(err)
		}
		group += nowMs() - t
		t = nowMs()
		for _, x := range blobs {
			x = append(bytes.Clone(x), 1)
			if _, err := blob.Put(ctx, s, bytes.NewReader(x), nil); err != nil {
				b.Fatal(err)
			}
		}
		single += nowMs() - t
	}
	b.ReportMetric(group/float64(b.N), "group-ms")
	b.ReportMetric(single/float64(b.N), "single-ms")
	b.ReportMetric(single/group, "single/group")
}
