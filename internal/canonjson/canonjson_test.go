package canonjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// jcs is the reference: go-json-experiment's RFC 8785 canonicaliser.
func jcs(t testing.TB, b []byte) []byte {
	t.Helper()
	v := jsontext.Value(bytes.Clone(b))
	if err := v.Canonicalize(); err != nil {
		t.Fatalf("reference canonicaliser refused %s: %v", b, err)
	}
	return v
}

type sortedStruct struct {
	A int64             `json:"a"`
	B string            `json:"b"`
	C []string          `json:"c"`
	D bool              `json:"d,omitempty"`
	E *int              `json:"e,omitzero"`
	F map[string]uint64 `json:"f,omitempty"`
}

type unsortedStruct struct {
	UID     string         `json:"uid"`
	Attrs   map[string]any `json:"attrs"`
	Parents []string       `json:"parents"`
}

type rawHolder struct {
	Raw json.RawMessage `json:"raw"`
}

func TestMarshalVectors(t *testing.T) {
	for _, c := range []struct {
		name string
		v    any
		want string
	}{
		{"sorted struct", sortedStruct{A: -3, B: "x", C: []string{"a"}}, `{"a":-3,"b":"x","c":["a"]}`},
		{"nil slice is null (encoding/json's rule)", sortedStruct{}, `{"a":0,"b":"","c":null}`},
		{"omitempty and map", sortedStruct{D: true, F: map[string]uint64{"é": 1, "z": 2, "A": 3}}, `{"a":0,"b":"","c":null,"d":true,"f":{"A":3,"z":2,"é":1}}`},
		{"members sorted", unsortedStruct{UID: "u", Attrs: map[string]any{}, Parents: []string{}}, `{"attrs":{},"parents":[],"uid":"u"}`},
		{"no HTML escapes", map[string]string{"k": "<a>&'"}, `{"k":"<a>&'"}`},
		{"control characters", "\b\f\n\r\t\x00\x1f\x7f\"\\/", `"\b\f\n\r\t\u0000\u001f` + "\x7f" + `\"\\/"`},
		{"non-ASCII as is", "é€😀\uFFFD", `"é€😀` + "\uFFFD" + `"`},
		{"largest safe integers", []int64{1<<53 - 1, -(1<<53 - 1), 0}, `[9007199254740991,-9007199254740991,0]`},
		// RFC 8785 §3.2.3: UTF-16 order puts U+1F600 (D83D DE00) before U+FB33.
		{"UTF-16 member order", map[string]int{"\uFB33": 1, "😀": 2, "\u20ac": 3, "\r": 4, "1": 5, "\u0080": 6, "\u00f6": 7}, `{"\r":4,"1":5,"` + "\u0080" + `":6,"ö":7,"€":3,"😀":2,"` + "\uFB33" + `":1}`},
		{"raw message respelled", rawHolder{Raw: json.RawMessage(`{"b":"\u0041\/","a":1}`)}, `{"raw":{"a":1,"b":"A/"}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Marshal(c.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Fatalf("got  %s\nwant %s", got, c.want)
			}
			if ref := jcs(t, got); !bytes.Equal(ref, got) {
				t.Fatalf("not RFC 8785: reference gives %s", ref)
			}
		})
	}
}

func TestMarshalRefuses(t *testing.T) {
	for _, c := range []struct {
		name string
		v    any
	}{
		{"integer above 2^53-1", int64(1 << 53)},
		{"integer below -(2^53-1)", []int64{-(1 << 53)}},
		{"uint64 max", uint64(1<<64 - 1)},
		{"fraction", 1.5},
		{"exponent", 1e21},
		{"U+2028", "a\u2028b"},
		{"U+2029 in a key", map[string]int{"\u2029": 1}},
		{"invalid UTF-8", "a\xffb"},
		{"invalid UTF-8 in a key", map[string]int{"\xff": 1}},
		{"raw fraction", rawHolder{Raw: json.RawMessage(`1.0`)}},
		{"raw minus zero", rawHolder{Raw: json.RawMessage(`-0`)}},
		{"channel", make(chan int)},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := Marshal(c.v)
			if !errors.Is(err, ErrUnrepresentable) {
				t.Fatalf("got %s, %v; want ErrUnrepresentable", b, err)
			}
		})
	}
}

type statement struct {
	Asset string   `json:"asset"`
	N     int64    `json:"n"`
	Tags  []string `json:"tags"`
}

type normalised struct {
	List []string `json:"list"`
}

// Canonical writes a nil list as [].
func (n *normalised) Canonical() ([]byte, error) {
	c := *n
	if c.List == nil {
		c.List = []string{}
	}
	return Marshal(&c)
}

func TestUnmarshal(t *testing.T) {
	for _, c := range []struct {
		in   string
		want error
	}{
		{`{"asset":"a","n":1,"tags":["x"]}`, nil},
		{`{"asset":"a","n":1,"tags":null}`, nil},
		{`{"n":1,"asset":"a","tags":null}`, ErrNotCanonical},
		{`{"asset":"a", "n":1,"tags":null}`, ErrNotCanonical},
		{`{"asset":"a","n":1}`, ErrNotCanonical},
		{`{"asset":"\u0061","n":1,"tags":null}`, ErrNotCanonical},
		{`{"asset":"a\u2028","n":1,"tags":null}`, ErrNotCanonical},
		{`{"asset":"a","n":9007199254740992,"tags":null}`, ErrNotCanonical},
		{`{"asset":"a","n":1,"tags":null,"x":1}`, ErrMalformed},
		{`{"asset":"a","Asset":"a","n":1,"tags":null}`, ErrMalformed},
		{`{"ASSET":"a","n":1,"tags":null}`, ErrMalformed},
		{`{"asset":"a","n":1,"tags":null} {}`, ErrMalformed},
		{`{"asset":"a","n":1.5,"tags":null}`, ErrMalformed},
		{`[`, ErrMalformed},
	} {
		var s statement
		err := Unmarshal([]byte(c.in), &s)
		if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.in, err, c.want)
		}
	}
	var n normalised
	if err := Unmarshal([]byte(`{"list":[]}`), &n); err != nil {
		t.Errorf("Canonical method not used: %v", err)
	}
	if err := Unmarshal([]byte(`{"list":null}`), &n); !errors.Is(err, ErrNotCanonical) {
		t.Errorf("null list accepted against the Canonical method: %v", err)
	}
}

func TestLessUTF16(t *testing.T) {
	keys := []string{"", "\r", "1", "A", "a", "aa", "\u0080", "ö", "\u20ac", "\ud7ff", "😀", "😁", "\ue000", "\ufb33", "\uffff"}
	for i := range keys {
		for j := range keys {
			if got, want := lessUTF16([]byte(keys[i]), []byte(keys[j])), i < j; got != want {
				t.Errorf("lessUTF16(%q, %q) = %v, want %v", keys[i], keys[j], got, want)
			}
		}
	}
}

// FuzzMarshal checks Marshal against the reference canonicaliser on any
// JSON value: whatever Marshal writes is RFC 8785 and decodes to the same
// value; what it refuses holds a number or string it must refuse.
func FuzzMarshal(f *testing.F) {
	for _, s := range []string{`{"b":1,"a":[true,null,"x"]}`, `"\u2028"`, `1e3`, `{"😀":1,"\ufb33":2}`, `-0`, `9007199254740993`, `{"\u00e9":"\ud83d\ude00"}`, `"\ud800"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return
		}
		out, err := Marshal(v)
		if err != nil {
			if !errors.Is(err, ErrUnrepresentable) {
				t.Fatalf("%s: error %v does not match ErrUnrepresentable", b, err)
			}
			if !refusable(v) {
				t.Fatalf("%s refused without a reason: %v", b, err)
			}
			return
		}
		if refusable(v) {
			t.Fatalf("%s: wrote %s for a value it must refuse", b, out)
		}
		if ref := jcs(t, out); !bytes.Equal(ref, out) {
			t.Fatalf("%s: wrote %s, RFC 8785 is %s", b, out, ref)
		}
		dec = json.NewDecoder(bytes.NewReader(out))
		dec.UseNumber()
		var back any
		if err := dec.Decode(&back); err != nil || !reflect.DeepEqual(back, v) {
			t.Fatalf("%s: wrote %s, which decodes to %#v (%v)", b, out, back, err)
		}
		again, err := Marshal(back)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("not a fixed point: %s then %s (%v)", out, again, err)
		}
	})
}

