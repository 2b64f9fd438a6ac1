package content

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync/atomic"

	"lukechampine.com/blake3/guts"
)

// A split slice holds the bytes of a Bao slice (ExtractRange) in another
// order: the 8-byte size header and every parent node first, in the same
// pre-order (the tree part, TreeSize bytes), then the data of the widened
// range (WidenRange) in one piece. It is the same proof, the same bytes
// and the same length as the slice; only the order differs, so that a
// sender can write the tree from memory and the data straight from where
// it is stored (sendfile), and a receiver can check the whole tree
// against the id before the first data byte arrives, then hash the data in
// large blocks and write each block once verified.

// TreeSize returns the length of the tree part of the split slice of
// [offset, offset+length): SliceSize minus the widened data.
func TreeSize(size, offset, length int64) (int64, error) {
	n, err := SliceSize(size, offset, length)
	if err != nil {
		return 0, err
	}
	ws, we, _ := WidenRange(size, offset, length)
	return n - (we - ws), nil
}

// ExtractTree writes the tree part of the split slice of [offset,
// offset+length): the size header and the parent nodes ExtractRange would
// write, in the same order, without the data. outboard is the blob's Bao
// outboard; like ExtractRange it hashes nothing, and a short outboard or a
// header that disagrees with size fails with a *CorruptError.
func ExtractTree(w io.Writer, outboard io.ReaderAt, size, offset, length int64) error {
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
	out := append(make([]byte, 0, 32<<10), hdr[:]...)
	// Small windows for the nodes on the paths to the range; a whole
	// subtree's nodes are read in one piece of up to 256 KiB.
	ob := windowReader{r: outboard, limit: OutboardSize(size), size: 16 << 10}
	end := offset + length
	var rec func(pos, n, off int64) error
	rec = func(pos, n, off int64) error {
		if pos >= end || offset >= pos+n || n <= GroupSize {
			return nil
		}
		if offset <= pos && pos+n <= end {
			// A whole subtree: its nodes are contiguous in the
			// outboard, in the order the slice carries them.
			k := 64 * (groupCount(n) - 1)
			for k > 0 {
				step := min(k, 256<<10)
				b, err := ob.get(off, step)
				if errors.Is(err, io.ErrUnexpectedEOF) {
					return &CorruptError{Start: pos, End: pos + n, What: "stored outboard", Err: err}
				}
				if err != nil {
					return fmt.Errorf("content: reading outboard at %d: %w", off, err)
				}
				out = append(out, b...)
				if len(out) >= 256<<10 {
					if _, err := w.Write(out); err != nil {
						return err
					}
					out = out[:0]
				}
				off, k = off+step, k-step
			}
			return nil
		}
		b, err := ob.get(off, 64)
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return &CorruptError{Start: pos, End: pos + n, What: "stored outboard", Err: err}
		}
		if err != nil {
			return fmt.Errorf("content: reading outboard at %d: %w", off, err)
		}
		out = append(out, b...)
		mid := splitPoint(n)
		if err := rec(pos, mid, off+64); err != nil {
			return err
		}
		return rec(pos+mid, n-mid, off+64+64*(groupCount(mid)-1))
	}
	if size > 0 {
		if err := rec(0, size, headerSize); err != nil {
			return err
		}
	}
	_, err := w.Write(out)
	return err
}

// groupCheck is what a verified tree says one 16 KiB group must hash to.
type groupCheck struct {
	cv   [8]uint32
	root bool
}

// treeChecks reads the parent nodes of a split slice's tree part (after
// its header) from tree, verifies them against root, for content of the
// given size and the wanted range [start, end), and returns the chaining
// value every group of the widened range must have, in order. It reads
// exactly the nodes the tree part holds; memory grows only with the nodes
// read, whatever size the header claims.
func treeChecks(tree io.Reader, root [8]uint32, size, start, end int64) ([]groupCheck, error) {
	var checks []groupCheck
	stack := []pending{{cv: root, pos: 0, n: size, rootFlag: true}}
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if p.pos >= end || start >= p.pos+p.n {
			continue
		}
		if p.n <= GroupSize {
			checks = append(checks, groupCheck{cv: p.cv, root: p.rootFlag})
			continue
		}
		var pair [64]byte
		if _, err := io.ReadFull(tree, pair[:]); err != nil {
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
		stack = append(stack,
			pending{cv: r, pos: p.pos + mid, n: p.n - mid},
			pending{cv: l, pos: p.pos, n: mid})
	}
	return checks, nil
}

