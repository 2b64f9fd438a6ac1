// Package sigv4 verifies AWS Signature Version 4 as S3 clients send it on
// reads: in the Authorization header or in a presigned URL's query. It does
// no I/O; the caller looks up the secret of the access key id a signature
// names (Signature.KeyID) and passes it to Verify.
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// AWS Signature Version 4 as S3 clients send it: in the Authorization
// header, or in the query of a presigned URL. Verification needs the
// secret of the access key id the signature names (Server.Credential).
// Reads carry no body: the payload hash is UNSIGNED-PAYLOAD or the hash
// of nothing; streaming (chunked) payload signatures are for uploads,
// which this API refuses.

const (
	sigV4Algorithm  = "AWS4-HMAC-SHA256"
	UnsignedPayload = "UNSIGNED-PAYLOAD"
	emptySHA256     = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	// MaxSkew is how far a header-signed request's time may be from
	// the server's (S3's own bound).
	MaxSkew = 15 * time.Minute
	// maxPresignExpiry is the longest life of a presigned URL (S3's).
	maxPresignExpiry = 7 * 24 * time.Hour
	amzDateFormat    = "20060102T150405Z"
)

// Errors of SigV4 verification (the S3 front end maps them to S3 error codes).
var (
	ErrNoAuth     = errors.New("the request is not signed")
	ErrMalformed  = errors.New("malformed AWS Signature V4")
	ErrMismatch   = errors.New("the signature does not match")
	ErrTimeSkewed = errors.New("the difference between the request time and the server's time is too large")
	ErrExpired    = errors.New("request has expired")
)

// Signature is a parsed signature.
type Signature struct {
	KeyID, date, region, service string
	signedHeaders                []string
	signature                    string
	amzDate                      time.Time
	presigned                    bool
	expires                      time.Duration
	payload                      string
}

// Parse reads the signature of r from its Authorization header or
// its presigned query. It checks the form only.
func Parse(r *http.Request) (*Signature, error) {
	if auth := r.Header.Get("Authorization"); auth != "" {
		return parseHeader(auth, r.Header.Get("X-Amz-Date"), r.Header.Get("X-Amz-Content-Sha256"))
	}
	q := r.URL.Query()
	if q.Get("X-Amz-Algorithm") != "" || q.Get("X-Amz-Signature") != "" {
		return parseQuery(q)
	}
	return nil, ErrNoAuth
}

func malformed(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, a...))
}

func parseHeader(auth, date, payload string) (*Signature, error) {
	rest, ok := strings.CutPrefix(auth, sigV4Algorithm+" ")
	if !ok {
		return nil, malformed("only %s is supported", sigV4Algorithm)
	}
	v := &Signature{}
	seen := map[string]bool{}
	for _, part := range strings.Split(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || seen[k] {
			return nil, malformed("authorization field %q", part)
		}
		seen[k] = true
		var err error
		switch k {
		case "Credential":
			err = v.setCredential(val)
		case "SignedHeaders":
			err = v.setSignedHeaders(val)
		case "Signature":
			v.signature = val
		default:
			return nil, malformed("unknown authorization field %q", k)
		}
		if err != nil {
			return nil, err
		}
	}
	if !seen["Credential"] || !seen["SignedHeaders"] || !seen["Signature"] {
		return nil, malformed("Credential, SignedHeaders and Signature are required")
	}
	if err := v.setDate(date); err != nil {
		return nil, err
	}
	switch {
	case payload == "":
		return nil, malformed("x-amz-content-sha256 is required")
	case payload == UnsignedPayload, payload == emptySHA256:
	case strings.HasPrefix(payload, "STREAMING-"):
		return nil, malformed("streaming payloads are for uploads; this API only reads")
	case len(payload) != 64:
		return nil, malformed("x-amz-content-sha256 %q", payload)
	}
	v.payload = payload
	return v, v.checkForm()
}

func parseQuery(q url.Values) (*Signature, error) {
	for _, k := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"} {
		if len(q[k]) != 1 {
			return nil, malformed("presigned URL needs exactly one %s", k)
		}
	}
	if q.Get("X-Amz-Algorithm") != sigV4Algorithm {
		return nil, malformed("only %s is supported", sigV4Algorithm)
	}
	v := &Signature{presigned: true, signature: q.Get("X-Amz-Signature"), payload: UnsignedPayload}
	if err := v.setCredential(q.Get("X-Amz-Credential")); err != nil {
		return nil, err
	}
	if err := v.setSignedHeaders(q.Get("X-Amz-SignedHeaders")); err != nil {
		return nil, err
	}
	if err := v.setDate(q.Get("X-Amz-Date")); err != nil {
		return nil, err
	}
	secs, err := strconv.ParseInt(q.Get("X-Amz-Expires"), 10, 64)
	if err != nil || secs < 1 || secs > int64(maxPresignExpiry/time.Second) {
		return nil, malformed("X-Amz-Expires %q is not 1..604800 seconds", q.Get("X-Amz-Expires"))
	}
	v.expires = time.Duration(secs) * time.Second
	return v, v.checkForm()
}

