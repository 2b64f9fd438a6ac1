package sqlite

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

// vectors are the signed statements of grant/testdata: real envelopes.
func vectors(t testing.TB) [][]byte {
	raw, err := os.ReadFile("../../grant/testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []struct {
		Envelope string `json:"envelope"`
	}
	if err := json.Unmarshal(raw, &vs); err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, v := range vs {
		out = append(out, []byte(v.Envelope))
	}
	return out
}

// TestPageForm: real envelopes take the compact form (a grant's 970 bytes
// in under 720) and come back byte for byte; anything else is kept as it
// is.
func TestPageForm(t *testing.T) {
	for _, env := range vectors(t) {
		p := pageForm(env)
		if p[0] != pageDSSE {
			t.Fatalf("%.60s: form %d, want the compact form", env, p[0])
		}
		if len(p) > len(env)*3/4 {
			t.Errorf("%.60s: page form %d bytes of %d", env, len(p), len(env))
		}
		back, err := pageEnvelope(p)
		if err != nil || !bytes.Equal(back, env) {
			t.Fatalf("round trip: %q, %v; want %q", back, err, env)
		}
		t.Logf("%d -> %d bytes", len(env), len(p))
	}
	for _, env := range []string{
		"", "{}", "eeee", `{"payloadType":"t","payload":"AA==","signatures":[]}`,
		`{"payload":"AA==","payloadType":"t","signatures":[]}`,   // other key order
		`{"payloadType":"t","payload":"AA","signatures":[]}`,     // no padding
		`{"payloadType":"t", "payload":"AA==","signatures":[]}`,  // space
		`{"payloadType":"<t>","payload":"AA==","signatures":[]}`, // \u003c in Go's JSON
		`{"payloadType":"t","payload":"AA==","signatures":[{"keyid":"k","sig":"@@"}]}`,
		`{"payloadType":"t","payload":"AA==","signatures":null}`,
	} {
		p := pageForm([]byte(env))
		back, err := pageEnvelope(p)
		if err != nil || string(back) != env {
			t.Errorf("%q: round trip %q, %v", env, back, err)
		}
	}
	if p := pageForm([]byte(`{"payloadType":"t","payload":"AA==","signatures":[]}`)); p[0] != pageDSSE {
		t.Errorf("no signatures: form %d", p[0])
	}
	for _, bad := range [][]byte{nil, {2}, {pageDSSE}, {pageDSSE, 5, 'a'}, {pageDSSE, 0, 0, 0xff}, {pageDSSE, 0, 0, 1, 1, 'k'}, {pageDSSE, 0, 0, 0, 0}} {
		if _, err := pageEnvelope(bad); err == nil {
			t.Errorf("%q: decoded", bad)
		}
	}
}

// FuzzPageForm: every envelope comes back byte for byte from its page
// form, and no page form (the file is not trusted more than the log)
// makes the decoder panic or allocate beyond its size.
func FuzzPageForm(f *testing.F) {
	for _, env := range vectors(f) {
		f.Add(env)
		f.Add(pageForm(env))
	}
	f.Add([]byte(`{"payloadType":"t","payload":"AA==","signatures":[{"keyid":"k","sig":"AQ=="},{"keyid":"\u00e9","sig":""}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		back, err := pageEnvelope(pageForm(b))
		if err != nil || !bytes.Equal(back, b) {
			t.Fatalf("round trip of %q: %q, %v", b, back, err)
		}
		if out, err := pageEnvelope(b); err == nil && len(out) > 2*len(b)+64*len(b)+64 {
			t.Fatalf("%d bytes from %d", len(out), len(b))
		}
	})
}
