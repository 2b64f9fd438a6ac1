package content

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"

	"lukechampine.com/blake3/guts"
)

// ErrCorrupt reports bytes, tree nodes or a length that do not match the
// content ID. Errors wrapping it are usually a *CorruptError naming the
// affected byte range.
var ErrCorrupt = errors.New("content: data does not match its content id")

// ErrBadRange reports a byte range that is negative, empty, overflows, or
// does not lie inside the content.
var ErrBadRange = errors.New("content: bad byte range")

// CorruptError names the byte range [Start, End) of the content that failed
// verification: a 16 KiB group, or the span of a tree node whose hashes did
// not match. errors.Is(err, ErrCorrupt) holds for it.
type CorruptError struct {
	Start, End int64
	What       string // "data", "tree node", "length", "truncated", ...
	Err        error  // underlying cause, if any (e.g. io.ErrUnexpectedEOF)
}

func (e *CorruptError) Error() string {
	s := fmt.Sprintf("content: %s for bytes [%d, %d) does not match the content id", e.What, e.Start, e.End)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns ErrCorrupt and the cause.
func (e *CorruptError) Unwrap() []error {
	if e.Err != nil {
		return []error{ErrCorrupt, e.Err}
	}
	return []error{ErrCorrupt}
}

// CheckRange reports whether [offset, offset+length) is a valid range of
// content of the given size. Length must be positive, except that the
// empty content has the one range offset 0, length 0.
func CheckRange(size, offset, length int64) error {
	switch {
	case size < 0:
		return fmt.Errorf("%w: negative content size %d", ErrBadRange, size)
	case offset < 0 || length < 0:
		return fmt.Errorf("%w: negative offset or length (%d, %d)", ErrBadRange, offset, length)
	case size == 0 && offset == 0 && length == 0:
		return nil
	case length == 0:
		return fmt.Errorf("%w: empty range at %d", ErrBadRange, offset)
	case offset > math.MaxInt64-length:
		return fmt.Errorf("%w: offset %d + length %d overflows", ErrBadRange, offset, length)
	case offset+length > size:
		return fmt.Errorf("%w: [%d, %d) is beyond the end of %d-byte content", ErrBadRange, offset, offset+length, size)
	}
	return nil
}

// Range is the byte range [Offset, Offset+Length) of some content.
type Range struct {
	Offset, Length int64
}

// CheckRanges checks several ranges of content of the given size, as in a
// multi-range request: each must pass CheckRange and no two may overlap.
// They need not be sorted.
func CheckRanges(size int64, rs []Range) error {
	sorted := make([]Range, len(rs))
	for i, r := range rs {
		if err := CheckRange(size, r.Offset, r.Length); err != nil {
			return fmt.Errorf("range %d: %w", i, err)
		}
		sorted[i] = r
	}
	slices.SortFunc(sorted, func(a, b Range) int { return cmp.Compare(a.Offset, b.Offset) })
	for i := 1; i < len(sorted); i++ {
		if p := sorted[i-1]; sorted[i].Offset < p.Offset+p.Length || (p.Length == 0 && sorted[i].Offset == p.Offset) {
			return fmt.Errorf("%w: [%d, %d) overlaps [%d, %d)", ErrBadRange, p.Offset, p.Offset+p.Length, sorted[i].Offset, sorted[i].Offset+sorted[i].Length)
		}
	}
	return nil
}

// WidenRange returns the byte range [start, end) whose data a slice for
// [offset, offset+length) carries: the range widened outwards to 16 KiB
// group boundaries (end is capped at size). VerifyRange still writes only
// the requested bytes.
func WidenRange(size, offset, length int64) (start, end int64, err error) {
	if err := CheckRange(size, offset, length); err != nil {
		return 0, 0, err
	}
	if size == 0 {
		return 0, 0, nil
	}
	start = offset / GroupSize * GroupSize
	end = min((offset+length-1)/GroupSize*GroupSize+GroupSize, size)
	return start, end, nil
}

// SliceSize returns the exact byte length of the slice ExtractRange writes
// for [offset, offset+length) of content of the given size, e.g. for an HTTP
// Content-Length.
func SliceSize(size, offset, length int64) (int64, error) {
	if err := CheckRange(size, offset, length); err != nil {
		return 0, err
	}
	if size == 0 {
		return headerSize, nil
	}
	end := offset + length
	var rec func(pos, n int64) int64
	rec = func(pos, n int64) int64 {
		if pos >= end || offset >= pos+n {
			return 0
		}
		if n <= GroupSize {
			return n
		}
		if offset <= pos && pos+n <= end {
			return 64*(groupCount(n)-1) + n // the whole subtree is in the slice
		}
		mid := splitPoint(n)
		return 64 + rec(pos, mid) + rec(pos+mid, n-mid)
	}
	return headerSize + rec(0, size), nil
}

// splitPoint returns the size of the left child of a tree node spanning n >
// GroupSize bytes: the largest power of two less than n.
func splitPoint(n int64) int64 {
	return int64(1) << (bits.Len64(uint64(n-1)) - 1)
}

// ExtractRange writes to w the Bao slice of [offset, offset+length) of a
// blob: the 8-byte little-endian size, then in pre-order the 64-byte parent
// nodes on the paths to the range and the data of every 16 KiB group the
// range touches. The output is byte-identical to
// lukechampine.com/blake3/bao.ExtractSlice with group 4 and SliceSize bytes
// long. data holds the blob (size bytes), outboard its Bao outboard.
//
// ExtractRange checks the outboard's length header against size but does not
// hash anything: the receiver verifies with VerifyRange. A data or outboard
// shorter than size requires, or a header that disagrees with size, fails
// with a *CorruptError (ErrCorrupt); nothing is written after it, but the
// slice written so far is incomplete.
func ExtractRange(w io.Writer, data io.ReaderAt, outboard io.ReaderAt, size int64, offset, length int64) error {
	if err := CheckRange(size, offset, length); err != nil {
		return err
	}
	var hdr [headerSize]byte
	if m, err := outboard.ReadAt(hdr[:], 0); m < len(hdr) {
		if err == nil || err == io.EOF {
			return &CorruptError{Start: 0, End: size, What: "stored outboard", Err: io.ErrUnexpectedEOF}
		}
		return fmt.Errorf("content: reading outboard header: %w", err)
	}
	if got := binary.LittleEndian.Uint64(hdr[:]); got != uint64(size) {
		return &CorruptError{Start: 0, End: size, What: "length", Err: fmt.Errorf("outboard header says %d bytes, blob has %d", got, size)}
	}
	// Parent nodes collect in nodes; group data is written straight from
	// the read window, after the nodes before it.
	nodes := append(make([]byte, 0, 4<<10), hdr[:]...)
	flush := func() error {
		if len(nodes) == 0 {
			return nil
		}
		_, err := w.Write(nodes)
		nodes = nodes[:0]
		return err
	}
	if size == 0 {
		return flush()
	}
	_, wend, _ := WidenRange(size, offset, length)
	ob := windowReader{r: outboard, limit: OutboardSize(size), size: 16 << 10}
	dr := windowReader{r: data, limit: wend, size: 256 << 10}
	end := offset + length
	var rec func(pos, n, off int64) error
	rec = func(pos, n, off int64) error {
		if pos >= end || offset >= pos+n {
			return nil
		}
		if n <= GroupSize {
			b, err := dr.get(pos, n)
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return &CorruptError{Start: pos, End: pos + n, What: "stored data", Err: err}
			}
			if err != nil {
				return fmt.Errorf("content: reading data [%d, %d): %w", pos, pos+n, err)
			}
			if err := flush(); err != nil {
				return err
			}
			_, err = w.Write(b)
			return err
		}
		b, err := ob.get(off, 64)
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return &CorruptError{Start: pos, End: pos + n, What: "stored outboard", Err: err}
		}
		if err != nil {
			return fmt.Errorf("content: reading outboard at %d: %w", off, err)
		}
		nodes = append(nodes, b...)
		mid := splitPoint(n)
		if err := rec(pos, mid, off+64); err != nil {
			return err
		}
		return rec(pos+mid, n-mid, off+64+64*(groupCount(mid)-1))
	}
	if err := rec(0, size, headerSize); err != nil {
		return err
	}
	return flush()
}

