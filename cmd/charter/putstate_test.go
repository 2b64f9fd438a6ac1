package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/charter-dev/charter/content"
)

// TestUploadRecord: the id recorded for a large file is given back while
// the file's size and time are unchanged, not after either changes, and
// not once forgotten.
func TestUploadRecord(t *testing.T) {
	t.Setenv("CHARTER_STATE", t.TempDir())
	env := &Env{}
	p := filepath.Join(t.TempDir(), "big.bin")
	os.WriteFile(p, []byte("big"), 0o644)
	fi, _ := os.Stat(p)
	id := content.IDFromDigest([32]byte{1})
	if recordedID(env, "http://s", p, fi) != nil {
		t.Fatal("an id before any was recorded")
	}
	recordID(env, "http://s", p, fi, id)
	if got := recordedID(env, "http://s", p, fi); got == nil || *got != id {
		t.Fatalf("recorded id: %v", got)
	}
	if recordedID(env, "http://other", p, fi) != nil {
		t.Fatal("the record of one server was given for another")
	}
	os.Chtimes(p, time.Now(), time.Now().Add(time.Hour))
	if fi2, _ := os.Stat(p); recordedID(env, "http://s", p, fi2) != nil {
		t.Fatal("the record survived a change of the file's time")
	}
	forgetID(env, "http://s", p)
	if recordedID(env, "http://s", p, fi) != nil {
		t.Fatal("the record survived forgetID")
	}
}
