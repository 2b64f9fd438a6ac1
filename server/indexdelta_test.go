package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/httpsig"
)

// TestUploadDelta: a dataset index sent as a delta against a stored index
// is stored when it makes the declared id; a delta that does not (wrong
// id, a removed path the base lacks, a file that clashes with a folder)
// gets one answer that says nothing about the base's paths; a base the
// server lacks is said to be missing; a malformed delta is refused.
func TestUploadDelta(t *testing.T) {
	_, hs := newTestServer(t)
	var files []content.File
	for _, p := range []string{"a/one", "a/two", "b"} {
		body := []byte("file " + p)
		resp, out := upload(t, hs, "", body)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("%d %s", resp.StatusCode, out)
		}
		var info BlobInfo
		json.Unmarshal(out, &info)
		id, _ := content.ParseID(info.ID)
		files = append(files, content.File{Path: p, Size: int64(len(body)), ID: id})
	}
	base, _ := content.NewIndex(files)
	baseRaw, _ := base.Encode()
	resp, out := upload(t, hs, "?kind=dataset", baseRaw)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("%d %s", resp.StatusCode, out)
	}
	var bi BlobInfo
	json.Unmarshal(out, &bi)
	baseID, _ := content.ParseID(bi.ID)
	next, _ := content.NewIndex([]content.File{files[0], {Path: "c", Size: files[2].Size, ID: files[2].ID}})
	nextRaw, _ := next.Encode()
	nextID := idOfBytes(t, nextRaw)
	delta, _ := content.Diff(baseID, base, next).Encode()

	if code, out := sendDelta(t, hs, nextID, delta); code != http.StatusCreated || !strings.Contains(out, nextID.String()) {
		t.Fatalf("good delta: %d %s", code, out)
	}
	// The stored index is the one the delta makes.
	resp, err := http.Get(hs.URL + "/v1/blobs/" + nextID.String() + "/info")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("stored index: %v %v", resp, err)
	}
	resp.Body.Close()

	mismatch := func(what string, id content.ID, d *content.IndexDelta) string {
		t.Helper()
		b, err := d.Encode()
		if err != nil {
			t.Fatal(err)
		}
		code, out := sendDelta(t, hs, id, b)
		if code != http.StatusUnprocessableEntity || !strings.Contains(out, "delta-mismatch") {
			t.Fatalf("%s: %d %s", what, code, out)
		}
		var p struct{ Detail string }
		json.Unmarshal([]byte(out), &p)
		return p.Detail
	}
	other := idOfBytes(t, []byte("some other index"))
	d1 := mismatch("wrong id", other, &content.IndexDelta{Base: baseID, Remove: []string{"b"}})
	d2 := mismatch("path the base lacks", other, &content.IndexDelta{Base: baseID, Remove: []string{"zzz"}})
	d3 := mismatch("file over a folder", other, &content.IndexDelta{Base: baseID, Put: []content.File{{Path: "a", Size: 1, ID: files[0].ID}}})
	if d1 != d2 || d2 != d3 {
		t.Fatalf("the answers differ, and so tell about the base's paths:\n%s\n%s\n%s", d1, d2, d3)
	}
	// A base that is not an index is answered the same way.
	mismatch("base not an index", other, &content.IndexDelta{Base: files[0].ID, Remove: []string{}})

	if code, out := sendDelta(t, hs, other, mustEncode(t, &content.IndexDelta{Base: other, Remove: []string{"b"}})); code != http.StatusConflict || !strings.Contains(out, "delta-base-missing") {
		t.Fatalf("missing base: %d %s", code, out)
	}
	if code, out := sendDelta(t, hs, other, []byte(`{"mediaType":"x"}`)); code != http.StatusBadRequest {
		t.Fatalf("malformed delta: %d %s", code, out)
	}
}

func mustEncode(t *testing.T, d *content.IndexDelta) []byte {
	t.Helper()
	b, err := d.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func idOfBytes(t *testing.T, b []byte) content.ID {
	t.Helper()
	info, err := content.Ingest(t.Context(), bytes.NewReader(b), io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return info.ID
}

func sendDelta(t *testing.T, hs *httptest.Server, id content.ID, delta []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, hs.URL+"/v1/blobs?kind=dataset&id="+id.String(), bytes.NewReader(delta))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", content.DatasetDeltaMediaType)
	if err := httpsig.Sign(req, uploaderKey, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}
