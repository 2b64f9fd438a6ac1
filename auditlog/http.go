package auditlog

import (
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"

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
// Only canonical tile paths are served: a path is parsed into numbers and
// must equal the path rebuilt from them, so no request can name any other
// file. Mount it as mux.Handle("/log/", l.Handler()).
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
		switch {
		case rel == "key":
			w.Header().Set("Content-Type", checkpointContentType)
			w.Header().Set("Cache-Control", keyCache)
			w.Write([]byte(l.vkey + "\n"))
		case rel == layout.CheckpointPath:
			l.serveFile(w, r, layout.CheckpointPath, checkpointContentType, checkpointCache)
		case canonicalTilePath(rel):
			l.serveFile(w, r, rel, tileContentType, immutableCache)
		default:
			http.NotFound(w, r)
		}
	})
}

// canonicalTilePath reports whether rel is the canonical tlog-tiles path of
// a tile or entry bundle.
func canonicalTilePath(rel string) bool {
	rest, ok := strings.CutPrefix(rel, "tile/")
	if !ok {
		return false
	}
	if idx, ok := strings.CutPrefix(rest, "entries/"); ok {
		n, p, err := layout.ParseTileIndexPartial(idx)
		return err == nil && layout.EntriesPath(n, p) == rel
	}
	level, idx, ok := strings.Cut(rest, "/")
	if !ok {
		return false
	}
	lv, n, p, err := layout.ParseTileLevelIndexPartial(level, idx)
	return err == nil && layout.TilePath(lv, n, p) == rel
}

func (l *Log) serveFile(w http.ResponseWriter, r *http.Request, rel, contentType, cache string) {
	f, err := os.Open(filepath.Join(l.dir, filepath.FromSlash(rel)))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		http.NotFound(w, r)
		return
	case err != nil:
		http.Error(w, "log storage unavailable", http.StatusInternalServerError)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", cache)
	// ServeContent streams the file and answers HEAD and Range requests.
	http.ServeContent(w, r, "", fi.ModTime(), f)
}
