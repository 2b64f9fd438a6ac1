package content

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"runtime"
	"sync"

	"lukechampine.com/blake3/guts"
)

// GroupSize is the size in bytes of one Bao chunk group: the leaves of the
// outboard tree. It is 16 chunks of 1 KiB (Bao group parameter 4).
const GroupSize = 16 << 10

// baoGroupLog is the Bao "group" parameter: GroupSize == 1024 << baoGroupLog.
const baoGroupLog = 4

// headerSize is the size of the little-endian length prefix that starts every
// outboard and every slice.
const headerSize = 8

// ingestBufSize is how much Ingest reads from its source at a time.
const ingestBufSize = 1 << 20

// SpillThreshold is how many bytes of tree hashes Ingest keeps in memory
// before it moves them to scratch space. The tree needs 64 bytes per 16 KiB
// group (1/256 of the content), so the default covers content up to 1 GiB.
const SpillThreshold = 4 << 20

// spillThreshold is SpillThreshold; tests lower it.
var spillThreshold = SpillThreshold

// Info describes ingested content.
type Info struct {
	ID   ID
	Size int64
}

// Scratch is temporary random-access space for the tree hashes of content
// larger than about 1 GiB. *os.File implements it.
type Scratch interface {
	io.WriterAt
	io.ReaderAt
}

// OutboardSize returns the size in bytes of the Bao outboard of content of
// the given size: an 8-byte header and 64 bytes per parent node.
func OutboardSize(size int64) int64 {
	if size <= 0 {
		return headerSize
	}
	return headerSize + 64*(groupCount(size)-1)
}

// groupCount returns the number of leaf groups of the tree for size bytes
// (at least 1: empty content has one empty group).
func groupCount(size int64) int64 {
	if size <= 0 {
		return 1
	}
	return (size + GroupSize - 1) / GroupSize
}

// Ingest copies r to data while hashing it in one pass, then writes the Bao
// outboard tree (pre-order, 16 KiB groups, byte-identical to
// lukechampine.com/blake3/bao's outboard encoding with group 4) to outboard.
// The content length need not be known in advance. Groups are hashed with
// the SIMD kernels of lukechampine.com/blake3/guts on up to four worker
// goroutines while the next 1 MiB is read and written; the workers end
// before Ingest returns. Memory use (at most five 1 MiB buffers plus
// SpillThreshold of tree hashes) does not grow with the content: past
// SpillThreshold the tree hashes go to a temporary
// file created with os.CreateTemp and removed before Ingest returns; use
// IngestScratch to supply that space yourself.
//
// Nothing is written to outboard until all of r has been read and written to
// data, so a failed Ingest leaves a truncated outboard the caller discards.
func Ingest(ctx context.Context, r io.Reader, data io.Writer, outboard io.Writer) (Info, error) {
	return ingest(ctx, r, data, outboard, nil)
}

// Hash returns the content id and size of the bytes of r: Ingest keeping
// neither the data nor the outboard. Past the first megabyte it hashes on
// Ingest's worker goroutines while the next megabyte is read, so on two
// cores it takes about half the time of one BLAKE3 pass on one goroutine
// (the CPU is the same).
func Hash(ctx context.Context, r io.Reader) (Info, error) {
	return ingest(ctx, r, io.Discard, io.Discard, nil)
}

// A LentWriter is a data writer that Ingest lends its read buffers to
// instead of asking it to copy them: WriteLent may keep p until it calls
// done, and Ingest neither changes nor reuses p before then. done is called
// exactly once, from any goroutine, also when WriteLent returns an error.
// The bytes are written in the order of the calls, after those of earlier
// Writes. A blob store writing with O_DIRECT writes Ingest's buffers
// (1 MiB, page-aligned) as they are.
type LentWriter interface {
	WriteLent(p []byte, done func()) error
}