// windowReader reads forward through a ReaderAt in windows of size bytes,
// never past limit.
type windowReader struct {
	r     io.ReaderAt
	limit int64
	size  int64
	buf   []byte
	off   int64 // offset of buf[0]
}

func (w *windowReader) get(off, n int64) ([]byte, error) {
	if off >= w.off && off+n <= w.off+int64(len(w.buf)) {
		return w.buf[off-w.off : off-w.off+n], nil
	}
	want := min(max(n, w.size), w.limit-off)
	if want < n {
		return nil, io.ErrUnexpectedEOF
	}
	if int64(cap(w.buf)) < want {
		w.buf = make([]byte, want)
	}
	w.buf = w.buf[:want]
	w.off = off
	m, err := w.r.ReadAt(w.buf, off)
	if int64(m) < n {
		w.buf = w.buf[:0]
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	w.buf = w.buf[:m]
	return w.buf[:n], nil
}

// emptyRoot is the BLAKE3 hash of empty content.
var emptyRoot = func() [8]uint32 {
	var g [GroupSize]byte
	n := hashGroup(&g, 0, 0)
	n.Flags |= guts.FlagRoot
	return guts.ChainingValue(n)
}()

// verifier walks a Bao tree in pre-order, reading parent nodes from tree and
// group data from data (the same reader for a slice), skipping nodes outside
// [start, end), and yields verified bytes.
type verifier struct {
	tree       io.Reader
	data       *bufio.Reader // at least GroupSize of buffer
	root       [8]uint32
	size       int64 // -1 until the header is read
	start, end int64 // wanted range; end < 0 means "to the end"
	stack      []pending
	buf        [GroupSize]byte
	started    bool
}

type pending struct {
	cv       [8]uint32
	pos, n   int64
	rootFlag bool
}

// header reads and checks the length header.
func (v *verifier) header() error {
	if v.started {
		return nil
	}
	v.started = true
	var hdr [headerSize]byte
	if _, err := io.ReadFull(v.tree, hdr[:]); err != nil {
		return readError(err, 0, 0, "length header")
	}
	s := binary.LittleEndian.Uint64(hdr[:])
	if s > math.MaxInt64/2 {
		return &CorruptError{What: "length header", Err: fmt.Errorf("claimed size %d is too large", s)}
	}
	v.size = int64(s)
	if v.end < 0 {
		v.end = v.size
		if v.size == 0 {
			v.end = 0
		}
	}
	if err := CheckRange(v.size, v.start, v.end-v.start); err != nil {
		return fmt.Errorf("%w (the slice claims %d bytes of content)", err, v.size)
	}
	if v.size == 0 {
		if v.root != emptyRoot {
			return &CorruptError{What: "length", Err: errors.New("claims empty content")}
		}
		return nil
	}
	v.stack = append(v.stack, pending{cv: v.root, pos: 0, n: v.size, rootFlag: true})
	return nil
}

// readError classifies a failed read of the bytes for [start, end): running
// out of input is corruption (a truncated slice, data or outboard); any
// other error is the reader's own and is returned wrapped, not as
// ErrCorrupt, so that a network or disk error is not mistaken for bad data.
func eofIfNil(err error) error {
	if err == nil {
		return io.ErrUnexpectedEOF
	}
	return err
}

func readError(err error, start, end int64, what string) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return &CorruptError{Start: start, End: end, What: what, Err: io.ErrUnexpectedEOF}
	}
	return fmt.Errorf("content: reading %s for bytes [%d, %d): %w", what, start, end, err)
}

