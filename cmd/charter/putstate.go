package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"

	"github.com/charter-dev/charter/content"
)

// The last dataset index put of each folder to each server, kept in the
// state folder (datasets/<hash of server and folder>.index, the index's
// canonical bytes) so that the next put of the folder sends the new index
// as a delta against it (client.WithIndexBase). A missing or damaged file
// only means the whole index is sent.

func indexStateFile(env *Env, server, root string) string {
	abs, err := filepath.Abs(root)
	if err != nil {
		abs = root
	}
	sum := sha256.Sum256([]byte(server + "\n" + abs))
	return filepath.Join(stateDir(env), "datasets", hex.EncodeToString(sum[:12])+".index")
}

// lastIndex returns the index last put of root to server, or nil.
func lastIndex(env *Env, server, root string) *content.Index {
	b, err := os.ReadFile(indexStateFile(env, server, root))
	if err != nil {
		return nil
	}
	x, err := content.ParseIndex(b)
	if err != nil {
		return nil
	}
	return x
}

// saveIndex remembers idx as the index last put of root to server. It is
// best effort: a put that cannot remember still succeeded.
func saveIndex(env *Env, server, root string, idx *content.Index) {
	raw, err := idx.Encode()
	if err != nil {
		return
	}
	p := indexStateFile(env, server, root)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
	}
}
