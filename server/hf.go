package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/credential"
)

// The Hugging Face endpoint serves an asset as a Hugging Face Hub repo to
// the clients AI teams already use (huggingface_hub, datasets,
// @huggingface/hub), read only:
//
//	GET       /api/{models|datasets}/{repo}[/revision/{rev}]   repo info
//	GET       /api/{models|datasets}/{repo}/tree/{rev}[/{path}] listing (recursive, Link pagination)
//	POST      /api/{models|datasets}/{repo}/paths-info/{rev}    info on named paths
//	GET, HEAD /{repo}/resolve/{rev}/{path}                      a model file's bytes (also /raw/)
//	GET, HEAD /datasets/{repo}/resolve/{rev}/{path}             a dataset file's bytes
//
// A repo id is an asset id; a dataset asset's files are its index's paths,
// a single-file asset is one file (singleKey, as the S3 API names it). Licensed content needs a
// bearer token: a read credential of a licensee holding a valid grant. Every
// byte goes through sendData under the grant's quota and session, exactly as
// the native data plane serves it; the session of a token is its key id.
// docs/integrations.md has the client side.

// hfTokenPrefix is stripped from a bearer token before it is resolved:
// @huggingface/hub refuses to send a token that does not start with it.
const hfTokenPrefix = "hf_"

// HFHandler returns the Hugging Face endpoint's handler, meant for its own
// listener (`charter serve --hf-addr`): Hugging Face clients join their
// paths to HF_ENDPOINT at the root, where the console lives on the main
// listener.
func (s *Server) HFHandler() http.Handler { return s.hfHandler() }

// ServeHF serves the Hugging Face endpoint on l until ctx ends.
func (s *Server) ServeHF(ctx context.Context, l net.Listener) error {
	return serveOn(ctx, l, s.HFHandler())
}

// serveOn serves h on l until ctx ends, then shuts down gracefully.
func serveOn(ctx context.Context, l net.Listener, h http.Handler) error {
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return hs.Shutdown(sctx)
	}
}

func (s *Server) hfHandler() http.Handler {
	return &hfAPI{s: s, page: hfTreePage}
}

type hfAPI struct {
	s    *Server
	page int // tree entries per page when the request names no limit
}

// hfError is a refusal in the terms Hugging Face clients read: the status,
// an X-Error-Code they map to an exception (RepoNotFound, RevisionNotFound,
// EntryNotFound, GatedRepo), and {"error": message}.
type hfError struct {
	status          int
	code, msg, hint string
}

func (e *hfError) Error() string { return e.msg }

func hfErr(status int, code, msg, hint string) error {
	return &hfError{status: status, code: code, msg: msg, hint: hint}
}

// hfBadToken is the X-Error-Message of a refused token: huggingface_hub
// reads this exact text as "your token is wrong", not "no such repo".
const hfBadToken = "Invalid credentials in Authorization header"

func (h *hfAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r = withReadMemo(r)
	if err := h.serve(w, r); err != nil {
		h.writeError(w, r, err)
	}
}

// writeError sends err in the shape Hugging Face clients read. Charter's
// own refusals (grants, quotas, ranges) are rendered by writeProblem, the
// one place errors become statuses, and carried over: the status, the
// title, detail and hint as the message, and X-Error-Code GatedRepo for a
// refusal by a grant.
func (h *hfAPI) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var he *hfError
	if !errors.As(err, &he) {
		rec := &problemRecorder{h: http.Header{}}
		h.s.writeProblem(rec, r, err)
		var p Problem
		json.Unmarshal(rec.body.Bytes(), &p)
		he = &hfError{status: rec.status, msg: p.Title, hint: p.Hint}
		if p.Detail != "" {
			he.msg += ": " + p.Detail
		}
		switch strings.TrimPrefix(p.Type, ProblemTypeBase) {
		case "grant-required", "unknown-grant", "not-licensee", "revoked", "expired", "wrong-grant", "quota-exhausted", "no-grant", "not-covered":
			he.code = "GatedRepo"
		}
		if ra := rec.h.Get("Retry-After"); ra != "" {
			w.Header().Set("Retry-After", ra)
		}
	}
	msg := he.msg
	if he.hint != "" {
		msg += "\nhint: " + he.hint
	}
	hd := w.Header()
	for _, k := range []string{"Content-Length", "Content-Range", "ETag", "X-Linked-Etag", "X-Linked-Size", HeaderID, HeaderSize, HeaderKind, "Cache-Control"} {
		hd.Del(k)
	}
	if he.code != "" {
		hd.Set("X-Error-Code", he.code)
	}
	xm := he.msg
	if he.status == http.StatusUnauthorized && he.code == "" {
		xm = hfBadToken
	}
	hd.Set("X-Error-Message", headerSafe(xm))
	hd.Set("Content-Type", "application/json")
	w.WriteHeader(he.status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// headerSafe makes s one line of printable ASCII for a header value.
func headerSafe(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = ' '
		}
	}
	if len(b) > 512 {
		b = b[:512]
	}
	return string(b)
}

