package server

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/httpsig"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/license"
)

// Tests of content governance (docs/spec/content-governance.md), guards
// that fail closed, and signed, accounted uploads: issue 9 holes 1, 6, 7.

// terms stores a licence template and returns its reference.
func (f *regFixture) terms(name string) string {
	t, err := license.Template(name)
	if err != nil {
		f.t.Fatal(err)
	}
	b, _ := t.Encode()
	return f.put(b).String()
}

// index stores a dataset index of ids (paths f0, f1, ...).
func (f *regFixture) index(ids ...content.ID) content.ID {
	var files []content.File
	for i, id := range ids {
		info, err := f.s.blobs.Stat(context.Background(), blob.Key{ID: id, Part: blob.Data})
		if err != nil {
			f.t.Fatal(err)
		}
		files = append(files, content.File{Path: "f" + string(rune('a'+i)), Size: info, ID: id})
	}
	x, err := content.NewIndex(files)
	if err != nil {
		f.t.Fatal(err)
	}
	raw, _ := x.Encode()
	return f.put(raw)
}

// publish registers c owned by key alone under licence lic ("" for none)
// as a dataset when dataset is set.
func (f *regFixture) publish(key *identity.Key, c content.ID, name, lic string, dataset bool) asset.ID {
	m := f.manifest(c, name, []*identity.Key{key})
	m.License = lic
	if dataset {
		m.MediaType = content.DatasetMediaType
	}
	a := f.register(m, key)
	id, _ := asset.ParseID(a.Asset)
	return id
}

// read GETs content without a grant and returns the status and problem
// type.
func (f *regFixture) read(id content.ID) (int, string) {
	resp, err := http.Get(f.hs.URL + "/v1/blobs/" + id.String())
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var p Problem
	json.Unmarshal(b, &p)
	return resp.StatusCode, p.Type
}

func (f *regFixture) wantRead(what string, id content.ID, status int) {
	f.t.Helper()
	if got, typ := f.read(id); got != status {
		f.t.Errorf("%s: read without a grant: %d %s, want %d", what, got, typ, status)
	}
}

// replay deletes the catalog and rebuilds it from the log and the blobs,
// so every entry is applied again.
func (f *regFixture) replay() {
	f.stop()
	for _, p := range catalogFiles(f.dir) {
		os.Remove(p)
	}
	if _, err := Rebuild(context.Background(), quietConfig(f.dir)); err != nil {
		f.t.Fatal(err)
	}
	f.start()
}

// TestWrapLicensedInOpenDataset is hole 1: a stranger registering an open
// dataset whose index names someone else's licensed content ids (files,
// dataset members, a dataset's own index), directly or through chains of
// datasets, or registering a member as an open asset of his own, does not
// make them readable without a grant, live or after replay. On the code
// before the fix every read below answered 200.
func TestWrapLicensedInOpenDataset(t *testing.T) {
	f := newRegFixture(t)
	alice, mallory := f.keys[0], f.keys[2]
	research := f.terms("research-only")
	open := f.terms("open")
	file := f.put([]byte("alice's licensed file"))
	m1, m2 := f.put([]byte("alice's member one")), f.put([]byte("alice's member two"))
	aliceIdx := f.index(m1, m2)
	f.publish(alice, file, "file", research, false)
	f.publish(alice, aliceIdx, "corpus", research, true)
	governed := map[string]content.ID{"licensed file": file, "member one": m1, "member two": m2, "dataset index": aliceIdx}
	for what, id := range governed {
		f.wantRead(what, id, http.StatusUnauthorized)
	}

	// Mallory wraps all of them in an open dataset, then chains: a dataset
	// naming his first index and a member, and a member registered as his
	// own open asset; and an unlicensed (no terms) wrapper.
	wrap := f.index(file, m1, m2, aliceIdx)
	f.publish(mallory, wrap, "free corpus", open, true)
	chain := f.index(wrap, m2)
	f.publish(mallory, chain, "free chain", open, true)
	f.publish(mallory, m1, "my file", open, false)
	f.publish(mallory, f.index(m2, file), "no terms", "", true)
	for what, id := range governed {
		f.wantRead(what, id, http.StatusUnauthorized)
	}
	// Mallory's own content stays his to publish.
	f.wantRead("mallory's index", wrap, http.StatusOK)
	f.replay()
	for what, id := range governed {
		f.wantRead(what+" after replay", id, http.StatusUnauthorized)
	}
	f.wantRead("mallory's index after replay", wrap, http.StatusOK)
}

