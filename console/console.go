// Package console serves Charter's web console: a single page of plain
// HTML, CSS and ES modules embedded in the binary, with no build step.
//
// The console is a client of the public HTTP API and nothing more: it
// lists and searches the catalog, shows an asset's manifest, owners,
// contributors, lineage (as an SVG graph), licence terms in plain words,
// conflicting claims, proposals, grants and audit trail, gives owners a
// view of what waits for their approval and of their earnings, and
// explores the transparency log. The audit explorer does not trust the
// server that serves it: it checks every inclusion proof in the browser
// (RFC 6962 hashing with SubtleCrypto SHA-256) against a checkpoint whose
// C2SP signed-note Ed25519 signature it verifies with WebCrypto.
//
// Mount Handler at "/" beside the API. It answers "/" with the page and
// "/console/..." with its assets; any other path is answered with a 404
// problem document, as the API answers unknown endpoints. See
// docs/console.md.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// Prefix is the path under which the console's assets are served.
const Prefix = "/console/"

// ContentSecurityPolicy is sent with every console response: the page
// loads only its own scripts and styles and talks only to its own origin.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// file is one embedded asset, ready to serve.
type file struct {
	body  []byte
	ctype string
	etag  string
}

// Handler returns the handler of the console. It serves GET and HEAD
// only, from memory; responses carry a strong ETag and must be
// revalidated, so a new binary's console is picked up at once.
func Handler() http.Handler {
	files := map[string]file{}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(p))
		switch path.Ext(p) { // do not depend on the host's mime tables
		case ".js":
			ct = "text/javascript; charset=utf-8"
		case ".css":
			ct = "text/css; charset=utf-8"
		case ".html":
			ct = "text/html; charset=utf-8"
		case ".svg":
			ct = "image/svg+xml"
		}
		files[strings.TrimPrefix(p, "static/")] = file{body: b, ctype: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		panic("console: embedded files: " + err.Error()) // cannot happen: the FS is compiled in
	}
	return &handler{files: files}
}

type handler struct{ files map[string]file }

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := h.lookup(r.URL.Path)
	if !ok {
		notFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		problem(w, r, http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed", "the console is read-only: use GET", "")
		return
	}
	f := h.files[name]
	hd := w.Header()
	hd.Set("Content-Security-Policy", ContentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cache-Control", "no-cache")
	hd.Set("ETag", f.etag)
	hd.Set("Content-Type", f.ctype)
	if match := r.Header.Get("If-None-Match"); match != "" && etagMatch(match, f.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}

// lookup maps a request path to an embedded file: "/" and "/index.html"
// to the page, Prefix+name to an asset. Paths are matched exactly, never
// cleaned, so no path can name anything outside the embedded set.
func (h *handler) lookup(p string) (string, bool) {
	switch {
	case p == "/" || p == "/index.html":
		return "index.html", true
	case strings.HasPrefix(p, Prefix):
		name := strings.TrimPrefix(p, Prefix)
		if name == "index.html" || name == "" {
			return "", false
		}
		_, ok := h.files[name]
		return name, ok
	}
	return "", false
}

func etagMatch(header, etag string) bool {
	for _, v := range strings.Split(header, ",") {
		v = strings.TrimSpace(v)
		if v == etag || v == "*" || v == "W/"+etag {
			return true
		}
	}
	return false
}

func notFound(w http.ResponseWriter, r *http.Request) {
	problem(w, r, http.StatusNotFound, "not-found", "Not found", "no such endpoint: "+r.Method+" "+r.URL.Path, "see /openapi.json for the API, or open / for the console")
}

// problem answers an RFC 9457 problem document shaped like the API's.
func problem(w http.ResponseWriter, r *http.Request, status int, kind, title, detail, hint string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	json.NewEncoder(w).Encode(struct {
		Type     string `json:"type"`
		Title    string `json:"title"`
		Status   int    `json:"status"`
		Detail   string `json:"detail,omitempty"`
		Instance string `json:"instance,omitempty"`
		Hint     string `json:"hint,omitempty"`
	}{"https://charter.dev/problems/" + kind, title, status, detail, r.URL.Path, hint})
}