// next returns the next verified bytes of the wanted range, or io.EOF. The
// returned slice is valid until the following call.
func (v *verifier) next() ([]byte, error) {
	if err := v.header(); err != nil {
		return nil, err
	}
	for len(v.stack) > 0 {
		p := v.stack[len(v.stack)-1]
		v.stack = v.stack[:len(v.stack)-1]
		if p.pos >= v.end || v.start >= p.pos+p.n {
			continue
		}
		if p.n <= GroupSize {
			var g []byte
			var arr *[GroupSize]byte
			if p.n == GroupSize {
				// Hash a full group in place in the bufio buffer: no copy.
				b, err := v.data.Peek(GroupSize)
				if len(b) < GroupSize {
					return nil, readError(eofIfNil(err), p.pos, p.pos+p.n, "data")
				}
				arr, g = (*[GroupSize]byte)(b), b
				v.data.Discard(GroupSize) // b stays valid until the next read
			} else {
				g = v.buf[:p.n]
				if _, err := io.ReadFull(v.data, g); err != nil {
					return nil, readError(err, p.pos, p.pos+p.n, "data")
				}
				arr = &v.buf
			}
			node := hashGroup(arr, int(p.n), p.pos/GroupSize)
			if p.rootFlag {
				node.Flags |= guts.FlagRoot
			}
			if guts.ChainingValue(node) != p.cv {
				return nil, &CorruptError{Start: p.pos, End: p.pos + p.n, What: "data"}
			}
			lo := max(v.start, p.pos) - p.pos
			hi := min(v.end, p.pos+p.n) - p.pos
			return g[lo:hi], nil
		}
		var pair [64]byte
		if _, err := io.ReadFull(v.tree, pair[:]); err != nil {
			return nil, readError(err, p.pos, p.pos+p.n, "tree node")
		}
		l, r := bytesToCV(pair[:32]), bytesToCV(pair[32:])
		var flags uint32
		if p.rootFlag {
			flags = guts.FlagRoot
		}
		if guts.ChainingValue(guts.ParentNode(l, r, &guts.IV, flags)) != p.cv {
			return nil, &CorruptError{Start: p.pos, End: p.pos + p.n, What: "tree node"}
		}
		mid := splitPoint(p.n)
		v.stack = append(v.stack,
			pending{cv: r, pos: p.pos + mid, n: p.n - mid},
			pending{cv: l, pos: p.pos, n: mid})
	}
	return nil, io.EOF
}

