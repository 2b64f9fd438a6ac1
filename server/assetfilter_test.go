package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/assetfilter"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/license"
)

// TestListAssetFilters pages GET /v1/assets with the filters no catalog
// index serves (q, license, purpose, price), alone, combined with an
// indexed one, and with a scan budget smaller than the catalog: every
// page within its limit, the pages together exactly the matching assets
// in log order, and a page that ran out of budget answering what it found
// with a next cursor. Malformed values are a 400 with a hint.
func TestListAssetFilters(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Config{DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), ScrubInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	k, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	other, err := identity.Generate()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	c = c.WithKey(k)
	put := func(b []byte) string {
		info, err := c.Put(ctx, bytes.NewReader(b), int64(len(b)), client.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return info.ID
	}
	terms := map[string]string{}
	for _, n := range []string{"research-only", "commercial-training", "inference-metered"} {
		tt, err := license.Template(n)
		if err != nil {
			t.Fatal(err)
		}
		b, err := tt.Encode()
		if err != nil {
			t.Fatal(err)
		}
		terms[n] = put(b)
	}
	type row struct {
		id, name, media, lic string
	}
	lics := []string{"", "research-only", "commercial-training", "inference-metered"}
	var rows []row
	for i := range 24 {
		cid, _ := content.ParseID(put(fmt.Appendf(nil, "bytes %d", i)))
		name := fmt.Sprintf("Corpus-%02d", i)
		if i%3 == 0 {
			name = fmt.Sprintf("model-%02d", i)
		}
		media := []string{"text/plain", "application/x-safetensors"}[i%2]
		lic := lics[i%4]
		m := &asset.Manifest{Content: cid, Name: name, MediaType: media, Created: asset.NewTime(time.Unix(1700000000, 0)), Threshold: 1,
			Owners: []asset.Owner{{DID: k.DID(), Weight: 1}}, Contributors: []asset.Contributor{{DID: k.DID(), Share: asset.Whole}}}
		if lic != "" {
			m.License = terms[lic]
		}
		env, err := m.Sign(k)
		if err != nil {
			t.Fatal(err)
		}
		a, err := c.Register(ctx, env)
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row{a.Asset, name, media, lic})
	}
	where := func(keep func(r row) bool) []string {
		var out []string
		for _, r := range rows {
			if keep(r) {
				out = append(out, r.id)
			}
		}
		return out
	}
	// list follows next from the first page and returns every asset and
	// the number of pages.
	list := func(q url.Values, limit int) ([]string, int) {
		t.Helper()
		var out []string
		from := ""
		for pages := 1; ; pages++ {
			v := url.Values{}
			for k, vs := range q {
				v[k] = vs
			}
			v.Set("limit", fmt.Sprint(limit))
			if from != "" {
				v.Set("from", from)
			}
			resp, err := http.Get(hs.URL + "/v1/assets?" + v.Encode())
			if err != nil {
				t.Fatal(err)
			}
			var p api.AssetList
			json.NewDecoder(resp.Body).Decode(&p)
			resp.Body.Close()
			if resp.StatusCode != 200 || len(p.Assets) > limit {
				t.Fatalf("%v: status %d, %d assets", v, resp.StatusCode, len(p.Assets))
			}
			for _, a := range p.Assets {
				out = append(out, a.State.Asset.String())
			}
			if p.Next == "" {
				return out, pages
			}
			if pages > 100 {
				t.Fatalf("%v: more than 100 pages", v)
			}
			from = p.Next
		}
	}
	cases := []struct {
		q    url.Values
		want []string
	}{
		{url.Values{"q": {"MODEL"}}, where(func(r row) bool { return r.name[0] == 'm' })},
		{url.Values{"q": {"corpus-1"}}, where(func(r row) bool { return len(r.name) == 9 && r.name[:8] == "Corpus-1" })},
		{url.Values{"q": {rows[5].id[:20]}}, []string{rows[5].id}},
		{url.Values{"license": {"commercial-training"}}, where(func(r row) bool { return r.lic == "commercial-training" })},
		{url.Values{"price": {"none"}}, where(func(r row) bool { return r.lic == "" })},
		{url.Values{"price": {"free"}}, where(func(r row) bool { return r.lic == "research-only" })},
		{url.Values{"price": {"paid"}}, where(func(r row) bool { return r.lic == "commercial-training" || r.lic == "inference-metered" })},
		{url.Values{"purpose": {"train"}}, where(func(r row) bool { return r.lic == "commercial-training" })},
		{url.Values{"purpose": {"evaluate"}}, where(func(r row) bool { return r.lic != "" })},
		{url.Values{"purpose": {"evaluate"}, "media": {"text/plain"}, "q": {"corpus"}}, where(func(r row) bool { return r.lic != "" && r.media == "text/plain" && r.name[0] == 'C' })},
		{url.Values{"license": {"open"}}, nil},
		{url.Values{"contributor": {k.DID().String()}, "price": {"none"}}, where(func(r row) bool { return r.lic == "" })},
		{url.Values{"contributor": {other.DID().String()}}, nil},
	}
	for _, tc := range cases {
		for _, limit := range []int{1, 3, 1000} {
			got, _ := list(tc.q, limit)
			if !slices.Equal(got, tc.want) {
				t.Errorf("%v limit %d: %d assets %v, want %d %v", tc.q, limit, len(got), got, len(tc.want), tc.want)
			}
		}
	}
	// A budget of 5 records a request: pages stop where the budget ends,
	// and following next still finds every match, once.
	defer func(b int) { assetScanBudget = b }(assetScanBudget)
	assetScanBudget = 5
	got, pages := list(url.Values{"price": {"none"}}, 1000)
	if want := where(func(r row) bool { return r.lic == "" }); !slices.Equal(got, want) || pages != 5 {
		t.Errorf("budget 5: %d pages, %v, want 5 pages of %v", pages, got, want)
	}
	got, _ = list(url.Values{"q": {rows[23].id}}, 2)
	if !slices.Equal(got, []string{rows[23].id}) {
		t.Errorf("budget 5, the last asset by id: %v", got)
	}

	for _, bad := range []string{"purpose=resell", "price=cheap", "contributor=did:key:nope", "license=Not+A+Name", "q=" + string(bytes.Repeat([]byte("x"), 201)), "q=%ff"} {
		resp, err := http.Get(hs.URL + "/v1/assets?" + bad)
		if err != nil {
			t.Fatal(err)
		}
		var p struct{ Type, Hint string }
		json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if resp.StatusCode != 400 || p.Type != "https://charter.dev/problems/bad-query" || p.Hint == "" {
			t.Errorf("%s: %d %+v", bad, resp.StatusCode, p)
		}
	}
}

// FuzzAssetScanOf: any query string either parses into filters within
// their bounds or is refused as a bad-query problem; it never panics.
func FuzzAssetScanOf(f *testing.F) {
	for _, s := range []string{"q=model", "license=research-only&purpose=train&price=paid", "price=none", "q=%ff", "purpose=resell", "license=A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		sc, err := assetScanOf(q)
		if err != nil {
			var he *httpError
			if !errors.As(err, &he) || he.status != http.StatusBadRequest {
				t.Fatalf("%q: %v is not a 400 problem", raw, err)
			}
			return
		}
		if len(sc.Q) > assetfilter.MaxQuery*3 || len(sc.License) > 64 || (sc.Purpose != "" && !sc.Purpose.Valid()) {
			t.Fatalf("%q: accepted %+v", raw, sc)
		}
	})
}
