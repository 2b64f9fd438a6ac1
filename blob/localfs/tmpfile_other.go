//go:build !linux

package localfs

import (
	"errors"
	"os"
)

// openUnnamed: no O_TMPFILE here; groups stage under temp names.
func openUnnamed(dir string) (*os.File, error) { return nil, nil }

func linkUnnamed(f *os.File, final string) error {
	return errors.New("unnamed files are not supported")
}