// VerifySplit reads a split slice for [offset, offset+length) of the
// content named id from r and writes exactly those bytes to w, each only
// after it has been verified against id, like VerifyRange. It reads the
// tree part first and checks every node in it; then it reads the data in
// blocks of len(buf) bytes (buf is rounded down to whole 16 KiB groups; at
// least one group; nil means 1 MiB), hashes each group in place and writes
// the verified part of the block to w in one Write: the data is copied
// once, from r into buf. Memory beyond buf is 36 bytes per group of the
// range (what the verified tree says each group hashes to).
//
// It returns the size the slice declares (proven when the range reaches
// the content's last group). Errors are VerifyRange's: a mismatch, a
// truncated slice or trailing bytes fail with ErrCorrupt (a *CorruptError
// naming the bytes where one range is to blame), and everything written to
// w before is verified.
func VerifySplit(w io.Writer, r io.Reader, id ID, offset, length int64, buf []byte) (size int64, err error) {
	if offset < 0 || length < 0 || offset > math.MaxInt64-length {
		return 0, fmt.Errorf("%w: offset %d, length %d", ErrBadRange, offset, length)
	}
	var hdr [headerSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, readError(err, 0, 0, "length header")
	}
	s := binary.LittleEndian.Uint64(hdr[:])
	if s > math.MaxInt64/2 {
		return 0, &CorruptError{What: "length header", Err: fmt.Errorf("claimed size %d is too large", s)}
	}
	size = int64(s)
	if err := CheckRange(size, offset, length); err != nil {
		return size, fmt.Errorf("%w (the slice claims %d bytes of content)", err, size)
	}
	d := id.Digest()
	root := bytesToCV(d[:])
	if size == 0 {
		if root != emptyRoot {
			return size, &CorruptError{What: "length", Err: errors.New("claims empty content")}
		}
		return size, atEOF(r, "slice")
	}
	// The tree is read through a small buffer; the data's block reads,
	// larger than it, then go straight into buf.
	br := bufio.NewReaderSize(r, 4<<10)
	r = br
	end := offset + length
	checks, err := treeChecks(br, root, size, offset, end)
	if err != nil {
		return size, err
	}
	ws, we, _ := WidenRange(size, offset, length)
	if len(buf) < GroupSize {
		buf = make([]byte, 1<<20)
	}
	buf = buf[:len(buf)/GroupSize*GroupSize]
	var last [GroupSize]byte // the short last group, hashed from a full array
	// verify hashes block b, the data at pos, and writes its part of the
	// range to w.
	verify := func(pos int64, b []byte) error {
		k := int64(len(b))
		for g := int64(0); g < k; g += GroupSize {
			n := min(GroupSize, k-g)
			arr := &last
			if n == GroupSize {
				arr = (*[GroupSize]byte)(b[g : g+GroupSize])
			} else {
				copy(last[:], b[g:g+n])
			}
			i := (pos + g) / GroupSize
			c := checks[i-ws/GroupSize]
			node := hashGroup(arr, int(n), i)
			if c.root {
				node.Flags |= guts.FlagRoot
			}
			if guts.ChainingValue(node) != c.cv {
				// Write the verified groups of this block before it.
				if lo, hi := max(offset, pos), min(end, pos+g); lo < hi {
					if _, err := w.Write(b[lo-pos : hi-pos]); err != nil {
						return fmt.Errorf("content: writing verified bytes: %w", err)
					}
				}
				return &CorruptError{Start: pos + g, End: pos + g + n, What: "data"}
			}
		}
		if lo, hi := max(offset, pos), min(end, pos+k); lo < hi {
			if _, err := w.Write(b[lo-pos : hi-pos]); err != nil {
				return fmt.Errorf("content: writing verified bytes: %w", err)
			}
		}
		return nil
	}
	half := len(buf) / 2 / GroupSize * GroupSize
	if we-ws <= int64(len(buf)) || half == 0 {
		for pos := ws; pos < we; {
			b := buf[:min(int64(len(buf)), we-pos)]
			if _, err := io.ReadFull(r, b); err != nil {
				return size, readError(err, pos, pos+int64(len(b)), "data")
			}
			if err := verify(pos, b); err != nil {
				return size, err
			}
			pos += int64(len(b))
		}
		return size, atEOF(r, "slice")
	}
	// Longer ranges: buf's two halves take turns, one read from r while a
	// second goroutine hashes the other and writes it to w, so reading and
	// hashing overlap. Each half is a whole number of groups and starts at
	// a multiple of 16 KiB in buf (a caller's alignment holds). w gets the
	// blocks in order, one Write at a time, from that goroutine only; it
	// ends before VerifySplit returns.
	type block struct {
		pos int64
		b   []byte
	}
	free := make(chan []byte, 2)
	free <- buf[:half:half]
	free <- buf[half : 2*half : 2*half]
	blocks := make(chan block)
	done := make(chan error, 1)
	var failed atomic.Bool
	go func() {
		var err error
		for bl := range blocks {
			if err == nil {
				if err = verify(bl.pos, bl.b); err != nil {
					failed.Store(true)
				}
			}
			free <- bl.b[:cap(bl.b)]
		}
		done <- err
	}()
	var rerr error
	for pos := ws; pos < we; {
		b := <-free
		if failed.Load() {
			break
		}
		b = b[:min(int64(len(b)), we-pos)]
		if _, err := io.ReadFull(r, b); err != nil {
			rerr = readError(err, pos, pos+int64(len(b)), "data")
			break
		}
		blocks <- block{pos, b}
		pos += int64(len(b))
	}
	close(blocks)
	if err := <-done; err != nil {
		return size, err // before any read error: its bytes came first
	}
	if rerr != nil {
		return size, rerr
	}
	return size, atEOF(r, "slice")
}
