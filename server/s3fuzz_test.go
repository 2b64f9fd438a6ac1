package server

import (
	"net/url"
	"strings"
	"testing"

	"github.com/charter-dev/charter/content"
)

// FuzzS3List: any list query parses or is refused, and the listing of a
// small dataset returns keys in order, under the prefix, within max-keys,
// and a continuation token that moves forward.
func FuzzS3List(f *testing.F) {
	f.Add("list-type=2&prefix=a/&delimiter=/&max-keys=2", true)
	f.Add("continuation-token=612f62&start-after=a", true)
	f.Add("marker=b&encoding-type=url", false)
	var id content.ID
	paths := []string{"a/b", "a/c/d", "a/c/e", "b", "b+c/x", "c d/e"}
	files := make([]content.File, len(paths))
	for i, p := range paths {
		files[i] = content.File{Path: p, Size: 1, ID: id}
	}
	f.Fuzz(func(t *testing.T, raw string, v2 bool) {
		l, err := parseS3ListQuery(raw, v2)
		if err != nil {
			return
		}
		keys, prefixes, next := listKeys(files, l)
		if len(keys)+len(prefixes) > l.maxKeys {
			t.Fatalf("%d entries over max-keys %d", len(keys)+len(prefixes), l.maxKeys)
		}
		for i, k := range keys {
			if !strings.HasPrefix(k.Path, l.prefix) || k.Path <= l.after || i > 0 && keys[i-1].Path >= k.Path {
				t.Fatalf("key %q out of place (prefix %q after %q)", k.Path, l.prefix, l.after)
			}
		}
		if next != "" && next <= l.after {
			t.Fatalf("continuation %q does not move past %q", next, l.after)
		}
		if tok, ok := decodeToken(encodeToken(next)); next != "" && (!ok || tok != next) {
			t.Fatalf("token round trip of %q", next)
		}
		_, _ = url.ParseQuery(raw)
	})
}
