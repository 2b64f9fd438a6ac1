package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"lukechampine.com/blake3"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/httpsig"
	"github.com/charter-dev/charter/identity"
)

// batchBody frames blobs as a batch upload body; a record whose declared
// id is given in ids (by index) declares that id instead of its own.
func batchBody(blobs [][]byte, ids map[int]content.ID) []byte {
	var b bytes.Buffer
	for i, x := range blobs {
		id := content.IDFromDigest(blake3.Sum256(x))
		if v, ok := ids[i]; ok {
			id = v
		}
		fmt.Fprintf(&b, "%s %d\n", id, len(x))
		b.Write(x)
	}
	return b.Bytes()
}

// postBatch sends body to POST /v1/blobs/batch signed by key (nil: not
// signed); when sent is not nil, the signature covers body but sent is
// what goes over the wire.
func postBatch(t *testing.T, hs *httptest.Server, key *identity.Key, body, sent []byte) (int, api.BatchAnswer, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, hs.URL+"/v1/blobs/batch", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", api.MediaBatch)
	if key != nil {
		if err := httpsig.Sign(req, key, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if sent != nil {
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(sent)), int64(len(sent))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var ans api.BatchAnswer
	json.Unmarshal(b, &ans)
	return resp.StatusCode, ans, string(b)
}

func someBlobs(n, size int, seed byte) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		b := bytes.Repeat([]byte{seed, byte(i), byte(i >> 8)}, size/3+1)[:size]
		out[i] = b
	}
	return out
}

// TestBatchUpload: a signed batch stores every blob, verified and
// recorded; a blob whose bytes do not match its declared id is refused
// alone and the others kept; a blob sent twice or already held is stored
// once; refused bodies (unsigned, a wrong digest, a malformed or cut
// record, too many blobs, too large) keep nothing.
func TestBatchUpload(t *testing.T) {
	s, hs := newTestServer(t)
	ctx := context.Background()
	blobs := someBlobs(50, 10<<10, 1)
	blobs = append(blobs, []byte{}, blobs[3]) // empty, and a duplicate
	wrong := content.IDFromDigest(blake3.Sum256([]byte("something else")))
	code, ans, raw := postBatch(t, hs, uploaderKey, batchBody(blobs, map[int]content.ID{7: wrong}), nil)
	if code != http.StatusOK || len(ans.Blobs) != len(blobs) {
		t.Fatalf("batch: %d %s", code, raw)
	}
	for i, r := range ans.Blobs {
		id := content.IDFromDigest(blake3.Sum256(blobs[i]))
		switch {
		case i == 7:
			if r.Problem == nil || !strings.HasSuffix(r.Problem.Type, "/id-mismatch") || r.Created {
				t.Fatalf("mismatched record answered %+v", r)
			}
			if _, err := s.cat.Object(ctx, wrong); !errors.Is(err, catalog.ErrNotFound) {
				t.Fatalf("the mismatched id was recorded: %v", err)
			}
			if _, err := s.blobs.Stat(ctx, blob.Key{ID: id, Part: blob.Data}); !errors.Is(err, blob.ErrNotFound) {
				t.Fatalf("the mismatched record's bytes were stored: %v", err)
			}
			continue
		case r.Problem != nil:
			t.Fatalf("record %d refused: %+v", i, r.Problem)
		case r.ID != id.String() || r.Size != int64(len(blobs[i])) || r.Kind != "blob":
			t.Fatalf("record %d answered %+v", i, r)
		case r.Created != (i != len(blobs)-1):
			t.Fatalf("record %d: created %v", i, r.Created)
		}
		if _, err := s.cat.Object(ctx, id); err != nil {
			t.Fatalf("record %d not in the catalog: %v", i, err)
		}
		if _, err := s.verifyBlob(ctx, id); err != nil {
			t.Fatalf("record %d stored wrong: %v", i, err)
		}
	}
	held := countBlobs(t, s)
	if held != len(blobs)-2 {
		t.Fatalf("%d blobs stored, want %d", held, len(blobs)-2)
	}
	// Sent again: nothing new is stored, all answered as held.
	code, ans, raw = postBatch(t, hs, uploaderKey, batchBody(blobs[:5], nil), nil)
	if code != http.StatusOK || len(ans.Blobs) != 5 || ans.Blobs[0].Created || countBlobs(t, s) != held {
		t.Fatalf("batch again: %d %s", code, raw)
	}

	fresh := someBlobs(3, 5000, 2)
	good := batchBody(fresh, nil)
	tamper := bytes.Clone(good)
	tamper[len(tamper)-1] ^= 1
	tooMany := batchBody(someBlobs(api.MaxBatchBlobs+1, 1, 3), nil)
	for name, tc := range map[string]struct {
		key        *identity.Key
		body, sent []byte
		code       int
		kind       string
	}{
		"unsigned":        {nil, good, nil, 401, "signature-required"},
		"digest":          {uploaderKey, good, tamper, 400, "digest-mismatch"},
		"bad header":      {uploaderKey, append(bytes.Clone(good), "nonsense 3\nabc"...), nil, 400, "bad-batch"},
		"cut record":      {uploaderKey, good[:len(good)-10], nil, 400, "truncated"},
		"cut header":      {uploaderKey, append(bytes.Clone(good), "bafk"...), nil, 400, "bad-batch"},
		"big blob":        {uploaderKey, append(bytes.Clone(good), fmt.Sprintf("%s %d\n", wrong, api.MaxBatchBlobSize+1)...), nil, 400, "bad-batch"},
		"too many":        {uploaderKey, tooMany, nil, 413, "too-large"},
		"leading zero":    {uploaderKey, append(bytes.Clone(good), fmt.Sprintf("%s 01\nx", wrong)...), nil, 400, "bad-batch"},
		"too large whole": {uploaderKey, make([]byte, api.MaxBatchBytes+1), nil, 413, "too-large"},
	} {
		code, _, raw := postBatch(t, hs, tc.key, tc.body, tc.sent)
		if code != tc.code || !strings.Contains(raw, "/"+tc.kind+`"`) {
			t.Errorf("%s: %d %s, want %d %s", name, code, raw, tc.code, tc.kind)
		}
		if n := countBlobs(t, s); n != held {
			t.Fatalf("%s: %d blobs stored, want %d: a refused batch kept some", name, n, held)
		}
		for _, b := range fresh {
			if _, err := s.cat.Object(ctx, content.IDFromDigest(blake3.Sum256(b))); !errors.Is(err, catalog.ErrNotFound) {
				t.Fatalf("%s: a refused batch recorded a blob", name)
			}
		}
	}
	if code, ans, raw := postBatch(t, hs, uploaderKey, good, nil); code != 200 || len(ans.Blobs) != 3 || !ans.Blobs[2].Created {
		t.Fatalf("good batch after the refused ones: %d %s", code, raw)
	}
}