// refusable reports whether v holds a number other than a safe integer or
// a string with U+2028, U+2029 or invalid UTF-8.
func refusable(v any) bool {
	switch v := v.(type) {
	case json.Number:
		return checkInt([]byte(v.String())) != nil
	case string:
		return strings.ContainsAny(v, "\u2028\u2029") || !utf8.ValidString(v)
	case []any:
		for _, e := range v {
			if refusable(e) {
				return true
			}
		}
	case map[string]any:
		for k, e := range v {
			if refusable(k) || refusable(e) {
				return true
			}
		}
	}
	return false
}

// FuzzUnmarshal checks that what Unmarshal accepts is RFC 8785 and is
// exactly what Marshal writes for the decoded value.
func FuzzUnmarshal(f *testing.F) {
	for _, s := range []string{`{"asset":"a","n":1,"tags":["x"]}`, `{"asset":"a","n":1,"tags":null}`, `{"asset":"\u0001","n":-1,"tags":[]}`, `{"n":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var s statement
		if err := Unmarshal(b, &s); err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNotCanonical) {
				t.Fatalf("%q: error %v matches neither ErrMalformed nor ErrNotCanonical", b, err)
			}
			return
		}
		out, err := Marshal(&s)
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("accepted %q but Marshal gives %q (%v)", b, out, err)
		}
		if ref := jcs(t, b); !bytes.Equal(ref, b) {
			t.Fatalf("accepted %q, which is not RFC 8785 (%q)", b, ref)
		}
	})
}

func BenchmarkMarshal(b *testing.B) {
	v := sortedStruct{A: 1 << 40, B: "bafkr4ibzvxr5hgccoaqkgjbdhaiceojbdsnxiogtftmjtlrbqbdsx3ky5m", C: []string{"did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", "train", "infer"}, D: true}
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.Encode(v)
		}
	})
	b.Run("canonjson", func(b *testing.B) {
		for b.Loop() {
			Marshal(v)
		}
	})
}
