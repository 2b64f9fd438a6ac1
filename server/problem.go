package server

import (
	"encoding/json"
	"errors"
	"github.com/charter-dev/charter/api"
	"log/slog"
	"net/http"
	"time"
)

// Problem is the RFC 9457 problem document every API error is sent as,
// defined once in package api for server and client.
type Problem = api.Problem

// ProblemTypeBase prefixes the type URI of every Charter problem.
const ProblemTypeBase = api.ProblemTypeBase

// httpError is an error that already knows how it maps to HTTP.
type httpError struct {
	status int
	kind   string // problem type suffix
	title  string
	detail string
	hint   string
	err    error
	// retry, when set, is sent as Retry-After.
	retry time.Duration
}

func (e *httpError) Error() string {
	if e.err != nil {
		return e.detail + ": " + e.err.Error()
	}
	return e.detail
}

func (e *httpError) Unwrap() error { return e.err }

func errorf(status int, kind, title, detail, hint string, err error) error {
	return &httpError{status: status, kind: kind, title: title, detail: detail, hint: hint, err: err}
}

// writeProblem maps err to a problem document: the one place where errors
// become HTTP statuses. Internal errors are logged, never sent.
func (s *Server) writeProblem(w http.ResponseWriter, r *http.Request, err error) {
	p := Problem{Instance: r.URL.Path}
	var he *httpError
	switch {
	case errors.As(err, &he):
		p.Type, p.Title, p.Status, p.Detail, p.Hint = ProblemTypeBase+he.kind, he.title, he.status, he.detail, he.hint
		if he.retry > 0 {
			w.Header().Set("Retry-After", retryAfter(he.retry))
		}
	default:
		if m, ok := mapDomainError(err); ok {
			p = m
			p.Instance = r.URL.Path
		} else {
			s.log.Error("internal error", "path", r.URL.Path, "err", err)
			p.Type, p.Title, p.Status = ProblemTypeBase+"internal", "Internal server error", http.StatusInternalServerError
			p.Detail = "the server could not complete the request; the operator can find the cause in the server log"
		}
	}
	if p.Status >= 500 {
		s.log.Warn("request failed", "path", r.URL.Path, "status", p.Status, "err", err)
	} else {
		s.log.Debug("request refused", "path", r.URL.Path, "status", p.Status, "err", err)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Del("Content-Length")
	w.Header().Del("Content-Range")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}

// writeJSON sends v as a JSON response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	if err := enc.Encode(v); err != nil {
		slog.Debug("writing response", "err", err)
	}
}