// TestStrangersGrantDoesNotReadOthersContent: a stranger's licensed
// dataset naming someone's licensed content does not let the stranger's
// licensees read it. Before the fix a grant for any asset guarding the
// content covered it (200 below).
func TestStrangersGrantDoesNotReadOthersContent(t *testing.T) {
	f := newRegFixture(t)
	bob, mallory := f.keys[1], f.keys[2]
	research := f.terms("research-only")
	c := f.put([]byte("bob's licensed model"))
	f.publish(bob, c, "model", research, false)
	mds := f.publish(mallory, f.index(c), "resold", research, true)

	consumer, _ := identity.Generate()
	cl, _ := client.New(f.hs.URL)
	ctx := context.Background()
	ans, err := cl.RequestGrant(ctx, consumer, mds, "research", client.GrantOptions{})
	if err != nil || ans.Grant == nil {
		t.Fatalf("grant for mallory's dataset: %v %+v", err, ans)
	}
	var out bytes.Buffer
	_, err = cl.WithGrant(consumer, ans.Grant.ID.String()).Stream(ctx, c, &out, nil)
	if client.StatusCode(err) != http.StatusForbidden {
		t.Fatalf("read bob's content with a grant for mallory's dataset: %v (%d bytes)", err, out.Len())
	}
	info, err := cl.Info(ctx, c)
	if err != nil || len(info.Licensed) != 1 || info.Licensed[0] == mds.String() {
		t.Fatalf("info names who may license it: %+v %v", info, err)
	}
}

// TestWrapOpenInLicensedDataset is the reverse: wrapping someone's
// published open content in a licensed dataset leaves it free to read.
// (This held before the fix too: any open guard made content free. An
// unregistered blob is governed by whoever registers it first; see the
// spec.)
func TestWrapOpenInLicensedDataset(t *testing.T) {
	f := newRegFixture(t)
	bob, mallory := f.keys[1], f.keys[2]
	c := f.put([]byte("bob's open data"))
	d := f.put([]byte("bob's unlicensed data"))
	f.publish(bob, c, "open data", f.terms("open"), false)
	f.publish(bob, d, "no terms", "", false)
	f.publish(mallory, f.index(c, d), "locked", f.terms("research-only"), true)
	f.publish(mallory, c, "mine", f.terms("approval-required"), false)
	f.wantRead("open content", c, http.StatusOK)
	f.wantRead("unlicensed content", d, http.StatusOK)
	f.replay()
	f.wantRead("open content after replay", c, http.StatusOK)
	f.wantRead("unlicensed content after replay", d, http.StatusOK)
}

// TestSameOwnersMayPublishOpenly: the first governor's owners may add an
// open registration of their content; it then reads without a grant.
func TestSameOwnersMayPublishOpenly(t *testing.T) {
	f := newRegFixture(t)
	alice := f.keys[0]
	m1 := f.put([]byte("member"))
	f.publish(alice, f.index(m1), "corpus", f.terms("research-only"), true)
	f.wantRead("member", m1, http.StatusUnauthorized)
	f.publish(alice, m1, "sample", f.terms("open"), false)
	f.wantRead("member published openly by its owner", m1, http.StatusOK)
}

