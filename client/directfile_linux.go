package client

import (
	"os"
	"syscall"
)

// openDirect opens name in root a second time, for writing with O_DIRECT,
// or returns nil where the file system refuses it (the download then
// writes through the page cache only).
func openDirect(root *os.Root, name string) *directFile {
	f, err := root.OpenFile(name, os.O_WRONLY|syscall.O_DIRECT, 0)
	if err != nil {
		return nil
	}
	return &directFile{f: f}
}
