package client

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/content"
)

// FuzzStreamHeader: the parser of a batch read's record headers (bytes
// from the server, untrusted) never panics, bounds what it reads, and
// accepts only "ID ok SIZE" within bounds or "ID problem LEN" with a
// problem document.
func FuzzStreamHeader(f *testing.F) {
	id := content.IDFromDigest([32]byte{2})
	for _, s := range []string{
		id.String() + " ok 10\n", id.String() + " ok 0\n", id.String() + " problem 13\n{\"status\":4}x",
		id.String() + " ok -1\n", id.String() + " ok 99999999999\n", id.String() + " problem 99999999\n",
		"x ok 1\n", "\n", "", id.String() + " maybe 1\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(b), 256<<10)
		rec, err := readStreamHeader(br)
		if err != nil {
			return
		}
		if rec.problem == nil && (rec.size < 0 || rec.size > api.MaxBatchBlobSize) {
			t.Fatalf("accepted size %d", rec.size)
		}
		if rec.problem != nil && rec.problem.Status == 0 {
			t.Fatal("accepted a problem without a status")
		}
		rest, _ := io.ReadAll(br)
		if len(rest) > len(b) {
			t.Fatal("read more than given")
		}
		if rec.problem == nil && !bytes.HasPrefix(b, fmt.Appendf(nil, "%s ok %d\n", rec.id, rec.size)) && !errors.Is(err, errStreamFormat) {
			// a non-canonical number (leading zeros, "+") is tolerated: the
			// size is checked against the verified index and the slice.
			if _, perr := fmt.Sscanf(string(b), "%s ok %d\n", new(string), new(int64)); perr != nil {
				t.Fatalf("accepted %q", b)
			}
		}
	})
}