// TestMissingIndexFailsClosed is hole 7's guard that fails closed, with
// apply a pure function of the log (issue 11): a dataset's member list is
// in the log, so losing its index from the blob store changes nothing,
// on replay too. A registration whose list the log lacks (a log written
// before lists were carried) makes every content it might govern refused,
// unregistered content included, until the operator stores the index
// again: the server then puts the list into the log, which guards the
// dataset, also on replay.
func TestMissingIndexFailsClosed(t *testing.T) {
	f := newRegFixture(t)
	alice, bob := f.keys[0], f.keys[1]
	early := f.put([]byte("published before the dataset"))
	f.publish(bob, early, "early", "", false)
	m1 := f.put([]byte("licensed member"))
	idx := f.index(m1)
	research := f.terms("research-only")
	f.publish(alice, idx, "corpus", research, true)
	loose := f.put([]byte("never registered"))
	f.wantRead("member", m1, http.StatusUnauthorized)

	// The blob store loses the index: the log still guards the member.
	if err := blob.Delete(context.Background(), f.s.blobs, idx); err != nil {
		t.Fatal(err)
	}
	f.replay()
	f.wantRead("member with its index lost from the blob store", m1, http.StatusUnauthorized)
	f.wantRead("unregistered content", loose, http.StatusOK)
	f.wantHealth(http.StatusOK, "")

	// A registration without its member list in the log.
	m2 := f.put([]byte("member of a dataset logged without its list"))
	idx2 := f.index(m2)
	raw := mustRead(t, f, idx2)
	m := f.manifest(idx2, "legacy corpus", []*identity.Key{alice})
	m.License, m.MediaType = research, content.DatasetMediaType
	env, err := m.Sign(alice)
	if err != nil {
		t.Fatal(err)
	}
	canon, _ := env.Marshal()
	if _, err := f.s.tlog.Append(context.Background(), auditlog.TypeAssetRegister, canon); err != nil {
		t.Fatal(err)
	}
	// (A server starting with the index stored puts the list into the
	// log at once: carryUnindexed.)
	if err := blob.Delete(context.Background(), f.s.blobs, idx2); err != nil {
		t.Fatal(err)
	}
	f.replay()
	if code, typ := f.read(m2); code != http.StatusServiceUnavailable || typ != ProblemTypeBase+"unindexed-dataset" {
		t.Fatalf("member of a dataset whose list is not in the log: %d %s", code, typ)
	}
	f.wantRead("unregistered content", loose, http.StatusServiceUnavailable)
	f.wantRead("content governed before the dataset", early, http.StatusOK)
	f.wantHealth(http.StatusServiceUnavailable, idx2.String())

	// The operator puts the index again: its list goes into the log.
	if resp, body := upload(t, f.hs, "", raw); resp.StatusCode != http.StatusCreated {
		t.Fatalf("restore index: %s", body)
	}
	f.wantRead("member after restore", m2, http.StatusUnauthorized)
	f.wantRead("unregistered content after restore", loose, http.StatusOK)
	f.wantHealth(http.StatusOK, "")
	if err := blob.Delete(context.Background(), f.s.blobs, idx2); err != nil {
		t.Fatal(err)
	}
	f.replay()
	f.wantRead("member after restore, replayed without the index", m2, http.StatusUnauthorized)
	f.wantRead("unregistered content after restore, replayed", loose, http.StatusOK)
	f.wantHealth(http.StatusOK, "")

	// A registration without its list whose index is stored: the server
	// puts the list into the log when it starts.
	m3 := f.put([]byte("member of another dataset logged without its list"))
	idx3 := f.index(m3)
	m = f.manifest(idx3, "legacy corpus 3", []*identity.Key{alice})
	m.License, m.MediaType = research, content.DatasetMediaType
	if env, err = m.Sign(alice); err != nil {
		t.Fatal(err)
	}
	canon, _ = env.Marshal()
	if _, err := f.s.tlog.Append(context.Background(), auditlog.TypeAssetRegister, canon); err != nil {
		t.Fatal(err)
	}
	f.replay()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if code, _ := f.read(m3); code == http.StatusUnauthorized {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("member of a dataset whose index is stored, after a start: %d", code)
		}
	}
	f.wantRead("unregistered content after the start", loose, http.StatusOK)
}

// wantHealth checks /healthz's status and the one unindexed dataset it
// names ("" for none).
func (f *regFixture) wantHealth(status int, unindexed string) {
	f.t.Helper()
	resp, err := http.Get(f.hs.URL + "/healthz")
	if err != nil {
		f.t.Fatal(err)
	}
	var h Health
	json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if unindexed == "" && (resp.StatusCode != status || len(h.Unindexed) != 0) ||
		unindexed != "" && (resp.StatusCode != status || len(h.Unindexed) != 1 || h.Unindexed[0].Index != unindexed) {
		f.t.Fatalf("healthz: %d %+v, want %d naming %q", resp.StatusCode, h, status, unindexed)
	}
}

