package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
)

// TestMissing: POST /v1/blobs/missing answers, without a key, which ids
// the server lacks (stored corrupt counts as lacking), in request order,
// and reads nothing else into the catalog: asking about an id neither
// stores, records nor opens anything; a malformed or oversized list is a
// problem.
func TestMissing(t *testing.T) {
	s, hs := newTestServer(t)
	resp, body := upload(t, hs, "", []byte("held content"))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	var held BlobInfo
	json.Unmarshal(body, &held)
	absent := content.IDFromDigest([32]byte{7})
	ask := func(body string) (int, api.MissingAnswer) {
		t.Helper()
		resp, err := http.Post(hs.URL+"/v1/blobs/missing", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var ans api.MissingAnswer
		b, _ := io.ReadAll(resp.Body)
		json.Unmarshal(b, &ans)
		return resp.StatusCode, ans
	}
	code, ans := ask(fmt.Sprintf(`{"ids":[%q,%q,%q]}`, absent, held.ID, absent))
	if code != http.StatusOK || len(ans.Missing) != 2 || ans.Missing[0] != absent.String() || ans.Missing[1] != absent.String() {
		t.Fatalf("ask: %d %+v, want the absent id twice", code, ans)
	}
	// Asking recorded nothing: the absent id is still unknown.
	if _, err := s.cat.Object(context.Background(), absent); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("asking about an id recorded it: %v", err)
	}
	if code, ans := ask(`{"ids":[]}`); code != http.StatusOK || ans.Missing == nil || len(ans.Missing) != 0 {
		t.Fatalf("empty ask: %d %+v", code, ans)
	}
	// A copy known corrupt is missing: the client re-sends it.
	id, _ := content.ParseID(held.ID)
	if err := s.cat.MarkCorrupt(context.Background(), catalog.Corruption{ID: id, Offset: 0, Length: 1, Detail: "test", Found: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if code, ans := ask(fmt.Sprintf(`{"ids":[%q]}`, held.ID)); code != http.StatusOK || len(ans.Missing) != 1 {
		t.Fatalf("corrupt copy: %d %+v, want it missing", code, ans)
	}
	var many bytes.Buffer
	many.WriteString(`{"ids":[`)
	for i := range api.MaxMissingIDs + 1 {
		if i > 0 {
			many.WriteByte(',')
		}
		fmt.Fprintf(&many, "%q", absent)
	}
	many.WriteString(`]}`)
	for _, tc := range []struct {
		body string
		code int
	}{
		{`not json`, 400},
		{`{"ids":["nonsense"]}`, 400},
		{`{"ids":"x"}`, 400},
		{many.String(), 400},
		{strings.Repeat(" ", maxMissingBody+1), 413},
	} {
		if code, _ := ask(tc.body); code != tc.code {
			t.Errorf("ask %.40q: %d, want %d", tc.body, code, tc.code)
		}
	}
}

// FuzzParseMissing: the parser of the ask-first list never panics, and
// what it accepts is at most MaxMissingIDs ids that print back as asked.
func FuzzParseMissing(f *testing.F) {
	id := content.IDFromDigest([32]byte{1}).String()
	f.Add([]byte(`{"ids":["` + id + `"]}`))
	f.Add([]byte(`{"ids":[]}`))
	f.Add([]byte(`{"ids":null}`))
	f.Add([]byte(`{"ids":["bafk"]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ids, err := parseIDs(b, api.MaxMissingIDs)
		if err != nil {
			return
		}
		var req api.MissingRequest
		json.Unmarshal(b, &req)
		if len(ids) > api.MaxMissingIDs || len(ids) != len(req.IDs) {
			t.Fatalf("%d ids accepted from %d", len(ids), len(req.IDs))
		}
		for i, id := range ids {
			if id.IsZero() && req.IDs[i] != id.String() {
				t.Fatalf("ids[%d] = %q parsed as zero", i, req.IDs[i])
			}
		}
	})
}
