// Package canonjsontest keeps the encoders Charter's statements were
// written with before package canonjson, so that tests can show that
// canonjson.Marshal writes the same bytes, and fills Go values with random
// content to compare them on. It is for tests only.
package canonjsontest

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/charter-dev/charter/internal/canonjson"
)

// LegacyV1 is the encoder of packages asset, grant and metering (and the
// server's settlement entry) before canonjson: encoding/json without HTML
// escaping or trailing newline, relying on fields declared in sorted order.
func LegacyV1(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// LegacyV2 is the encoder of package license before canonjson:
// go-json-experiment's Marshal, canonicalised with RFC 8785.
func LegacyV2(v any) ([]byte, error) {
	b, err := jsonv2.Marshal(v, jsonv2.Deterministic(true))
	if err != nil {
		return nil, err
	}
	val := jsontext.Value(b)
	if err := val.Canonicalize(); err != nil {
		return nil, err
	}
	return val, nil
}

// Filler fills Go values with random content. Pool gives the values to
// draw for types that cannot be filled field by field (IDs, DIDs, times);
// a type in Pool is always drawn from it.
type Filler struct {
	Rand *rand.Rand
	Pool map[reflect.Type][]any
	// Refusable is set when a filled value holds something canonjson must
	// refuse: an integer beyond ±(2^53-1), U+2028, U+2029 or invalid UTF-8.
	Refusable bool
	// NoNil fills slices and maps with empty ones instead of nil: the
	// two old encoders wrote nil as null (LegacyV1) and as []/{}
	// (LegacyV2), and package license never encodes a nil list.
	NoNil bool
}

var texts = []string{
	"", "a", "train", "did:key:z6Mk", "<a href='x'>&amp;</a>", "tab\there", "line\nbreak", "\x00\x01\x1f\x7f",
	"quote\"back\\slash/", "é€😀", "\uFFFD", "\ud7ff\ue000\ufb33", "\b\f\r",
}

// badTexts and badInts have no exact RFC 8785 form; one value in 32 is
// drawn from them.
var (
	badTexts = []string{"\u2028", "\u2029", "bad\xffutf8"}
	ints     = []int64{0, 1, -1, 42, 1_000_000, 1<<53 - 1, -(1<<53 - 1)}
	badInts  = []int64{1 << 53, -(1 << 53), 1<<63 - 1, -1 << 63}
)

func (f *Filler) text() string {
	if f.Rand.IntN(32) == 0 {
		return badTexts[f.Rand.IntN(len(badTexts))]
	}
	return texts[f.Rand.IntN(len(texts))]
}

func (f *Filler) int() int64 {
	switch f.Rand.IntN(32) {
	case 0:
		return badInts[f.Rand.IntN(len(badInts))]
	case 1, 2, 3, 4, 5, 6, 7, 8, 9, 10:
		return f.Rand.Int64N(1 << 20)
	}
	return ints[f.Rand.IntN(len(ints))]
}

// Fill fills the value v points to.
func (f *Filler) Fill(v any) { f.fill(reflect.ValueOf(v).Elem(), 0) }

func (f *Filler) fill(v reflect.Value, depth int) {
	if p, ok := f.Pool[v.Type()]; ok {
		v.Set(reflect.ValueOf(p[f.Rand.IntN(len(p))]))
		return
	}
	r := f.Rand
	switch v.Kind() {
	case reflect.String:
		s := f.text()
		if r.IntN(4) == 0 {
			s += f.text()
		}
		f.Refusable = f.Refusable || refusableText(s)
		v.SetString(s)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n := f.int()
		if v.OverflowInt(n) {
			n = int64(r.IntN(100))
		}
		f.Refusable = f.Refusable || n > 1<<53-1 || n < -(1<<53-1)
		v.SetInt(n)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n := uint64(f.int())
		if v.OverflowUint(n) {
			n = uint64(r.IntN(100))
		}
		f.Refusable = f.Refusable || n > 1<<53-1
		v.SetUint(n)
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Pointer:
		if r.IntN(3) == 0 || depth > 6 {
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		f.fill(v.Elem(), depth+1)
	case reflect.Slice:
		switch n := r.IntN(5); {
		case (n == 0 || depth > 6) && !f.NoNil:
		case n <= 1 || depth > 6:
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		default:
			s := reflect.MakeSlice(v.Type(), n-1, n-1)
			for i := range n - 1 {
				f.fill(s.Index(i), depth+1)
			}
			v.Set(s)
		}
	case reflect.Map:
		if (r.IntN(3) == 0 || depth > 6) && !f.NoNil {
			return
		}
		m := reflect.MakeMap(v.Type())
		for range r.IntN(4) * min(1, 6-min(depth, 6)) {
			k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
			f.fill(k, depth+1)
			f.fill(e, depth+1)
			m.SetMapIndex(k, e)
		}
		v.Set(m)
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				f.fill(v.Field(i), depth+1)
			}
		}
	case reflect.Interface:
		if v.NumMethod() == 0 && depth <= 6 {
			var s string
			f.fill(reflect.ValueOf(&s).Elem(), depth+1)
			v.Set(reflect.ValueOf(s))
		}
	}
}

func refusableText(s string) bool {
	return strings.ContainsAny(s, "\u2028\u2029") || !utf8.ValidString(s)
}

// Compare fills a new value of T n times and checks that canonjson.Marshal
// writes what legacy wrote: the same bytes, or an error where legacy
// failed, or ErrUnrepresentable where the value holds what canonjson must
// refuse. It returns how many values were encoded identically.
func Compare[T any](t testing.TB, f *Filler, n int, legacy func(any) ([]byte, error)) int {
	t.Helper()
	same := 0
	for range n {
		var v T
		f.Refusable = false
		f.Fill(&v)
		old, errOld := legacy(&v)
		got, err := canonjson.Marshal(&v)
		switch {
		case errOld != nil:
			if err == nil {
				t.Fatalf("%T: the old encoder failed (%v), canonjson wrote %s", v, errOld, got)
			}
		case err != nil:
			if !errors.Is(err, canonjson.ErrUnrepresentable) || !f.Refusable {
				t.Fatalf("%T: canonjson refused %s: %v", v, old, err)
			}
		case !bytes.Equal(old, got):
			t.Fatalf("%T: old encoder %s\ncanonjson       %s", v, old, got)
		default:
			same++
		}
	}
	return same
}
