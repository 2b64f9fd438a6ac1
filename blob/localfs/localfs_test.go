package localfs_test

import (
	"context"
	"testing"

	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/blob/localfs"
	"github.com/charter-dev/charter/blob/storagetest"
)

func TestStore(t *testing.T) {
	storagetest.Test(t, func(t *testing.T) blob.Store {
		s, err := localfs.Open(context.Background(), t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
