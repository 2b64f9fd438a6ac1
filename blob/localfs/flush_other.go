//go:build !linux

package localfs

// flush makes the pending temp files' bytes and the directories' entries
// durable: an fsync of each.
func (s *Store) flushGroup(pending []pendingLink, dirs map[string]bool) error {
	return fsyncEach(pending, dirs)
}