func mustRead(t *testing.T, f *regFixture, id content.ID) []byte {
	v, err := blob.Get(context.Background(), f.s.blobs, id)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	b, err := io.ReadAll(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDatasetRegistrationNeedsIndex: a manifest declaring a dataset whose
// content is not an index is refused (before the fix it registered and
// guarded nothing).
func TestDatasetRegistrationNeedsIndex(t *testing.T) {
	f := newRegFixture(t)
	defer f.stop()
	alice := f.keys[0]
	m := f.manifest(f.put([]byte("not an index")), "fake", []*identity.Key{alice})
	m.MediaType = content.DatasetMediaType
	env, _ := m.Sign(alice)
	if code, _, body := f.post("/v1/assets", env); code != http.StatusUnprocessableEntity {
		t.Fatalf("dataset without an index: %d %s", code, body)
	}
}

// TestUploadNeedsSignature is hole 6: an upload without a key, without a
// length or whose body does not match its signed digest keeps nothing.
func TestUploadNeedsSignature(t *testing.T) {
	s, hs := newTestServer(t)
	body := []byte("anonymous bytes")
	resp, b := uploadAs(t, hs, nil, "", body)
	if resp.StatusCode != http.StatusUnauthorized || problemOf(t, resp, b).Type != ProblemTypeBase+"signature-required" {
		t.Fatalf("unsigned upload: %d %s", resp.StatusCode, b)
	}
	// Signed, then the body swapped: the digest does not match.
	key, _ := identity.Generate()
	req, _ := http.NewRequest(http.MethodPost, hs.URL+"/v1/blobs", bytes.NewReader(body))
	if err := httpsig.Sign(req, key, time.Now()); err != nil {
		t.Fatal(err)
	}
	req.Body = io.NopCloser(bytes.NewReader([]byte("different bytes")))
	req.ContentLength = int64(len("different bytes"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("body not matching its digest: %d %s", resp.StatusCode, b)
	}
	// No length: refused before reading.
	req, _ = http.NewRequest(http.MethodPost, hs.URL+"/v1/blobs", io.MultiReader(bytes.NewReader(body)))
	req.ContentLength = -1
	d, _ := httpsig.ContentDigest(bytes.NewReader(body))
	req.Header.Set(httpsig.ContentDigestHeader, d)
	httpsig.Sign(req, key, time.Now())
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusLengthRequired {
		t.Fatalf("chunked upload: %d", resp.StatusCode)
	}
	if n := countBlobs(t, s); n != 0 {
		t.Fatalf("%d blobs kept from refused uploads", n)
	}
	if resp, b := uploadAs(t, hs, key, "", body); resp.StatusCode != http.StatusCreated {
		t.Fatalf("signed upload: %d %s", resp.StatusCode, b)
	}
}

// TestUploadQuota: uploads are charged to the signing key; one key at its
// limit does not stop another.
func TestUploadQuota(t *testing.T) {
	cfg := quietConfig(t.TempDir())
	cfg.MaxUpload, cfg.UploadQuotaDay = 60, 100
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	hs := httptestServer(t, s)
	t.Cleanup(hs.Close)
	a, _ := identity.Generate()
	b, _ := identity.Generate()
	if resp, body := uploadAs(t, hs, a, "", bytes.Repeat([]byte{1}, 61)); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("over the upload limit: %d %s", resp.StatusCode, body)
	}
	for i := byte(0); i < 2; i++ {
		if resp, body := uploadAs(t, hs, a, "", bytes.Repeat([]byte{i + 2}, 50)); resp.StatusCode != http.StatusCreated {
			t.Fatalf("upload %d: %d %s", i, resp.StatusCode, body)
		}
	}
	resp, body := uploadAs(t, hs, a, "", []byte{9})
	if resp.StatusCode != http.StatusTooManyRequests || problemOf(t, resp, body).Type != ProblemTypeBase+"upload-quota" {
		t.Fatalf("over the daily quota: %d %s", resp.StatusCode, body)
	}
	if resp, body := uploadAs(t, hs, b, "", []byte{9}); resp.StatusCode != http.StatusCreated {
		t.Fatalf("another key: %d %s", resp.StatusCode, body)
	}
}

// TestKindFromLogOnly: declaring kind=dataset on an upload of a stored
// blob does not relabel it (before the fix it did, and get broke); a
// blob is a dataset once a registered dataset manifest names it.
func TestKindFromLogOnly(t *testing.T) {
	f := newRegFixture(t)
	plain := []byte("just bytes")
	id := f.put(plain)
	resp, b := upload(t, f.hs, "?kind=dataset&id="+id.String(), plain)
	if resp.StatusCode == http.StatusCreated {
		var info BlobInfo
		json.Unmarshal(b, &info)
		if info.Kind != "blob" {
			t.Fatalf("relabelled by an upload parameter: %s", b)
		}
	}
	r, err := http.Get(f.hs.URL + "/v1/blobs/" + id.String())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.Header.Get(HeaderKind) != "blob" || !bytes.Equal(got, plain) {
		t.Fatalf("download after relabel attempt: kind %q, %q", r.Header.Get(HeaderKind), got)
	}
	m := f.put([]byte("member"))
	idx := f.index(m)
	if k := f.kind(idx); k != "blob" {
		t.Fatalf("unregistered index: kind %q", k)
	}
	f.publish(f.keys[0], idx, "corpus", "", true)
	if k := f.kind(idx); k != "dataset" {
		t.Fatalf("registered index: kind %q", k)
	}
}

func (f *regFixture) kind(id content.ID) string {
	r, err := http.Get(f.hs.URL + "/v1/blobs/" + id.String() + "/info")
	if err != nil {
		f.t.Fatal(err)
	}
	defer r.Body.Close()
	var info BlobInfo
	json.NewDecoder(r.Body).Decode(&info)
	return string(info.Kind)
}
