package client

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// syncEachFile: on Linux the files a batch get writes are flushed
// together by flushFiles.
const syncEachFile = false

// flushFiles makes the files written under root durable with one
// syncfs(2) of root's file system; where syncfs is refused it fsyncs
// each.
func flushFiles(root *os.Root, names []string) error {
	d, err := os.Open(root.Name())
	if err != nil {
		return err
	}
	defer d.Close()
	for {
		err = unix.Syncfs(int(d.Fd()))
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err == nil || !(errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EPERM)) {
		return err
	}
	for _, n := range names {
		f, err := root.OpenFile(n, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
