package auditlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/transparency-dev/tessera/api/layout"
)

// Content types and cache policies of the C2SP tlog-tiles read API.
const (
	checkpointContentType = "text/plain; charset=utf-8"
	tileContentType       = "application/octet-stream"
	// Tiles and entry bundles, full or partial, never change once written.
	immutableCache = "public, max-age=31536000, immutable"
	// The checkpoint changes with every new tree head.
	checkpointCache = "no-cache"
	keyCache        = "public, max-age=86400"
)

// Handler serves the log read-only in the C2SP tlog-tiles layout under
// Options.HTTPPrefix (default "/log"):
//
//	GET /log/checkpoint                 the latest signed checkpoint
//	GET /log/tile/<L>/<N>[.p/<W>]       Merkle tree tiles
//	GET /log/tile/entries/<N>[.p/<W>]   entry bundles
//	GET /log/key                        the checkpoint verifier key
//
// Resources are read through tessera's reader for the log's driver (files
// for POSIX, rows for MySQL), never by opening a path built from the
// request: a path is parsed into numbers and must equal the canonical path
// rebuilt from them. A partial tile or bundle of width W is served as its
// first W hashes or entries even when the driver holds a wider one (tiles
// only grow by appending), so every response is the C2SP resource the path
// names. Mount it as mux.Handle("/log/", l.Handler()).
func (l *Log) Handler() http.Handler {
	prefix := strings.TrimSuffix(l.opts.HTTPPrefix, "/") + "/"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		rel, ok := strings.CutPrefix(r.URL.Path, prefix)
		if !ok {
			http.NotFound(w, r)
			return
		}
		ctx := r.Context()
		if rel == "key" {
			w.Header().Set("Content-Type", checkpointContentType)
			w.Header().Set("Cache-Control", keyCache)
			w.Write([]byte(l.vkey + "\n"))
			return
		}
		if rel == layout.CheckpointPath {
			b, err := l.reader.ReadCheckpoint(ctx)
			serveBytes(w, r, b, err, checkpointContentType, checkpointCache)
			return
		}
		res, ok := parseTilePath(rel)
		if !ok {
			http.NotFound(w, r)
			return
		}
		var b []byte
		var err error
		if res.entries {
			b, err = l.reader.ReadEntryBundle(ctx, res.index, res.p)
			if err == nil && res.p > 0 {
				b, err = trimBundle(b, int(res.p))
			}
		} else {
			b, err = l.reader.ReadTile(ctx, res.level, res.index, res.p)
			if err == nil {
				b, err = trimTile(b, int(res.p))
			}
		}
		serveBytes(w, r, b, err, tileContentType, immutableCache)
	})
}

// tileResource is a parsed tlog-tiles path: a tile or an entry bundle.
type tileResource struct {
	entries      bool
	level, index uint64
	p            uint8
}

// parseTilePath parses rel when it is the canonical tlog-tiles path of a
// tile or entry bundle.
func parseTilePath(rel string) (tileResource, bool) {
	rest, ok := strings.CutPrefix(rel, "tile/")
	if !ok {
		return tileResource{}, false
	}
	if idx, ok := strings.CutPrefix(rest, "entries/"); ok {
		n, p, err := layout.ParseTileIndexPartial(idx)
		ok := err == nil && layout.EntriesPath(n, p) == rel
		return tileResource{entries: true, index: n, p: p}, ok
	}
	level, idx, ok := strings.Cut(rest, "/")
	if !ok {
		return tileResource{}, false
	}
	lv, n, p, err := layout.ParseTileLevelIndexPartial(level, idx)
	ok = err == nil && layout.TilePath(lv, n, p) == rel
	return tileResource{level: lv, index: n, p: p}, ok
}

// canonicalTilePath reports whether rel is the canonical tlog-tiles path of
// a tile or entry bundle.
func canonicalTilePath(rel string) bool {
	_, ok := parseTilePath(rel)
	return ok
}

// errShortResource: the driver holds fewer hashes or entries than asked.
var errShortResource = errors.New("resource shorter than its width")

// trimTile returns the first w hashes of tile (w = 0: a full tile).
func trimTile(tile []byte, w int) ([]byte, error) {
	if w == 0 {
		w = bundleWidth
	}
	if len(tile) < w*HashSize {
		return nil, errShortResource
	}
	return tile[:w*HashSize], nil
}

// trimBundle returns the first w entries of an entry bundle (C2SP
// tlog-tiles: each entry is a big-endian uint16 length and its bytes).
func trimBundle(bundle []byte, w int) ([]byte, error) {
	off := 0
	for range w {
		if len(bundle)-off < 2 {
			return nil, errShortResource
		}
		n := int(binary.BigEndian.Uint16(bundle[off:]))
		if len(bundle)-off-2 < n {
			return nil, errShortResource
		}
		off += 2 + n
	}
	return bundle[:off], nil
}

// serveBytes answers with b, or 404 when the resource does not exist (or
// is shorter than the path's width) and 500 on other storage errors.
func serveBytes(w http.ResponseWriter, r *http.Request, b []byte, err error, contentType, cache string) {
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, errShortResource):
		http.NotFound(w, r)
		return
	case err != nil:
		http.Error(w, "log storage unavailable", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", cache)
	// ServeContent answers HEAD and Range requests.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
}
