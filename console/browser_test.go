package console_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/metering"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// chromium finds the browser: $CHARTER_CHROMIUM, else Debian's
// /usr/bin/chromium, else one on $PATH.
func chromium() string {
	if p := os.Getenv("CHARTER_CHROMIUM"); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// artifacts is where screenshots go: $CHARTER_ARTIFACTS, else a folder in
// the system's temporary directory (never the source tree).
func artifacts(t *testing.T) string {
	dir := os.Getenv("CHARTER_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "charter-console-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser starts a headless Chromium with a fresh profile. Messages the
// page logs as errors, and uncaught exceptions, fail the test (a CSP
// violation is one). Without Chromium the test is skipped, except in CI.
func browser(t *testing.T) context.Context {
	t.Helper()
	path := chromium()
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium not found: install it (apt-get install chromium) or set CHARTER_CHROMIUM")
		}
		t.Skip("chromium not found; set CHARTER_CHROMIUM or install chromium to run the browser tests")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	if err := chromedp.Do(ctx); err != nil {
		cancelT()
		cancelC()
		cancelA()
		if os.Getenv("CI") == "true" {
			t.Fatalf("starting chromium: %v", err)
		}
		t.Skipf("chromium does not start: %v", err)
	}
	var mu sync.Mutex
	var problems []string
	msgs := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range msgs {
			if err != nil {
				return
			}
			// A 404 the page expects (an endpoint not built yet) is logged
			// by the network stack; the page itself handles it.
			if m.Source == "network" {
				continue
			}
			if m.IsException() || m.Type == "error" {
				mu.Lock()
				problems = append(problems, m.String())
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		cancelT()
		cancelC()
		cancelA()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, p := range problems {
			t.Errorf("browser console: %s", p)
		}
	})
	return ctx
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// go navigates inside the single page and waits until it has rendered.
func goTo(t *testing.T, ctx context.Context, hash string) {
	t.Helper()
	do(t, ctx, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`delete document.body.dataset.ready; location.hash = %q`, hash)))
	waitReady(t, ctx, hash)
}

// waitReady waits until the page has rendered the route hash.
func waitReady(t *testing.T, ctx context.Context, hash string) {
	t.Helper()
	js := fmt.Sprintf(`document.body && (document.body.dataset.ready || "").startsWith(%q)`, hash)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.body.dataset.ready || "") + " | " + document.getElementById("main").innerText.slice(0, 400)`))
		t.Fatalf("page %s did not render: %v (page: %s)", hash, err, got)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return eval[string](t, ctx, fmt.Sprintf(`(document.querySelector(%q) || {innerText: "<missing>"}).innerText`, sel))
}

func count(t *testing.T, ctx context.Context, sel string) int {
	t.Helper()
	return eval[int](t, ctx, fmt.Sprintf(`document.querySelectorAll(%q).length`, sel))
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100) /* 100: PNG */)
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(artifacts(t), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", p)
}

func setField(t *testing.T, ctx context.Context, id, v string) {
	t.Helper()
	do(t, ctx, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const e = document.getElementById(%q); e.value = %q; e.dispatchEvent(new Event("input", {bubbles: true})); })()`, id, v)))
}

// setFilter sets a catalog filter and waits until the page has shown
// the server's answer for it.
func setFilter(t *testing.T, ctx context.Context, id, v string) {
	t.Helper()
	setField(t, ctx, id, v)
	js := fmt.Sprintf(`document.getElementById("catalog-results").dataset.state === "done" && (new URLSearchParams(location.hash.split("?")[1] || "").get(%q) || "") === %q`, id, v)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("filter %s=%q: the catalog did not update: %v (%s)", id, v, err, text(t, ctx, "main"))
	}
}

func contains(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s: %q not found in:\n%s", what, w, got)
		}
	}
}

