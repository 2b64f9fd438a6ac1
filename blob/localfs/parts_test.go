package localfs_test

import (
	"context"
	"testing"

	"github.com/charter-dev/charter/blob/localfs"
	"github.com/charter-dev/charter/blob/storagetest"
)

func TestParts(t *testing.T) {
	s, err := localfs.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	storagetest.TestParts(t, s)
}
