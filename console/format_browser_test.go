package console_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/license"
	"github.com/charter-dev/charter/metering"
	"github.com/chromedp/chromedp"
	"lukechampine.com/blake3"
)

// TestBrowserFormatting checks the console's exact money and share
// formatting against the Go implementations the CLI prints with
// (metering.FormatAmount, asset.Share), its licence wording against every
// template, and the lineage layout on a diamond.
func TestBrowserFormatting(t *testing.T) {
	ctx := browser(t) // first: skip before any work without a browser
	rng := rand.New(rand.NewPCG(1, 2))
	type amt struct {
		V    int64  `json:"v"`
		Exp  int    `json:"exp"`
		Want string `json:"want"`
	}
	var amounts []amt
	for i := 0; i < 300; i++ {
		exp := rng.IntN(19)
		v := rng.Int64N(1 << 53)
		switch i % 4 {
		case 0:
			v = rng.Int64N(1000)
		case 1:
			v = -v
		}
		cur := "USD"
		if exp > 0 {
			cur = fmt.Sprintf("USD-%d", exp)
		}
		amounts = append(amounts, amt{v, exp, metering.FormatAmount(v, cur)})
	}
	type share struct {
		PPM  int64  `json:"ppm"`
		Want string `json:"want"`
	}
	var shares []share
	for _, p := range []int64{0, 1, 10, 25000, 100000, 200000, 333333, 999999, 1000000} {
		shares = append(shares, share{p, asset.Share(p).String()})
	}
	for i := 0; i < 200; i++ {
		p := rng.Int64N(1000001)
		shares = append(shares, share{p, asset.Share(p).String()})
	}
	templates := map[string]json.RawMessage{}
	for _, n := range license.TemplateNames() {
		tm, _ := license.Template(n)
		b, err := tm.Encode()
		if err != nil {
			t.Fatal(err)
		}
		templates[n] = b
	}
	// BLAKE3 and content ids against the Go implementation, on the lengths
	// of the official BLAKE3 test vectors (input byte i is i % 251).
	type hashCase struct {
		N  int    `json:"n"`
		ID string `json:"id"`
	}
	var hashes []hashCase
	for _, n := range []int{0, 1, 63, 64, 65, 127, 128, 129, 1023, 1024, 1025, 2048, 2049, 3072, 3073, 4096, 4097, 5120, 5121, 6144, 6145, 7168, 7169, 8192, 8193, 16384, 31744, 102400} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i % 251)
		}
		hashes = append(hashes, hashCase{n, content.IDFromDigest(blake3.Sum256(b)).String()})
	}
	arg, _ := json.Marshal(map[string]any{"amounts": amounts, "shares": shares, "templates": templates, "hashes": hashes})

	ts, _ := startServer(t, nil)
	do(t, ctx, chromedp.Navigate(ts.URL+"/#/"))
	waitReady(t, ctx, "#/")
	fails := eval[[]string](t, ctx, fmt.Sprintf(`(async (d) => {
  const terms = await import("/console/terms.js");
  const b3 = await import("/console/blake3.js");
  for (const h of d.hashes) {
    const b = Uint8Array.from({length: h.n}, (_, i) => i %% 251);
    const got = b3.contentID(b);
    if (got !== h.id) out.push("contentID of " + h.n + " bytes = " + got + ", want " + h.id);
  }
  const lineage = await import("/console/lineage.js");
  const out = [];
  for (const a of d.amounts) {
    const got = terms.decimal(a.v, a.exp);
    if (got !== a.want) out.push("decimal(" + a.v + ", " + a.exp + ") = " + got + ", want " + a.want);
  }
  for (const s of d.shares) {
    const got = terms.percent(s.ppm);
    if (got !== s.want) out.push("percent(" + s.ppm + ") = " + got + ", want " + s.want);
  }
  for (const [name, t] of Object.entries(d.templates)) {
    const lines = terms.describe(t);
    if (!lines[0].startsWith("Terms " + name + ", version 1")) out.push(name + ": " + lines[0]);
    if (!lines.some((l) => l.startsWith("Price: "))) out.push(name + ": no price line");
    if (lines.some((l) => l.includes("undefined") || l.includes("NaN"))) out.push(name + ": " + lines.join(" | "));
  }
  // A diamond: D derived from B and C, both derived from A; seen from A.
  const g = lineage.layout({asset: "A", up: [], down: [
    {asset: "B", name: "b", depth: 1, parent: "A"}, {asset: "C", name: "c", depth: 1, parent: "A"},
    {asset: "D", name: "d", depth: 2, parent: "B"}, {asset: "D", name: "d", depth: 2, parent: "C"}]}, "a");
  const ids = g.nodes.map((n) => n.id).sort().join("");
  if (ids !== "ABCD") out.push("diamond nodes " + ids);
  if (g.edges.length !== 4) out.push("diamond edges " + g.edges.length);
  const x = Object.fromEntries(g.nodes.map((n) => [n.id, n.x]));
  if (!(x.A < x.B && x.B === x.C && x.C < x.D)) out.push("diamond columns " + JSON.stringify(x));
  const y = Object.fromEntries(g.nodes.map((n) => [n.id, n.y]));
  if (y.B === y.C) out.push("diamond: B and C overlap");
  for (const n of g.nodes) if (n.x < 0 || n.y < 0 || n.x + n.w > g.width || n.y + n.h > g.height) out.push("node " + n.id + " outside the drawing");
  return out;
})(%s)`, arg))
	if len(fails) > 0 {
		t.Errorf("console formatting:\n%s", strings.Join(fails, "\n"))
	}
}
