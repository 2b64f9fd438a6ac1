package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
)

// TestListPages pages GET /v1/assets over HTTP with the client: every page
// within its limit, the pages together the whole list in log order, each
// filter, the default limit answering a short list whole (clients written
// before pages), and malformed parameters refused with a hint.
func TestListPages(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, Config{DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), ScrubInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	c, err := client.New(hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	var keys []*identity.Key
	for range 3 {
		k, err := identity.Generate()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	medias := []string{"text/plain", "image/png"}
	var want []string
	for i := range 23 {
		info, err := c.WithKey(keys[0]).Put(ctx, bytes.NewReader(fmt.Appendf(nil, "bytes %d", i)), -1, client.PutOptions{})
		if err != nil {
			t.Fatal(err)
		}
		k := keys[i%3]
		cid, err := content.ParseID(info.ID)
		if err != nil {
			t.Fatal(err)
		}
		m := &asset.Manifest{Content: cid, Name: fmt.Sprint("a", i), MediaType: medias[i%2], Created: asset.NewTime(time.Unix(1700000000, 0)), Threshold: 1,
			Owners: []asset.Owner{{DID: k.DID(), Weight: 1}}, Contributors: []asset.Contributor{{DID: k.DID(), Share: asset.Whole}}}
		env, err := m.Sign(k)
		if err != nil {
			t.Fatal(err)
		}
		a, err := c.Register(ctx, env)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, a.Asset)
	}
	names := func(rs []api.AssetRecord) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.State.Asset.String())
		}
		return out
	}

	// Pages of 5: 5, 5, 5, 5, 3 and no next on the last.
	var got []string
	from := ""
	for pages := 1; ; pages++ {
		p, err := c.AssetPage(ctx, client.AssetQuery{Page: client.Page{From: from, Limit: 5}})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Assets) > 5 || (p.Next != "" && len(p.Assets) != 5) {
			t.Fatalf("page %d: %d assets, next %q", pages, len(p.Assets), p.Next)
		}
		got = append(got, names(p.Assets)...)
		if p.Next == "" {
			if pages != 5 {
				t.Fatalf("%d pages of 5 for 23 assets", pages)
			}
			break
		}
		from = p.Next
	}
	if !slices.Equal(got, want) {
		t.Fatalf("pages hold %v, want %v", got, want)
	}
	// No limit: the default answers all 23 at once, with no next.
	p, err := c.AssetPage(ctx, client.AssetQuery{})
	if err != nil || p.Next != "" || !slices.Equal(names(p.Assets), want) {
		t.Fatalf("the default page: %d assets, next %q, %v", len(p.Assets), p.Next, err)
	}
	all, err := c.Assets(ctx)
	if err != nil || !slices.Equal(names(all), want) {
		t.Fatalf("Assets: %d, %v", len(all), err)
	}
	// Filters, followed page by page.
	mine, err := c.AssetsWhere(ctx, client.AssetQuery{Page: client.Page{Limit: 2}, Owner: keys[1].DID().String(), MediaType: "image/png"})
	if err != nil {
		t.Fatal(err)
	}
	var wantMine []string
	for i, a := range want {
		if i%3 == 1 && i%2 == 1 {
			wantMine = append(wantMine, a)
		}
	}
	if !slices.Equal(names(mine), wantMine) {
		t.Fatalf("owner and media: %v, want %v", names(mine), wantMine)
	}
	byContent, err := c.AssetsWhere(ctx, client.AssetQuery{Content: all[4].State.Manifest.Content.String()})
	if err != nil || !slices.Equal(names(byContent), want[4:5]) {
		t.Fatalf("content: %v, %v", names(byContent), err)
	}
	// The other lists, empty: [] and no next.
	for _, path := range []string{"/v1/disputes", "/v1/proposals", "/v1/grant-requests", "/v1/grants"} {
		resp, err := http.Get(hs.URL + path + "?limit=3")
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]json.RawMessage
		json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if resp.StatusCode != 200 || v["next"] != nil {
			t.Fatalf("%s: %d %v", path, resp.StatusCode, v)
		}
		for k, raw := range v {
			if string(raw) != "[]" {
				t.Errorf("%s: %s is %s, want []", path, k, raw)
			}
		}
	}
	// Malformed parameters.
	for _, q := range []string{
		"/v1/assets?limit=0", "/v1/assets?limit=1001", "/v1/assets?limit=ten", "/v1/assets?from=no.pe", "/v1/assets?from=AA",
		"/v1/assets?owner=alice", "/v1/assets?content=bafy", "/v1/grants?licensee=bob", "/v1/grants?asset=x",
		"/v1/disputes?status=closed", "/v1/proposals?status=open", "/v1/grant-requests?status=maybe", "/v1/disputes?from=%2F%2F",
	} {
		resp, err := http.Get(hs.URL + q)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var pr api.Problem
		json.Unmarshal(body, &pr)
		if resp.StatusCode != 400 || pr.Type != ProblemTypeBase+"bad-query" || pr.Hint == "" {
			t.Errorf("%s: %d %s, want a 400 bad-query problem with a hint", q, resp.StatusCode, body)
		}
	}
}
