package client

import (
	"errors"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// directAlign is the alignment direct I/O asks of a write's memory, file
// offset and length (the largest logical block size in common use).
const directAlign = 4096

// directAbove is the size from which DownloadFile writes with direct I/O:
// smaller files go through the page cache, where a reader finds them next.
const directAbove = 8 << 20

// alignedBlock returns n bytes of memory starting on a directAlign
// boundary.
func alignedBlock(n int) []byte {
	b := make([]byte, n+directAlign)
	o := int(-uintptr(unsafe.Pointer(&b[0])) & (directAlign - 1))
	return b[o : o+n : o+n]
}

// directFile is a second handle on a download's partial file, opened for
// direct I/O (openDirect): the blocks written through it go from this
// process's memory to the disk, without a copy into the page cache and
// without writeback left for the final fsync. off is set once the file
// system refused a direct write; the handle is then no longer used.
type directFile struct {
	f   *os.File
	off atomic.Bool
}

// Close closes the direct handle.
func (d *directFile) Close() error { return d.f.Close() }

// partWriter writes a range of a download's partial file from off on:
// through the direct handle the pieces it can take (aligned memory, offset
// and length), through f the others. The two never write the same bytes
// of the file, and the final fsync of f covers both.
type partWriter struct {
	f      *os.File
	direct *directFile
	off    int64
}

func (w *partWriter) Write(p []byte) (int, error) {
	var k int // written with direct I/O
	if d := w.direct; d != nil && len(p) > 0 && !d.off.Load() && aligned(p, w.off) {
		n, err := d.f.WriteAt(p, w.off)
		w.off += int64(n)
		if err == nil || !errors.Is(err, syscall.EINVAL) {
			return n, err
		}
		// Refused (or a short write left an unaligned rest): the
		// page cache from now on.
		d.off.Store(true)
		k, p = n, p[n:]
	}
	n, err := w.f.WriteAt(p, w.off)
	w.off += int64(n)
	return k + n, err
}

// aligned reports whether p can be written at off with direct I/O.
func aligned(p []byte, off int64) bool {
	return off%directAlign == 0 && len(p)%directAlign == 0 && uintptr(unsafe.Pointer(&p[0]))%directAlign == 0
}
