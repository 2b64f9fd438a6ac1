package memstore_test

import (
	"testing"

	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/blob/memstore"
	"github.com/charter-dev/charter/blob/storagetest"
)

func TestStore(t *testing.T) {
	storagetest.Test(t, func(*testing.T) blob.Store { return memstore.New() })
}
