package console_test

import (
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"regexp"
	"strings"
	"testing"

	"github.com/charter-dev/charter/console"
)

func get(t *testing.T, h http.Handler, method, target string, hdr ...string) *http.Response {
	t.Helper()
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Result()
}

func TestHandlerServesPageAndAssets(t *testing.T) {
	h := console.Handler()
	for _, tc := range []struct {
		path, ctype, contains string
	}{
		{"/", "text/html; charset=utf-8", `<script type="module" src="/console/app.js">`},
		{"/index.html", "text/html; charset=utf-8", "<main id=\"main\""},
		{"/console/app.js", "text/javascript; charset=utf-8", "hashchange"},
		{"/console/verify.js", "text/javascript; charset=utf-8", "rootFromInclusion"},
		{"/console/style.css", "text/css; charset=utf-8", ":focus-visible"},
		{"/console/icon.svg", "image/svg+xml", "<svg"},
	} {
		resp := get(t, h, "GET", tc.path)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d", tc.path, resp.StatusCode)
			continue
		}
		if ct := resp.Header.Get("Content-Type"); ct != tc.ctype {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.path, ct, tc.ctype)
		}
		if !strings.Contains(string(body), tc.contains) {
			t.Errorf("GET %s: body lacks %q", tc.path, tc.contains)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); csp != console.ContentSecurityPolicy {
			t.Errorf("GET %s: CSP %q", tc.path, csp)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("ETag") == "" || resp.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s: headers %v", tc.path, resp.Header)
		}
		// Revalidation answers 304 without a body.
		re := get(t, h, "GET", tc.path, "If-None-Match", resp.Header.Get("ETag"))
		if re.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s with its ETag: %d, want 304", tc.path, re.StatusCode)
		}
		hd := get(t, h, "HEAD", tc.path)
		if b, _ := io.ReadAll(hd.Body); hd.StatusCode != 200 || len(b) != 0 {
			t.Errorf("HEAD %s: %d with %d bytes", tc.path, hd.StatusCode, len(b))
		}
	}
}

// TestHandlerRefuses checks that everything outside the embedded files is a
// problem document, as the API answers unknown endpoints, and that no path
// reaches anything but the embedded files.
func TestHandlerRefuses(t *testing.T) {
	h := console.Handler()
	for _, tc := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/v1/nothing", 404},
		{"GET", "/console/", 404},
		{"GET", "/console/index.html", 404},
		{"GET", "/console/missing.js", 404},
		{"GET", "/console/../console.go", 404},
		{"GET", "/console/%2e%2e/console.go", 404},
		{"GET", "/console//app.js", 404},
		{"GET", "/static/app.js", 404},
		{"GET", "/app.js", 404},
		{"GET", "/console.go", 404},
		{"POST", "/", 405},
		{"DELETE", "/console/app.js", 405},
		{"POST", "/v1/nothing", 404},
	} {
		resp := get(t, h, tc.method, tc.path)
		if resp.StatusCode != tc.status {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.status)
			continue
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("%s %s: Content-Type %q", tc.method, tc.path, ct)
		}
		var p struct {
			Type, Title string
			Status      int
			Hint        string
		}
		if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || p.Status != tc.status || p.Title == "" || !strings.HasPrefix(p.Type, "https://charter.dev/problems/") {
			t.Errorf("%s %s: problem %+v (%v)", tc.method, tc.path, p, err)
		}
		if tc.status == 405 && resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s %s: Allow %q", tc.method, tc.path, resp.Header.Get("Allow"))
		}
	}
}

var (
	importRE = regexp.MustCompile(`(?m)^import .* from "\./([a-z]+\.js)";$`)
	srcRE    = regexp.MustCompile(`(?:src|href)="(/console/[^"]+)"`)
)

// TestReferencesResolve checks that every module import and every asset the
// page names is served: a typo would otherwise show only in a browser.
func TestReferencesResolve(t *testing.T) {
	h := console.Handler()
	files, err := fs.Glob(os.DirFS("static"), "*")
	if err != nil || len(files) == 0 {
		t.Fatal(files, err)
	}
	for _, f := range files {
		b, err := os.ReadFile(path.Join("static", f))
		if err != nil {
			t.Fatal(err)
		}
		var refs []string
		for _, m := range importRE.FindAllStringSubmatch(string(b), -1) {
			refs = append(refs, console.Prefix+m[1])
		}
		for _, m := range srcRE.FindAllStringSubmatch(string(b), -1) {
			refs = append(refs, m[1])
		}
		for _, r := range refs {
			if resp := get(t, h, "GET", r); resp.StatusCode != 200 {
				t.Errorf("%s refers to %s, which answers %d", f, r, resp.StatusCode)
			}
		}
		if strings.HasSuffix(f, ".js") && strings.Contains(string(b), "innerHTML") {
			t.Errorf("%s uses innerHTML: text from the catalog must go in as text", f)
		}
		if strings.HasSuffix(f, ".html") && regexp.MustCompile(`(?i)\son[a-z]+=|<script>|style=`).Match(b) {
			t.Errorf("%s has inline script or style, which the Content-Security-Policy blocks", f)
		}
	}
}

// FuzzHandlerPath: no request path panics, and only the page and the
// embedded assets are ever answered with 200.
func FuzzHandlerPath(f *testing.F) {
	for _, s := range []string{"/", "/index.html", "/console/app.js", "/console/../x", "/console/", "//", "/v1/assets", "/console/app.js/"} {
		f.Add(s)
	}
	h := console.Handler()
	allowed := map[string]bool{"/": true, "/index.html": true}
	files, _ := fs.Glob(os.DirFS("static"), "*")
	for _, n := range files {
		if n != "index.html" {
			allowed[console.Prefix+n] = true
		}
	}
	f.Fuzz(func(t *testing.T, p string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.URL.Path = p
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case 200:
			if !allowed[p] {
				t.Fatalf("%q answered 200", p)
			}
		case 404:
		default:
			t.Fatalf("%q answered %d", p, w.Code)
		}
	})
}
