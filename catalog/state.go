package catalog

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/identity"
)

// StateDecoder decodes asset states as the backends store them: the JSON
// json.Marshal writes for an *asset.State. A page of 100 assets decodes
// 100 states, and encoding/json spent most of a page's CPU on them (about
// 15 µs a state, reflection and a validating pre-scan for ~600 bytes), so
// the decoder reads the form json.Marshal writes directly: every field
// known, plain strings, integers. Anything else — an escape in a string,
// an unknown or repeated key, a null where a value belongs, a syntax
// error — is handed to encoding/json, whose result (or error) it returns,
// so the answer is always encoding/json's (FuzzStateDecoder compares
// them). It also remembers the DIDs it parsed: a page names the same
// owners over and over. A decoder is not safe for concurrent use; make one
// per page.
type StateDecoder struct {
	dids map[string]identity.DID
	// last is the id of the state decoded last, and its text.
	last     asset.ID
	lastText string
}

// ID parses an asset id. The id of the state decoded last is not parsed
// again: an asset's priority claim is, most often, the asset itself.
func (d *StateDecoder) ID(s string) (asset.ID, error) {
	if s != "" && s == d.lastText {
		return d.last, nil
	}
	return asset.ParseID(s)
}

// Decode decodes one stored state ("null" decodes to nil).
func (d *StateDecoder) Decode(b []byte) (*asset.State, error) {
	s := stateScan{b: b, dec: d}
	if st, ok := s.state(); ok {
		return st, nil
	}
	var st *asset.State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, err
	}
	return st, nil
}

func (d *StateDecoder) did(b []byte) (identity.DID, bool) {
	if v, ok := d.dids[string(b)]; ok {
		return v, true
	}
	v, err := identity.ParseDID(string(b))
	if err != nil {
		return identity.DID{}, false
	}
	if d.dids == nil {
		d.dids = map[string]identity.DID{}
	}
	if len(d.dids) < 4096 {
		d.dids[string(b)] = v
	}
	return v, true
}

// stateScan reads the fast path's JSON; every method reports false for
// anything outside it.
type stateScan struct {
	b   []byte
	i   int
	dec *StateDecoder
}

func (s *stateScan) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// tok consumes byte c (after white space).
func (s *stateScan) tok(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// peek reports whether c comes next (after white space).
func (s *stateScan) peek(c byte) bool {
	s.ws()
	return s.i < len(s.b) && s.b[s.i] == c
}

// str reads a string without escapes or control characters, in valid
// UTF-8 (what encoding/json decodes to the same bytes).
func (s *stateScan) str() ([]byte, bool) {
	if !s.tok('"') {
		return nil, false
	}
	start, ascii := s.i, true
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			v := s.b[start:s.i]
			s.i++
			return v, ascii || utf8.Valid(v)
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= 0x80:
			ascii = false
		}
	}
	return nil, false
}

// number reads an integer literal: -?(0|[1-9][0-9]*), no fraction or
// exponent.
func (s *stateScan) number() ([]byte, bool) {
	s.ws()
	start := s.i
	if s.i < len(s.b) && s.b[s.i] == '-' {
		s.i++
	}
	digits := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	n := s.i - digits
	if n == 0 || (n > 1 && s.b[digits] == '0') {
		return nil, false
	}
	if s.i < len(s.b) {
		switch s.b[s.i] {
		case '.', 'e', 'E':
			return nil, false
		}
	}
	return s.b[start:s.i], true
}

func (s *stateScan) int64() (int64, bool) {
	b, ok := s.number()
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(string(b), 10, 64)
	return v, err == nil
}

func (s *stateScan) uint64() (uint64, bool) {
	b, ok := s.number()
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b), 10, 64)
	return v, err == nil
}

func (s *stateScan) bool() (bool, bool) {
	s.ws()
	switch {
	case len(s.b)-s.i >= 4 && string(s.b[s.i:s.i+4]) == "true":
		s.i += 4
		return true, true
	case len(s.b)-s.i >= 5 && string(s.b[s.i:s.i+5]) == "false":
		s.i += 5
		return false, true
	}
	return false, false
}

func (s *stateScan) null() bool {
	s.ws()
	if len(s.b)-s.i >= 4 && string(s.b[s.i:s.i+4]) == "null" {
		s.i += 4
		return true
	}
	return false
}

