package httpsig

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

// FuzzParseSignatureHeaders feeds arbitrary Signature-Input and Signature
// values to the parser. It must never panic, must refuse fields over the
// limit, must fail only with the package's sentinels, and whatever
// dictionary it accepts must serialize to a canonical form that parses back
// to the same serialization.
func FuzzParseSignatureHeaders(f *testing.F) {
	k := seedKey(f, 20)
	for _, r := range []*http.Request{signedGet(f, k, t0), signedPost(f, k, t0, "body", WithHeaders("content-type"))} {
		f.Add(r.Header.Get(SignatureInputHeader), r.Header.Get(SignatureHeader))
	}
	v := readArchive(f, "rfc9421-b26.txtar")
	f.Add(strings.TrimSpace(v["signature-input"]), strings.TrimSpace(v["signature"]))
	f.Add(`a=(1;p 2);q, b="x\"y";z=?0, c=:AQID:`, `sig1=:AQID:, *t=tok/en:1`)
	f.Add(`charter=("@method");tag="charter";created=1;expires=2;nonce="0123456789abcdef";alg="ed25519";keyid="did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"`, `charter=::`)
	f.Fuzz(func(t *testing.T, input, sig string) {
		for _, s := range []string{input, sig} {
			d, err := parseDictionary(s)
			if err != nil {
				if !errors.Is(err, errSF) {
					t.Fatalf("error %v does not wrap errSF", err)
				}
				continue
			}
			if len(s) > maxFieldLen {
				t.Fatalf("accepted a field of %d bytes", len(s))
			}
			c := d.String()
			d2, err := parseDictionary(c)
			if err != nil {
				t.Fatalf("canonical form %q of %q does not parse: %v", c, s, err)
			}
			if c2 := d2.String(); c2 != c {
				t.Fatalf("canonical form not stable: %q then %q", c, c2)
			}
		}
		s, err := parseSignatureFields(input, sig)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrMissingSignature) {
				t.Fatalf("error %v wraps no sentinel", err)
			}
			return
		}
		if s.signer.IsZero() || len(s.signature) != signatureLen || s.expires <= s.created || len(s.nonce) < minNonceLen {
			t.Fatalf("accepted an incomplete signature: %+v", s)
		}
	})
}

// FuzzVerify runs Verify on a request whose signature fields,
// Content-Digest, method, target and body are arbitrary. It must never
// panic, must fail with a sentinel, and may succeed only for the one key
// that signed the seeds: nobody else's signature can be produced by
// mutation.
func FuzzVerify(f *testing.F) {
	k := seedKey(f, 21)
	for _, r := range []*http.Request{signedGet(f, k, t0), signedPost(f, k, t0, "body")} {
		var body string
		if r.GetBody != nil {
			b, _ := r.GetBody()
			var sb strings.Builder
			buf := make([]byte, 64)
			for {
				n, err := b.Read(buf)
				sb.Write(buf[:n])
				if err != nil {
					break
				}
			}
			body = sb.String()
		}
		f.Add(r.Method, r.URL.RequestURI(), r.Header.Get(SignatureInputHeader), r.Header.Get(SignatureHeader), r.Header.Get(ContentDigestHeader), body)
	}
	f.Add("GET", "/", "", "", "", "")
	f.Add("POST", "/x?y", `charter=("@method");tag="charter"`, `charter=:AAAA:`, `sha-256=:AAAA:`, "x")
	f.Fuzz(func(t *testing.T, method, target, input, sig, digest, body string) {
		if method == "" || strings.ContainsAny(method, " \r\n") || !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " \r\n#") {
			return
		}
		req, err := http.NewRequest(method, "http://charter.example"+target, strings.NewReader(body))
		if err != nil {
			return
		}
		req.RequestURI = target
		req.Host = "charter.example"
		if body == "" {
			req.Body = http.NoBody
			req.ContentLength = 0
		}
		req.Header.Set(SignatureInputHeader, input)
		req.Header.Set(SignatureHeader, sig)
		if digest != "" {
			req.Header.Set(ContentDigestHeader, digest)
		}
		did, err := Verify(req, t0, newOpts(t0))
		if err == nil {
			if did != k.DID() {
				t.Fatalf("accepted a signature by %s", did)
			}
			return
		}
		for _, e := range []error{ErrMissingSignature, ErrMalformed, ErrMissingComponent, ErrBadSignature, ErrExpired, ErrNotYetValid, ErrDigestMismatch, ErrBodyTooLarge} {
			if errors.Is(err, e) {
				return
			}
		}
		t.Fatalf("error %v wraps no sentinel", err)
	})
}
