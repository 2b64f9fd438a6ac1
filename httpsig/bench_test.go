package httpsig

import (
	"bytes"
	"crypto/ed25519"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// BenchmarkSignVerify measures what enforcing signatures adds to one request:
// Sign on the client and Verify on the server (parsing the fields, rebuilding
// the base, Ed25519, the body digest, the nonce store), against the baseline
// of one bare ed25519.Verify of a message the size of the signature base, in
// the same loop so machine noise hits both alike. ns/op is the sum of all
// three. It reports "sign-ns/op", "verify-ns/op", "baseline-ns/op" and the
// ratios "verify-x-ed25519" and "signverify-x-ed25519" (1.0 would mean
// verification costs no more than the signature check itself).
//
//	go test ./httpsig -run '^$' -bench SignVerify -benchtime 2000x
func BenchmarkSignVerify(b *testing.B) {
	cases := []struct {
		name string
		body int
	}{
		{"GET", 0},
		{"POST-1KiB", 1 << 10},
		{"POST-16KiB", 16 << 10},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			k := seedKey(b, 30)
			pub := k.Public()
			body := bytes.Repeat([]byte("c"), c.body)
			now := t0
			store := NewMemoryNonceStore(0, func() time.Time { return now })
			opts := VerifyOptions{Nonces: store}
			const url = "http://127.0.0.1:7070/v1/blobs/bafkr4ihkr4ld3m4gqkjf4reryxsy2s5tkbxprqkow6fin2iiyvreuzzab4/slice?offset=0&length=16384"
			method := "GET"
			if c.body > 0 {
				method = "POST"
			}

			// Baseline message: a signature base of the same shape.
			probe, _ := http.NewRequest(method, url, bytes.NewReader(body))
			if err := Sign(probe, k, now); err != nil {
				b.Fatal(err)
			}
			msg := []byte(strings.Repeat("x", len(probe.Header.Get(SignatureInputHeader))+200))
			sig := ed25519.Sign(k.Signer().(ed25519.PrivateKey), msg)

			b.ReportAllocs()
			var tSign, tVerify, tBase time.Duration
			for b.Loop() {
				now = now.Add(10 * time.Millisecond) // nonces expire as in a steady stream
				var rd io.Reader
				if c.body > 0 {
					rd = bytes.NewReader(body)
				}
				req, _ := http.NewRequest(method, url, rd)

				t0 := time.Now()
				if err := Sign(req, k, now); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()

				// What the server sees: the same header, target and body.
				srv := &http.Request{
					Method: method, Host: req.URL.Host, RequestURI: req.URL.RequestURI(),
					URL: req.URL, Header: req.Header, ContentLength: int64(c.body), Body: http.NoBody,
				}
				if c.body > 0 {
					srv.Body = io.NopCloser(bytes.NewReader(body))
				}

				t2 := time.Now()
				if _, err := Verify(srv, now, opts); err != nil {
					b.Fatal(err)
				}
				t3 := time.Now()
				if !ed25519.Verify(pub, msg, sig) {
					b.Fatal("baseline failed")
				}
				t4 := time.Now()
				tSign += t1.Sub(t0)
				tVerify += t3.Sub(t2)
				tBase += t4.Sub(t3)
			}
			n := float64(b.N)
			b.ReportMetric(float64(tSign.Nanoseconds())/n, "sign-ns/op")
			b.ReportMetric(float64(tVerify.Nanoseconds())/n, "verify-ns/op")
			b.ReportMetric(float64(tBase.Nanoseconds())/n, "baseline-ns/op")
			b.ReportMetric(float64(tVerify)/float64(tBase), "verify-x-ed25519")
			b.ReportMetric(float64(tSign+tVerify)/float64(tBase), "signverify-x-ed25519")
		})
	}
}

// BenchmarkParseSignatureHeaders measures parsing Charter's two fields
// alone, against the baseline of copying them (bytes.Clone), to show the
// parser is not where the time goes.
//
//	go test ./httpsig -run '^$' -bench ParseSignatureHeaders
func BenchmarkParseSignatureHeaders(b *testing.B) {
	req := signedPost(b, seedKey(b, 31), t0, "body", WithHeaders("content-type"))
	in, sg := req.Header.Get(SignatureInputHeader), req.Header.Get(SignatureHeader)
	b.ReportAllocs()
	var tParse, tBase time.Duration
	var sink []byte
	for b.Loop() {
		t0 := time.Now()
		if _, err := parseSignatureFields(in, sg); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		sink = bytes.Clone([]byte(in + sg))
		t2 := time.Now()
		tParse += t1.Sub(t0)
		tBase += t2.Sub(t1)
	}
	_ = sink
	b.ReportMetric(float64(tParse.Nanoseconds())/float64(b.N), "parse-ns/op")
	b.ReportMetric(float64(tParse)/float64(tBase), "x-copy")
}
