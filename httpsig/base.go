package httpsig

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// message is the part of an HTTP request a signature can cover, taken from
// the request as the client sends it or as the server received it, so that
// both sides derive the same component values.
type message struct {
	method    string
	scheme    string
	authority string
	path      string
	query     string // without '?'
	hasQuery  bool
	header    http.Header
}

// clientMessage describes an outgoing request (http.Client semantics: Host
// overrides URL.Host, the target is URL.RequestURI()).
func clientMessage(req *http.Request) (*message, error) {
	if req.URL == nil {
		return nil, fmt.Errorf("%w: request has no URL", ErrMalformed)
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	scheme := strings.ToLower(req.URL.Scheme)
	path, query, hasQuery := strings.Cut(req.URL.RequestURI(), "?")
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	return &message{
		method:    method,
		scheme:    scheme,
		authority: normalizeAuthority(host, scheme),
		path:      path,
		query:     query,
		hasQuery:  hasQuery,
		header:    req.Header,
	}, nil
}

// serverMessage describes a received request. The target comes from
// req.RequestURI (what was on the wire), so handlers that rewrite req.URL,
// such as http.StripPrefix, do not change it; requests built in tests without
// RequestURI fall back to req.URL. scheme and authority, when not empty,
// replace what the request says (a server behind a proxy knows its public
// name better than the Host header may).
func serverMessage(req *http.Request, scheme, authority string) (*message, error) {
	target := req.RequestURI
	switch {
	case target == "":
		if req.URL == nil {
			return nil, fmt.Errorf("%w: request has no URL", ErrMalformed)
		}
		target = req.URL.RequestURI()
	case target[0] != '/':
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return nil, fmt.Errorf("%w: request target: %v", ErrMalformed, err)
		}
		target = u.RequestURI()
	}
	if scheme == "" {
		scheme = "http"
		if req.TLS != nil {
			scheme = "https"
		}
	}
	scheme = strings.ToLower(scheme)
	if authority == "" {
		authority = req.Host
	}
	path, query, hasQuery := strings.Cut(target, "?")
	return &message{
		method:    req.Method,
		scheme:    scheme,
		authority: normalizeAuthority(authority, scheme),
		path:      path,
		query:     query,
		hasQuery:  hasQuery,
		header:    req.Header,
	}, nil
}

// normalizeAuthority lower-cases the host and drops the scheme's default
// port (RFC 9421 section 2.2.3, RFC 9110 section 4.2.3).
func normalizeAuthority(a, scheme string) string {
	a = strings.ToLower(a)
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return a
	}
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		if strings.Contains(host, ":") {
			return "[" + host + "]"
		}
		return host
	}
	return a
}

// componentValue returns the value of one covered component (RFC 9421
// section 2): a derived component ("@method", ...) or a header field named in
// lower case. Component parameters (sf, key, bs, req, name, tr) are not
// supported.
func (m *message) componentValue(c item) (string, error) {
	if c.val.kind != kindString {
		return "", fmt.Errorf("%w: component identifier is not a string", ErrMalformed)
	}
	if len(c.params) > 0 {
		return "", fmt.Errorf("%w: component %q has parameters, which Charter does not support", ErrMalformed, c.val.s)
	}
	name := c.val.s
	switch name {
	case "@method":
		return m.method, nil
	case "@authority":
		return m.authority, nil
	case "@scheme":
		return m.scheme, nil
	case "@path":
		if m.path == "" {
			return "/", nil
		}
		return m.path, nil
	case "@query":
		return "?" + m.query, nil
	case "@request-target":
		if m.hasQuery {
			return m.path + "?" + m.query, nil
		}
		return m.path, nil
	case "@target-uri":
		u := m.scheme + "://" + m.authority + m.path
		if m.hasQuery {
			u += "?" + m.query
		}
		return u, nil
	}
	if strings.HasPrefix(name, "@") {
		return "", fmt.Errorf("%w: unsupported derived component %q", ErrMalformed, name)
	}
	if name == "" || !isFieldName(name) {
		return "", fmt.Errorf("%w: component %q is not a lower-case field name", ErrMalformed, name)
	}
	vals := m.header.Values(name)
	if len(vals) == 0 {
		return "", fmt.Errorf("%w: covered header %q is not in the request", ErrMissingComponent, name)
	}
	// RFC 9421 section 2.1: trim each field line, join them with ", ".
	var b strings.Builder
	for i, v := range vals {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strings.Trim(v, " \t"))
	}
	out := b.String()
	for i := 0; i < len(out); i++ {
		if c := out[i]; c == '\n' || c == '\r' || c == 0 {
			return "", fmt.Errorf("%w: header %q holds a control character", ErrMalformed, name)
		}
	}
	return out, nil
}

func isFieldName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || !isTchar(c) {
			return false
		}
	}
	return true
}

// signatureBase builds the signature base of RFC 9421 section 2.5: one line
// per covered component, then the "@signature-params" line, no trailing
// newline. It refuses a component listed twice.
func (m *message) signatureBase(covered []item, ps params) ([]byte, error) {
	b := make([]byte, 0, 512)
	for i, c := range covered {
		for _, prev := range covered[:i] {
			if prev.val.kind == c.val.kind && prev.val.s == c.val.s {
				return nil, fmt.Errorf("%w: component %q is covered twice", ErrMalformed, c.val.s)
			}
		}
		v, err := m.componentValue(c)
		if err != nil {
			return nil, err
		}
		b = c.appendTo(b)
		b = append(b, ": "...)
		b = append(b, v...)
		b = append(b, '\n')
	}
	b = append(b, `"@signature-params": `...)
	b = appendInnerList(b, covered, ps)
	return b, nil
}
