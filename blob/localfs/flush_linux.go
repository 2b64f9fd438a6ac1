package localfs

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// flush makes the pending temp files' bytes and the directories' entries
// durable with one syncfs(2) of the file system holding the store (Linux
// 5.8 and later report write-back errors from it), shared with the groups
// that flush at the same time (syncer). Where syncfs is refused, it fsyncs
// each file and directory instead.
func (s *Store) flushGroup(pending []pendingLink, dirs map[string]bool) error {
	if err := s.flush.do(func() error { return syncfs(s.root) }); err == nil {
		return nil
	} else if !errors.Is(err, errNoSyncfs) {
		return err
	}
	return fsyncEach(pending, dirs)
}

func syncfs(root string) error {
	d, err := os.Open(root)
	if err != nil {
		return err
	}
	defer d.Close()
	for {
		err := unix.Syncfs(int(d.Fd()))
		switch {
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EPERM):
			return errNoSyncfs
		}
		return err
	}
}
