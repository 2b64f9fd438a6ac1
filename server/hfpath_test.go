package server

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/charter-dev/charter/content"
)

func TestParseHFPath(t *testing.T) {
	const a = "bafkr4iexample"
	ok := []struct {
		path string
		want hfRequest
	}{
		{"/api/models/" + a, hfRequest{op: hfInfo, repo: a}},
		{"/api/datasets/" + a, hfRequest{op: hfInfo, dataset: true, repo: a}},
		{"/api/models/" + a + "/revision/main", hfRequest{op: hfInfo, repo: a, rev: "main"}},
		{"/api/datasets/ns/name/revision/refs%2Fpr%2F1", hfRequest{op: hfInfo, dataset: true, repo: "ns/name", rev: "refs/pr/1"}},
		{"/api/models/" + a + "/tree/main", hfRequest{op: hfTree, repo: a, rev: "main"}},
		{"/api/models/" + a + "/tree/main/sub/dir", hfRequest{op: hfTree, repo: a, rev: "main", path: "sub/dir"}},
		// Python escapes the folder whole.
		{"/api/datasets/" + a + "/tree/main/sub%2Fdir", hfRequest{op: hfTree, dataset: true, repo: a, rev: "main", path: "sub/dir"}},
		{"/api/datasets/" + a + "/paths-info/main", hfRequest{op: hfPathsInfo, dataset: true, repo: a, rev: "main"}},
		{"/" + a + "/resolve/main/config.json", hfRequest{op: hfResolve, repo: a, rev: "main", path: "config.json"}},
		{"/" + a + "/raw/main/config.json", hfRequest{op: hfResolve, repo: a, rev: "main", path: "config.json"}},
		{"/datasets/" + a + "/resolve/main/data/train%20set.csv", hfRequest{op: hfResolve, dataset: true, repo: a, rev: "main", path: "data/train set.csv"}},
		{"/ns/name/resolve/HEAD/a/b", hfRequest{op: hfResolve, repo: "ns/name", rev: "HEAD", path: "a/b"}},
		// A file named like a keyword is a file.
		{"/" + a + "/resolve/main/resolve/tree", hfRequest{op: hfResolve, repo: a, rev: "main", path: "resolve/tree"}},
	}
	for _, c := range ok {
		got, err := parseHFPath(c.path)
		if err != nil || got != c.want {
			t.Errorf("parseHFPath(%q) = %+v, %v; want %+v", c.path, got, err, c.want)
		}
	}
	bad := []struct {
		path string
		want error
	}{
		{"", errHFRoute},
		{"/", errHFRoute},
		{"/api", errHFRoute},
		{"/api/models", errHFRoute},
		{"/api/spaces/" + a, errHFRoute},
		{"/api/models/" + a + "/revision", errHFRoute},
		{"/api/models/" + a + "/revision/main/extra", errHFRoute},
		{"/api/models/a/b/c", errHFRoute},
		{"/api/models/" + a + "//tree/main", errHFRoute},
		{"/" + a + "/resolve/main", errHFRoute},
		{"/" + a + "/resolve/main/", errHFRoute},
		{"/" + a + "/blob/main/x", errHFRoute},
		{"/" + a + "/resolve/main/%zz", errHFRoute},
		{"/" + a + "/resolve/main/../" + a + "/x", errHFPath},
		{"/" + a + "/resolve/main/%2E%2E/x", errHFPath},
		{"/" + a + "/resolve/main/a%2F..%2Fb", errHFPath},
		{"/" + a + "/resolve/main/%2Fetc%2Fpasswd", errHFPath},
		{"/" + a + "/resolve/main/a%5Cb", errHFPath},
		{"/" + a + "/resolve/main/./x", errHFPath},
		{"/" + a + "/resolve/main/a%00b", errHFPath},
		{"/api/models/" + a + "/tree/main/..", errHFPath},
		{"/a%2Fb/resolve/main/x", errHFRoute},
		{"/" + strings.Repeat("x/", maxHFPath), errHFRoute},
	}
	for _, c := range bad {
		if got, err := parseHFPath(c.path); !errors.Is(err, c.want) {
			t.Errorf("parseHFPath(%q) = %+v, %v; want %v", c.path, got, err, c.want)
		}
	}
}

