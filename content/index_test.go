package content

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	zeebo "github.com/zeebo/blake3"
)

func idOf(s string) ID { return IDFromDigest(zeebo.Sum256([]byte(s))) }

func TestIndexRoundTrip(t *testing.T) {
	x, err := NewIndex([]File{
		{Path: "b/c.txt", Size: 5, ID: idOf("hello")},
		{Path: "a.txt", Size: 0, ID: idOf("")},
		{Path: `we"ird/ünï cödé.bin`, Size: 3, ID: idOf("abc")},
		{Path: "a/b", Size: 1, ID: idOf("x")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if x.Files[0].Path != "a.txt" || x.Files[1].Path != "a/b" {
		t.Fatalf("not sorted by bytes: %v", x.Files)
	}
	enc, err := x.Encode()
	if err != nil {
		t.Fatal(err)
	}
	y, err := ParseIndex(enc)
	if err != nil {
		t.Fatalf("ParseIndex(Encode(x)): %v\n%s", err, enc)
	}
	enc2, _ := y.Encode()
	if string(enc2) != string(enc) {
		t.Fatalf("re-encoding differs:\n%s\n%s", enc, enc2)
	}
	if y.TotalSize() != 9 {
		t.Fatalf("TotalSize = %d", y.TotalSize())
	}
	empty, err := NewIndex(nil)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := empty.Encode()
	if want := `{"mediaType":"application/vnd.charter.dataset+json","version":1,"files":[]}`; string(e) != want {
		t.Fatalf("empty index = %s", e)
	}
	if _, err := ParseIndex(e); err != nil {
		t.Fatal(err)
	}
}

func TestParseIndexRejects(t *testing.T) {
	id := idOf("x").String()
	file := func(path, size, id string) string {
		return `{"path":` + path + `,"size":` + size + `,"id":"` + id + `"}`
	}
	doc := func(files ...string) string {
		return `{"mediaType":"application/vnd.charter.dataset+json","version":1,"files":[` + strings.Join(files, ",") + `]}`
	}
	good := doc(file(`"a"`, "1", id), file(`"b/c"`, "2", id))
	if _, err := ParseIndex([]byte(good)); err != nil {
		t.Fatalf("good index rejected: %v", err)
	}
	for name, in := range map[string]string{
		"absolute":           doc(file(`"/etc/passwd"`, "1", id)),
		"dotdot":             doc(file(`"a/../b"`, "1", id)),
		"leading dotdot":     doc(file(`"../b"`, "1", id)),
		"dot":                doc(file(`"./b"`, "1", id)),
		"empty segment":      doc(file(`"a//b"`, "1", id)),
		"trailing slash":     doc(file(`"a/"`, "1", id)),
		"empty path":         doc(file(`""`, "1", id)),
		"backslash":          doc(file(`"a\\b"`, "1", id)),
		"NUL":                doc(file(`"a\u0000b"`, "1", id)),
		"newline":            doc(file(`"a\nb"`, "1", id)),
		"C1 control":         doc(file(`"a`+"\u0085"+`b"`, "1", id)),
		"RLO":                doc(file(`"invoice`+"\u202e"+`fdp.exe"`, "1", id)),
		"RLI":                doc(file(`"a`+"\u2067"+`b"`, "1", id)),
		"RLM":                doc(file(`"a`+"\u200f"+`b"`, "1", id)),
		"ALM":                doc(file(`"a`+"\u061c"+`b"`, "1", id)),
		"zero-width space":   doc(file(`"a`+"\u200b"+`b"`, "1", id)),
		"ZWJ in ascii":       doc(file(`"a`+"\u200d"+`b"`, "1", id)),
		"BOM":                doc(file(`"`+"\ufeff"+`a"`, "1", id)),
		"duplicate":          doc(file(`"a"`, "1", id), file(`"a"`, "1", id)),
		"file and directory": doc(file(`"a"`, "1", id), file(`"a/b"`, "1", id)),
		"file and deep dir":  doc(file(`"a/b"`, "1", id), file(`"a/b/c/d"`, "1", id)),
		"unsorted":           doc(file(`"b"`, "1", id), file(`"a"`, "1", id)),
		"negative size":      doc(file(`"a"`, "-1", id)),
		"fractional size":    doc(file(`"a"`, "1.5", id)),
		"exponent size":      doc(file(`"a"`, "1e3", id)),
		"huge size":          doc(file(`"a"`, "99999999999999999999", id)),
		"bad id":             doc(file(`"a"`, "1", "bafyXYZ")),
		"sha256 cid":         doc(file(`"a"`, "1", "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")),
		"unknown field":      strings.Replace(good, `"size":1,`, `"size":1,"mode":420,`, 1),
		"unknown top field":  strings.Replace(good, `"version":1,`, `"version":1,"x":1,`, 1),
		"missing id":         doc(`{"path":"a","size":1}`),
		"missing files":      `{"mediaType":"application/vnd.charter.dataset+json","version":1}`,
		"null files":         `{"mediaType":"application/vnd.charter.dataset+json","version":1,"files":null}`,
		"wrong media type":   strings.Replace(good, "dataset+json", "manifest+json", 1),
		"version 2":          strings.Replace(good, `"version":1`, `"version":2`, 1),
		"whitespace":         strings.Replace(good, `"files":[`, `"files": [`, 1),
		"trailing newline":   good + "\n",
		"trailing garbage":   good + "{}",
		"key order":          `{"version":1,"mediaType":"application/vnd.charter.dataset+json","files":[]}`,
		"escaped slash":      doc(file(`"b\/c"`, "1", id)),
		"unicode escape":     doc(file(`"\u0061"`, "1", id)),
		"duplicate key":      doc(`{"path":"a","path":"b","size":1,"id":"` + id + `"}`),
		"invalid utf8":       doc(file("\"a\xffb\"", "1", id)),
		"not json":           "hello",
		"empty":              "",
		"array":              "[]",
	} {
		if _, err := ParseIndex([]byte(in)); !errors.Is(err, ErrBadIndex) {
			t.Errorf("%s: ParseIndex = %v, want ErrBadIndex", name, err)
		}
	}
	if _, err := NewIndex([]File{{Path: "a", Size: 1}}); !errors.Is(err, ErrBadIndex) {
		t.Errorf("zero id: %v", err)
	}
	big := make([]File, MaxIndexEntries+1)
	if _, err := (&Index{Files: big}).Encode(); !errors.Is(err, ErrBadIndex) {
		t.Errorf("too many entries: %v", err)
	}
	if _, err := ParseIndex(make([]byte, MaxIndexBytes+1)); !errors.Is(err, ErrBadIndex) {
		t.Errorf("too large: %v", err)
	}
}

func TestValidatePath(t *testing.T) {
	for _, p := range []string{"a", "a/b/c", "a.b", "...", "a..b", ".hidden", "ü/名前", "a b", `q"uote`, strings.Repeat("x", MaxSegmentBytes),
		"שלום/מסמך.txt", "می\u200cخواهم.txt", "👨\u200d👩.png"} {
		if err := ValidatePath(p); err != nil {
			t.Errorf("ValidatePath(%q) = %v", p, err)
		}
	}
	for _, p := range []string{"", "/", "/a", "a/", "a//b", ".", "..", "a/.", "a/..", "../a", `a\b`, "a\x00", "a\tb", "a\x7f", "a\u009f", "\xff",
		"invoice\u202efdp.exe", "a/\u202db", "\u2066a\u2069", "a\u200eb", "a\u200fb", "a\u061cb", "ad\u200bmin", "ad\u200dmin", "\ufeffa", "a\u2060b",
		strings.Repeat("x", MaxSegmentBytes+1), strings.Repeat("x/", MaxPathBytes/2) + "x"} {
		if err := ValidatePath(p); !errors.Is(err, ErrBadPath) {
			t.Errorf("ValidatePath(%q) = %v, want ErrBadPath", p, err)
		}
	}
}

// A refused path names the character and its position, so the user can
// find it in a file name that looks harmless on screen.
func TestValidatePathNamesCharacter(t *testing.T) {
	err := ValidatePath("docs/invoice\u202efdp.exe")
	if !errors.Is(err, ErrBadPath) || !strings.Contains(err.Error(), "U+202E RIGHT-TO-LEFT OVERRIDE at character 13") {
		t.Fatalf("ValidatePath = %v", err)
	}
}

func TestSafeJoin(t *testing.T) {
	root := t.TempDir()
	got, err := SafeJoin(root, "a/b.txt")
	if err != nil || got != filepath.Join(root, "a", "b.txt") {
		t.Fatalf("SafeJoin = %q, %v", got, err)
	}
	for _, rel := range []string{"../x", "a/../../x", "/etc/passwd", `..\x`, "", "a/./b"} {
		if p, err := SafeJoin(root, rel); !errors.Is(err, ErrBadPath) {
			t.Errorf("SafeJoin(%q) = %q, %v", rel, p, err)
		}
	}
	if _, err := SafeJoin("", "a"); !errors.Is(err, ErrBadPath) {
		t.Errorf("empty root: %v", err)
	}
}
