package localfs

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// setDirect sets or clears O_DIRECT on f.
func setDirect(f *os.File, on bool) error {
	fd := int(f.Fd())
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil {
		return err
	}
	if on {
		fl |= unix.O_DIRECT
	} else {
		fl &^= unix.O_DIRECT
	}
	_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl)
	return err
}

// isInvalid reports the error of an O_DIRECT write the file system refuses.
func isInvalid(err error) bool { return errors.Is(err, unix.EINVAL) }
