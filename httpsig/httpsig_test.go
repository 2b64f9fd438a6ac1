package httpsig

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charter-dev/charter/identity"
)

// t0 is the fixed time of the tests and of the worked example in
// docs/spec/http-signatures.md.
var t0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

func fixedKey(t testing.TB) *identity.Key {
	t.Helper()
	b, err := os.ReadFile("../identity/testdata/seed0.key")
	if err != nil {
		t.Fatal(err)
	}
	k, err := identity.ParseKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func seedKey(t testing.TB, n byte) *identity.Key {
	t.Helper()
	seed := make([]byte, 32)
	seed[31] = n
	k, err := identity.NewKeyFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newOpts(now time.Time) VerifyOptions {
	return VerifyOptions{Nonces: NewMemoryNonceStore(0, func() time.Time { return now })}
}

// wire sends a client request through its wire form and parses it as a
// server does, so verification sees exactly what a handler would.
func wire(t testing.TB, req *http.Request) *http.Request {
	t.Helper()
	var buf bytes.Buffer
	if err := req.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return parseWire(t, buf.String())
}

func wireString(t testing.TB, req *http.Request) string {
	t.Helper()
	var buf bytes.Buffer
	if err := req.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func parseWire(t testing.TB, s string) *http.Request {
	t.Helper()
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(s)))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func signedGet(t testing.TB, k *identity.Key, now time.Time, opts ...SignOption) *http.Request {
	t.Helper()
	req, err := http.NewRequest("GET", "http://charter.example/v1/blobs/abc/slice?offset=0&length=16384", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := Sign(req, k, now, opts...); err != nil {
		t.Fatal(err)
	}
	return req
}

func signedPost(t testing.TB, k *identity.Key, now time.Time, body string, opts ...SignOption) *http.Request {
	t.Helper()
	req, err := http.NewRequest("POST", "http://charter.example/v1/grants?dry=1", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if err := Sign(req, k, now, opts...); err != nil {
		t.Fatal(err)
	}
	return req
}

func TestSignVerifyGet(t *testing.T) {
	k := fixedKey(t)
	req := wire(t, signedGet(t, k, t0))
	if req.Header.Get(ContentDigestHeader) != "" {
		t.Error("GET without a body got a Content-Digest")
	}
	did, err := Verify(req, t0.Add(10*time.Second), newOpts(t0))
	if err != nil {
		t.Fatal(err)
	}
	if did != k.DID() {
		t.Fatalf("Verify returned %s, want %s", did, k.DID())
	}
}

func TestSignVerifyPost(t *testing.T) {
	k := seedKey(t, 1)
	body := `{"asset":"bafk...","purpose":"research"}`
	req := wire(t, signedPost(t, k, t0, body, WithHeaders("Content-Type")))
	if !strings.HasPrefix(req.Header.Get(ContentDigestHeader), "sha-256=:") {
		t.Fatalf("Content-Digest %q", req.Header.Get(ContentDigestHeader))
	}
	opts := newOpts(t0)
	opts.RequiredHeaders = []string{"content-type"}
	did, err := Verify(req, t0, opts)
	if err != nil {
		t.Fatal(err)
	}
	if did != k.DID() {
		t.Fatal("wrong signer")
	}
	got, _ := io.ReadAll(req.Body)
	if string(got) != body {
		t.Fatalf("body after Verify: %q", got)
	}
}

// TestServerRoundTrip signs through Transport and verifies in a real HTTP
// server, for a GET, a POST checked in memory and a POST streamed, and a
// request that went out unsigned.
func TestServerRoundTrip(t *testing.T) {
	k := seedKey(t, 2)
	store := NewMemoryNonceStore(0, nil)
	mux := http.NewServeMux()
	handler := func(stream bool) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			did, err := Verify(r, time.Now(), VerifyOptions{Nonces: store, StreamBody: stream})
			if err != nil {
				http.Error(w, err.Error(), http.StatusUnauthorized)
				return
			}
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusUnauthorized)
				return
			}
			fmt.Fprintf(w, "%s %d", did, len(body))
		}
	}
	mux.Handle("/v1/", http.StripPrefix("/v1", handler(false)))
	mux.Handle("/stream/", handler(true))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := &http.Client{Transport: &Transport{Key: k}}

	check := func(resp *http.Response, err error) func(int, string) {
		return func(wantCode int, want string) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != wantCode || !strings.Contains(string(b), want) {
				t.Fatalf("%d %q, want %d %q", resp.StatusCode, b, wantCode, want)
			}
		}
	}
	did := k.DID().String()
	check(client.Get(srv.URL+"/v1/blobs/x/slice?offset=0&length=16384"))(200, did+" 0")
	body := strings.Repeat("charter ", 1000)
	check(client.Post(srv.URL+"/v1/grants", "application/json", strings.NewReader(body)))(200, fmt.Sprintf("%s %d", did, len(body)))
	check(client.Post(srv.URL+"/stream/upload", "application/octet-stream", strings.NewReader(body)))(200, fmt.Sprintf("%s %d", did, len(body)))
	check(http.Get(srv.URL+"/v1/blobs/x"))(401, "not signed")

	// A streaming body with no GetBody: the caller supplies the digest.
	d, _ := ContentDigest(strings.NewReader(body))
	req, _ := http.NewRequest("PUT", srv.URL+"/stream/blob", io.NopCloser(strings.NewReader(body)))
	req.Header.Set(ContentDigestHeader, d)
	check(client.Do(req))(200, fmt.Sprintf("%s %d", did, len(body)))
	// ... and a wrong digest is caught while the handler reads.
	req, _ = http.NewRequest("PUT", srv.URL+"/stream/blob", io.NopCloser(strings.NewReader(body+"!")))
	req.Header.Set(ContentDigestHeader, d)
	check(client.Do(req))(401, "does not match")
	// Without a digest it cannot be signed at all.
	req, _ = http.NewRequest("PUT", srv.URL+"/stream/blob", io.NopCloser(strings.NewReader(body)))
	if _, err := client.Do(req); !errors.Is(err, ErrBodyNotReplayable) {
		t.Fatalf("unreplayable body: %v", err)
	}
	if store.Len() != 5 {
		t.Errorf("store holds %d nonces, want 5", store.Len())
	}
}