// problemRecorder captures what writeProblem sends.
type problemRecorder struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (p *problemRecorder) Header() http.Header         { return p.h }
func (p *problemRecorder) Write(b []byte) (int, error) { return p.body.Write(b) }
func (p *problemRecorder) WriteHeader(status int)      { p.status = status }

func (h *hfAPI) serve(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q, err := parseHFPath(r.URL.EscapedPath())
	switch {
	case errors.Is(err, errHFPath):
		return hfErr(http.StatusNotFound, "EntryNotFound", fmt.Sprintf("Entry not found: %v", err), "file paths are relative, with no \".\", \"..\" or empty segment")
	case err != nil:
		return hfErr(http.StatusNotFound, "", "Not found: "+r.Method+" "+r.URL.Path+" is no Hugging Face Hub endpoint this server serves", "this endpoint serves repo info, tree, paths-info and resolve; see docs/integrations.md")
	}
	if q.op == hfPathsInfo && r.Method != http.MethodPost || q.op != hfPathsInfo && r.Method != http.MethodGet && r.Method != http.MethodHead {
		return hfErr(http.StatusMethodNotAllowed, "", "Method not allowed: the Hugging Face endpoint of Charter is read only", "uploads go through Charter's own API (`charter put`, `charter publish`)")
	}
	cred, err := h.credential(r)
	if err != nil {
		return err
	}
	repo, err := h.repo(ctx, q)
	if err != nil {
		return err
	}
	rev := q.rev
	if rev == "" {
		rev = "main"
	}
	if !hfRevisionOK(rev, repo.content) {
		return hfErr(http.StatusNotFound, "RevisionNotFound", fmt.Sprintf("Revision not found: repo %s has one revision, main (commit %s); %q is not it", q.repo, repo.commit, rev), "use revision \"main\" or the commit "+repo.commit)
	}
	w.Header().Set("X-Repo-Commit", repo.commit)
	switch q.op {
	case hfResolve:
		return h.resolve(w, r, q, repo, cred)
	}
	// Listing a repo reads its index: it needs what reading the index
	// needs (a grant, when it is licensed), and moves no data bytes.
	if err := h.mayList(ctx, cred, repo.content); err != nil {
		return err
	}
	switch q.op {
	case hfInfo:
		return h.info(w, r, q, repo)
	case hfTree:
		return h.tree(w, r, q, repo)
	default:
		return h.pathsInfo(w, r, repo)
	}
}

// credential resolves the request's bearer token (a read credential,
// CredentialByToken, written with hfTokenPrefix or without); no token is
// nil.
func (h *hfAPI) credential(r *http.Request) (*credential.Credential, error) {
	v := r.Header.Get("Authorization")
	if v == "" {
		return nil, nil
	}
	scheme, tok, ok := strings.Cut(v, " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return nil, hfErr(http.StatusUnauthorized, "", hfBadToken+": not a bearer token", "send Authorization: Bearer hf_charter_<key id>_<secret> (HF_TOKEN)")
	}
	c, err := h.s.CredentialByToken(r.Context(), strings.TrimPrefix(tok, hfTokenPrefix))
	if err != nil {
		return nil, badToken(err)
	}
	return c, nil
}

// badToken maps a refused read credential to the 401 clients read as a
// wrong token; other errors stay as they are.
func badToken(err error) error {
	if errors.Is(err, ErrUnknownCredential) || errors.Is(err, ErrBadSecret) || errors.Is(err, credential.ErrExpired) {
		return hfErr(http.StatusUnauthorized, "", hfBadToken+": "+err.Error(), "get a read token with `charter s3 credentials` and set HF_TOKEN to its token with \"hf_\" in front (hf_charter_…); a revoked or expired token needs a new one")
	}
	return err
}

