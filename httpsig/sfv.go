package httpsig

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// This file holds a strict parser and serializer for the subset of RFC 8941
// Structured Field Values that Signature-Input, Signature and
// Content-Digest use: dictionaries whose members are items or inner lists,
// parameters, and the bare item types integer, string, token, byte sequence
// and boolean. Decimals are refused. Unlike RFC 8941, duplicate dictionary
// keys and duplicate parameter keys are refused instead of letting the last
// one win: a signature header with two meanings is an attack, not a typo.

// Limits on what the parser accepts, so that a hostile header costs a
// bounded amount of memory and time.
const (
	maxFieldLen      = 8 << 10 // bytes in one combined field value
	maxDictMembers   = 16
	maxInnerListLen  = 32
	maxParams        = 16
	maxKeyLen        = 64
	maxIntegerDigits = 15
	// maxNodes bounds the members, items and parameters of one field
	// together, so that the limits above cannot multiply.
	maxNodes = 128
)

var errSF = errors.New("structured field")

type itemKind uint8

const (
	kindInteger itemKind = iota + 1
	kindString
	kindToken
	kindBytes
	kindBool
)

// bareItem is one RFC 8941 bare item.
type bareItem struct {
	kind itemKind
	i    int64  // kindInteger
	s    string // kindString, kindToken
	b    []byte // kindBytes
	bo   bool   // kindBool
}

type param struct {
	key string
	val bareItem
}

// params keeps parameters in their order: the order is part of the
// serialization and so of the signature base.
type params []param

func (ps params) get(key string) (bareItem, bool) {
	for _, p := range ps {
		if p.key == key {
			return p.val, true
		}
	}
	return bareItem{}, false
}

type item struct {
	val    bareItem
	params params
}

// member is one dictionary member: an item, or an inner list (isList) with
// its own parameters.
type member struct {
	key    string
	isList bool
	item   item
	list   []item
	params params // the inner list's parameters
}

type dictionary []member

func (d dictionary) get(key string) (member, bool) {
	for _, m := range d {
		if m.key == key {
			return m, true
		}
	}
	return member{}, false
}

type sfParser struct {
	s     string
	pos   int
	nodes int
}

// node counts one member, item or parameter against maxNodes.
func (p *sfParser) node() error {
	p.nodes++
	if p.nodes > maxNodes {
		return p.errorf("more than %d members, items and parameters", maxNodes)
	}
	return nil
}

func (p *sfParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w: at byte %d: %s", errSF, p.pos, fmt.Sprintf(format, args...))
}

func (p *sfParser) eof() bool { return p.pos >= len(p.s) }

func (p *sfParser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.s[p.pos]
}

func (p *sfParser) skipSP() {
	for !p.eof() && p.s[p.pos] == ' ' {
		p.pos++
	}
}

func (p *sfParser) skipOWS() {
	for !p.eof() && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t') {
		p.pos++
	}
}

// parseDictionary parses a whole field value as an RFC 8941 dictionary
// (section 4.2.2). An empty field is an error: every field Charter reads
// must have at least one member.
func parseDictionary(s string) (dictionary, error) {
	if len(s) > maxFieldLen {
		return nil, fmt.Errorf("%w: field of %d bytes, limit %d", errSF, len(s), maxFieldLen)
	}
	p := &sfParser{s: s}
	p.skipSP()
	var d dictionary
	for {
		if len(d) == maxDictMembers {
			return nil, p.errorf("more than %d dictionary members", maxDictMembers)
		}
		if err := p.node(); err != nil {
			return nil, err
		}
		key, err := p.parseKey()
		if err != nil {
			return nil, err
		}
		if _, dup := d.get(key); dup {
			return nil, p.errorf("duplicate dictionary key %q", key)
		}
		m := member{key: key}
		if p.peek() == '=' {
			p.pos++
			if p.peek() == '(' {
				m.isList = true
				if m.list, m.params, err = p.parseInnerList(); err != nil {
					return nil, err
				}
			} else if m.item, err = p.parseItem(); err != nil {
				return nil, err
			}
		} else {
			m.item.val = bareItem{kind: kindBool, bo: true}
			if m.item.params, err = p.parseParams(); err != nil {
				return nil, err
			}
		}
		d = append(d, m)
		p.skipOWS()
		if p.eof() {
			return d, nil
		}
		if p.peek() != ',' {
			return nil, p.errorf("want ',' between dictionary members")
		}
		p.pos++
		p.skipOWS()
		if p.eof() {
			return nil, p.errorf("trailing ','")
		}
	}
}

