package asset

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// maxJSONDepth bounds nesting in untrusted JSON.
const maxJSONDepth = 32

// unmarshalStrict decodes exactly one JSON value from b into v, rejecting
// what encoding/json silently accepts: duplicate object keys, keys that match
// a field only case-insensitively, unknown fields, and trailing data.
// (A copy lives in package identity; both are small and self-contained.)
func unmarshalStrict(b []byte, v any) error {
	keys, err := objectKeys(b)
	if err != nil {
		return err
	}
	allowed := map[string]bool{}
	jsonFieldNames(reflect.TypeOf(v), allowed, map[reflect.Type]bool{})
	for k := range keys {
		if !allowed[k] {
			return fmt.Errorf("unknown field %q", k)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// objectKeys walks the JSON tokens of b, checks that no object repeats a key
// and that nesting stays below maxJSONDepth, and returns every key seen.
func objectKeys(b []byte) (map[string]bool, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	all := map[string]bool{}
	type frame struct {
		obj    bool
		keys   map[string]bool
		expect bool // in an object: next token is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if len(stack) != 0 {
				return nil, io.ErrUnexpectedEOF
			}
			return all, nil
		}
		if err != nil {
			return nil, err
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.obj && top.expect {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				continue
			}
			k := tok.(string) // the decoder guarantees a string here
			if top.keys[k] {
				return nil, fmt.Errorf("duplicate key %q", k)
			}
			top.keys[k] = true
			all[k] = true
			top.expect = false
			continue
		}
		if top != nil && top.obj {
			top.expect = true // this token is a value (or starts one)
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if len(stack) >= maxJSONDepth {
				return nil, errors.New("JSON nested too deeply")
			}
			stack = append(stack, &frame{obj: tok == json.Delim('{'), keys: map[string]bool{}, expect: true})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
	}
}

// jsonFieldNames adds the JSON names of the struct fields reachable from t.
func jsonFieldNames(t reflect.Type, names map[string]bool, seen map[reflect.Type]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] {
		return
	}
	seen[t] = true
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names[name] = true
		jsonFieldNames(f.Type, names, seen)
	}
}
