package console_test

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/metering"
	"github.com/chromedp/chromedp"
)

// TestBrowserWidths opens the asset page, the audit explorer and the
// owner view at 1400 px and at 420 px (a phone) on real data: a model
// with a parent and a descendant, a dispute open on it, and settled
// earnings. At both widths: nothing overflows the page sideways; the
// asset page shows the lineage graph first, within the screen, with a
// legend of its node colours, the disputed badge and the model's own
// media type; the audit explorer lists the latest entries with their
// statement types, each verified in the browser; the owner's charts use
// the page's width. Screenshots of each page at each width are saved.
func TestBrowserWidths(t *testing.T) {
	ctx := browser(t) // first: skip before any work without a browser
	ts, c, dir := startServerDir(t, nil)
	w := seed(t, c)
	settleTraining(t, c, dir, w)
	d := &metering.Dispute{Asset: w.model, Created: asset.NewTime(time.Now()), Nonce: asset.NewNonce(), Opener: w.carol.DID(), Reason: "this model is mine"}
	denv, err := d.Sign(w.carol)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.OpenDispute(context.Background(), denv); err != nil {
		t.Fatal(err)
	}
	do(t, ctx, chromedp.Navigate(ts.URL+"/#/"))
	waitReady(t, ctx, "#/")
	overflow := func(page string) {
		t.Helper()
		if over := eval[int](t, ctx, `document.documentElement.scrollWidth - window.innerWidth`); over > 0 {
			wide := eval[[]string](t, ctx, `[...document.querySelectorAll("body *")].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && !(e.parentElement && e.parentElement.closest(".table-wrap"))).slice(0, 6).map(e => e.tagName + "." + e.getAttribute("class") + "#" + e.id)`)
			t.Errorf("%s is %dpx wider than the screen: %v", page, over, wide)
		}
	}
	typeRE := regexp.MustCompile(`^[a-z][a-z0-9-]*(\.[a-z0-9-]+)*$`)
	for _, width := range []int{1400, 420} {
		do(t, ctx, chromedp.EmulateViewport(int64(width), 900))
		at := fmt.Sprintf(" at %d px", width)

		// The asset page of the model.
		goTo(t, ctx, "#/asset/"+w.model.String())
		if first := eval[string](t, ctx, `document.querySelector("main section").id`); first != "lineage" {
			t.Errorf("first section%s is %q, want the lineage", at, first)
		}
		box := eval[[]float64](t, ctx, `(() => { const r = document.querySelector("svg.lineage").getBoundingClientRect(); return [r.left, r.right, r.top + window.scrollY, r.width]; })()`)
		if box[0] < 0 || box[1] > float64(width) || box[3] < 100 {
			t.Errorf("lineage graph%s spans x %.0f..%.0f (width %.0f), want within 0..%d", at, box[0], box[1], box[3], width)
		}
		if box[2] > 900 {
			t.Errorf("lineage graph%s starts %.0f px down the page, want on the first screen", at, box[2])
		}
		if n := count(t, ctx, "#lineage-legend .swatch.node-root, #lineage-legend .swatch.node-up, #lineage-legend .swatch.node-down"); n != 3 {
			t.Errorf("lineage legend%s has %d of its 3 swatches", at, n)
		}
		contains(t, "legend"+at, text(t, ctx, "#lineage-legend"), "this asset", "upstream", "downstream")
		if n := count(t, ctx, "svg.lineage a.node"); n != 3 {
			t.Errorf("lineage%s has %d nodes, want 3", at, n)
		}
		contains(t, "disputed badge"+at, text(t, ctx, "#asset-badges"), "disputed")
		contains(t, "media type"+at, text(t, ctx, "#media-type"), "application/x-safetensors — a single file")
		overflow("the asset page" + at)
		screenshot(t, ctx, fmt.Sprintf("widths-asset-%d.png", width))
		// The dataset carries no dispute badge.
		goTo(t, ctx, "#/asset/"+w.corpus.String())
		if n := count(t, ctx, "#disputed-badge"); n != 0 {
			t.Errorf("the undisputed corpus carries a disputed badge%s", at)
		}
		contains(t, "corpus media type"+at, text(t, ctx, "#media-type"), "application/vnd.charter.dataset+json — a dataset")

		// The audit explorer lists the latest entries with their types.
		goTo(t, ctx, "#/audit")
		types := eval[[]string](t, ctx, `[...document.querySelectorAll("#recent-entries tbody tr")].map(r => r.querySelector(".entry-type").innerText + " " + r.lastElementChild.innerText)`)
		if len(types) != 10 {
			t.Errorf("audit explorer%s lists %d latest entries, want 10", at, len(types))
		}
		for _, ty := range types {
			var typ, verdict string
			fmt.Sscanf(ty, "%s %s", &typ, &verdict)
			if !typeRE.MatchString(typ) || verdict != "verified" {
				t.Errorf("audit explorer%s: entry listed as %q", at, ty)
			}
		}
		contains(t, "audit types"+at, text(t, ctx, "#recent-entries"), "dispute", "settlement", "usage")
		overflow("the audit explorer" + at)
		screenshot(t, ctx, fmt.Sprintf("widths-audit-%d.png", width))

		// The owner's charts span the page.
		goToView(t, ctx, w.alice, w.alice)
		ratio := eval[float64](t, ctx, `document.getElementById("earn-period-0").getBoundingClientRect().width / document.getElementById("main").clientWidth`)
		if ratio < 0.85 || ratio > 1.0001 {
			t.Errorf("earnings chart%s is %.2f of the page's width, want the page's width", at, ratio)
		}
		if width == 1400 {
			if px := eval[float64](t, ctx, `document.getElementById("earn-asset-0").getBoundingClientRect().width`); px <= 700 {
				t.Errorf("asset chart at 1400 px is %.0f px wide, want the page's width", px)
			}
		}
		overflow("the owner view" + at)
		screenshot(t, ctx, fmt.Sprintf("widths-owner-%d.png", width))
	}
}
