package sigv4

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzSigV4 feeds arbitrary Authorization headers, dates, payload hashes
// and presigned queries to the SigV4 parser and verifier: no panic, and
// nothing verifies without the secret.
func FuzzSigV4(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=CHKAAAAAAAAAAAAAAAAA/20261205/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature="+strings.Repeat("ab", 32), "20261205T120000Z", UnsignedPayload, "list-type=2&prefix=a%20b")
	f.Add("", "", "", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=CHK%2F20261205%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261205T120000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature="+strings.Repeat("0", 64))
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/s3/aws4_request,SignedHeaders=host,Signature=x", "x", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "%zz")
	f.Fuzz(func(t *testing.T, auth, date, payload, query string) {
		r, err := http.NewRequest("GET", "http://127.0.0.1/bucket/key", nil)
		if err != nil {
			return
		}
		r.URL.RawQuery = query
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		r.Header.Set("X-Amz-Date", date)
		r.Header.Set("X-Amz-Content-Sha256", payload)
		v, err := Parse(r)
		if err != nil {
			return
		}
		_ = v.CheckTime(time.Now())
		if v.Verify(r, "the secret") == nil {
			t.Fatalf("a fuzzed signature verified: %q %q", auth, query)
		}
	})
}
