//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package dirlock

import (
	"errors"
	"os"
)

// Without flock(2) the lock cannot be taken safely; refuse rather than
// let two owners share a folder.
func tryLock(*os.File) (bool, error) {
	return false, errors.New("folder locks need flock(2), which this system lacks")
}
