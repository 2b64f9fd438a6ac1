package content

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// IndexReader reads a dataset index one file at a time in bounded memory:
// whatever the number of files, it holds one path, the previous path and
// a stack of prefix lengths, never the whole index. It accepts exactly the
// canonical encoding ParseIndex accepts and applies the same rules as it
// goes, so a caller may act on each file as it is returned but must treat
// the index as valid only once Next has returned io.EOF.
type IndexReader struct {
	r     *bufio.Reader
	n     int64 // bytes read
	count int
	total int64
	prev  string
	// open holds the lengths of earlier paths that are prefixes of prev:
	// the only files that can still turn out to be a directory of a later
	// path, since paths are sorted.
	open    []int
	started bool
	done    bool
	err     error
}

// NewIndexReader returns a reader of the index encoded in r. It reads at
// most MaxIndexBytes+1 bytes of r.
func NewIndexReader(r io.Reader) *IndexReader {
	return &IndexReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// Files returns the number of files read so far.
func (x *IndexReader) Files() int { return x.count }

const indexHead = `{"mediaType":"`

// Next returns the next file of the index. At the end of a valid index it
// returns io.EOF; any other error wraps ErrBadIndex (or is the underlying
// read error) and repeats on later calls.
func (x *IndexReader) Next() (File, error) {
	if x.err != nil {
		return File{}, x.err
	}
	f, err := x.next()
	if err != nil {
		x.err = err
		if err != io.EOF && !errors.Is(err, ErrBadIndex) && !errors.Is(err, ErrBadPath) {
			return File{}, err
		}
	}
	return f, err
}

func (x *IndexReader) bad(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadIndex, fmt.Sprintf(format, args...))
}

var errNotCanonical = fmt.Errorf("%w: not in canonical form\nhint: re-encode it with Index.Encode", ErrBadIndex)

func (x *IndexReader) byte() (byte, error) {
	if x.n >= MaxIndexBytes {
		if _, err := x.r.ReadByte(); err == io.EOF {
			return 0, io.ErrUnexpectedEOF
		}
		return 0, x.bad("more than %d bytes, at most %d allowed", MaxIndexBytes, MaxIndexBytes)
	}
	b, err := x.r.ReadByte()
	if err == io.EOF {
		return 0, io.ErrUnexpectedEOF
	}
	if err != nil {
		return 0, err
	}
	x.n++
	return b, nil
}

// expect reads lit exactly.
func (x *IndexReader) expect(lit string) error {
	for i := 0; i < len(lit); i++ {
		b, err := x.byte()
		if err == io.ErrUnexpectedEOF {
			return x.bad("unexpected end")
		}
		if err != nil {
			return err
		}
		if b != lit[i] {
			return errNotCanonical
		}
	}
	return nil
}

// str reads a string body up to its closing quote, allowing only \" as an
// escape, and at most max bytes.
func (x *IndexReader) str(what string, max int, escapes bool) (string, error) {
	var sb strings.Builder
	for {
		b, err := x.byte()
		if err == io.ErrUnexpectedEOF {
			return "", x.bad("unexpected end in %s", what)
		}
		if err != nil {
			return "", err
		}
		switch {
		case b == '"':
			return sb.String(), nil
		case b == '\\':
			e, err := x.byte()
			if err != nil || e != '"' || !escapes {
				return "", errNotCanonical
			}
			b = '"'
		case b < 0x20:
			return "", errNotCanonical // JSON forbids raw control characters
		}
		if sb.Len() >= max {
			return "", x.bad("%s longer than %d bytes", what, max)
		}
		sb.WriteByte(b)
	}
}

// integer reads a non-negative integer in shortest form and the byte
// after it.
func (x *IndexReader) integer(what string) (int64, byte, error) {
	var v int64
	digits := 0
	for {
		b, err := x.byte()
		if err == io.ErrUnexpectedEOF {
			return 0, 0, x.bad("unexpected end in %s", what)
		}
		if err != nil {
			return 0, 0, err
		}
		if b < '0' || b > '9' {
			if digits == 0 {
				if b == '-' {
					return 0, 0, x.bad("negative %s", what)
				}
				return 0, 0, errNotCanonical
			}
			return v, b, nil
		}
		if digits == 1 && v == 0 {
			return 0, 0, errNotCanonical // leading zero
		}
		d := int64(b - '0')
		if v > (1<<63-1-d)/10 {
			return 0, 0, x.bad("%s overflows", what)
		}
		v = v*10 + d
		digits++
	}
}

