package auditlog

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"
)

func TestTamperedUpperTileDetected(t *testing.T) {
	ctx := context.Background()
	l := tamperedLog(t, func(dir string) { flipByte(t, dir, "tile/1/000.p/1", 9) })
	if _, err := l.Verify(ctx); !errors.Is(err, ErrTampered) {
		t.Fatalf("Verify: %v", err)
	}
	// Entries of the second bundle are proved through that node.
	if _, err := l.Entry(ctx, 260); !errors.Is(err, ErrTampered) {
		t.Fatalf("Entry(260): %v", err)
	}
	if _, err := l.ProveInclusion(ctx, 299); !errors.Is(err, ErrTampered) {
		t.Fatalf("ProveInclusion(299): %v", err)
	}
}

func TestTruncatedBundleDetected(t *testing.T) {
	ctx := context.Background()
	l := tamperedLog(t, func(dir string) {
		truncate(t, dir, "tile/entries/001.p/44", 100)
	})
	if _, err := l.Verify(ctx); !errors.Is(err, ErrTampered) {
		t.Fatalf("Verify: %v", err)
	}
	if _, err := l.Entry(ctx, 290); !errors.Is(err, ErrTampered) {
		t.Fatalf("Entry(290): %v", err)
	}
}

// TestForeignEntriesAreReportedNotFatal writes a non-Charter entry with a
// bare tessera appender under the log's key: replay reports it and goes on,
// Verify finds the storage intact but the entry malformed.
func TestForeignEntriesAreReportedNotFatal(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := newSigner(t, DefaultOrigin)
	l, err := Open(ctx, dir, s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	appendN(t, l, 0, 2)
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}

	rctx, cancel := context.WithCancel(ctx)
	d, _ := posix.New(rctx, posix.Config{Path: dir})
	app, shutdown, _, err := tessera.NewAppender(rctx, d, tessera.NewAppendOptions().WithCheckpointSigner(s).WithCheckpointInterval(DefaultCheckpointInterval))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.Add(ctx, tessera.NewEntry([]byte("not a charter entry")))(); err != nil {
		t.Fatal(err)
	}
	if err := shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	cancel()

	l = openLog(t, dir, s)
	appendN(t, l, 2, 1)
	var good, bad int
	for r, err := range l.Entries(ctx, 0) {
		switch {
		case err == nil:
			good++
		case errors.Is(err, ErrMalformed) && r.Index == 2:
			bad++
		default:
			t.Fatalf("record %d: %v", r.Index, err)
		}
	}
	if good != 3 || bad != 1 {
		t.Fatalf("%d good and %d bad records", good, bad)
	}
	if _, err := l.Verify(ctx); !errors.Is(err, ErrMalformed) || errors.Is(err, ErrTampered) {
		t.Fatalf("Verify: %v", err)
	}
}

func FuzzCanonicalTilePath(f *testing.F) {
	for _, p := range []string{"tile/0/000", "tile/entries/x001/234.p/5", "tile/1/000.p/1", "tile/0/../x", "tile/entries/000.p/256"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if !canonicalTilePath(p) {
			return
		}
		if strings.Contains(p, "..") || strings.Contains(p, "//") || strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\\\x00") {
			t.Fatalf("accepted unsafe path %q", p)
		}
		for _, seg := range strings.Split(p, "/") {
			if seg == "" || seg == "." || strings.HasPrefix(seg, ".") && seg != ".p" && !strings.HasSuffix(seg, ".p") {
				t.Fatalf("accepted odd segment %q in %q", seg, p)
			}
		}
	})
}