// atEOF checks that r has nothing left.
func atEOF(r io.Reader, what string) error {
	var b [1]byte
	n, err := io.ReadFull(r, b[:])
	if n > 0 {
		return fmt.Errorf("%w: unexpected bytes after the %s", ErrCorrupt, what)
	}
	if err != io.EOF && err != io.ErrUnexpectedEOF {
		return fmt.Errorf("content: reading %s: %w", what, err)
	}
	return nil
}

// VerifyRange reads a Bao slice (as ExtractRange writes it) for
// [offset, offset+length) of the content named id, and writes exactly those
// bytes to w, each only after it has been verified against id. It streams:
// memory use is one 16 KiB group however long the range is.
//
// It returns the content size the slice declares. When the range reaches
// into the last 16 KiB group of that size (for example when offset+length
// equals it), a successful VerifyRange proves the size; otherwise it is the
// sender's claim, consistent with every verified byte.
//
// On a mismatch it fails with a *CorruptError (errors.Is ErrCorrupt) naming
// the bytes that failed; everything written to w before that is verified. A
// truncated slice or trailing bytes after it also fail with ErrCorrupt;
// other errors from slice are returned wrapped, and are not ErrCorrupt. A
// range that is invalid for the declared size fails with ErrBadRange.
func VerifyRange(w io.Writer, slice io.Reader, id ID, offset, length int64) (size int64, err error) {
	if offset < 0 || length < 0 || offset > math.MaxInt64-length {
		return 0, fmt.Errorf("%w: offset %d, length %d", ErrBadRange, offset, length)
	}
	src := bufio.NewReaderSize(slice, 64<<10)
	d := id.Digest()
	v := &verifier{tree: src, data: src, root: bytesToCV(d[:]), start: offset, end: offset + length}
	for {
		b, err := v.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return v.size, err
		}
		if _, err := w.Write(b); err != nil {
			return v.size, fmt.Errorf("content: writing verified bytes: %w", err)
		}
	}
	return v.size, atEOF(src, "slice")
}

// Reader reads a whole blob from its data and Bao outboard, returning only
// bytes verified against the content ID. Any mismatch, a truncated data or
// outboard stream, or trailing bytes in either, makes Read fail with an error
// wrapping ErrCorrupt (a *CorruptError where a byte range is to blame).
// Other read errors from data or outboard are returned wrapped, not as
// ErrCorrupt.
type Reader struct {
	v       verifier
	out     []byte
	err     error
	ob      io.Reader
	dataRaw io.Reader
}

// NewReader returns a Reader for the content named id, whose bytes are read
// sequentially from data and whose outboard (as Ingest wrote it) is read
// sequentially from outboard.
func NewReader(data, outboard io.Reader, id ID) *Reader {
	d := id.Digest()
	ob := bufio.NewReaderSize(outboard, 16<<10)
	dr := bufio.NewReaderSize(data, 256<<10) // few, large reads from files
	return &Reader{
		v:       verifier{tree: ob, data: dr, root: bytesToCV(d[:]), end: -1},
		ob:      ob,
		dataRaw: dr,
	}
}

// Size returns the content size from the outboard header. It is proven
// by the ID only once Read has returned io.EOF.
func (r *Reader) Size() (int64, error) {
	if err := r.v.header(); err != nil {
		if r.err == nil {
			r.err = err
		}
		return 0, err
	}
	return r.v.size, nil
}

// Read implements io.Reader.
func (r *Reader) Read(p []byte) (int, error) {
	for len(r.out) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		b, err := r.v.next()
		if err == io.EOF {
			if err := atEOF(r.dataRaw, "data"); err != nil {
				r.err = err
			} else if err := atEOF(r.ob, "outboard"); err != nil {
				r.err = err
			} else {
				r.err = io.EOF
			}
			continue
		}
		if err != nil {
			r.err = err
			continue
		}
		r.out = b
	}
	n := copy(p, r.out)
	r.out = r.out[n:]
	return n, nil
}

// WriteTo implements io.WriterTo, avoiding a copy through an extra buffer.
func (r *Reader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if len(r.out) == 0 {
			if r.err != nil {
				if r.err == io.EOF {
					return total, nil
				}
				return total, r.err
			}
			var buf [0]byte
			r.Read(buf[:]) // refill r.out or set r.err
			continue
		}
		n, err := w.Write(r.out)
		total += int64(n)
		r.out = r.out[n:]
		if err != nil {
			return total, err
		}
	}
}
