package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/metering"
	"github.com/zeebo/blake3"
)

// hfFixture is a market (a licensed model with the consumer's grant) plus
// a licensed dataset the consumer holds a grant on, served by the Hugging
// Face endpoint.
type hfFixture struct {
	*market
	hf       *httptest.Server
	ds       asset.ID
	dsFiles  map[string][]byte
	stranger *identity.Key
	dsGrant  *grant.Grant
	sessions map[string]string
}

// token issues k a read credential (limited to assets when given) and
// returns it as a Hugging Face client sends it, "hf_" in front; sessions
// maps it to its read session.
func (f *hfFixture) token(k *identity.Key, assets ...string) string {
	f.t.Helper()
	body, _ := json.Marshal(map[string]any{"assets": assets, "ttl_seconds": 3600})
	code, a := f.credential(k, string(body))
	if code != http.StatusCreated {
		f.t.Fatalf("credential for %s: %d", k.DID(), code)
	}
	tok := "hf_" + a.Token
	f.sessions[tok] = "hf-" + a.AccessKeyID
	return tok
}

func newHFFixture(t testing.TB, cfg Config) *hfFixture {
	t.Helper()
	f := &hfFixture{market: newMarket(t, cfg), sessions: map[string]string{}}
	f.stranger, _ = identity.Generate()
	ctx := context.Background()
	// The stranger is a licensee too, of the model only.
	if ans, err := f.c.RequestGrant(ctx, f.stranger, f.model, "infer", client.GrantOptions{Commercial: true}); err != nil || ans.Status != "granted" {
		t.Fatalf("stranger's grant: %v %+v", err, ans)
	}
	dir := t.TempDir()
	f.dsFiles = map[string][]byte{
		"README.md":              []byte("# corpus\n"),
		"data/train-0000.jsonl":  []byte(strings.Repeat(`{"text":"hello"}`+"\n", 5000)),
		"data/train-0001.jsonl":  []byte(strings.Repeat(`{"text":"world"}`+"\n", 3000)),
		"data/test/part 0.jsonl": []byte(`{"text":"test"}` + "\n"),
	}
	for p, b := range f.dsFiles {
		fp := filepath.Join(dir, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(fp), 0o755)
		if err := os.WriteFile(fp, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	info, _, err := f.c.WithKey(f.ann).PutDir(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := content.ParseID(info.ID)
	rec, err := f.s.assetRecord(ctx, f.model)
	if err != nil {
		t.Fatal(err)
	}
	man := &asset.Manifest{Content: idx, Name: "licensed corpus", MediaType: content.DatasetMediaType, Created: asset.NewTime(time.Now()), Threshold: 1, License: rec.State.License,
		Owners: []asset.Owner{{DID: f.ann.DID(), Weight: 1}}, Contributors: []asset.Contributor{{DID: f.ann.DID(), Share: asset.Whole}}}
	env, _ := man.Sign(f.ann)
	a, err := f.c.Register(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	f.ds, _ = asset.ParseID(a.Asset)
	ans, err := f.c.RequestGrant(ctx, f.consumer, f.ds, "infer", client.GrantOptions{Commercial: true})
	if err != nil || ans.Status != "granted" {
		t.Fatalf("grant on the dataset: %v %+v", err, ans)
	}
	f.dsGrant = ans.Grant
	h := f.s.hfHandler()
	h.(*hfAPI).page = 2 // clients page through listings
	f.hf = httptest.NewServer(h)
	t.Cleanup(f.hf.Close)
	return f
}

// get sends a request to the Hugging Face endpoint.
func (f *hfFixture) get(method, path, token string, hdr ...string) (*http.Response, []byte) {
	f.t.Helper()
	req, _ := http.NewRequest(method, f.hf.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func (f *hfFixture) revoke(g *grant.Grant, owner *identity.Key) {
	rv := &grant.Revocation{Asset: g.Asset, Created: asset.NewTime(time.Now()), Grant: g.ID, Reason: "test"}
	env, _ := rv.Sign(owner)
	if _, err := f.c.Revoke(context.Background(), env); err != nil {
		f.t.Fatal(err)
	}
}

func TestHFReadsLicensedDataset(t *testing.T) {
	f := newHFFixture(t, Config{SessionIdle: time.Hour})
	tok := f.token(f.consumer)
	ds := f.ds.String()

	resp, b := f.get("GET", "/api/datasets/"+ds+"/revision/main", tok)
	var info hfInfoDoc
	if err := json.Unmarshal(b, &info); resp.StatusCode != 200 || err != nil {
		t.Fatalf("info: %d %s", resp.StatusCode, b)
	}
	if info.ID != ds || len(info.SHA) != 40 || len(info.Siblings) != len(f.dsFiles) || info.Gated != "manual" || resp.Header.Get("X-Repo-Commit") != info.SHA {
		t.Fatalf("info %+v", info)
	}

	resp, b = f.get("GET", "/api/datasets/"+ds+"/tree/main/data?recursive=True&limit=10", tok) // Python sends True
	var tree []hfEntry
	json.Unmarshal(b, &tree)
	if resp.StatusCode != 200 || len(tree) != 4 || tree[0].Path != "data/test" || tree[0].Type != "directory" {
		t.Fatalf("tree: %d %s", resp.StatusCode, b)
	}

	// The whole file, then a range, then HEAD: bytes and headers as the
	// clients read them.
	p := "/datasets/" + ds + "/resolve/main/data/train-0000.jsonl"
	want := f.dsFiles["data/train-0000.jsonl"]
	resp, b = f.get("GET", p, tok)
	if resp.StatusCode != 200 || string(b) != string(want) {
		t.Fatalf("resolve: %d, %d bytes", resp.StatusCode, len(b))
	}
	id := content.IDFromDigest(blake3.Sum256(want))
	if resp.Header.Get("ETag") != `"`+id.String()+`"` || resp.Header.Get("X-Linked-Etag") != resp.Header.Get("ETag") || resp.Header.Get("X-Repo-Commit") != info.SHA {
		t.Fatalf("headers %v", resp.Header)
	}
	resp, b = f.get("GET", p, tok, "Range", "bytes=10-19")
	if resp.StatusCode != 206 || string(b) != string(want[10:20]) || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 10-19/%d", len(want)) {
		t.Fatalf("range: %d %q %v", resp.StatusCode, b, resp.Header)
	}
	resp, _ = f.get("HEAD", p, tok)
	if resp.StatusCode != 200 || resp.ContentLength != int64(len(want)) || resp.Header.Get("X-Linked-Size") != fmt.Sprint(len(want)) {
		t.Fatalf("head: %d %v", resp.StatusCode, resp.Header)
	}

	// Every byte is in the session's receipt, as a native read's would be.
	rs, err := f.s.closeSessions(context.Background(), catalog.SessionFilter{Grant: f.dsGrant.ID.String(), Session: f.sessions[tok], Licensee: f.consumer.DID().String()})
	if err != nil || len(rs) != 1 || rs[0].Bytes != int64(len(want))+10 || rs[0].Requests != 3 {
		t.Fatalf("receipts %+v %v", rs, err)
	}
	env, _ := identity.ParseEnvelope(rs[0].Envelope)
	if rc, _, err := metering.OpenReceipt(env); err != nil || rc.Licensee != f.consumer.DID() || rc.Session != f.sessions[tok] {
		t.Fatalf("receipt %+v %v", rc, err)
	}
}

func TestHFRefusals(t *testing.T) {
	f := newHFFixture(t, Config{})
	ds, model := f.ds.String(), f.model.String()
	tok := f.token(f.consumer)
	other := f.token(f.stranger)
	onlyModel := f.token(f.consumer, model)
	file := "/datasets/" + ds + "/resolve/main/README.md"
	type want struct {
		status int
		code   string
	}
	check := func(name string, resp *http.Response, b []byte, w want) {
		t.Helper()
		var e struct{ Error string }
		json.Unmarshal(b, &e)
		if resp.StatusCode != w.status || resp.Header.Get("X-Error-Code") != w.code || e.Error == "" {
			t.Errorf("%s: %d %q %s; want %d %q", name, resp.StatusCode, resp.Header.Get("X-Error-Code"), b, w.status, w.code)
		}
	}
	for _, c := range []struct {
		name, method, path, token string
		want
	}{
		{"no token, file", "GET", file, "", want{401, "GatedRepo"}},
		{"no token, listing", "GET", "/api/datasets/" + ds + "/tree/main", "", want{401, "GatedRepo"}},
		{"no token, info", "GET", "/api/datasets/" + ds, "", want{401, "GatedRepo"}},
		{"another licensee", "GET", file, other, want{403, "GatedRepo"}},
		{"token limited to another asset", "GET", file, onlyModel, want{403, "GatedRepo"}},
		{"unknown token", "GET", file, "hf_charter_nope", want{401, ""}},
		{"forged secret", "GET", file, tok[:len(tok)-4] + "0000", want{401, ""}},
		{"path outside the repo", "GET", "/datasets/" + ds + "/resolve/main/../" + model + "/model", tok, want{404, "EntryNotFound"}},
		{"escaped dot-dot", "GET", "/datasets/" + ds + "/resolve/main/data/%2E%2E/%2E%2E/x", tok, want{404, "EntryNotFound"}},
		{"another repo's file", "GET", "/datasets/" + ds + "/resolve/main/model", tok, want{404, "EntryNotFound"}},
		{"no such file", "HEAD", "/datasets/" + ds + "/resolve/main/nope", tok, want{404, "EntryNotFound"}},
		{"no such revision", "GET", "/datasets/" + ds + "/resolve/v2/README.md", tok, want{404, "RevisionNotFound"}},
		{"no such repo", "GET", "/api/datasets/bafkr4inope", tok, want{404, "RepoNotFound"}},
		{"namespaced repo", "GET", "/api/models/someone/model", tok, want{404, "RepoNotFound"}},
		{"write", "PUT", file, tok, want{405, ""}},
		{"range past the end", "GET", file + "?x", tok, want{200, ""}},
	} {
		resp, b := f.get(c.method, c.path, c.token)
		if c.status == 200 {
			if resp.StatusCode != 200 {
				t.Errorf("%s: %d %s", c.name, resp.StatusCode, b)
			}
			continue
		}
		if c.method == "HEAD" {
			if resp.StatusCode != c.status || resp.Header.Get("X-Error-Code") != c.code || resp.Header.Get("X-Repo-Commit") == "" {
				t.Errorf("%s: %d %v", c.name, resp.StatusCode, resp.Header)
			}
			continue
		}
		check(c.name, resp, b, c.want)
	}
	resp, b := f.get("GET", "/api/datasets/"+ds, "hf_charter_nope")
	if resp.Header.Get("X-Error-Message") != hfBadToken {
		t.Errorf("bad token: %v %s", resp.Header, b)
	}
	resp, b = f.get("GET", file, tok, "Range", "bytes=999-")
	if resp.StatusCode != 416 {
		t.Errorf("range past the end: %d %s", resp.StatusCode, b)
	}
	// Revoking the grant stops the next request.
	f.revoke(f.dsGrant, f.ann)
	resp, b = f.get("GET", file, tok)
	check("revoked", resp, b, want{403, "GatedRepo"})
	if !strings.Contains(string(b), "no live grant") {
		t.Errorf("revoked: %s", b)
	}
	// The model is still readable under its own grant.
	resp, b = f.get("GET", "/"+model+"/resolve/main/model", tok)
	if resp.StatusCode != 200 || len(b) != f.modelSize {
		t.Errorf("model after the dataset's revocation: %d %d bytes", resp.StatusCode, len(b))
	}
}
