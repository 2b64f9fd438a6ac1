//go:build !linux

package client

import "os"

// openDirect: direct I/O is used on Linux only.
func openDirect(root *os.Root, name string) *directFile { return nil }
