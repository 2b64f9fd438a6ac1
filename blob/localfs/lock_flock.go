//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package localfs

import (
	"errors"
	"os"
	"syscall"
)

// lock takes an exclusive flock on f, held until f is closed or the process
// dies; it marks the temp file as owned by a live writer.
func lock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// tryLock reports whether f was free (no live writer) and is now locked.
func tryLock(f *os.File) (bool, error) {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}

// unlinked reports whether f has no name left.
func unlinked(f *os.File) (bool, error) {
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Nlink == 0, nil
}
