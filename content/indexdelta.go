package content

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// DatasetDeltaMediaType is the media type of a dataset index delta: a new
// version of a dataset written as the changes to an index the receiver
// holds (docs/spec/dataset-index.md, "Delta").
const DatasetDeltaMediaType = "application/vnd.charter.dataset-delta+json"

// IndexDelta turns the index Base into a new one: the files at the paths
// in Remove leave it, and the files in Put are added, replacing any file
// at the same path. It is a way to send an index, not a thing that is
// stored or named: the receiver applies it (Apply) and stores the
// resulting index, whose id the sender declares.
type IndexDelta struct {
	Base   ID
	Remove []string // sorted, no duplicates, each a path of Base
	Put    []File   // sorted by path, no duplicates, none also in Remove
}

// Diff returns the delta that turns old into new (both valid indexes), with
// old's id base.
func Diff(base ID, old, new *Index) *IndexDelta {
	d := &IndexDelta{Base: base, Remove: []string{}, Put: []File{}}
	i, j := 0, 0
	for i < len(old.Files) || j < len(new.Files) {
		switch {
		case j == len(new.Files) || (i < len(old.Files) && old.Files[i].Path < new.Files[j].Path):
			d.Remove = append(d.Remove, old.Files[i].Path)
			i++
		case i == len(old.Files) || new.Files[j].Path < old.Files[i].Path:
			d.Put = append(d.Put, new.Files[j])
			j++
		default:
			if old.Files[i] != new.Files[j] {
				d.Put = append(d.Put, new.Files[j])
			}
			i, j = i+1, j+1
		}
	}
	return d
}

// deltaJSON is the wire form of an IndexDelta.
type deltaJSON struct {
	MediaType string      `json:"mediaType"`
	Base      string      `json:"base"`
	Remove    []string    `json:"remove"`
	Put       []deltaFile `json:"put"`
}

type deltaFile struct {
	Path string `json:"path"`
	Size *int64 `json:"size"`
	ID   string `json:"id"`
}

// Encode returns the delta as JSON (docs/spec/dataset-index.md).
func (d *IndexDelta) Encode() ([]byte, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	w := deltaJSON{MediaType: DatasetDeltaMediaType, Base: d.Base.String(), Remove: d.Remove, Put: make([]deltaFile, len(d.Put))}
	if w.Remove == nil {
		w.Remove = []string{}
	}
	for i, f := range d.Put {
		w.Put[i] = deltaFile{Path: f.Path, Size: &f.Size, ID: f.ID.String()}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// ParseIndexDelta parses a delta strictly: every field present, no unknown
// field, the media type this package knows, a valid base id, valid paths
// in strictly increasing order in each list, no path in both, sizes not
// negative, valid ids, at most MaxIndexEntries changes and MaxIndexBytes.
func ParseIndexDelta(b []byte) (*IndexDelta, error) {
	if len(b) > MaxIndexBytes {
		return nil, fmt.Errorf("%w: delta of %d bytes, at most %d allowed", ErrBadIndex, len(b), MaxIndexBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var w deltaJSON
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("%w: delta: %v", ErrBadIndex, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: delta: data after the object", ErrBadIndex)
	}
	if w.MediaType != DatasetDeltaMediaType {
		return nil, fmt.Errorf("%w: delta: mediaType %q, want %q", ErrBadIndex, w.MediaType, DatasetDeltaMediaType)
	}
	if w.Remove == nil || w.Put == nil {
		return nil, fmt.Errorf("%w: delta: \"remove\" and \"put\" are required (may be empty)", ErrBadIndex)
	}
	base, err := ParseID(w.Base)
	if err != nil {
		return nil, fmt.Errorf("%w: delta: base: %w", ErrBadIndex, err)
	}
	d := &IndexDelta{Base: base, Remove: w.Remove, Put: make([]File, len(w.Put))}
	for i, f := range w.Put {
		if f.Size == nil {
			return nil, fmt.Errorf("%w: delta: put[%d]: no size", ErrBadIndex, i)
		}
		id, err := ParseID(f.ID)
		if err != nil {
			return nil, fmt.Errorf("%w: delta: put[%d] %q: %w", ErrBadIndex, i, f.Path, err)
		}
		d.Put[i] = File{Path: f.Path, Size: *f.Size, ID: id}
	}
	if err := d.check(); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *IndexDelta) check() error {
	if d.Base.IsZero() {
		return fmt.Errorf("%w: delta: no base", ErrBadIndex)
	}
	if len(d.Remove)+len(d.Put) > MaxIndexEntries {
		return fmt.Errorf("%w: delta: %d changes, at most %d allowed", ErrBadIndex, len(d.Remove)+len(d.Put), MaxIndexEntries)
	}
	for i, p := range d.Remove {
		if err := ValidatePath(p); err != nil {
			return fmt.Errorf("%w: delta: remove[%d]: %w", ErrBadIndex, i, err)
		}
		if i > 0 && d.Remove[i-1] >= p {
			return fmt.Errorf("%w: delta: remove not sorted or repeated at %q", ErrBadIndex, p)
		}
	}
	removed := make(map[string]bool, len(d.Remove))
	for _, p := range d.Remove {
		removed[p] = true
	}
	for i, f := range d.Put {
		if err := ValidatePath(f.Path); err != nil {
			return fmt.Errorf("%w: delta: put[%d]: %w", ErrBadIndex, i, err)
		}
		if i > 0 && d.Put[i-1].Path >= f.Path {
			return fmt.Errorf("%w: delta: put not sorted or repeated at %q", ErrBadIndex, f.Path)
		}
		if removed[f.Path] {
			return fmt.Errorf("%w: delta: %q is both removed and put", ErrBadIndex, f.Path)
		}
		if f.Size < 0 {
			return fmt.Errorf("%w: delta: %q: negative size %d", ErrBadIndex, f.Path, f.Size)
		}
		if f.ID.IsZero() {
			return fmt.Errorf("%w: delta: %q: missing content id", ErrBadIndex, f.Path)
		}
	}
	return nil
}

// Apply returns the index d makes of base, which must be the index d.Base
// names (the caller checks that). A removed path base does not have is an
// error; the result is checked as NewIndex checks any index.
func (d *IndexDelta) Apply(base *Index) (*Index, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	out := make([]File, 0, len(base.Files)+len(d.Put))
	i, r, p := 0, 0, 0
	for i < len(base.Files) || p < len(d.Put) {
		var bp string
		if i < len(base.Files) {
			bp = base.Files[i].Path
		}
		for r < len(d.Remove) && i < len(base.Files) && d.Remove[r] < bp {
			return nil, fmt.Errorf("%w: delta removes %q, which the base does not have", ErrBadIndex, d.Remove[r])
		}
		switch {
		case p < len(d.Put) && (i == len(base.Files) || d.Put[p].Path < bp):
			out = append(out, d.Put[p])
			p++
		case p < len(d.Put) && d.Put[p].Path == bp:
			out = append(out, d.Put[p])
			p, i = p+1, i+1
		case r < len(d.Remove) && d.Remove[r] == bp:
			r, i = r+1, i+1
		default:
			out = append(out, base.Files[i])
			i++
		}
	}
	if r < len(d.Remove) {
		return nil, fmt.Errorf("%w: delta removes %q, which the base does not have", ErrBadIndex, d.Remove[r])
	}
	x := &Index{Files: out}
	if err := x.check(); err != nil {
		return nil, err
	}
	return x, nil
}

// String names the delta for messages.
func (d *IndexDelta) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "delta of %s: %d removed, %d put", d.Base, len(d.Remove), len(d.Put))
	return b.String()
}