// hfPathOf writes q as a client would, escaping each segment.
func hfPathOf(q hfRequest) string {
	esc := func(p string) string {
		segs := strings.Split(p, "/")
		for i, s := range segs {
			segs[i] = url.PathEscape(s)
		}
		return strings.Join(segs, "/")
	}
	typ := "models"
	if q.dataset {
		typ = "datasets"
	}
	switch q.op {
	case hfInfo:
		if q.rev == "" {
			return "/api/" + typ + "/" + esc(q.repo)
		}
		return "/api/" + typ + "/" + esc(q.repo) + "/revision/" + url.PathEscape(q.rev)
	case hfTree:
		p := "/api/" + typ + "/" + esc(q.repo) + "/tree/" + url.PathEscape(q.rev)
		if q.path != "" {
			p += "/" + esc(q.path)
		}
		return p
	case hfPathsInfo:
		return "/api/" + typ + "/" + esc(q.repo) + "/paths-info/" + url.PathEscape(q.rev)
	}
	p := "/" + esc(q.repo) + "/resolve/" + url.PathEscape(q.rev) + "/" + esc(q.path)
	if q.dataset {
		p = "/datasets" + p
	}
	return p
}

// FuzzParseHFPath: whatever the path, the parser does not panic; a file
// path it accepts is a valid dataset path (nothing can leave the repo);
// a repo id has at most two segments; and writing the request back as a
// client would gives the same request.
func FuzzParseHFPath(f *testing.F) {
	for _, s := range []string{"/api/models/x", "/api/datasets/ns/n/tree/main/a%2Fb", "/x/resolve/main/a/b.bin", "/datasets/x/resolve/r/..", "/api/models/x/paths-info/main", "/x/resolve/main/%C0%AF"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		q, err := parseHFPath(p)
		if err != nil {
			return
		}
		if q.repo == "" || strings.Count(q.repo, "/") > 1 || slices.Contains(strings.Split(q.repo, "/"), "") {
			t.Fatalf("%q: repo %q", p, q.repo)
		}
		if q.op == hfResolve || q.path != "" {
			if err := content.ValidatePath(q.path); err != nil {
				t.Fatalf("%q: accepted path %q: %v", p, q.path, err)
			}
		}
		if q.op == hfResolve && q.rev == "" {
			t.Fatalf("%q: resolve without revision", p)
		}
		back := hfPathOf(q)
		q2, err := parseHFPath(back)
		// A revision or repo segment holding "/" is written back escaped
		// and reads the same; a keyword-named repo segment may not.
		if err == nil && q2 != q {
			t.Fatalf("%q -> %+v -> %q -> %+v", p, q, back, q2)
		}
	})
}

func TestTreePage(t *testing.T) {
	var files []content.File
	for _, p := range []string{"a.txt", "d/x", "d/y/z", "d.txt", "d0", "e/f/g/h", "e/i"} {
		files = append(files, content.File{Path: p, Size: int64(len(p))})
	}
	files, _ = sortedFiles(files)
	show := func(es []treeEntry) string {
		var out []string
		for _, e := range es {
			if e.dir {
				out = append(out, e.path+"/")
			} else {
				out = append(out, e.path)
			}
		}
		return strings.Join(out, " ")
	}
	cases := []struct {
		dir       string
		recursive bool
		want      string
	}{
		{"", false, "a.txt d.txt d/ d0 e/"},
		{"", true, "a.txt d.txt d/ d/x d/y/ d/y/z d0 e/ e/f/ e/f/g/ e/f/g/h e/i"},
		{"d", false, "d/x d/y/"},
		{"d", true, "d/x d/y/ d/y/z"},
		{"e/f", false, "e/f/g/"},
	}
	for _, c := range cases {
		es, last, found := treePage(files, c.dir, c.recursive, "", 1000)
		if !found || last != "" || show(es) != c.want {
			t.Errorf("tree(%q, %v) = %q (last %q, found %v), want %q", c.dir, c.recursive, show(es), last, found, c.want)
		}
		// Any page size lists the same entries.
		for limit := 1; limit < 6; limit++ {
			var all []treeEntry
			after := ""
			for n := 0; ; n++ {
				es, last, found := treePage(files, c.dir, c.recursive, after, limit)
				if !found || n > 20 {
					t.Fatalf("paging %q by %d: found %v after %d pages", c.dir, limit, found, n)
				}
				all = append(all, es...)
				if last == "" {
					break
				}
				after = last
			}
			if show(all) != c.want {
				t.Errorf("tree(%q, %v) by %d = %q, want %q", c.dir, c.recursive, limit, show(all), c.want)
			}
		}
	}
	for _, dir := range []string{"a.txt", "d/x", "nope", "d/y/z"} {
		if _, _, found := treePage(files, dir, false, "", 10); found {
			t.Errorf("tree(%q) found a folder", dir)
		}
	}
}

func sortedFiles(fs []content.File) ([]content.File, error) {
	slices.SortFunc(fs, func(a, b content.File) int { return strings.Compare(a.Path, b.Path) })
	for i := 1; i < len(fs); i++ {
		if fs[i].Path == fs[i-1].Path {
			return nil, fmt.Errorf("duplicate %q", fs[i].Path)
		}
	}
	return fs, nil
}