// hfRepo is an asset seen as a repo.
type hfRepo struct {
	st      *asset.State
	content content.ID
	commit  string
	size    int64 // of the content: the index of a dataset, the file of a single-file asset
	dataset bool  // the content is an indexed dataset
}

func repoNotFound(repo string) error {
	return hfErr(http.StatusNotFound, "RepoNotFound", fmt.Sprintf("Repository not found: %q is no asset on this server", repo),
		"a repo id here is a Charter asset id (bafkr4i…, one segment): `charter asset show ID`, or GET /v1/assets on the main listener")
}

func (h *hfAPI) repo(ctx context.Context, q hfRequest) (*hfRepo, error) {
	id, err := asset.ParseID(q.repo)
	if err != nil {
		return nil, repoNotFound(q.repo)
	}
	rec, err := h.s.assetRecord(ctx, id)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, repoNotFound(q.repo)
	}
	if err != nil {
		return nil, err
	}
	c := rec.State.Manifest.Content
	obj, err := h.s.lookup(ctx, c)
	if err != nil {
		return nil, err
	}
	return &hfRepo{st: rec.State, content: c, commit: hfCommit(c), size: obj.Size, dataset: obj.Kind == catalog.KindDataset}, nil
}

// files returns the repo's files, sorted by path.
func (h *hfAPI) files(ctx context.Context, repo *hfRepo) ([]content.File, error) {
	if !repo.dataset {
		return []content.File{{Path: singleKey(repo.st.Manifest.Name), Size: repo.size, ID: repo.content}}, nil
	}
	x, err := h.s.datasetIndex(ctx, repo.content)
	if err != nil {
		return nil, err
	}
	return x.Files, nil
}

// gated is the refusal of licensed content to a request with no token.
func gated(id content.ID, needing []string) error {
	return hfErr(http.StatusUnauthorized, "GatedRepo", fmt.Sprintf("Access to this content is restricted: %s is licensed content of asset %s, read only under a grant", id, needing[0]),
		"request a grant (`charter grant request "+needing[0]+" --purpose P`), then set HF_TOKEN=hf_<token> with a read token of the licensee (`charter s3 credentials`)")
}

// mayList checks that cred may read content id (a repo's index or single
// file) without reading it: the content is free, or cred covers an asset
// governing it on which its licensee holds a live grant (what ReadUnder
// checks before it reserves).
func (h *hfAPI) mayList(ctx context.Context, cred *credential.Credential, id content.ID) error {
	needing, err := h.s.licensedBy(ctx, id)
	if err != nil || len(needing) == 0 {
		return err
	}
	if cred == nil {
		return gated(id, needing)
	}
	if err := cred.Check(time.Now()); err != nil {
		return badToken(err)
	}
	for _, a := range needing {
		if !cred.Covers(a) {
			continue
		}
		g, err := h.s.grantOn(ctx, cred.Licensee, a)
		if err != nil || g != nil {
			return err
		}
	}
	return hfErr(http.StatusForbidden, "GatedRepo", fmt.Sprintf("Access to this content is restricted: %s is licensed content of asset %s; %s holds no live grant on it that credential %s covers", id, needing[0], cred.Licensee, cred.ID),
		"request one: `charter grant request "+needing[0]+" --purpose PURPOSE`; a credential limited to some assets reads only those")
}

// readUnder is ReadUnder, the native enforcement, for a request with
// token cred (nil: none): it reserves n bytes of content id in the
// token's read session, named by its key id, whose receipt comes when the
// session is idle (SessionIdle), as for native reads.
func (h *hfAPI) readUnder(r *http.Request, cred *credential.Credential, id content.ID, n int64) (*metered, error) {
	if cred == nil {
		needing, err := h.s.licensedBy(r.Context(), id)
		if err != nil || len(needing) == 0 {
			return nil, err
		}
		return nil, gated(id, needing)
	}
	m, err := h.s.ReadUnder(r, cred, id, n, "hf-"+cred.ID)
	return m, badToken(err)
}

