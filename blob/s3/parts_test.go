package s3_test

import (
	"testing"

	"github.com/charter-dev/charter/blob/s3"
	"github.com/charter-dev/charter/blob/storagetest"
)

// TestParts runs the parts suite on the S3 server (versitygw).
func TestParts(t *testing.T) {
	storagetest.TestParts(t, newStore(t, server(t), s3.Options{Prefix: "p/"}))
}
