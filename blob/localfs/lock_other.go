//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package localfs

import "os"

// Without flock(2) a temp file cannot tell whether its writer is alive, so
// Open treats every temp file as stale: one process per store directory.
func lock(*os.File) error             { return nil }
func tryLock(*os.File) (bool, error)  { return true, nil }
func unlinked(*os.File) (bool, error) { return false, nil }
