// Package canonjson writes and reads the canonical JSON of Charter's signed
// statements: RFC 8785, the JSON Canonicalization Scheme (JCS). Members are
// sorted by their UTF-16 code units, there is no insignificant white space,
// strings use the fewest escapes and numbers are integers written in plain
// digits. Every statement Charter signs or hashes (manifests, proposals,
// approvals, grant requests, grants, revocations, receipts, usage events,
// disputes, licence terms, policy requests, decision records, settlement
// roots) is encoded by Marshal and read back by Unmarshal, so a statement
// has one byte form and one ID whichever package writes it.
//
// Marshal takes Go values with encoding/json's rules (struct tags,
// omitempty, omitzero, MarshalJSON and MarshalText methods), so a type's
// JSON shape is declared once, by its tags. It refuses the values whose
// RFC 8785 form is not what encoding/json writes, instead of writing one
// of two forms: an integer beyond ±(2^53-1), which RFC 8785 (whose numbers
// are IEEE 754 doubles) would round; a number with a fraction or exponent;
// a string with invalid UTF-8, which encoding/json replaces; and the
// characters U+2028 and U+2029, which encoding/json escapes and RFC 8785
// does not. docs/design/decisions.md records why.
package canonjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/charter-dev/charter/internal/strictjson"
)

// Errors. Callers match them with errors.Is; packages that parse
// statements wrap them in their own sentinel errors.
var (
	// ErrUnrepresentable reports a value with no exact canonical form.
	ErrUnrepresentable = errors.New("value has no exact RFC 8785 form")
	// ErrMalformed reports bytes that are not strict JSON of the expected
	// shape: bad syntax, unknown, duplicate or wrongly cased members,
	// trailing data, nesting too deep.
	ErrMalformed = errors.New("malformed JSON")
	// ErrNotCanonical reports well-formed JSON that is not the canonical
	// form of the value it decodes to.
	ErrNotCanonical = errors.New("not in canonical form")
)

// maxSafe is the largest integer every RFC 8785 implementation writes
// exactly (2^53-1).
const maxSafe = 1<<53 - 1

// Marshal returns the RFC 8785 canonical JSON of v.
func Marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnrepresentable, err)
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	sorted, err := check(b)
	if err != nil {
		return nil, err
	}
	if sorted {
		return b, nil
	}
	// Members out of order (a struct not declared in sorted order, a map
	// key with escapes) or escapes of another spelling (from a
	// MarshalJSON method): let the reference canonicaliser rewrite it.
	val := jsontext.Value(b)
	if err := val.Canonicalize(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnrepresentable, err)
	}
	return val, nil
}

// Canonicaler is a statement with its own canonical form: Canonical
// normalises the value (fills defaults, empty lists) and returns
// Marshal of the result. Unmarshal checks against it when v has one.
type Canonicaler interface {
	Canonical() ([]byte, error)
}

// Unmarshal decodes b strictly into v (package strictjson's rules: one
// value, no unknown, duplicate, case-folded or escaped member names, no
// trailing data) and checks that b is exactly the canonical form of the
// result: v.Canonical() if v is a Canonicaler, else Marshal(v). Errors
// match ErrMalformed or ErrNotCanonical.
func Unmarshal(b []byte, v any) error {
	if err := strictjson.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	var c []byte
	var err error
	if cv, ok := v.(Canonicaler); ok {
		c, err = cv.Canonical()
	} else {
		c, err = Marshal(v)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotCanonical, err)
	}
	if !bytes.Equal(c, b) {
		return fmt.Errorf("%w: want RFC 8785 JCS with every field present (sorted keys, no white space)\nhint: re-encode the statement with its Canonical method", ErrNotCanonical)
	}
	return nil
}