// object reads {"key": value, ...}, calling field for each key, which
// reads the value. keys lists the known keys: an unknown or repeated key
// fails.
func (s *stateScan) object(keys []string, field func(k int) bool) bool {
	if !s.tok('{') {
		return false
	}
	var seen uint64
	if s.tok('}') {
		return true
	}
	for {
		kb, ok := s.str()
		if !ok || !s.tok(':') {
			return false
		}
		k := -1
		for j, name := range keys {
			if string(kb) == name {
				k = j
				break
			}
		}
		if k < 0 || seen&(1<<k) != 0 || !field(k) {
			return false
		}
		seen |= 1 << k
		if s.tok('}') {
			return true
		}
		if !s.tok(',') {
			return false
		}
	}
}

// array reads null (nil) or [elem, ...] (a non-nil slice).
func array[T any](s *stateScan, elem func(*T) bool) ([]T, bool) {
	if s.null() {
		return nil, true
	}
	if !s.tok('[') {
		return nil, false
	}
	out := []T{}
	if s.tok(']') {
		return out, true
	}
	for {
		var v T
		if !elem(&v) {
			return nil, false
		}
		out = append(out, v)
		if s.tok(']') {
			return out, true
		}
		if !s.tok(',') {
			return nil, false
		}
	}
}

// text reads a string into a field that decodes itself from text.
func (s *stateScan) text(u interface{ UnmarshalText([]byte) error }) bool {
	b, ok := s.str()
	return ok && u.UnmarshalText(b) == nil
}

func (s *stateScan) string(dst *string) bool {
	b, ok := s.str()
	if ok {
		*dst = string(b)
	}
	return ok
}

func (s *stateScan) did(dst *identity.DID) bool {
	b, ok := s.str()
	if ok {
		*dst, ok = s.dec.did(b)
	}
	return ok
}

var (
	stateKeys       = []string{"asset", "manifest", "version", "owners", "threshold", "contributors", "license", "delisted"}
	manifestKeys    = []string{"content", "contributors", "created", "description", "license", "mediaType", "name", "owners", "parents", "threshold"}
	ownerKeys       = []string{"did", "weight"}
	contributorKeys = []string{"did", "share"}
	parentKeys      = []string{"asset", "grant", "royalty", "stacking"}
)

// state reads a whole state and nothing after it.
func (s *stateScan) state() (*asset.State, bool) {
	st := &asset.State{}
	ok := s.object(stateKeys, func(k int) bool {
		var ok bool
		switch k {
		case 0:
			b, ok := s.str()
			if !ok || st.Asset.UnmarshalText(b) != nil {
				return false
			}
			s.dec.last, s.dec.lastText = st.Asset, string(b)
			return true
		case 1:
			return s.manifest(&st.Manifest)
		case 2:
			st.Version, ok = s.uint64()
		case 3:
			st.Owners, ok = array(s, s.owner)
		case 4:
			st.Threshold, ok = s.int64()
		case 5:
			st.Contributors, ok = array(s, s.contributor)
		case 6:
			return s.string(&st.License)
		case 7:
			st.Delisted, ok = s.bool()
		}
		return ok
	})
	s.ws()
	return st, ok && s.i == len(s.b)
}

func (s *stateScan) manifest(m *asset.Manifest) bool {
	return s.object(manifestKeys, func(k int) bool {
		var ok bool
		switch k {
		case 0:
			return s.text(&m.Content)
		case 1:
			m.Contributors, ok = array(s, s.contributor)
		case 2:
			return s.text(&m.Created)
		case 3:
			return s.string(&m.Description)
		case 4:
			return s.string(&m.License)
		case 5:
			return s.string(&m.MediaType)
		case 6:
			return s.string(&m.Name)
		case 7:
			m.Owners, ok = array(s, s.owner)
		case 8:
			m.Parents, ok = array(s, s.parent)
		case 9:
			m.Threshold, ok = s.int64()
		}
		return ok
	})
}

func (s *stateScan) owner(o *asset.Owner) bool {
	return s.object(ownerKeys, func(k int) bool {
		if k == 0 {
			return s.did(&o.DID)
		}
		var ok bool
		o.Weight, ok = s.int64()
		return ok
	})
}

func (s *stateScan) contributor(c *asset.Contributor) bool {
	return s.object(contributorKeys, func(k int) bool {
		if k == 0 {
			return s.did(&c.DID)
		}
		v, ok := s.int64()
		c.Share = asset.Share(v)
		return ok
	})
}

func (s *stateScan) parent(p *asset.Parent) bool {
	return s.object(parentKeys, func(k int) bool {
		switch k {
		case 0:
			return s.text(&p.Asset)
		case 1:
			return s.text(&p.Grant)
		case 2:
			v, ok := s.int64()
			p.Royalty = asset.Share(v)
			return ok
		}
		var v string
		ok := s.string(&v)
		p.Stacking = asset.Stacking(v)
		return ok
	})
}
