//go:build !linux

package localfs

import (
	"errors"
	"os"
)

// setDirect: no O_DIRECT here; blocks are written through the page cache
// (still on their own goroutine).
func setDirect(f *os.File, on bool) error {
	if on {
		return errors.ErrUnsupported
	}
	return nil
}

func isInvalid(error) bool { return false }