// resolve serves a file's bytes: GET (whole, or one range) or HEAD.
func (h *hfAPI) resolve(w http.ResponseWriter, r *http.Request, q hfRequest, repo *hfRepo, cred *credential.Credential) error {
	ctx := r.Context()
	// Which paths a repo holds, and their sizes, are its index: governed
	// like it, before any path is looked up or a range parsed
	// (TestAttackHFResolveProbesLicensedPaths).
	if err := h.mayList(ctx, cred, repo.content); err != nil {
		return err
	}
	files, err := h.files(ctx, repo)
	if err != nil {
		return err
	}
	i := sort.Search(len(files), func(i int) bool { return files[i].Path >= q.path })
	if i == len(files) || files[i].Path != q.path {
		return hfErr(http.StatusNotFound, "EntryNotFound", fmt.Sprintf("Entry not found: repo %s has no file %q", q.repo, q.path), "list the repo's files: GET /api/"+repoType(q)+"s/"+q.repo+"/tree/main?recursive=true")
	}
	f := files[i]
	obj, err := h.s.lookup(ctx, f.ID)
	if err != nil {
		return err
	}
	off, n, partial, err := parseByteRange(r.Header.Get("Range"), obj.Size)
	if err != nil {
		return err
	}
	want := n
	if r.Method == http.MethodHead {
		want = 0
	}
	m, err := h.readUnder(r, cred, f.ID, want)
	if err != nil {
		return err
	}
	hd := w.Header()
	etag := `"` + f.ID.String() + `"`
	hd.Set("X-Linked-Etag", etag)
	hd.Set("X-Linked-Size", strconv.FormatInt(obj.Size, 10))
	hd.Set("Accept-Ranges", "bytes")
	hd.Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": lastSegment(f.Path)}))
	return h.s.sendData(w, r, obj, off, n, partial, m)
}

func repoType(q hfRequest) string {
	if q.dataset {
		return "dataset"
	}
	return "model"
}

func lastSegment(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }

// hfTime is the time format Hugging Face clients parse.
const hfTime = "2006-01-02T15:04:05.000Z"

// hfSibling is one file in repo info.
type hfSibling struct {
	RFilename string `json:"rfilename"`
	Size      int64  `json:"size"`
	BlobID    string `json:"blobId"`
}

// hfCharter says, in repo info, which Charter asset a repo is.
type hfCharter struct {
	Asset   string `json:"asset"`
	Content string `json:"content"`
	Name    string `json:"name"`
	License string `json:"license"`
	Kind    string `json:"kind"`
}

type hfInfoDoc struct {
	ID           string      `json:"id"`
	MongoID      string      `json:"_id"`
	Author       string      `json:"author"`
	SHA          string      `json:"sha"`
	LastModified string      `json:"lastModified"`
	CreatedAt    string      `json:"createdAt"`
	Private      bool        `json:"private"`
	Gated        any         `json:"gated"`
	Disabled     bool        `json:"disabled"`
	Downloads    int         `json:"downloads"`
	Likes        int         `json:"likes"`
	Tags         []string    `json:"tags"`
	Description  string      `json:"description"`
	Siblings     []hfSibling `json:"siblings"`
	UsedStorage  int64       `json:"usedStorage"`
	Charter      hfCharter   `json:"charter"`
}

// maxSiblings bounds the files repo info lists; the tree endpoint pages
// through any number.
const maxSiblings = 10000

func (h *hfAPI) info(w http.ResponseWriter, r *http.Request, q hfRequest, repo *hfRepo) error {
	ctx := r.Context()
	files, err := h.files(ctx, repo)
	if err != nil {
		return err
	}
	needing, err := h.s.licensedBy(ctx, repo.content)
	if err != nil {
		return err
	}
	m := &repo.st.Manifest
	created := m.Created.Time().UTC().Format(hfTime)
	doc := hfInfoDoc{ID: q.repo, MongoID: repo.st.Asset.String(), SHA: repo.commit, LastModified: created, CreatedAt: created, Gated: false,
		Tags: []string{}, Description: m.Description, Siblings: []hfSibling{},
		Charter: hfCharter{Asset: repo.st.Asset.String(), Content: repo.content.String(), Name: m.Name, License: repo.st.License, Kind: "blob"}}
	if len(repo.st.Owners) > 0 {
		doc.Author = repo.st.Owners[0].DID.String()
	}
	if len(needing) > 0 {
		doc.Gated = "manual"
	}
	if repo.dataset {
		doc.Charter.Kind = "dataset"
	}
	for _, f := range files {
		doc.UsedStorage += f.Size
		if len(doc.Siblings) < maxSiblings {
			doc.Siblings = append(doc.Siblings, hfSibling{RFilename: f.Path, Size: f.Size, BlobID: f.ID.String()})
		}
	}
	writeJSON(w, http.StatusOK, doc)
	return nil
}