func (v *Signature) setCredential(s string) error {
	parts := strings.Split(s, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" || parts[0] == "" {
		return malformed("credential %q is not KEY/DATE/REGION/SERVICE/aws4_request", s)
	}
	v.KeyID, v.date, v.region, v.service = parts[0], parts[1], parts[2], parts[3]
	return nil
}

func (v *Signature) setSignedHeaders(s string) error {
	v.signedHeaders = strings.Split(s, ";")
	for i, h := range v.signedHeaders {
		if h == "" || h != strings.ToLower(h) || i > 0 && v.signedHeaders[i-1] >= h {
			return malformed("SignedHeaders %q must be lower case, sorted, without repeats", s)
		}
	}
	if !slices.Contains(v.signedHeaders, "host") {
		return malformed("SignedHeaders must include host")
	}
	return nil
}

func (v *Signature) setDate(s string) error {
	t, err := time.Parse(amzDateFormat, s)
	if err != nil {
		return malformed("X-Amz-Date %q is not %s", s, amzDateFormat)
	}
	v.amzDate = t
	return nil
}

func (v *Signature) checkForm() error {
	if v.service != "s3" {
		return malformed("credential scope names service %q, not s3", v.service)
	}
	if v.date != v.amzDate.Format("20060102") {
		return malformed("credential scope date %s is not the request's date", v.date)
	}
	if len(v.signature) != 64 {
		return malformed("signature is not 64 hex digits")
	}
	if _, err := hex.DecodeString(v.signature); err != nil {
		return malformed("signature is not hex")
	}
	return nil
}

// CheckTime refuses a header signature made too far from now, and a
// presigned URL not yet valid or expired.
func (v *Signature) CheckTime(now time.Time) error {
	if v.presigned {
		if v.amzDate.After(now.Add(MaxSkew)) {
			return ErrTimeSkewed
		}
		if now.After(v.amzDate.Add(v.expires)) {
			return ErrExpired
		}
		return nil
	}
	if d := now.Sub(v.amzDate); d > MaxSkew || d < -MaxSkew {
		return ErrTimeSkewed
	}
	return nil
}

// verify checks v against r and the secret of its access key id.
func (v *Signature) Verify(r *http.Request, secret string) error {
	if !v.presigned && v.payload == emptySHA256 && r.ContentLength > 0 {
		return ErrMismatch
	}
	creq, err := v.canonicalRequest(r)
	if err != nil {
		return err
	}
	h := sha256.Sum256([]byte(creq))
	scope := v.date + "/" + v.region + "/" + v.service + "/aws4_request"
	sts := sigV4Algorithm + "\n" + v.amzDate.Format(amzDateFormat) + "\n" + scope + "\n" + hex.EncodeToString(h[:])
	key := hmacSHA256([]byte("AWS4"+secret), v.date)
	key = hmacSHA256(key, v.region)
	key = hmacSHA256(key, v.service)
	key = hmacSHA256(key, "aws4_request")
	want := hex.EncodeToString(hmacSHA256(key, sts))
	if !hmac.Equal([]byte(want), []byte(strings.ToLower(v.signature))) {
		return ErrMismatch
	}
	return nil
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// canonicalRequest builds the SigV4 canonical request of r.
func (v *Signature) canonicalRequest(r *http.Request) (string, error) {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(Escape(r.URL.Path, false))
	b.WriteByte('\n')
	cq, err := canonicalQuery(r.URL.RawQuery, v.presigned)
	if err != nil {
		return "", err
	}
	b.WriteString(cq)
	b.WriteByte('\n')
	for _, h := range v.signedHeaders {
		var val string
		if h == "host" {
			val = r.Host
		} else {
			vals := r.Header.Values(h)
			if len(vals) == 0 {
				return "", malformed("signed header %s is not in the request", h)
			}
			for i := range vals {
				vals[i] = strings.Join(strings.Fields(vals[i]), " ")
			}
			val = strings.Join(vals, ",")
		}
		b.WriteString(h)
		b.WriteByte(':')
		b.WriteString(val)
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(v.signedHeaders, ";"))
	b.WriteByte('\n')
	b.WriteString(v.payload)
	return b.String(), nil
}

// canonicalQuery sorts and re-encodes a raw query; a presigned URL's
// signature is left out.
func canonicalQuery(raw string, presigned bool) (string, error) {
	if raw == "" {
		return "", nil
	}
	type kv struct{ k, v string }
	var pairs []kv
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, val, _ := strings.Cut(part, "=")
		dk, err := url.QueryUnescape(k)
		if err != nil {
			return "", malformed("query %q", part)
		}
		dv, err := url.QueryUnescape(val)
		if err != nil {
			return "", malformed("query %q", part)
		}
		if presigned && dk == "X-Amz-Signature" {
			continue
		}
		pairs = append(pairs, kv{Escape(dk, true), Escape(dv, true)})
	}
	slices.SortFunc(pairs, func(a, b kv) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String(), nil
}

// Escape percent-encodes s as SigV4 does (RFC 3986 unreserved
// characters kept; '/' kept unless slash is set).
func Escape(s string, slash bool) string {
	const hexd = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' || c == '/' && !slash {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexd[c>>4])
		b.WriteByte(hexd[c&15])
	}
	return b.String()
}

// urlParseQuery is url.ParseQuery, refusing malformed escapes.