// IngestScratch is Ingest with caller-supplied scratch space for the tree
// hashes beyond SpillThreshold. It writes at most 64 bytes per 16 KiB of
// content to scratch, starting at offset 0. If scratch is nil, Ingest's
// temporary file is used.
func IngestScratch(ctx context.Context, r io.Reader, data io.Writer, outboard io.Writer, scratch Scratch) (Info, error) {
	return ingest(ctx, r, data, outboard, scratch)
}

func ingest(ctx context.Context, r io.Reader, data io.Writer, outboard io.Writer, scratch Scratch) (Info, error) {
	t := &treeBuilder{log: cvLog{scratch: scratch}}
	defer t.log.close()
	p := &pipeline{t: t}
	defer p.stop()

	b := p.newBatch()
	var size int64
	pending := 0 // bytes at the start of b.buf not yet hashed (less than one group)
	for {
		if err := ctx.Err(); err != nil {
			return Info{}, err
		}
		n, rerr := readSome(r, b.buf[pending:])
		if n > 0 {
			if lw, ok := data.(LentWriter); ok {
				// The batch is released only once it is written too
				// (its wait group counts the write with the hashing).
				b.wg.Add(1)
				if err := lw.WriteLent(b.buf[pending:pending+n], b.wg.Done); err != nil {
					return Info{}, fmt.Errorf("content: writing data: %w", err)
				}
			} else if _, err := data.Write(b.buf[pending : pending+n]); err != nil {
				return Info{}, fmt.Errorf("content: writing data: %w", err)
			}
			size += int64(n)
			avail := pending + n
			full := avail / GroupSize * GroupSize
			if full > 0 {
				next := p.newBatch()
				pending = copy(next.buf, b.buf[full:avail])
				if err := p.submit(b, full); err != nil {
					return Info{}, err
				}
				b = next
			} else {
				pending = avail
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return Info{}, fmt.Errorf("content: reading: %w", rerr)
		}
	}
	if err := p.drain(); err != nil {
		return Info{}, err
	}
	if pending > 0 || t.groups == 0 {
		var last [GroupSize]byte
		copy(last[:], b.buf[:pending])
		if err := t.addGroup(&last, pending); err != nil {
			return Info{}, err
		}
	}
	p.release(b)
	root, err := t.finish(outboard, size)
	if err != nil {
		return Info{}, err
	}
	return Info{ID: IDFromDigest(root), Size: size}, nil
}

// pipeline hashes read buffers on worker goroutines while the next buffer
// is read and written, and adds the results to the tree in order.
type pipeline struct {
	t        *treeBuilder
	jobs     chan hashJob
	inflight []*batch
	next     int64 // index of the next group to submit
}

// batch is one read buffer and the nodes of its full groups.
type batch struct {
	buf   []byte
	first int64 // group index of buf[0]
	nodes []guts.Node
	wg    sync.WaitGroup
}

type hashJob struct {
	b      *batch
	lo, hi int // group indexes within b
}

// pipelineDepth is how many hashed-but-not-collected buffers may be in
// flight; jobGroups is how many groups one worker job hashes.
const (
	pipelineDepth = 3
	jobGroups     = 8
)

// hashWorkers is how many goroutines hash groups.
var hashWorkers = min(runtime.GOMAXPROCS(0), 4)

func (p *pipeline) newBatch() *batch { return batchPool.Get().(*batch) }

func (p *pipeline) release(b *batch) {
	b.wg.Wait() // a LentWriter may still hold the buffer
	b.nodes = b.nodes[:0]
	batchPool.Put(b)
}

// submit hands the first full bytes of b (whole groups) to the workers, or
// hashes them here when they are the first batch or few, and no worker has
// started.
func (p *pipeline) submit(b *batch, full int) error {
	n := full / GroupSize
	b.first = p.next
	p.next += int64(n)
	// Small content is hashed here: starting workers costs more than they
	// save on the first megabyte (goroutine wake-ups, spinning threads).
	if p.jobs == nil && (b.first == 0 || n < 2*jobGroups || hashWorkers < 2) {
		for i := 0; i < n; i++ {
			if err := p.t.add(hashGroup((*[GroupSize]byte)(b.buf[i*GroupSize:]), GroupSize, b.first+int64(i))); err != nil {
				return err
			}
		}
		p.release(b)
		return nil
	}
	if p.jobs == nil {
		jobs := make(chan hashJob, 4*ingestBufSize/GroupSize/jobGroups)
		p.jobs = jobs
		for range hashWorkers {
			go func() {
				for j := range jobs {
					for i := j.lo; i < j.hi; i++ {
						j.b.nodes[i] = hashGroup((*[GroupSize]byte)(j.b.buf[i*GroupSize:]), GroupSize, j.b.first+int64(i))
					}
					j.b.wg.Done()
				}
			}()
		}
	}
	b.nodes = b.nodes[:n]
	for lo := 0; lo < n; lo += jobGroups {
		b.wg.Add(1)
		p.jobs <- hashJob{b: b, lo: lo, hi: min(lo+jobGroups, n)}
	}
	p.inflight = append(p.inflight, b)
	if len(p.inflight) > pipelineDepth {
		return p.collect()
	}
	return nil
}

// collect waits for the oldest batch in flight and adds its groups to the tree.
func (p *pipeline) collect() error {
	b := p.inflight[0]
	p.inflight = p.inflight[1:]
	b.wg.Wait()
	defer p.release(b)
	for i := range b.nodes {
		if err := p.t.add(b.nodes[i]); err != nil {
			return err
		}
	}
	return nil
}

// drain collects every batch in flight.
func (p *pipeline) drain() error {
	for len(p.inflight) > 0 {
		if err := p.collect(); err != nil {
			return err
		}
	}
	return nil
}

// stop waits for the workers' jobs and ends them.
func (p *pipeline) stop() {
	for _, b := range p.inflight {
		b.wg.Wait()
	}
	p.inflight = nil
	if p.jobs != nil {
		close(p.jobs)
		p.jobs = nil
	}
}

// batchPool holds batches with ingestBufSize read buffers: allocating and
// clearing 1 MiB per call costs more than hashing a small blob.
var batchPool = sync.Pool{New: func() any {
	return &batch{buf: make([]byte, ingestBufSize), nodes: make([]guts.Node, 0, ingestBufSize/GroupSize)}
}}

// readSome reads into p until p is full, EOF, or an error. It returns io.EOF
// only together with the bytes read before it.
func readSome(r io.Reader, p []byte) (int, error) {
	n := 0
	for n < len(p) {
		m, err := r.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
		if m == 0 && n > 0 {
			// A reader returning (0, nil) is allowed; do not spin on it
			// while holding data we could already process.
			return n, nil
		}
	}
	return n, nil
}

// stackEntry is a complete, perfect subtree of 2^height groups.
type stackEntry struct {
	cv     [8]uint32
	height int
}

// treeBuilder computes the chaining value of every complete subtree as
// groups arrive and records them in post-order in log.
type treeBuilder struct {
	log    cvLog
	stack  []stackEntry
	groups int64
	first  guts.Node // node of group 0, needed when it is the only group
}

// hashGroup returns the (non-root) node of the group with index i, whose
// first n bytes are in g.
func hashGroup(g *[GroupSize]byte, n int, i int64) guts.Node {
	return guts.CompressBuffer((*[guts.MaxSIMD * guts.ChunkSize]byte)(g), n, &guts.IV, uint64(i)*(GroupSize/guts.ChunkSize), 0)
}

// addGroup hashes one group (n bytes of g, n == GroupSize except for the last).
func (t *treeBuilder) addGroup(g *[GroupSize]byte, n int) error {
	return t.add(hashGroup(g, n, t.groups))
}

// add appends the next group's node to the tree.
func (t *treeBuilder) add(node guts.Node) error {
	if t.groups == 0 {
		t.first = node
	}
	cv := guts.ChainingValue(node)
	if err := t.log.append(&cv); err != nil {
		return err
	}
	t.groups++
	t.stack = append(t.stack, stackEntry{cv: cv})
	for c := t.groups; c&1 == 0; c >>= 1 {
		l, r := t.stack[len(t.stack)-2], t.stack[len(t.stack)-1]
		p := guts.ChainingValue(guts.ParentNode(l.cv, r.cv, &guts.IV, 0))
		if err := t.log.append(&p); err != nil {
			return err
		}
		t.stack = t.stack[:len(t.stack)-1]
		t.stack[len(t.stack)-1] = stackEntry{cv: p, height: l.height + 1}
	}
	return nil
}

// finish computes the root hash and writes the pre-order outboard.
func (t *treeBuilder) finish(outboard io.Writer, size int64) ([32]byte, error) {
	if err := t.log.flush(); err != nil {
		return [32]byte{}, err
	}
	// The tree is the stack's perfect subtrees, largest first, joined along
	// the right spine. spine[j] is the chaining value of everything right of
	// stack entry j (inclusive of j+1..).
	k := len(t.stack)
	spine := make([][8]uint32, k)
	var root [8]uint32
	switch {
	case t.groups == 1:
		n := t.first
		n.Flags |= guts.FlagRoot
		root = guts.ChainingValue(n)
	case k == 1:
		// A perfect tree: the root is its top node, hashed with the root flag.
		h := t.stack[0].height
		var pair [64]byte
		if err := t.log.readAt(pair[:32], int64(1)<<h-2); err != nil { // left child: end of left block
			return [32]byte{}, err
		}
		if err := t.log.readAt(pair[32:], int64(1)<<(h+1)-3); err != nil { // right child: end of right block
			return [32]byte{}, err
		}
		root = guts.ChainingValue(guts.ParentNode(bytesToCV(pair[:32]), bytesToCV(pair[32:]), &guts.IV, guts.FlagRoot))
	default:
		acc := t.stack[k-1].cv
		for j := k - 2; j >= 0; j-- {
			spine[j] = acc
			flags := uint32(0)
			if j == 0 {
				flags = guts.FlagRoot
			}
			acc = guts.ChainingValue(guts.ParentNode(t.stack[j].cv, acc, &guts.IV, flags))
		}
		root = acc
	}

	w := bufio.NewWriterSize(outboard, 64<<10)
	var hdr [headerSize]byte
	binary.LittleEndian.PutUint64(hdr[:], uint64(size))
	w.Write(hdr[:])
	e := emitter{log: &t.log, w: w}
	var start int64
	for j, s := range t.stack {
		if j < k-1 {
			var pair [64]byte
			cvToBytes(&s.cv, pair[:32])
			cvToBytes(&spine[j], pair[32:])
			w.Write(pair[:])
		}
		if err := e.perfect(start, s.height); err != nil {
			return [32]byte{}, err
		}
		start += int64(1)<<(s.height+1) - 1
	}
	if err := w.Flush(); err != nil {
		return [32]byte{}, fmt.Errorf("content: writing outboard: %w", err)
	}
	var out [32]byte
	cvToBytes(&root, out[:])
	return out, nil
}

// emitter writes perfect subtrees from the post-order log in pre-order.
type emitter struct {
	log *cvLog
	w   *bufio.Writer
	buf []byte
}

// emitWindowSize is the largest post-order block read into memory at once.
var emitWindowSize = 1 << 20

// perfect writes the parent nodes of the perfect subtree of 2^height groups
// whose post-order block starts at log entry start.
func (e *emitter) perfect(start int64, height int) error {
	if height == 0 {
		return nil
	}
	entries := int64(1)<<(height+1) - 1
	if entries*32 <= int64(emitWindowSize) {
		if cap(e.buf) < int(entries*32) {
			e.buf = make([]byte, entries*32)
		}
		b := e.buf[:entries*32]
		if err := e.log.readAt(b, start); err != nil {
			return err
		}
		emitFromMemory(e.w, b, height)
		return nil
	}
	half := int64(1)<<height - 1 // entries in each child block
	var pair [64]byte
	if err := e.log.readAt(pair[:32], start+half-1); err != nil {
		return err
	}
	if err := e.log.readAt(pair[32:], start+2*half-1); err != nil {
		return err
	}
	e.w.Write(pair[:])
	if err := e.perfect(start, height-1); err != nil {
		return err
	}
	return e.perfect(start+half, height-1)
}

// emitFromMemory writes the pre-order parents of a perfect subtree whose
// post-order chaining values are b.
func emitFromMemory(w *bufio.Writer, b []byte, height int) {
	if height == 0 {
		return
	}
	half := (1<<height - 1) * 32
	w.Write(b[half-32 : half])
	w.Write(b[2*half-32 : 2*half])
	emitFromMemory(w, b[:half], height-1)
	emitFromMemory(w, b[half:2*half], height-1)
}

// cvLog is an append-only array of 32-byte chaining values that moves from
// memory to scratch space when it grows past SpillThreshold.
type cvLog struct {
	mem     []byte
	scratch Scratch
	tmp     *os.File // non-nil if we created scratch
	spilled int64    // bytes already written to scratch
	wbuf    []byte
}

func (l *cvLog) append(cv *[8]uint32) error {
	if l.spilled == 0 && len(l.mem)+32 <= spillThreshold {
		var b [32]byte
		cvToBytes(cv, b[:])
		if len(l.mem)+32 > cap(l.mem) {
			// Grow by doubling from 4 KiB: append's 1.25x steps for
			// large slices cost more copying.
			m := make([]byte, len(l.mem), min(max(2*cap(l.mem), 4<<10), spillThreshold))
			copy(m, l.mem)
			l.mem = m
		}
		l.mem = append(l.mem, b[:]...)
		return nil
	}
	if l.spilled == 0 {
		if l.scratch == nil {
			f, err := os.CreateTemp("", "charter-bao-*")
			if err != nil {
				return fmt.Errorf("content: creating scratch file: %w", err)
			}
			l.tmp = f
			l.scratch = f
		}
		if _, err := l.scratch.WriteAt(l.mem, 0); err != nil {
			return fmt.Errorf("content: writing scratch: %w", err)
		}
		l.spilled = int64(len(l.mem))
		l.wbuf = l.mem[:0] // the in-memory log becomes the write buffer
		l.mem = nil
	}
	var b [32]byte
	cvToBytes(cv, b[:])
	l.wbuf = append(l.wbuf, b[:]...)
	if len(l.wbuf)+32 > cap(l.wbuf) {
		return l.flush()
	}
	return nil
}

func (l *cvLog) flush() error {
	if len(l.wbuf) == 0 {
		return nil
	}
	if _, err := l.scratch.WriteAt(l.wbuf, l.spilled); err != nil {
		return fmt.Errorf("content: writing scratch: %w", err)
	}
	l.spilled += int64(len(l.wbuf))
	l.wbuf = l.wbuf[:0]
	return nil
}

// readAt fills p with the entries starting at entry index i.
func (l *cvLog) readAt(p []byte, i int64) error {
	off := i * 32
	if l.spilled == 0 {
		if off+int64(len(p)) > int64(len(l.mem)) {
			return errors.New("content: internal error: tree log read out of range")
		}
		copy(p, l.mem[off:])
		return nil
	}
	if _, err := l.scratch.ReadAt(p, off); err != nil {
		return fmt.Errorf("content: reading scratch: %w", err)
	}
	return nil
}

func (l *cvLog) close() {
	if l.tmp != nil {
		name := l.tmp.Name()
		l.tmp.Close()
		os.Remove(name)
	}
}

func bytesToCV(b []byte) (cv [8]uint32) {
	_ = b[31]
	for i := range cv {
		cv[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return cv
}

func cvToBytes(cv *[8]uint32, b []byte) {
	_ = b[31]
	for i, w := range cv {
		binary.LittleEndian.PutUint32(b[4*i:], w)
	}
}

// treeHeight is used by range code: the number of levels above the groups.
func treeHeight(groups int64) int { return bits.Len64(uint64(groups - 1)) }