// hfEntry is one file or folder of a tree listing or paths-info answer.
type hfEntry struct {
	Type       string        `json:"type"` // "file" or "directory"
	OID        string        `json:"oid"`
	Size       int64         `json:"size"`
	Path       string        `json:"path"`
	LastCommit *hfLastCommit `json:"lastCommit,omitempty"`
}

type hfLastCommit struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Date  string `json:"date"`
}

// Tree pages: as many entries as the Hub sends per page, and at most.
const (
	hfTreePage    = 1000
	hfMaxTreePage = 1000
)

func (h *hfAPI) tree(w http.ResponseWriter, r *http.Request, q hfRequest, repo *hfRepo) error {
	files, err := h.files(r.Context(), repo)
	if err != nil {
		return err
	}
	v := r.URL.Query()
	recursive, expand := hfBool(v.Get("recursive")), hfBool(v.Get("expand"))
	limit := h.page
	if l := v.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			return hfErr(http.StatusBadRequest, "", fmt.Sprintf("Bad request: limit %q is not a positive integer", l), "")
		}
		limit = min(n, hfMaxTreePage)
	}
	after := ""
	if c := v.Get("cursor"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil || len(b) > content.MaxPathBytes {
			return hfErr(http.StatusBadRequest, "", "Bad request: malformed cursor", "follow the Link header's next URL as given")
		}
		after = string(b)
	}
	entries, last, found := treePage(files, q.path, recursive, after, limit)
	if !found {
		return hfErr(http.StatusNotFound, "EntryNotFound", fmt.Sprintf("Entry not found: repo %s has no folder %q", q.repo, q.path), "")
	}
	lc := h.lastCommit(repo, expand)
	out := make([]hfEntry, len(entries))
	for i, e := range entries {
		out[i] = h.entry(e, repo, lc)
	}
	if last != "" {
		next := *r.URL
		nv := next.Query()
		nv.Set("cursor", base64.RawURLEncoding.EncodeToString([]byte(last)))
		next.RawQuery = nv.Encode()
		next.Scheme, next.Host = "http", r.Host
		if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
			next.Scheme = "https"
		}
		w.Header().Set("Link", "<"+next.String()+`>; rel="next"`)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// hfBool reads a boolean query parameter as the clients write it: "true"
// (JavaScript), "True" (Python's requests), "1".
func hfBool(v string) bool { return strings.EqualFold(v, "true") || v == "1" }

func (h *hfAPI) lastCommit(repo *hfRepo, expand bool) *hfLastCommit {
	if !expand {
		return nil
	}
	return &hfLastCommit{ID: repo.commit, Title: "Charter asset " + repo.st.Asset.String(), Date: repo.st.Manifest.Created.Time().UTC().Format(hfTime)}
}

func (h *hfAPI) entry(e treeEntry, repo *hfRepo, lc *hfLastCommit) hfEntry {
	if e.dir {
		sum := sha256.Sum256([]byte(repo.commit + "\x00" + e.path))
		return hfEntry{Type: "directory", OID: hex.EncodeToString(sum[:20]), Path: e.path, LastCommit: lc}
	}
	return hfEntry{Type: "file", OID: e.file.ID.String(), Size: e.file.Size, Path: e.path, LastCommit: lc}
}

// treeEntry is a file or folder of a listing.
type treeEntry struct {
	path string
	dir  bool
	file content.File
}

