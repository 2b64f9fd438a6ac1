package server

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/charter-dev/charter/content"
)

// hfOp is what a Hugging Face Hub request asks for.
type hfOp int

const (
	// hfInfo: GET /api/{models|datasets}/{repo}[/revision/{rev}].
	hfInfo hfOp = iota + 1
	// hfTree: GET /api/{models|datasets}/{repo}/tree/{rev}[/{path}].
	hfTree
	// hfPathsInfo: POST /api/{models|datasets}/{repo}/paths-info/{rev}.
	hfPathsInfo
	// hfResolve: GET or HEAD /[datasets/]{repo}/{resolve|raw}/{rev}/{path}.
	hfResolve
)

// hfRequest is a parsed Hugging Face Hub path.
type hfRequest struct {
	op      hfOp
	dataset bool   // the repo type: dataset, else model
	repo    string // the repo id as sent: one segment, or "namespace/name"
	rev     string // the revision, unescaped; "" when the path names none
	path    string // the file or folder in the repo, unescaped; "" for the root
}

// errHFRoute reports a path that is no Hugging Face Hub endpoint this server
// serves; errHFPath a file path that cannot name a file of any repo.
var (
	errHFRoute = errors.New("no such Hugging Face endpoint")
	errHFPath  = errors.New("not a file path")
)

// maxHFPath bounds the escaped path a request may carry: a dataset path
// (content.MaxPathBytes) fully percent-escaped, plus the route.
const maxHFPath = 3*content.MaxPathBytes + 512

// parseHFPath reads the escaped path of a request to the Hugging Face
// endpoint. Each segment is unescaped on its own, so a revision or folder
// the client escaped whole ("refs%2Fpr%2F1", Python's tree path) stays one
// value. A file path must be a valid dataset path (content.ValidatePath):
// no "", "." or ".." segment, nothing absolute, no backslash, so no path
// can leave the repo it names.
func parseHFPath(escaped string) (hfRequest, error) {
	if len(escaped) > maxHFPath || !strings.HasPrefix(escaped, "/") {
		return hfRequest{}, errHFRoute
	}
	raw := strings.Split(escaped[1:], "/")
	segs := make([]string, len(raw))
	for i, r := range raw {
		s, err := url.PathUnescape(r)
		if err != nil || s == "" {
			return hfRequest{}, errHFRoute
		}
		segs[i] = s
	}
	var q hfRequest
	if segs[0] == "api" {
		if len(segs) < 3 {
			return q, errHFRoute
		}
		switch segs[1] {
		case "models":
		case "datasets":
			q.dataset = true
		default:
			return q, errHFRoute
		}
		repo, rest, ok := cutRepo(segs[2:], "revision", "tree", "paths-info")
		if !ok {
			return q, errHFRoute
		}
		q.repo = repo
		if len(rest) == 0 {
			q.op = hfInfo
			return q, nil
		}
		if len(rest) < 2 {
			return q, errHFRoute
		}
		q.rev = rest[1]
		switch rest[0] {
		case "revision":
			q.op = hfInfo
			if len(rest) != 2 {
				return q, errHFRoute
			}
		case "paths-info":
			q.op = hfPathsInfo
			if len(rest) != 2 {
				return q, errHFRoute
			}
		case "tree":
			q.op = hfTree
			if len(rest) > 2 {
				p, err := joinHFPath(rest[2:])
				if err != nil {
					return q, err
				}
				q.path = p
			}
		}
		return q, nil
	}
	if segs[0] == "datasets" {
		q.dataset = true
		segs = segs[1:]
	}
	repo, rest, ok := cutRepo(segs, "resolve", "raw")
	if !ok || len(rest) < 3 {
		return q, errHFRoute
	}
	p, err := joinHFPath(rest[2:])
	if err != nil {
		return q, err
	}
	q.op, q.repo, q.rev, q.path = hfResolve, repo, rest[1], p
	return q, nil
}

// cutRepo splits segs into a repo id of one or two segments followed by one
// of the keywords, and the rest from the keyword on. segs with no keyword
// are a bare repo id (rest empty).
func cutRepo(segs []string, keywords ...string) (repo string, rest []string, ok bool) {
	is := func(i int) bool { return i < len(segs) && slices.Contains(keywords, segs[i]) }
	switch {
	case len(segs) == 0:
		return "", nil, false
	case len(segs) == 1:
		return segs[0], nil, !strings.Contains(segs[0], "/")
	case is(1):
		return segs[0], segs[1:], !strings.Contains(segs[0], "/")
	case len(segs) == 2:
		return segs[0] + "/" + segs[1], nil, !strings.Contains(segs[0], "/") && !strings.Contains(segs[1], "/")
	case is(2):
		return segs[0] + "/" + segs[1], segs[2:], !strings.Contains(segs[0], "/") && !strings.Contains(segs[1], "/")
	}
	return "", nil, false
}

// joinHFPath joins unescaped segments into a file path and checks it.
func joinHFPath(segs []string) (string, error) {
	p := strings.Join(segs, "/")
	if err := content.ValidatePath(p); err != nil {
		return "", fmt.Errorf("%w: %w", errHFPath, err)
	}
	return p, nil
}

// hfCommit is the 40-hex "commit" Hugging Face clients expect for a repo:
// the first 20 bytes of the BLAKE3 digest of the asset's content. An asset
// names one content for ever, so the commit never moves; clients use it
// to name their cache snapshot folder.
func hfCommit(c content.ID) string { return c.Hex()[:40] }

// hfRevisionOK reports whether rev names the one revision of a repo whose
// content is c: "main" (the clients' default), "HEAD", the commit, or the
// content id itself.
func hfRevisionOK(rev string, c content.ID) bool {
	switch rev {
	case "main", "HEAD", hfCommit(c), c.String():
		return true
	}
	return false
}