// check scans b, compact JSON written by encoding/json, refuses what has
// no exact RFC 8785 form and reports whether b already is RFC 8785: every
// object's members in order and every escape spelled as RFC 8785 spells
// it. Strings and numbers written by encoding/json need no rewriting once
// check accepts them, so when sorted is true b is the canonical form.
func check(b []byte) (sorted bool, err error) {
	if !utf8.Valid(b) {
		return false, fmt.Errorf("%w: invalid UTF-8", ErrUnrepresentable)
	}
	type frame struct {
		obj     bool
		last    []byte // previous member name, unescaped
		lastRaw bool   // previous name had escapes: order unknown
	}
	stack := make([]frame, 0, 8)
	sorted = true
	expectKey := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '{' || c == '[':
			stack = append(stack, frame{obj: c == '{'})
			expectKey = c == '{'
		case c == '}' || c == ']':
			stack = stack[:len(stack)-1]
			expectKey = false
		case c == ',':
			expectKey = stack[len(stack)-1].obj
		case c == '"':
			j, plain := i+1, true
			for ; b[j] != '"'; j++ {
				if b[j] != '\\' {
					continue
				}
				plain = false
				j++
				switch b[j] {
				case '"', '\\', 'b', 'f', 'n', 'r', 't':
				case 'u':
					h := string(b[j+1 : j+5])
					switch h {
					case "2028", "2029":
						return false, fmt.Errorf("%w: U+%s in a string (RFC 8785 writes it unescaped, encoding/json escaped)", ErrUnrepresentable, h)
					case "fffd", "FFFD":
						return false, fmt.Errorf("%w: invalid UTF-8 in a string", ErrUnrepresentable)
					}
					n, _ := strconv.ParseUint(h, 16, 16)
					if n >= 0x20 || h != fmt.Sprintf("%04x", n) || n == '\b' || n == '\f' || n == '\n' || n == '\r' || n == '\t' {
						sorted = false // another spelling than RFC 8785's
					}
					j += 4
				default: // "\/"
					sorted = false
				}
			}
			if expectKey {
				top := &stack[len(stack)-1]
				name := b[i+1 : j]
				if !plain || top.lastRaw || (top.last != nil && !lessUTF16(top.last, name)) {
					sorted = false
				}
				top.last, top.lastRaw = name, !plain
				expectKey = false
			}
			i = j
		case c == '-' || c >= '0' && c <= '9':
			j := i
			for j < len(b) && (b[j] == '-' || b[j] == '+' || b[j] == '.' || b[j] == 'e' || b[j] == 'E' || b[j] >= '0' && b[j] <= '9') {
				j++
			}
			if err := checkInt(b[i:j]); err != nil {
				return false, err
			}
			i = j - 1
		}
	}
	return sorted, nil
}

// checkInt accepts an integer in plain digits within ±(2^53-1), the only
// numbers whose RFC 8785 form is the same as encoding/json's.
func checkInt(num []byte) error {
	digits := bytes.TrimPrefix(num, []byte("-"))
	if len(digits) == 0 || len(digits) > 16 || bytes.ContainsAny(digits, "-+.eE") {
		return fmt.Errorf("%w: number %s (statements hold integers within ±(2^53-1))", ErrUnrepresentable, num)
	}
	n, err := strconv.ParseUint(string(digits), 10, 64)
	if err != nil || n > maxSafe || (n == 0 && len(num) != 1) {
		return fmt.Errorf("%w: number %s (statements hold integers within ±(2^53-1))", ErrUnrepresentable, num)
	}
	return nil
}

// lessUTF16 reports whether a sorts before b by UTF-16 code units, the
// order RFC 8785 sorts member names in. a and b are valid UTF-8.
func lessUTF16(a, b []byte) bool {
	for len(a) > 0 && len(b) > 0 {
		if a[0] < utf8.RuneSelf && b[0] < utf8.RuneSelf {
			if a[0] != b[0] {
				return a[0] < b[0]
			}
			a, b = a[1:], b[1:]
			continue
		}
		ra, na := utf8.DecodeRune(a)
		rb, nb := utf8.DecodeRune(b)
		if ra != rb {
			ua, ub := firstUnit(ra), firstUnit(rb)
			if ua != ub {
				return ua < ub
			}
			return ra < rb // both above U+FFFF with the same high surrogate
		}
		a, b = a[na:], b[nb:]
	}
	return len(a) == 0 && len(b) > 0
}

// firstUnit returns the first UTF-16 code unit of r.
func firstUnit(r rune) rune {
	if r < 0x10000 {
		return r
	}
	return 0xD800 + (r-0x10000)>>10
}