func (x *IndexReader) next() (File, error) {
	if x.done {
		return File{}, io.EOF
	}
	if !x.started {
		x.started = true
		if err := x.expect(indexHead); err != nil {
			return File{}, err
		}
		mt, err := x.str("media type", 256, false)
		if err != nil {
			return File{}, err
		}
		if mt != DatasetMediaType {
			return File{}, x.bad("media type %q, want %q", mt, DatasetMediaType)
		}
		if err := x.expect(`,"version":`); err != nil {
			return File{}, err
		}
		v, after, err := x.integer("version")
		if err != nil {
			return File{}, err
		}
		if v != IndexVersion {
			return File{}, x.bad("unsupported version %d\nhint: this build reads version %d indexes", v, IndexVersion)
		}
		if after != ',' {
			return File{}, errNotCanonical
		}
		if err := x.expect(`"files":[`); err != nil {
			return File{}, err
		}
		b, err := x.byte()
		if err != nil {
			return File{}, x.bad("unexpected end")
		}
		if b == ']' {
			return File{}, x.end()
		}
		if b != '{' {
			return File{}, errNotCanonical
		}
	} else {
		b, err := x.byte()
		if err != nil {
			return File{}, x.bad("unexpected end")
		}
		switch b {
		case ']':
			return File{}, x.end()
		case ',':
			if err := x.expect("{"); err != nil {
				return File{}, err
			}
		default:
			return File{}, errNotCanonical
		}
	}
	if x.count >= MaxIndexEntries {
		return File{}, x.bad("more than %d files, at most %d allowed", MaxIndexEntries, MaxIndexEntries)
	}
	if err := x.expect(`"path":"`); err != nil {
		return File{}, err
	}
	p, err := x.str("path", MaxPathBytes, true)
	if err != nil {
		return File{}, err
	}
	if err := x.expect(`,"size":`); err != nil {
		return File{}, err
	}
	size, after, err := x.integer("size of " + fmt.Sprintf("%q", p))
	if err != nil {
		return File{}, err
	}
	if after != ',' {
		return File{}, errNotCanonical
	}
	if err := x.expect(`"id":"`); err != nil {
		return File{}, err
	}
	ids, err := x.str("id", 128, false)
	if err != nil {
		return File{}, err
	}
	if err := x.expect("}"); err != nil {
		return File{}, err
	}
	if err := ValidatePath(p); err != nil {
		return File{}, fmt.Errorf("%w: file %d: %w", ErrBadIndex, x.count, err)
	}
	id, err := ParseID(ids)
	if err != nil {
		return File{}, fmt.Errorf("%w: file %d (%q): %w", ErrBadIndex, x.count, p, err)
	}
	if id.String() != ids {
		return File{}, errNotCanonical
	}
	if x.count > 0 {
		switch c := strings.Compare(x.prev, p); {
		case c == 0:
			return File{}, x.bad("duplicate path %q", p)
		case c > 0:
			return File{}, x.bad("paths not sorted: %q after %q", p, x.prev)
		}
		// Pop the earlier paths that are not prefixes of p; those left
		// are, and none of them may be a directory of p.
		for len(x.open) > 0 {
			l := x.open[len(x.open)-1]
			if l <= len(p) && p[:l] == x.prev[:l] {
				break
			}
			x.open = x.open[:len(x.open)-1]
		}
		for _, l := range x.open {
			if len(p) > l && p[l] == '/' {
				return File{}, x.bad("%q is a file and also a directory of %q", p[:l], p)
			}
		}
	}
	if x.total += size; x.total < 0 {
		return File{}, x.bad("total size overflows")
	}
	x.open = append(x.open, len(p))
	x.prev = p
	x.count++
	return File{Path: p, Size: size, ID: id}, nil
}

// end reads the closing "}" and checks that nothing follows.
func (x *IndexReader) end() error {
	if err := x.expect("}"); err != nil {
		return err
	}
	if _, err := x.r.ReadByte(); err != io.EOF {
		if err != nil {
			return err
		}
		return errNotCanonical
	}
	x.done = true
	return io.EOF
}
