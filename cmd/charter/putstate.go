package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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

// An interrupted put of a large file is resumed by the server's parts
// (client.PutOptions.Resumed); the state folder keeps the file's content
// id, size and modification time (uploads/<hash of server and file>.json),
// so the resumed put need not hash the whole file again before it asks
// which parts the server holds. A file whose size or time changed is
// hashed again; a record that named the wrong id costs one failed put
// (the server keeps nothing that does not hash to it) and is dropped.

type uploadRecord struct {
	ID      string `json:"id"`
	Size    int64  `json:"size"`
	ModTime int64  `json:"modTime"` // UnixNano
}

func uploadStateFile(env *Env, server, file string) string {
	abs, err := filepath.Abs(file)
	if err != nil {
		abs = file
	}
	sum := sha256.Sum256([]byte(server + "\n" + abs))
	return filepath.Join(stateDir(env), "uploads", hex.EncodeToString(sum[:12])+".json")
}

// recordedID returns the id recorded for file if its size and time are
// those recorded.
func recordedID(env *Env, server, file string, fi os.FileInfo) *content.ID {
	b, err := os.ReadFile(uploadStateFile(env, server, file))
	if err != nil {
		return nil
	}
	var r uploadRecord
	if json.Unmarshal(b, &r) != nil || r.Size != fi.Size() || r.ModTime != fi.ModTime().UnixNano() {
		return nil
	}
	id, err := content.ParseID(r.ID)
	if err != nil {
		return nil
	}
	return &id
}

// recordID remembers id as file's (best effort).
func recordID(env *Env, server, file string, fi os.FileInfo, id content.ID) {
	b, _ := json.Marshal(uploadRecord{ID: id.String(), Size: fi.Size(), ModTime: fi.ModTime().UnixNano()})
	p := uploadStateFile(env, server, file)
	if os.MkdirAll(filepath.Dir(p), 0o700) != nil {
		return
	}
	if os.WriteFile(p+".tmp", b, 0o600) == nil {
		os.Rename(p+".tmp", p)
	}
}

// forgetID drops file's record.
func forgetID(env *Env, server, file string) { os.Remove(uploadStateFile(env, server, file)) }
