package strictjson

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestUnmarshalStrict(t *testing.T) {
	type inner struct {
		A int `json:"a"`
	}
	type outer struct {
		X  string  `json:"x"`
		In []inner `json:"in"`
	}
	for in, ok := range map[string]bool{
		`{"x":"s","in":[{"a":1},{"a":2}]}`:        true,
		` {"x":"s"} `:                             true,
		`{"x":"a\"b,{\"x\":1}","in":[]}`:          true, // quotes and braces inside strings
		`{"x":"s","x":"t"}`:                       false,
		`{"in":[{"a":1,"a":2}]}`:                  false,
		`{"X":"s"}`:                               false,
		`{"\u0078":"s"}`:                          false,
		`{"x":"s","y":1}`:                         false,
		`{"in":[{"x":"s"}]}`:                      false, // a known name in the wrong object
		`{"x":"s"}{}`:                             false,
		`{"x":"s"`:                                false,
		`[` + strings.Repeat(`{"in":[`, 20) + `]`: false,
	} {
		var v outer
		err := Unmarshal([]byte(in), &v)
		if (err == nil) != ok {
			t.Errorf("%s: err %v, want ok=%v", in, err, ok)
		}
	}
}

// tokenKeys is the slow reference for ObjectKeys: every object key, in
// order, found by walking json.Decoder tokens.
func tokenKeys(b []byte) []string {
	dec := json.NewDecoder(strings.NewReader(string(b)))
	var keys []string
	type frame struct{ obj, expectKey bool }
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return keys
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.obj && top.expectKey {
			if tok == json.Delim('}') {
				stack = stack[:len(stack)-1]
				continue
			}
			keys = append(keys, tok.(string))
			top.expectKey = false
			continue
		}
		if top != nil && top.obj {
			top.expectKey = true
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			stack = append(stack, &frame{obj: tok == json.Delim('{'), expectKey: true})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
}

// FuzzObjectKeys checks the byte scanner against the token walk: on valid
// JSON that it accepts, it reports exactly the keys encoding/json sees; it
// refuses only escaped keys, repeated keys and deep nesting.
func FuzzObjectKeys(f *testing.F) {
	f.Add([]byte(`{"a":{"b":[1,"x\"}",{"c":null}]},"d":"\\"}`))
	f.Add([]byte(`[{"a":1},{"a":2},"{\"a\":3}"]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		want := tokenKeys(b)
		keys, err := ObjectKeys(b)
		if err != nil {
			if !strings.Contains(err.Error(), "escape") && !strings.Contains(err.Error(), "duplicate") && !strings.Contains(err.Error(), "deep") && !strings.Contains(err.Error(), "UTF-8") {
				t.Fatalf("unexpected refusal: %v", err)
			}
			return
		}
		if strings.Join(keys, "\x00") != strings.Join(want, "\x00") {
			t.Fatalf("scanner keys %q, decoder keys %q in %s", keys, want, b)
		}
	})
}