// treePage lists folder dir ("" the root) of files (sorted by path): its
// files and folders, or with recursive everything below it (each folder
// before its files), resuming after file path after, at most limit
// entries (a recursive page may carry a file's new folders past it). last
// is the path of the last file the page covers when more follow, else "";
// found is false when dir is not a folder of files.
func treePage(files []content.File, dir string, recursive bool, after string, limit int) (entries []treeEntry, last string, found bool) {
	prefix := ""
	if dir != "" {
		prefix = dir + "/"
	}
	lo := sort.Search(len(files), func(i int) bool { return files[i].Path >= prefix })
	hi := lo + sort.Search(len(files)-lo, func(i int) bool { return !strings.HasPrefix(files[lo+i].Path, prefix) })
	if dir != "" && lo == hi {
		return nil, "", false
	}
	i := lo
	if after != "" {
		i = max(lo, lo+sort.Search(hi-lo, func(k int) bool { return files[lo+k].Path > after }))
	}
	// open are the folders (below dir) already listed that the next
	// files may still be in: the folders of the file before i.
	var open []string
	if recursive && i > lo {
		open = folders(files[i-1].Path, prefix)
	}
	for i < hi && len(entries) < limit {
		f := files[i]
		rest := f.Path[len(prefix):]
		if !recursive {
			if j := strings.IndexByte(rest, '/'); j >= 0 {
				sub := prefix + rest[:j+1]
				entries = append(entries, treeEntry{path: sub[:len(sub)-1], dir: true})
				// Skip the folder's files: they follow one another.
				i += sort.Search(hi-i, func(k int) bool { return !strings.HasPrefix(files[i+k].Path, sub) })
				continue
			}
			entries = append(entries, treeEntry{path: f.Path, file: f})
			i++
			continue
		}
		fs := folders(f.Path, prefix)
		k := 0
		for k < len(open) && k < len(fs) && open[k] == fs[k] {
			k++
		}
		for _, d := range fs[k:] {
			entries = append(entries, treeEntry{path: d, dir: true})
		}
		open = fs
		entries = append(entries, treeEntry{path: f.Path, file: f})
		i++
	}
	if i < hi {
		last = files[i-1].Path
	}
	return entries, last, true
}

// folders returns the folders of path p below prefix, outermost first.
func folders(p, prefix string) []string {
	var out []string
	for j := len(prefix); ; {
		k := strings.IndexByte(p[j:], '/')
		if k < 0 {
			return out
		}
		j += k
		out = append(out, p[:j])
		j++
	}
}

// Bounds of a paths-info request.
const (
	maxPathsInfoBody  = 1 << 20
	maxPathsInfoPaths = 1000
)

// pathsInfo answers POST paths-info: the files and folders among the
// paths asked for (JSON {"paths": [...], "expand": bool}, or the same as a
// form); paths that name nothing are left out.
func (h *hfAPI) pathsInfo(w http.ResponseWriter, r *http.Request, repo *hfRepo) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPathsInfoBody+1))
	if err != nil {
		return err
	}
	if len(body) > maxPathsInfoBody {
		return hfErr(http.StatusRequestEntityTooLarge, "", fmt.Sprintf("Bad request: a paths-info body is at most %d bytes", maxPathsInfoBody), "")
	}
	var req struct {
		Paths  []string `json:"paths"`
		Expand bool     `json:"expand"`
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/x-www-form-urlencoded" {
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return hfErr(http.StatusBadRequest, "", "Bad request: malformed form", "")
		}
		req.Paths, req.Expand = v["paths"], hfBool(v.Get("expand"))
	} else if err := json.Unmarshal(body, &req); err != nil {
		return hfErr(http.StatusBadRequest, "", "Bad request: the body is not {\"paths\": [...]}", "")
	}
	if len(req.Paths) > maxPathsInfoPaths {
		return hfErr(http.StatusBadRequest, "", fmt.Sprintf("Bad request: at most %d paths per request", maxPathsInfoPaths), "")
	}
	files, err := h.files(r.Context(), repo)
	if err != nil {
		return err
	}
	lc := h.lastCommit(repo, req.Expand)
	out := []hfEntry{}
	for _, p := range req.Paths {
		if content.ValidatePath(p) != nil {
			continue
		}
		i := sort.Search(len(files), func(i int) bool { return files[i].Path >= p })
		switch {
		case i < len(files) && files[i].Path == p:
			out = append(out, h.entry(treeEntry{path: p, file: files[i]}, repo, lc))
		default:
			j := sort.Search(len(files), func(i int) bool { return files[i].Path >= p+"/" })
			if j < len(files) && strings.HasPrefix(files[j].Path, p+"/") {
				out = append(out, h.entry(treeEntry{path: p, dir: true}, repo, lc))
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
