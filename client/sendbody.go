package client

import (
	"io"
	"os"
	"time"
)

// sendBody returns the body of an upload of the next size bytes of src.
// A file's bytes go to the socket by sendfile(2) when nothing has to see
// them on the way (no local hash) and the file ends where the upload
// does: the body is then the file itself (as a fileBody, which net/http
// does not close), which net/http limits to the request's length and
// hands to the connection's ReadFrom. Progress is then reported by
// watching the file's offset; stop ends the watching and reports the
// last offset.
func sendBody(src io.Reader, size int64, hash io.Writer, progress func(int64)) (body io.Reader, stop func()) {
	f, isFile := src.(*os.File)
	var start int64
	if isFile && hash == nil {
		var err error
		start, err = f.Seek(0, io.SeekCurrent)
		fi, serr := f.Stat()
		isFile = err == nil && serr == nil && fi.Mode().IsRegular() && fi.Size()-start == size
	}
	if hash != nil || !isFile {
		r := io.LimitReader(src, size)
		if hash != nil {
			r = io.TeeReader(r, hash)
		}
		return &progressReader{r: r, fn: progress}, func() {}
	}
	if progress == nil {
		return fileBody{f}, func() {}
	}
	report := func() {
		if off, err := f.Seek(0, io.SeekCurrent); err == nil && off > start {
			progress(min(off-start, size))
		}
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				report()
			}
		}
	}()
	return fileBody{f}, func() {
		close(done)
		<-stopped
		report()
	}
}

// fileBody is a file as a request body that net/http does not close (the
// caller owns the file) and that still offers SyscallConn, which
// sendfile(2) needs.
type fileBody struct{ *os.File }

func (fileBody) Close() error { return nil }