// TestBrowserClickThrough drives the console against a real server with
// real data: catalog (search and every filter) → asset page → lineage
// graph (by keyboard) → audit explorer verifying the entry in the
// browser → owner view, then the asset page at phone width.
func TestBrowserClickThrough(t *testing.T) {
	ctx := browser(t) // first: skip before any work without a browser
	ts, c := startServer(t, nil)
	w := seed(t, c)

	// Catalog.
	do(t, ctx, chromedp.Navigate(ts.URL+"/#/"))
	waitReady(t, ctx, "#/")
	// The first Tab reaches the skip link; Enter moves focus to the
	// content without changing the route.
	do(t, ctx, chromedp.KeyEvent("\t"))
	if cls := eval[string](t, ctx, `document.activeElement.className`); cls != "skip" {
		t.Errorf("first Tab focuses %q, want the skip link", cls)
	}
	do(t, ctx, chromedp.KeyEvent("\r"))
	if id := eval[string](t, ctx, `document.activeElement.id + " " + location.hash`); id != "main #/" {
		t.Errorf("skip link: focus and route %q", id)
	}
	rows := "#catalog-results tbody tr"
	if n := count(t, ctx, rows); n != 4 {
		t.Fatalf("catalog shows %d assets, want 4:\n%s", n, text(t, ctx, "main"))
	}
	for _, f := range []struct {
		field, value string
		want         []string
	}{
		{"q", "model", []string{"model", "model-chat"}},
		{"q", "", []string{"corpus", "model", "model-chat", "stolen"}},
		{"license", "commercial-training", []string{"model"}},
		{"license", "", nil},
		{"purpose", "research", []string{"corpus"}},
		{"purpose", "train", []string{"corpus", "model"}},
		{"purpose", "", nil},
		{"price", "free", []string{"corpus"}},
		{"price", "paid", []string{"model", "model-chat"}},
		{"price", "none", []string{"stolen"}},
		{"price", "", nil},
		{"media", "application/vnd.charter.dataset+json", []string{"corpus"}},
		{"media", "", []string{"corpus", "model", "model-chat", "stolen"}},
	} {
		setFilter(t, ctx, f.field, f.value)
		if f.want == nil {
			continue
		}
		got := eval[[]string](t, ctx, `[...document.querySelectorAll("#catalog-results tbody th a")].map(a => a.textContent).sort()`)
		if strings.Join(got, ",") != strings.Join(f.want, ",") {
			t.Errorf("filter %s=%q shows %v, want %v", f.field, f.value, got, f.want)
		}
	}
	contains(t, "catalog status", text(t, ctx, "#catalog-status"), "4 assets")
	contains(t, "conflict badge", text(t, ctx, fmt.Sprintf(`tr[data-asset=%q]`, w.stolen)), "conflicting claim")
	screenshot(t, ctx, "catalog.png")

	// Asset page of the dataset.
	do(t, ctx, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#catalog-results a[href="#/asset/%s"]`, w.corpus))))
	waitReady(t, ctx, "#/asset/"+w.corpus.String())
	if h := text(t, ctx, "h1"); h != "corpus" {
		t.Errorf("h1 = %q", h)
	}
	contains(t, "owners", text(t, ctx, "#owners"), "holding 2 of 2 weight")
	for _, k := range []string{w.alice.DID().String(), w.bob.DID().String()} {
		if count(t, ctx, fmt.Sprintf(`#owners code[title=%q]`, k)) != 1 {
			t.Errorf("owner %s not shown", k)
		}
	}
	contains(t, "contributors", text(t, ctx, "#contributors"), "60%", "40%")
	contains(t, "licence", text(t, ctx, "#license"), "Terms curated, version 1", "Every grant waits for the owners' approval", "paying 10% of their revenue back")
	contains(t, "proposals", text(t, ctx, "#proposals"), "set-owners", "pending", "(proposer)", "charter approve "+w.proposal)
	if n := count(t, ctx, fmt.Sprintf(`#proposals code[title=%q]`, w.bob.DID())); n != 1 {
		t.Errorf("the proposer is not shown as a signer")
	}
	contains(t, "grants", text(t, ctx, "#grants"), "train", "active", "charter grant approve "+w.grantRequest)
	contains(t, "trail", text(t, ctx, "#trail"), "asset.register", "asset.proposal")
	contains(t, "log check", text(t, ctx, "#logcheck"), "this page matches the log", "Signed by every owner (weight 2 of 2)",
		"The asset id is the BLAKE3 content id of the signed manifest", "The manifest shown is the signed one", "The licence terms shown are the ones the owners signed for")
	nodes := eval[[]string](t, ctx, `[...document.querySelectorAll("svg.lineage a.node")].map(a => a.dataset.asset).sort()`)
	want := []string{w.corpus.String(), w.model.String(), w.tuned.String()}
	if strings.Join(nodes, " ") != strings.Join(sortStrings(want), " ") {
		t.Errorf("lineage nodes %v, want %v", nodes, want)
	}
	screenshot(t, ctx, "asset-corpus.png")

	// The lineage graph by keyboard: focus the model's node, press Enter.
	focused := eval[string](t, ctx, fmt.Sprintf(`(() => { document.querySelector('svg.lineage a.node[data-asset=%q]').focus(); return document.activeElement.dataset.asset; })()`, w.model))
	if focused != w.model.String() {
		t.Fatalf("lineage node not focusable: focus on %q", focused)
	}
	do(t, ctx, chromedp.Evaluate[chromedp.Void](`delete document.body.dataset.ready`), chromedp.KeyEvent("\r"))
	waitReady(t, ctx, "#/asset/"+w.model.String())
	if h := text(t, ctx, "h1"); h != "model" {
		t.Errorf("after Enter on the node, h1 = %q", h)
	}
	if tag := eval[string](t, ctx, `document.activeElement.tagName`); tag != "H1" {
		t.Errorf("focus after navigation on %s, want the page heading", tag)
	}
	contains(t, "model conflicts", text(t, ctx, "#conflicts"), "also registered as")
	if n := count(t, ctx, fmt.Sprintf(`#conflicts a[href="#/asset/%s"]`, w.stolen)); n != 1 {
		t.Errorf("the conflicting claim is not linked")
	}
	contains(t, "model grants", text(t, ctx, "#grants"), "train", "active")
	contains(t, "model lineage", text(t, ctx, "#lineage"), "Derived from corpus", "royalty 10%", "Used by model-chat")

	// Audit explorer from the registration's log entry.
	idx := eval[string](t, ctx, `document.querySelector("#manifest a.logidx").getAttribute("href")`)
	do(t, ctx, chromedp.Evaluate[chromedp.Void](`delete document.body.dataset.ready`), chromedp.Click(chromedp.CSS("#manifest a.logidx")))
	waitReady(t, ctx, idx)
	contains(t, "verdict", text(t, ctx, "#verdict"), "is in the log: verified in this browser")
	if ty := text(t, ctx, "#entry-type"); ty != "asset.register" {
		t.Errorf("entry type %q", ty)
	}
	contains(t, "steps", text(t, ctx, "ol.steps"), "Checkpoint signature verified with Ed25519", "leads to the signed root hash")
	contains(t, "statement signers", text(t, ctx, "#signers"), "valid Ed25519 signature by\n"+w.alice.DID().String())
	contains(t, "checkpoint", text(t, ctx, "#checkpoint"), "Signature verified in this browser")
	key, err := c.LogKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := text(t, ctx, "#log-key"); got != strings.TrimSpace(key) {
		t.Errorf("pinned key %q, server %q", got, key)
	}
	// Another entry through the form.
	setField(t, ctx, "entry-index", "0")
	do(t, ctx, chromedp.Click(chromedp.CSS(`#entry button[type=submit]`)))
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`(document.querySelector("#verdict")||{}).innerText?.startsWith("Entry 0 is in the log")`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Errorf("entry 0 through the form: %v: %s", err, text(t, ctx, "#entry-result"))
	}
	screenshot(t, ctx, "audit.png")

	// Owner view: Alice has Bob's proposal and Carol's request to decide.
	// Without a view token her earnings are not shown, only how to see them.
	goTo(t, ctx, "#/owner?did="+w.alice.DID().String())
	contains(t, "alice proposals", text(t, ctx, "#pending-proposals"), "set-owners", "charter approve "+w.proposal)
	contains(t, "alice requests", text(t, ctx, "#pending-requests"), "research", "charter grant approve "+w.grantRequest)
	contains(t, "earnings without a token", text(t, ctx, "#earnings"), "shown only to their owner", "charter earnings --console", "charter earnings "+w.alice.DID().String())
	// With the link `charter earnings --console` prints.
	goToView(t, ctx, w.alice, w.alice)
	earn := text(t, ctx, "#earnings")
	contains(t, "earnings before any settlement", earn, "No earnings yet for this DID.")
	if got := eval[string](t, ctx, `location.hash`); strings.Contains(got, "view=") {
		t.Errorf("the view token stays in the address bar: %s", got)
	}
	screenshot(t, ctx, "owner.png")
	// Bob proposed, so his signature is already on it.
	goTo(t, ctx, "#/owner?did="+w.bob.DID().String())
	contains(t, "bob proposals", text(t, ctx, "#pending-proposals"), "Nothing waits for your approval.")
	// Load the DID from a file; a private key file is refused unread.
	files := t.TempDir()
	didFile, keyFile := filepath.Join(files, "me.did"), filepath.Join(files, "bob.key")
	os.WriteFile(didFile, []byte(w.alice.DID().String()+"\n"), 0o644)
	if err := w.bob.Save(keyFile); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, chromedp.Evaluate[chromedp.Void](`delete document.body.dataset.ready`), chromedp.SetUploadFiles(chromedp.CSS("#did-file"), []string{didFile}))
	waitReady(t, ctx, "#/owner?did=")
	contains(t, "did from file", text(t, ctx, "#pending-proposals"), "charter approve "+w.proposal)
	do(t, ctx, chromedp.SetUploadFiles(chromedp.CSS("#did-file"), []string{keyFile}))
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`(document.querySelector("#did-file-msg")||{}).innerText?.includes("That is a private key file")`, chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		t.Errorf("a private key file was not refused: %v", err)
	}
	if got := eval[string](t, ctx, `document.getElementById("did").value`); got != w.alice.DID().String() {
		t.Errorf("after loading a key file the DID field holds %q", got)
	}
	goTo(t, ctx, "#/owner?did=did:key:nope")
	contains(t, "bad did", text(t, ctx, "main .error"), "Not a did:key")

	// An unknown asset and a malformed id: the API's problem, in words.
	goTo(t, ctx, "#/asset/"+w.stolen.String()[:20])
	contains(t, "malformed id", text(t, ctx, "main .error"), "Could not load the asset: Malformed asset id")
	unknown := putBytes(t, c, []byte("never registered"))
	goTo(t, ctx, "#/asset/"+unknown)
	contains(t, "unknown asset", text(t, ctx, "main .error"), "Could not load the asset")
	goTo(t, ctx, "#/nowhere")
	contains(t, "unknown page", text(t, ctx, "h1"), "Page not found")

	// Phone width: nothing overflows the page sideways.
	do(t, ctx, chromedp.EmulateViewport(390, 844))
	goTo(t, ctx, "#/asset/"+w.corpus.String())
	if over := eval[int](t, ctx, `document.documentElement.scrollWidth - window.innerWidth`); over > 0 {
		wide := eval[[]string](t, ctx, `[...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && !(e.parentElement && e.parentElement.closest(".graph-scroll, .table-wrap"))).slice(0, 8).map(e => e.tagName + "." + e.className + "#" + e.id + " " + Math.round(e.getBoundingClientRect().right))`)
		t.Errorf("asset page is %dpx wider than a phone: %v", over, wide)
	}
	screenshot(t, ctx, "asset-phone.png")
	// Colour contrast, light and dark.
	do(t, ctx, chromedp.EmulateViewport(1280, 900))
	for _, scheme := range []string{"light", "dark"} {
		if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}}); err != nil {
			t.Fatal(err)
		}
		for _, pg := range []string{"#/asset/" + w.corpus.String(), "#/owner?did=" + w.alice.DID().String(), "#/audit/1", "#/?q=o"} {
			do(t, ctx, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`delete document.body.dataset.ready; location.hash = %q`, pg+"&"+scheme)))
			waitReady(t, ctx, pg)
			if low := eval[[]string](t, ctx, lowContrast); len(low) > 0 {
				t.Errorf("%s, %s: text under AA contrast: %v", pg, scheme, low)
			}
		}
		screenshot(t, ctx, "catalog-"+scheme+".png")
	}
	// The contrast check itself finds faint text.
	faint := eval[[]string](t, ctx, `(() => { const p = document.createElement("p"); p.id = "faint"; p.textContent = "faint text"; p.style.color = "#777"; p.style.background = "#888"; document.getElementById("main").append(p); return []; })()`)
	if low := eval[[]string](t, ctx, lowContrast); len(low) != 1+len(faint) || !strings.Contains(low[0], "faint text") {
		t.Errorf("the contrast check does not find faint text: %v", low)
	}
	do(t, ctx, chromedp.EmulateViewport(390, 844))
	for _, pg := range []struct{ hash, shot string }{
		{"#/", "catalog-phone.png"},
		{"#/owner?did=" + w.alice.DID().String(), "owner-phone.png"},
		{"#/audit/1", "audit-phone.png"},
	} {
		goTo(t, ctx, pg.hash)
		if over := eval[int](t, ctx, `document.documentElement.scrollWidth - window.innerWidth`); over > 0 {
			t.Errorf("%s is %dpx wider than a phone", pg.hash, over)
		}
		screenshot(t, ctx, pg.shot)
	}
}