func TestTransportLeavesRequestAlone(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.Header.Clone() }))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/x", nil)
	resp, err := (&http.Client{Transport: &Transport{Key: seedKey(t, 3), Now: func() time.Time { return t0 }}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if req.Header.Get(SignatureHeader) != "" {
		t.Error("Transport modified the caller's request")
	}
	if got.Get(SignatureHeader) == "" || !strings.Contains(got.Get(SignatureInputHeader), fmt.Sprintf("created=%d", t0.Unix())) {
		t.Errorf("server got %v", got)
	}
}

// TestRefused changes one thing in the wire form of a correctly signed
// request and checks that Verify refuses it with the right error.
func TestRefused(t *testing.T) {
	k := seedKey(t, 4)
	other := seedKey(t, 5)
	get := wireString(t, signedGet(t, k, t0))
	post := wireString(t, signedPost(t, k, t0, `{"purpose":"research"}`, WithHeaders("content-type")))
	postNoType := wireString(t, signedPost(t, k, t0, `{"purpose":"research"}`))
	fromOther := wireString(t, signedGet(t, other, t0))
	sigOf := func(s string) string {
		r := parseWire(t, s)
		return r.Header.Get(SignatureHeader)
	}
	swapKeyID := func(s string) string {
		// other's signature, presented under k's key id.
		return strings.Replace(s, other.DID().String(), k.DID().String(), 1)
	}
	replaceHeader := func(s, name, value string) string {
		r := parseWire(t, s)
		old := name + ": " + r.Header.Get(name)
		if !strings.Contains(s, old) {
			t.Fatalf("no %q in request", old)
		}
		return strings.Replace(s, old, name+": "+value, 1)
	}
	dropHeader := func(s, name string) string {
		r := parseWire(t, s)
		return strings.Replace(s, name+": "+r.Header.Get(name)+"\r\n", "", 1)
	}
	tests := []struct {
		name string
		req  string
		want error
	}{
		{"method", strings.Replace(get, "GET ", "DELETE ", 1), ErrBadSignature},
		{"path", strings.Replace(get, "/blobs/abc/", "/blobs/abd/", 1), ErrBadSignature},
		{"path case", strings.Replace(get, "/blobs/", "/Blobs/", 1), ErrBadSignature},
		{"query", strings.Replace(get, "length=16384", "length=16385", 1), ErrBadSignature},
		{"query dropped", strings.Replace(get, "?offset=0&length=16384", "", 1), ErrBadSignature},
		{"query added", strings.Replace(post, "?dry=1", "?dry=1&x=2", 1), ErrBadSignature},
		{"host", strings.Replace(get, "Host: charter.example", "Host: evil.example", 1), ErrBadSignature},
		{"body", strings.Replace(post, "research", "commerce", 1), ErrDigestMismatch},
		{"digest and body", replaceHeader(strings.Replace(post, "research", "commerce", 1), "Content-Digest", "sha-256=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:"), ErrBadSignature},
		{"covered header", replaceHeader(post, "Content-Type", "text/plain"), ErrBadSignature},
		{"covered header dropped", dropHeader(post, "Content-Type"), ErrMissingComponent},
		{"digest dropped", dropHeader(post, "Content-Digest"), ErrMissingComponent},
		{"signature of another request", replaceHeader(get, "Signature", sigOf(fromOther)), ErrBadSignature},
		{"another key's signature under this keyid", swapKeyID(fromOther), ErrBadSignature},
		{"signature bit", replaceHeader(get, "Signature", flipSig(sigOf(get))), ErrBadSignature},
		{"no signature", dropHeader(get, "Signature"), ErrMissingSignature},
		{"no signature input", dropHeader(get, "Signature-Input"), ErrMissingSignature},
		{"nonce changed", strings.Replace(get, `nonce="`, `nonce="x`, 1), ErrBadSignature},
		{"created changed", strings.Replace(get, fmt.Sprintf("created=%d", t0.Unix()), fmt.Sprintf("created=%d", t0.Unix()+1), 1), ErrBadSignature},
		{"tag changed", strings.Replace(get, `tag="charter"`, `tag="other"`, 1), ErrMissingSignature},
		{"alg changed", strings.Replace(get, `alg="ed25519"`, `alg="hmac-sha256"`, 1), ErrMalformed},
		{"keyid not a DID", strings.Replace(get, k.DID().String(), "test-key-ed25519", 1), ErrMalformed},
		{"label mismatch", strings.Replace(get, "Signature: charter=", "Signature: other=", 1), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.req == get || tt.req == post {
				t.Fatal("mutation changed nothing")
			}
			req := parseWire(t, tt.req)
			_, err := Verify(req, t0, newOpts(t0))
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	// The unmodified requests pass, so each refusal above is the mutation's.
	for _, s := range []string{get, post, postNoType, fromOther} {
		if _, err := Verify(parseWire(t, s), t0, newOpts(t0)); err != nil {
			t.Fatalf("unmodified request refused: %v", err)
		}
	}
	// A server that requires content-type refuses the one that did not cover it.
	opts := newOpts(t0)
	opts.RequiredHeaders = []string{"Content-Type"}
	if _, err := Verify(parseWire(t, postNoType), t0, opts); !errors.Is(err, ErrMissingComponent) {
		t.Fatalf("uncovered required header: %v", err)
	}
}

func flipSig(field string) string {
	d, err := parseDictionary(field)
	if err != nil {
		panic(err)
	}
	d[0].item.val.b[10] ^= 1
	return d.String()
}

func TestReplay(t *testing.T) {
	k := seedKey(t, 6)
	s := wireString(t, signedGet(t, k, t0))
	opts := newOpts(t0)
	if _, err := Verify(parseWire(t, s), t0, opts); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(parseWire(t, s), t0.Add(time.Second), opts); !errors.Is(err, ErrReplay) {
		t.Fatalf("replay: %v", err)
	}
	// A fresh signature of the same request is not a replay.
	if _, err := Verify(wire(t, signedGet(t, k, t0)), t0, opts); err != nil {
		t.Fatal(err)
	}
	// The same nonce from another key is not this key's replay.
	fixed := "AAAAAAAAAAAAAAAAAAAAAA=="
	if _, err := Verify(wire(t, signedGet(t, k, t0, WithNonce(fixed))), t0, opts); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(wire(t, signedGet(t, seedKey(t, 7), t0, WithNonce(fixed))), t0, opts); err != nil {
		t.Fatal(err)
	}
	// A replay with a tampered signature is refused as a bad signature and
	// does not touch the store.
	n := opts.Nonces.(*MemoryNonceStore).Len()
	bad := parseWire(t, s)
	bad.Header.Set(SignatureHeader, flipSig(bad.Header.Get(SignatureHeader)))
	if _, err := Verify(bad, t0, opts); !errors.Is(err, ErrBadSignature) {
		t.Fatal(err)
	}
	if opts.Nonces.(*MemoryNonceStore).Len() != n {
		t.Fatal("a bad signature was recorded in the nonce store")
	}
	// A copy with a tampered body does not burn the original's nonce.
	post := wireString(t, signedPost(t, k, t0, `{"n":1}`))
	if _, err := Verify(parseWire(t, strings.Replace(post, `{"n":1}`, `{"n":2}`, 1)), t0, opts); !errors.Is(err, ErrDigestMismatch) {
		t.Fatal(err)
	}
	if _, err := Verify(parseWire(t, post), t0, opts); err != nil {
		t.Fatalf("original after a tampered copy: %v", err)
	}
}

func TestTimeWindow(t *testing.T) {
	k := seedKey(t, 8)
	tests := []struct {
		name    string
		created time.Time
		expiry  time.Duration
		now     time.Time
		want    error
	}{
		{"fresh", t0, time.Minute, t0, nil},
		{"within skew before created", t0, time.Minute, t0.Add(-DefaultSkew), nil},
		{"created in the future", t0, time.Minute, t0.Add(-DefaultSkew - time.Second), ErrNotYetValid},
		{"within skew after expires", t0, time.Minute, t0.Add(time.Minute + DefaultSkew), nil},
		{"expired", t0, time.Minute, t0.Add(time.Minute + DefaultSkew + time.Second), ErrExpired},
		{"long expiry, at max age", t0, time.Hour, t0.Add(DefaultMaxAge), nil},
		{"long expiry, older than max age", t0, time.Hour, t0.Add(DefaultMaxAge + time.Second), ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := wire(t, signedGet(t, k, tt.created, WithExpiry(tt.expiry)))
			_, err := Verify(req, tt.now, newOpts(tt.now))
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// signCustom signs req with arbitrary covered components and parameters,
// bypassing Sign's profile, to build requests a careless or hostile client
// might send.
func signCustom(t testing.TB, req *http.Request, k *identity.Key, covered []string, ps params) {
	t.Helper()
	var c []item
	for _, n := range covered {
		c = append(c, item{val: bareItem{kind: kindString, s: n}})
	}
	msg, err := clientMessage(req)
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64) // for a base that cannot be built (duplicate component)
	if base, err := msg.signatureBase(c, ps); err == nil {
		if sig, err = k.Signer().Sign(nil, base, crypto.Hash(0)); err != nil {
			t.Fatal(err)
		}
	}
	req.Header.Set(SignatureInputHeader, dictionary{{key: "sig1", isList: true, list: c, params: ps}}.String())
	req.Header.Set(SignatureHeader, dictionary{{key: "sig1", item: item{val: bareItem{kind: kindBytes, b: sig}}}}.String())
}

func stdParams(k *identity.Key, created time.Time, extra ...param) params {
	ps := params{
		{"created", bareItem{kind: kindInteger, i: created.Unix()}},
		{"expires", bareItem{kind: kindInteger, i: created.Unix() + 60}},
		{"nonce", bareItem{kind: kindString, s: "0123456789abcdefghij"}},
		{"alg", bareItem{kind: kindString, s: "ed25519"}},
		{"keyid", bareItem{kind: kindString, s: k.DID().String()}},
		{"tag", bareItem{kind: kindString, s: "charter"}},
	}
	return append(ps, extra...)
}

func without(ps params, key string) params {
	var out params
	for _, p := range ps {
		if p.key != key {
			out = append(out, p)
		}
	}
	return out
}

func TestProfileEnforced(t *testing.T) {
	k := seedKey(t, 9)
	all := []string{"@method", "@authority", "@path", "@query"}
	tests := []struct {
		name    string
		body    string
		covered []string
		params  params
		want    error
	}{
		{"profile", "", all, stdParams(k, t0), nil},
		{"reordered and extra components", "", []string{"@query", "@target-uri", "@path", "@method", "@authority", "@scheme", "@request-target"}, stdParams(k, t0), nil},
		{"with body", "x", append(all, "content-digest"), stdParams(k, t0), nil},
		{"no @method", "", []string{"@authority", "@path", "@query"}, stdParams(k, t0), ErrMissingComponent},
		{"no @authority", "", []string{"@method", "@path", "@query"}, stdParams(k, t0), ErrMissingComponent},
		{"no @path", "", []string{"@method", "@authority", "@query"}, stdParams(k, t0), ErrMissingComponent},
		{"no @query", "", []string{"@method", "@authority", "@path"}, stdParams(k, t0), ErrMissingComponent},
		{"@target-uri instead", "", []string{"@method", "@target-uri"}, stdParams(k, t0), ErrMissingComponent},
		{"body not covered", "x", all, stdParams(k, t0), ErrMissingComponent},
		{"component twice", "", append(all, "@path"), stdParams(k, t0), ErrMalformed},
		{"no created", "", all, without(stdParams(k, t0), "created"), ErrMalformed},
		{"no expires", "", all, without(stdParams(k, t0), "expires"), ErrMalformed},
		{"no nonce", "", all, without(stdParams(k, t0), "nonce"), ErrMalformed},
		{"no alg", "", all, without(stdParams(k, t0), "alg"), ErrMalformed},
		{"no keyid", "", all, without(stdParams(k, t0), "keyid"), ErrMalformed},
		{"no tag", "", all, without(stdParams(k, t0), "tag"), ErrMissingSignature},
		{"short nonce", "", all, append(without(stdParams(k, t0), "nonce"), param{"nonce", bareItem{kind: kindString, s: "abc"}}), ErrMalformed},
		{"unknown parameter", "", all, stdParams(k, t0, param{"context", bareItem{kind: kindString, s: "x"}}), ErrMalformed},
		{"expires before created", "", all, append(without(stdParams(k, t0), "expires"), param{"expires", bareItem{kind: kindInteger, i: t0.Unix()}}), ErrMalformed},
		{"created as string", "", all, append(without(stdParams(k, t0), "created"), param{"created", bareItem{kind: kindString, s: "1"}}), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			req, _ := http.NewRequest("POST", "http://charter.example/v1/x?a=b", body)
			if tt.body != "" {
				d, _ := ContentDigest(strings.NewReader(tt.body))
				req.Header.Set(ContentDigestHeader, d)
			}
			signCustom(t, req, k, tt.covered, tt.params)
			_, err := Verify(wire(t, req), t0, newOpts(t0))
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestAuthority(t *testing.T) {
	k := seedKey(t, 10)
	// Default ports are dropped on both sides, and case does not matter.
	req, _ := http.NewRequest("GET", "http://Charter.Example:80/x", nil)
	if err := Sign(req, k, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(wire(t, req), t0, newOpts(t0)); err != nil {
		t.Fatal(err)
	}
	// Behind a proxy that rewrites Host, the server names its public authority.
	req, _ = http.NewRequest("GET", "https://charter.example/x", nil)
	if err := Sign(req, k, t0); err != nil {
		t.Fatal(err)
	}
	r := wire(t, req)
	r.Host = "10.0.0.7:7070"
	if _, err := Verify(r, t0, newOpts(t0)); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("rewritten host: %v", err)
	}
	opts := newOpts(t0)
	opts.Authority = "charter.example"
	if _, err := Verify(r, t0, opts); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyBodyLimits(t *testing.T) {
	k := seedKey(t, 11)
	body := strings.Repeat("a", 100)
	opts := newOpts(t0)
	opts.MaxBodyBytes = 99
	if _, err := Verify(wire(t, signedPost(t, k, t0, body)), t0, opts); !errors.Is(err, ErrBodyTooLarge) {
		t.Fatalf("large body: %v", err)
	}
	opts.MaxBodyBytes = 100
	if _, err := Verify(wire(t, signedPost(t, k, t0, body)), t0, opts); err != nil {
		t.Fatal(err)
	}
	// Chunked body (unknown length) must be covered and is checked too.
	req, _ := http.NewRequest("POST", "http://charter.example/up", io.NopCloser(strings.NewReader(body)))
	d, _ := ContentDigest(strings.NewReader(body))
	req.Header.Set(ContentDigestHeader, d)
	if err := Sign(req, k, t0); err != nil {
		t.Fatal(err)
	}
	r := wire(t, req)
	if r.ContentLength != -1 {
		t.Fatalf("ContentLength %d, want chunked", r.ContentLength)
	}
	if _, err := Verify(r, t0, newOpts(t0)); err != nil {
		t.Fatal(err)
	}
}

func TestMemoryNonceStore(t *testing.T) {
	now := t0
	s := NewMemoryNonceStore(2, func() time.Time { return now })
	ctx := context.Background()
	seen := func(key, nonce string, until time.Time) bool {
		t.Helper()
		ok, err := s.Seen(ctx, key, nonce, until)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if seen("k", "n1", t0.Add(time.Minute)) || !seen("k", "n1", t0.Add(time.Minute)) {
		t.Fatal("first sight / second sight")
	}
	if seen("k2", "n1", t0.Add(time.Minute)) || seen("k", "n2", t0.Add(2*time.Minute)) {
		t.Fatal("distinct key or nonce reported seen")
	}
	if _, err := s.Seen(ctx, "k", "n3", t0.Add(time.Minute)); !errors.Is(err, ErrNonceStoreFull) {
		t.Fatalf("full key: %v", err)
	}
	// The bound is per key: k at its limit does not stop k2.
	if seen("k2", "n2", t0.Add(time.Minute)) {
		t.Fatal("k2 n2 seen")
	}
	// Still refuses replays while full.
	if !seen("k", "n2", t0.Add(2*time.Minute)) {
		t.Fatal("replay accepted while full")
	}
	now = t0.Add(time.Minute) // n1 entries expire
	if seen("k", "n3", t0.Add(3*time.Minute)) {
		t.Fatal("n3 seen")
	}
	if s.Len() != 2 {
		t.Fatalf("Len %d after expiry, want 2", s.Len())
	}
	if !seen("k", "n2", t0.Add(2*time.Minute)) {
		t.Fatal("unexpired entry forgotten")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Seen(cctx, "k", "n9", t0.Add(time.Hour)); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

func TestMemoryNonceStoreConcurrent(t *testing.T) {
	s := NewMemoryNonceStore(0, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	fresh := 0
	for range 16 {
		wg.Go(func() {
			ok, err := s.Seen(context.Background(), "k", "same", time.Now().Add(time.Minute))
			if err != nil {
				t.Error(err)
			}
			if !ok {
				mu.Lock()
				fresh++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if fresh != 1 {
		t.Fatalf("%d goroutines saw the nonce as new, want 1", fresh)
	}
}

func TestSignErrors(t *testing.T) {
	k := seedKey(t, 12)
	req, _ := http.NewRequest("GET", "http://charter.example/x", nil)
	if err := Sign(req, k, t0, WithHeaders("x-missing")); !errors.Is(err, ErrMissingComponent) {
		t.Fatalf("missing header: %v", err)
	}
	if err := Sign(req, k, t0, WithExpiry(-time.Second)); err == nil {
		t.Fatal("negative expiry accepted")
	}
	req, _ = http.NewRequest("POST", "http://charter.example/x", io.NopCloser(strings.NewReader("x")))
	err := Sign(req, k, t0)
	if !errors.Is(err, ErrBodyNotReplayable) || !strings.Contains(err.Error(), "hint:") {
		t.Fatalf("unreplayable body: %v", err)
	}
}

func TestNonceIsRandom(t *testing.T) {
	k := seedKey(t, 13)
	a := parseWire(t, wireString(t, signedGet(t, k, t0)))
	b := parseWire(t, wireString(t, signedGet(t, k, t0)))
	sa, err := parseSignatureHeaders(a.Header)
	if err != nil {
		t.Fatal(err)
	}
	sb, _ := parseSignatureHeaders(b.Header)
	if sa.nonce == sb.nonce {
		t.Fatal("two signatures share a nonce")
	}
	raw, err := base64.StdEncoding.DecodeString(sa.nonce)
	if err != nil || len(raw) != nonceBytes {
		t.Fatalf("nonce %q is not %d bytes of base64", sa.nonce, nonceBytes)
	}
}