func isLCAlpha(c byte) bool { return 'a' <= c && c <= 'z' }
func isDigit(c byte) bool   { return '0' <= c && c <= '9' }
func isAlpha(c byte) bool   { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// isTchar reports an RFC 9110 tchar.
func isTchar(c byte) bool {
	if isAlpha(c) || isDigit(c) {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func (p *sfParser) parseKey() (string, error) {
	start := p.pos
	if c := p.peek(); !isLCAlpha(c) && c != '*' {
		return "", p.errorf("key must start with a-z or '*'")
	}
	for !p.eof() {
		c := p.s[p.pos]
		if !isLCAlpha(c) && !isDigit(c) && c != '_' && c != '-' && c != '.' && c != '*' {
			break
		}
		p.pos++
	}
	if p.pos-start > maxKeyLen {
		return "", p.errorf("key longer than %d bytes", maxKeyLen)
	}
	return p.s[start:p.pos], nil
}

func (p *sfParser) parseInnerList() ([]item, params, error) {
	p.pos++ // '('
	var list []item
	for {
		p.skipSP()
		if p.eof() {
			return nil, nil, p.errorf("unterminated inner list")
		}
		if p.peek() == ')' {
			p.pos++
			ps, err := p.parseParams()
			if err != nil {
				return nil, nil, err
			}
			return list, ps, nil
		}
		if len(list) == maxInnerListLen {
			return nil, nil, p.errorf("more than %d items in an inner list", maxInnerListLen)
		}
		it, err := p.parseItem()
		if err != nil {
			return nil, nil, err
		}
		list = append(list, it)
		if c := p.peek(); c != ' ' && c != ')' {
			return nil, nil, p.errorf("want ' ' or ')' after an inner list item")
		}
	}
}

func (p *sfParser) parseItem() (item, error) {
	if err := p.node(); err != nil {
		return item{}, err
	}
	v, err := p.parseBareItem()
	if err != nil {
		return item{}, err
	}
	ps, err := p.parseParams()
	if err != nil {
		return item{}, err
	}
	return item{val: v, params: ps}, nil
}

func (p *sfParser) parseParams() (params, error) {
	var ps params
	for p.peek() == ';' {
		p.pos++
		p.skipSP()
		if len(ps) == maxParams {
			return nil, p.errorf("more than %d parameters", maxParams)
		}
		if err := p.node(); err != nil {
			return nil, err
		}
		key, err := p.parseKey()
		if err != nil {
			return nil, err
		}
		if _, dup := ps.get(key); dup {
			return nil, p.errorf("duplicate parameter %q", key)
		}
		v := bareItem{kind: kindBool, bo: true}
		if p.peek() == '=' {
			p.pos++
			if v, err = p.parseBareItem(); err != nil {
				return nil, err
			}
		}
		ps = append(ps, param{key: key, val: v})
	}
	return ps, nil
}

func (p *sfParser) parseBareItem() (bareItem, error) {
	c := p.peek()
	switch {
	case c == '-' || isDigit(c):
		return p.parseInteger()
	case c == '"':
		return p.parseString()
	case c == '*' || isAlpha(c):
		return p.parseToken(), nil
	case c == ':':
		return p.parseBytes()
	case c == '?':
		return p.parseBool()
	case p.eof():
		return bareItem{}, p.errorf("want an item, got end of field")
	default:
		return bareItem{}, p.errorf("unexpected %q", c)
	}
}

func (p *sfParser) parseInteger() (bareItem, error) {
	start := p.pos
	if p.peek() == '-' {
		p.pos++
	}
	digits := p.pos
	for !p.eof() && isDigit(p.s[p.pos]) {
		p.pos++
	}
	n := p.pos - digits
	if n == 0 {
		return bareItem{}, p.errorf("want a digit")
	}
	if n > maxIntegerDigits {
		return bareItem{}, p.errorf("integer of more than %d digits", maxIntegerDigits)
	}
	if p.peek() == '.' {
		return bareItem{}, p.errorf("decimals are not supported")
	}
	i, err := strconv.ParseInt(p.s[start:p.pos], 10, 64)
	if err != nil {
		return bareItem{}, p.errorf("bad integer")
	}
	return bareItem{kind: kindInteger, i: i}, nil
}

var unescaper = strings.NewReplacer(`\"`, `"`, `\\`, `\`)

func (p *sfParser) parseString() (bareItem, error) {
	p.pos++ // '"'
	start := p.pos
	escaped := false
	for !p.eof() {
		c := p.s[p.pos]
		p.pos++
		switch {
		case c == '\\':
			if p.eof() {
				return bareItem{}, p.errorf("unterminated escape")
			}
			if e := p.s[p.pos]; e != '"' && e != '\\' {
				return bareItem{}, p.errorf("bad escape \\%c", e)
			}
			p.pos++
			escaped = true
		case c == '"':
			s := p.s[start : p.pos-1]
			if escaped {
				s = unescaper.Replace(s)
			}
			return bareItem{kind: kindString, s: s}, nil
		case c < 0x20 || c > 0x7e:
			return bareItem{}, p.errorf("byte 0x%02x in a string", c)
		}
	}
	return bareItem{}, p.errorf("unterminated string")
}

func (p *sfParser) parseToken() bareItem {
	start := p.pos
	p.pos++
	for !p.eof() {
		c := p.s[p.pos]
		if !isTchar(c) && c != ':' && c != '/' {
			break
		}
		p.pos++
	}
	return bareItem{kind: kindToken, s: p.s[start:p.pos]}
}

var b64 = base64.StdEncoding.Strict()

func (p *sfParser) parseBytes() (bareItem, error) {
	p.pos++ // ':'
	end := strings.IndexByte(p.s[p.pos:], ':')
	if end < 0 {
		return bareItem{}, p.errorf("unterminated byte sequence")
	}
	enc := p.s[p.pos : p.pos+end]
	for i := 0; i < len(enc); i++ {
		c := enc[i]
		if !isAlpha(c) && !isDigit(c) && c != '+' && c != '/' && c != '=' {
			return bareItem{}, p.errorf("byte 0x%02x in a byte sequence", c)
		}
	}
	b, err := b64.DecodeString(enc)
	if err != nil {
		return bareItem{}, p.errorf("bad base64 in a byte sequence")
	}
	p.pos += end + 1
	return bareItem{kind: kindBytes, b: b}, nil
}

func (p *sfParser) parseBool() (bareItem, error) {
	p.pos++ // '?'
	switch p.peek() {
	case '0':
		p.pos++
		return bareItem{kind: kindBool, bo: false}, nil
	case '1':
		p.pos++
		return bareItem{kind: kindBool, bo: true}, nil
	}
	return bareItem{}, p.errorf("bad boolean")
}

// Serialization (RFC 8941 section 4.1), canonical form.

func (v bareItem) appendTo(b []byte) []byte {
	switch v.kind {
	case kindInteger:
		return strconv.AppendInt(b, v.i, 10)
	case kindString:
		b = append(b, '"')
		for i := 0; i < len(v.s); i++ {
			if c := v.s[i]; c == '"' || c == '\\' {
				b = append(b, '\\')
			}
			b = append(b, v.s[i])
		}
		return append(b, '"')
	case kindToken:
		return append(b, v.s...)
	case kindBytes:
		b = append(b, ':')
		b = base64.StdEncoding.AppendEncode(b, v.b)
		return append(b, ':')
	case kindBool:
		if v.bo {
			return append(b, "?1"...)
		}
		return append(b, "?0"...)
	}
	panic("httpsig: serializing an empty item")
}

func (ps params) appendTo(b []byte) []byte {
	for _, p := range ps {
		b = append(b, ';')
		b = append(b, p.key...)
		if p.val.kind == kindBool && p.val.bo {
			continue
		}
		b = append(b, '=')
		b = p.val.appendTo(b)
	}
	return b
}

func (it item) appendTo(b []byte) []byte {
	b = it.val.appendTo(b)
	return it.params.appendTo(b)
}

func appendInnerList(b []byte, list []item, ps params) []byte {
	b = append(b, '(')
	for i, it := range list {
		if i > 0 {
			b = append(b, ' ')
		}
		b = it.appendTo(b)
	}
	b = append(b, ')')
	return ps.appendTo(b)
}

func (m member) appendTo(b []byte) []byte {
	b = append(b, m.key...)
	if m.isList {
		b = append(b, '=')
		return appendInnerList(b, m.list, m.params)
	}
	if m.item.val.kind == kindBool && m.item.val.bo {
		return m.item.params.appendTo(b)
	}
	b = append(b, '=')
	return m.item.appendTo(b)
}

func (d dictionary) String() string {
	var b []byte
	for i, m := range d {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = m.appendTo(b)
	}
	return string(b)
}
