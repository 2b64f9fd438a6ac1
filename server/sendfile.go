package server

import (
	"io"
	"net/http"
	"syscall"

	"github.com/charter-dev/charter/blob"
)

// MediaSliceSplit is a verified range with its tree first: the bytes of
// the Bao slice reordered, header and parent nodes, then the widened data
// in one piece (content.ExtractTree, content.VerifySplit). A client asks
// for it with Accept; the server sends the tree from memory and the data
// straight from the stored file (sendfile on a local store).
const MediaSliceSplit = "application/vnd.charter.bao-slice-split"

// sendFile writes bytes [off, off+n) of f to the response, metered as
// Write meters: a checkpoint every checkpointBytes and, under a grant, the
// body's last byte held back until finish records it. When f is a local
// file and the response a plain TCP connection, the kernel copies the
// bytes from the page cache to the socket (sendfile) and they never pass
// through this process; otherwise they are copied in 256 KiB reads. A file
// shorter than the range fails with io.ErrUnexpectedEOF.
func (mw *meterWriter) sendFile(f blob.Reader, off, n int64) error {
	if sd, ok := f.(blob.Sender); ok {
		// The store sends the bytes itself: from S3, spliced from its
		// connection to the client's (see readFrom).
		k, err := sd.SendRange(spliceWriter{mw}, off, n)
		if err == nil && k < n {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	rf, ok := mw.w.(io.ReaderFrom)
	if _, file := f.(syscall.Conn); !ok || !file {
		k, err := io.CopyBuffer(onlyWriter{mw}, io.NewSectionReader(f, off, n), make([]byte, 256<<10))
		if err == nil && k < n {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return err
	}
	if mw.m != nil && !mw.started {
		mw.started = true
		_ = http.NewResponseController(mw.w).Flush()
	}
	for n > 0 {
		piece := min(n, checkpointBytes)
		if mw.m != nil && mw.total > 0 && mw.held == nil && mw.written+piece >= mw.total {
			piece-- // the last byte goes through Write, which holds it
			if piece == 0 {
				break
			}
		}
		k, err := rf.ReadFrom(&io.LimitedReader{R: f, N: piece})
		mw.written += k
		off, n = off+k, n-k
		if mw.written-mw.recorded >= checkpointBytes {
			mw.recorded = mw.written
			mw.m.record(mw.ctx, mw.dataOf(mw.written), false)
		}
		if err != nil {
			return err
		}
		if k < piece {
			return io.ErrUnexpectedEOF
		}
	}
	if n > 0 {
		var b [1]byte
		if _, err := f.ReadAt(b[:], off); err != nil {
			return err
		}
		_, err := mw.Write(b[:])
		return err
	}
	return nil
}

// onlyWriter hides a writer's other methods from io.Copy.
type onlyWriter struct{ io.Writer }

// spliceWriter is a meterWriter with a ReadFrom for blob.Sender (the
// meterWriter itself has none, so that copies into it stay as they are).
type spliceWriter struct{ mw *meterWriter }

func (s spliceWriter) Write(p []byte) (int, error)         { return s.mw.Write(p) }
func (s spliceWriter) ReadFrom(r io.Reader) (int64, error) { return s.mw.readFrom(r) }

// readFrom writes what src holds to the response, metered as Write
// meters. An *io.LimitedReader goes to the response's ReadFrom in pieces
// of checkpointBytes, each again an *io.LimitedReader of the same reader,
// so that when it reads a TCP connection net/http splices it to the
// client's socket; the body's last byte goes through Write, which holds
// it. Anything else is copied in 256 KiB reads.
func (mw *meterWriter) readFrom(src io.Reader) (int64, error) {
	rf, ok := mw.w.(io.ReaderFrom)
	lr, limited := src.(*io.LimitedReader)
	if !ok || !limited {
		return io.CopyBuffer(onlyWriter{mw}, src, make([]byte, 256<<10))
	}
	if mw.m != nil && !mw.started {
		mw.started = true
		_ = http.NewResponseController(mw.w).Flush()
	}
	var total int64
	for lr.N > 0 {
		piece := min(lr.N, checkpointBytes)
		if mw.m != nil && mw.total > 0 && mw.held == nil && mw.written+piece >= mw.total {
			piece-- // the last byte goes through Write, which holds it
		}
		if piece == 0 {
			var b [1]byte
			if _, err := io.ReadFull(lr, b[:]); err != nil {
				return total, err
			}
			k, err := mw.Write(b[:])
			return total + int64(k), err
		}
		k, err := rf.ReadFrom(&io.LimitedReader{R: lr.R, N: piece})
		lr.N -= k
		mw.written += k
		total += k
		if mw.written-mw.recorded >= checkpointBytes {
			mw.recorded = mw.written
			mw.m.record(mw.ctx, mw.dataOf(mw.written), false)
		}
		if err != nil {
			return total, err
		}
		if k < piece {
			return total, io.EOF
		}
	}
	return total, nil
}