// lowContrast lists text on the page whose contrast against its
// background is under WCAG AA (4.5:1; 3:1 for large or bold large text).
const lowContrast = `(() => {
  const rgb = (c) => { const m = c.match(/[\d.]+/g); return m ? m.map(Number) : [0, 0, 0, 0]; };
  const lum = ([r, g, b]) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; }; return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const bg = (e) => { for (; e; e = e.parentElement) { const c = rgb(getComputedStyle(e).backgroundColor); if (c.length < 4 || c[3] > 0) return c; } return [255, 255, 255]; };
  const out = [];
  for (const e of document.querySelectorAll("body *:not(svg *):not(svg)")) {
    if (![...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
    const r = e.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || e.closest(".sr-only, .skip")) continue;
    const st = getComputedStyle(e);
    const a = lum(rgb(st.color)), b = lum(bg(e));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const size = parseFloat(st.fontSize), bold = Number(st.fontWeight) >= 700;
    const need = size >= 24 || (bold && size >= 18.66) ? 3 : 4.5;
    if (ratio < need) out.push(e.tagName + "." + e.className + " \"" + e.textContent.trim().slice(0, 30) + "\" " + ratio.toFixed(2));
  }
  return out;
})()`

func sortStrings(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

// liar sits between the browser and an honest server and lies in the way
// mode says.
type liar struct {
	mode atomic.Value // string
	next http.Handler
}

func (l *liar) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	mode, _ := l.mode.Load().(string)
	// Never let the browser answer from its cache: every lie is served.
	r.Header.Del("If-None-Match")
	r.Header.Del("If-Modified-Since")
	rec := httptest.NewRecorder()
	l.next.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	switch {
	case mode == "proof" && strings.HasPrefix(r.URL.Path, "/v1/log/proof/"):
		// Alter one hash of the inclusion proof (still valid base64).
		var b map[string]any
		json.Unmarshal(body, &b)
		lines := strings.Split(b["proof"].(string), "\n")
		for i, ln := range lines {
			if h, err := base64.StdEncoding.DecodeString(ln); err == nil && len(h) == 32 && i > 1 {
				h[0] ^= 1
				lines[i] = base64.StdEncoding.EncodeToString(h)
				break
			}
		}
		b["proof"] = strings.Join(lines, "\n")
		body, _ = json.Marshal(b)
	case mode == "entry" && strings.HasPrefix(r.URL.Path, "/v1/log/proof/"):
		// Serve another statement under the same proof.
		var b map[string]any
		json.Unmarshal(body, &b)
		e, _ := base64.StdEncoding.DecodeString(b["entry"].(string))
		e = bytes.Replace(e, []byte("asset.register"), []byte("asset.approval"), 1)
		e = bytes.Replace(e, []byte("charter.decision+json"), []byte("charter.decisiom+json"), 1) // entry 1 may be a decision record
		e = bytes.Replace(e, []byte("charter.log-part"), []byte("charter.log-pary"), 1)           // or a part (licence terms) the server logged
		b["entry"] = base64.StdEncoding.EncodeToString(e)
		body, _ = json.Marshal(b)
	case mode == "fork" && r.URL.Path == "/v1/log/consistency":
		// Alter one hash of the consistency proof.
		var b map[string]any
		json.Unmarshal(body, &b)
		lines := strings.Split(b["proof"].(string), "\n")
		if h, err := base64.StdEncoding.DecodeString(lines[1]); err == nil && len(h) == 32 {
			h[0] ^= 1
			lines[1] = base64.StdEncoding.EncodeToString(h)
		}
		b["proof"] = strings.Join(lines, "\n")
		body, _ = json.Marshal(b)
	case mode == "manifest" && strings.HasPrefix(r.URL.Path, "/v1/assets/") && strings.Count(r.URL.Path, "/") == 3:
		// Rename the asset on its page.
		// The server may answer indented or compact JSON.
		body = bytes.Replace(body, []byte(`"name": "corpus"`), []byte(`"name": "corpus-renamed"`), 1)
		body = bytes.Replace(body, []byte(`"name":"corpus"`), []byte(`"name":"corpus-renamed"`), 1)
	case mode == "terms" && strings.HasPrefix(r.URL.Path, "/v1/blobs/") && bytes.HasPrefix(body, []byte(`{"approval":`)):
		// Serve other licence terms under the terms' id.
		body = bytes.Replace(body, []byte(`"commercial":true`), []byte(`"commercial":false`), 1)
	case mode == "checkpoint" && r.URL.Path == "/log/checkpoint":
		// Claim a different tree under the real signature.
		lines := strings.Split(string(body), "\n")
		if len(lines) < 3 {
			t := "empty checkpoint"
			panic(t)
		}
		lines[1] = "1000"
		body = []byte(strings.Join(lines, "\n"))
	case mode == "key" && r.URL.Path == "/log/key":
		body = []byte("evil.example/log+01234567+AWCTql/kWHcKie+S1tOwiV/Bza5T/Kga4JQESZI2ErU2\n")
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Del("Content-Length")
	w.WriteHeader(rec.Code)
	w.Write(body)
}

// TestBrowserCatchesLyingLog shows that the audit explorer believes
// nothing the server says: an altered proof, a swapped entry, a forged
// checkpoint and a changed log key are each caught in the browser.
func TestBrowserCatchesLyingLog(t *testing.T) {
	ctx := browser(t) // first: skip before any work without a browser
	l := &liar{}
	l.mode.Store("")
	ts, c := startServer(t, func(h http.Handler) http.Handler { l.next = h; return l })
	w := seed(t, c)

	do(t, ctx, chromedp.Navigate(ts.URL+"/#/audit/1"))
	waitReady(t, ctx, "#/audit/1")
	contains(t, "honest", text(t, ctx, "#verdict"), "Entry 1 is in the log")
	contains(t, "first visit", text(t, ctx, "#consistency"), "now remembers this checkpoint")
	size := text(t, ctx, "#checkpoint-size")
	// The log grows; an honest server proves it only grew.
	extra := putBytes(t, c, []byte("more"))
	eid, _ := content.ParseID(extra)
	k := newKey(t)
	register(t, c, &asset.Manifest{Content: eid, Name: "later", MediaType: "text/plain",
		Owners: []asset.Owner{{DID: k.DID(), Weight: 1}}, Threshold: 1,
		Contributors: []asset.Contributor{{DID: k.DID(), Share: asset.Whole}}}, k)
	do(t, ctx, chromedp.Reload())
	waitReady(t, ctx, "#/audit/1")
	contains(t, "grown", text(t, ctx, "#consistency"), "the log grew from "+size+" to ")
	// A forged consistency proof: the log grows again and the server lies
	// about how.
	k2 := newKey(t)
	eid2, _ := content.ParseID(putBytes(t, c, []byte("even more")))
	register(t, c, &asset.Manifest{Content: eid2, Name: "later2", MediaType: "text/plain",
		Owners: []asset.Owner{{DID: k2.DID(), Weight: 1}}, Threshold: 1,
		Contributors: []asset.Contributor{{DID: k2.DID(), Share: asset.Whole}}}, k2)
	l.mode.Store("fork")
	do(t, ctx, chromedp.Reload())
	waitReady(t, ctx, "#/audit/1")
	contains(t, "fork", text(t, ctx, "#consistency"), "The log is not consistent with what this browser saw before")
	screenshot(t, ctx, "lie-fork.png")

	// Names and descriptions are shown as text, never as markup.
	hostile := `<img src=x onerror="document.body.dataset.owned=1">`
	hk := newKey(t)
	hid, _ := content.ParseID(putBytes(t, c, []byte("hostile")))
	hostileID := register(t, c, &asset.Manifest{Content: hid, Name: hostile, Description: hostile, MediaType: "text/plain",
		Owners: []asset.Owner{{DID: hk.DID(), Weight: 1}}, Threshold: 1,
		Contributors: []asset.Contributor{{DID: hk.DID(), Share: asset.Whole}}}, hk)
	goTo(t, ctx, "#/asset/"+hostileID.String())
	if h := text(t, ctx, "h1"); h != hostile {
		t.Errorf("hostile name shown as %q", h)
	}
	goTo(t, ctx, "#/")
	if n := count(t, ctx, "main img"); n != 0 || eval[bool](t, ctx, `document.body.dataset.owned === "1"`) {
		t.Errorf("an asset name became markup")
	}

	// The asset page checks itself against the log.
	l.mode.Store("")
	goTo(t, ctx, "#/asset/"+w.corpus.String())
	contains(t, "honest asset page", text(t, ctx, "#logcheck"), "this page matches the log")
	for _, tc := range []struct{ mode, want string }{
		{"manifest", "The manifest shown is the signed one"},
		{"terms", "The licence terms shown are the ones the owners signed for"},
		{"proof", "Could not check against the log"},
	} {
		l.mode.Store(tc.mode)
		do(t, ctx, chromedp.Reload())
		waitReady(t, ctx, "#/asset/")
		got := text(t, ctx, "#logcheck")
		contains(t, "asset page, lying "+tc.mode, got, "This page does NOT match the log")
		if bad := eval[string](t, ctx, `[...document.querySelectorAll("#logcheck li.bad")].map(e => e.innerText).join("\n")`); !strings.Contains(bad, tc.want) {
			t.Errorf("asset page, lying %s: failed steps %q, want %q", tc.mode, bad, tc.want)
		}
		screenshot(t, ctx, "lie-asset-"+tc.mode+".png")
	}
	l.mode.Store("")
	goTo(t, ctx, "#/audit/1")

	for _, tc := range []struct{ mode, sel, want string }{
		{"proof", "#verdict", "Entry 1 did not verify"},
		{"entry", "#verdict", "Entry 1 did not verify"},
		{"checkpoint", "#checkpoint", "The checkpoint does not verify"},
		{"key", "#logkey", "The server's log key changed"},
	} {
		l.mode.Store(tc.mode)
		do(t, ctx, chromedp.Reload())
		waitReady(t, ctx, "#/audit/1")
		got := text(t, ctx, tc.sel)
		contains(t, "lying "+tc.mode, got, tc.want)
		if tc.mode == "key" {
			// The pinned key still checks the honest proofs.
			contains(t, "pinned key", text(t, ctx, "#verdict"), "Entry 1 is in the log")
		}
		screenshot(t, ctx, "lie-"+tc.mode+".png")
	}
}

// TestBrowserEarningsView settles real usage (a training run of the
// model, paid by Carol) and checks Alice's earnings in the owner view:
// totals equal to the server's statement, charts by period and by asset
// with own revenue and royalties, where the money came from; then that the
// view degrades to an empty state when the endpoint answers 404.
func TestBrowserEarningsView(t *testing.T) {
	ctx := browser(t) // first: skip before any work without a browser
	var hide atomic.Bool
	ts, c, dir := startServerDir(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if hide.Load() && r.URL.Path == "/v1/earnings" {
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(http.StatusNotFound)
				w.Write([]byte(`{"type":"https://charter.dev/problems/not-found","title":"Not found","status":404}`))
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	w := seed(t, c)
	settleTraining(t, c, dir, w)
	st, err := c.WithKey(w.alice).Earnings(context.Background(), client.EarningsQuery{DID: w.alice.DID().String()})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Currencies) != 1 || st.Currencies[0].Own <= 0 || st.Currencies[0].Royalties <= 0 {
		t.Fatalf("seeded statement has not both own revenue and royalties: %+v", st.Currencies)
	}
	cur := st.Currencies[0]
	total := metering.FormatAmount(cur.Total, cur.Currency) + " USD"

	do(t, ctx, chromedp.Navigate(ts.URL+"/"+viewLink(t, w.alice, w.alice)))
	waitReady(t, ctx, "#/owner?did="+w.alice.DID().String())
	contains(t, "earnings", text(t, ctx, "#earnings"), "USD: "+total+" earned",
		"Own revenue\n"+metering.FormatAmount(cur.Own, cur.Currency)+" USD",
		"Royalties from descendants\n"+metering.FormatAmount(cur.Royalties, cur.Currency)+" USD",
		"Earnings by day (USD)", "Earnings by asset (USD)", "Where the money came from", "model → corpus")
	if n := count(t, ctx, "#earn-period-0 rect"); n != 2 {
		t.Errorf("period chart has %d bars, want 2 (own and royalties today)", n)
	}
	if n := count(t, ctx, "#earn-asset-0 rect"); n != 2 {
		t.Errorf("asset chart has %d bars, want 2 (model own, corpus royalties)", n)
	}
	contains(t, "chart description", eval[string](t, ctx, `document.querySelector("#earn-asset-0 desc").textContent`), "corpus: own 0.00, royalties "+metering.FormatAmount(cur.Royalties, cur.Currency))
	screenshot(t, ctx, "earnings.png")

	// Group by month.
	do(t, ctx, chromedp.Evaluate[chromedp.Void](`(() => { const s = document.getElementById("earn-group"); s.value = "month"; s.dispatchEvent(new Event("change", {bubbles: true})); })()`))
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`(document.querySelector("#earnings")||{}).innerText?.includes("Earnings by month (USD)")`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Errorf("group by month: %v", err)
	}
	if got := eval[string](t, ctx, `location.hash`); !strings.Contains(got, "period=month") {
		t.Errorf("the grouping is not in the address: %s", got)
	}

	// Bob earns 40% of the dataset's royalties and owns nothing that earns directly.
	goToView(t, ctx, w.bob, w.bob)
	contains(t, "bob earnings", text(t, ctx, "#earnings"), "Own revenue\n0.00 USD")
	// Mallory earns nothing.
	goToView(t, ctx, w.mallory, w.mallory)
	contains(t, "mallory earnings", text(t, ctx, "#earnings"), "No earnings yet for this DID.")
	// Mallory's token does not open Carol's earnings.
	goToView(t, ctx, w.carol, w.mallory)
	contains(t, "carol with mallory's token", text(t, ctx, "#earnings"), "for another DID", "charter earnings --console")

	// A dispute on the model shows on its page.
	d := &metering.Dispute{Asset: w.model, Created: asset.NewTime(time.Now()), Nonce: asset.NewNonce(), Opener: w.carol.DID(), Reason: "this model is mine"} // Carol licenses it: standing
	denv, err := d.Sign(w.carol)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.OpenDispute(context.Background(), denv); err != nil {
		t.Fatal(err)
	}
	goTo(t, ctx, "#/asset/"+w.model.String())
	contains(t, "dispute", text(t, ctx, "#conflicts"), "Disputes", "open", "this model is mine")
	goTo(t, ctx, "#/asset/"+w.corpus.String())
	contains(t, "no dispute", text(t, ctx, "#conflicts"), "No disputes.")

	hide.Store(true)
	goTo(t, ctx, "#/owner?did="+w.alice.DID().String()+"&x=1")
	contains(t, "earnings 404", text(t, ctx, "#earnings"), "does not report earnings")
}

// viewLink is the console address `charter earnings --console` prints for
// the owner view of who, with a view token signed by signer.
func viewLink(t *testing.T, who, signer *identity.Key) string {
	t.Helper()
	tok, err := metering.NewView(who.DID(), time.Now(), 15*time.Minute).Token(signer)
	if err != nil {
		t.Fatal(err)
	}
	return "#/owner?did=" + who.DID().String() + "&view=" + tok
}

// goToView opens the owner view of who through a view link signed by
// signer; the page drops the token from the address once it has read it.
func goToView(t *testing.T, ctx context.Context, who, signer *identity.Key) {
	t.Helper()
	do(t, ctx, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`delete document.body.dataset.ready; location.hash = %q`, viewLink(t, who, signer))))
	waitReady(t, ctx, "#/owner?did="+who.DID().String())
}