// TestBatchRepairsCorrupt: a blob known corrupt, sent in a batch, replaces
// the bad copy.
func TestBatchRepairsCorrupt(t *testing.T) {
	s, hs := newTestServer(t)
	ctx := context.Background()
	b := someBlobs(1, 20000, 9)
	if code, _, raw := postBatch(t, hs, uploaderKey, batchBody(b, nil), nil); code != 200 {
		t.Fatal(raw)
	}
	id := content.IDFromDigest(blake3.Sum256(b[0]))
	if err := s.cat.MarkCorrupt(ctx, catalog.Corruption{ID: id, Length: 1, Detail: "test", Found: time.Now()}); err != nil {
		t.Fatal(err)
	}
	code, ans, raw := postBatch(t, hs, uploaderKey, batchBody(b, nil), nil)
	if code != 200 || ans.Blobs[0].Problem != nil || !ans.Blobs[0].Created {
		t.Fatalf("repair: %d %s", code, raw)
	}
	if _, bad := s.corrupt(ctx, id); bad {
		t.Fatal("still marked corrupt after the repair")
	}
}

// batchReadStatus asks POST /v1/blobs/batch-read for id, signed by key
// under grant gid (none when key is nil), and returns 200 when the blob's
// record is served whole, else the status of the request or of the
// blob's problem.
func batchReadStatus(t *testing.T, base, id string, key *identity.Key, gid string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/blobs/batch-read", strings.NewReader(`{"ids":["`+id+`"]}`))
	req.Header.Set("Content-Type", "application/json")
	if key != nil {
		req.Header.Set(HeaderGrant, gid)
		if err := httpsig.Sign(req, key, time.Now(), httpsig.WithHeaders("charter-grant")); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode
	}
	head, rest, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(head))
	if len(f) != 3 || f[0] != id {
		t.Logf("answer %q", b)
		return 0
	}
	if f[1] == "problem" {
		var p api.Problem
		json.Unmarshal(rest, &p)
		return p.Status
	}
	return http.StatusOK
}
