package httpsig

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"fmt"
	"hash"
	"io"
)

// ContentDigestHeader is the RFC 9530 field that carries the digest of the
// request body.
const ContentDigestHeader = "Content-Digest"

// ContentDigest reads r to the end and returns the RFC 9530 Content-Digest
// field value for it, "sha-256=:<base64>:". Callers that stream a body which
// cannot be read twice compute it this way (or while producing the body) and
// set the header before Sign.
func ContentDigest(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", fmt.Errorf("httpsig: hashing body: %w", err)
	}
	return contentDigestValue(h.Sum(nil)), nil
}

func contentDigestValue(sum []byte) string {
	d := dictionary{{key: "sha-256", item: item{val: bareItem{kind: kindBytes, b: sum}}}}
	return d.String()
}

// digestCheck holds the digests a Content-Digest field promises, for the
// algorithms Charter knows (sha-256 and sha-512). Members with other
// algorithm names are ignored, as RFC 9530 allows; at least one known one
// must be present.
type digestCheck struct {
	algs   []string
	want   [][]byte
	hashes []hash.Hash
}

func parseContentDigest(field string) (*digestCheck, error) {
	d, err := parseDictionary(field)
	if err != nil {
		return nil, fmt.Errorf("%w: Content-Digest: %w", ErrMalformed, err)
	}
	dc := &digestCheck{}
	for _, m := range d {
		var h hash.Hash
		switch m.key {
		case "sha-256":
			h = sha256.New()
		case "sha-512":
			h = sha512.New()
		default:
			continue
		}
		if m.isList || m.item.val.kind != kindBytes || len(m.item.val.b) != h.Size() {
			return nil, fmt.Errorf("%w: Content-Digest %s is not a %d-byte sequence", ErrMalformed, m.key, h.Size())
		}
		dc.algs = append(dc.algs, m.key)
		dc.want = append(dc.want, m.item.val.b)
		dc.hashes = append(dc.hashes, h)
	}
	if len(dc.algs) == 0 {
		return nil, fmt.Errorf("%w: Content-Digest has neither sha-256 nor sha-512\nhint: send Content-Digest: sha-256=:<base64 of the SHA-256 of the body>:", ErrMalformed)
	}
	return dc, nil
}

func (dc *digestCheck) Write(p []byte) (int, error) {
	for _, h := range dc.hashes {
		h.Write(p)
	}
	return len(p), nil
}

func (dc *digestCheck) check() error {
	for i, h := range dc.hashes {
		if subtle.ConstantTimeCompare(h.Sum(nil), dc.want[i]) != 1 {
			return fmt.Errorf("%w: body does not match its %s Content-Digest", ErrDigestMismatch, dc.algs[i])
		}
	}
	return nil
}

// digestReader passes a body through, hashing it, and reports
// ErrDigestMismatch instead of io.EOF when the body does not match.
type digestReader struct {
	r    io.ReadCloser
	dc   *digestCheck
	done error
}

func (d *digestReader) Read(p []byte) (int, error) {
	if d.done != nil {
		return 0, d.done
	}
	n, err := d.r.Read(p)
	d.dc.Write(p[:n])
	if err == io.EOF {
		if cerr := d.dc.check(); cerr != nil {
			d.done = cerr
			return n, cerr
		}
		d.done = io.EOF
	} else if err != nil {
		d.done = err
	}
	return n, err
}

func (d *digestReader) Close() error { return d.r.Close() }
