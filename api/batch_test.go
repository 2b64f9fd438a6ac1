package api

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/charter-dev/charter/content"
)

// FuzzBatchHeader: the record header parser never panics, never reads
// past its line, and accepts only canonical "ID SIZE" lines within bounds.
func FuzzBatchHeader(f *testing.F) {
	id := content.IDFromDigest([32]byte{1})
	for _, s := range []string{id.String() + " 10\n", id.String() + " 0\nrest", "x 1\n", id.String() + " 1048577\n", id.String() + " -1\n", id.String() + "  1\n", "", "\n", id.String() + " 1"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(b), 64<<10)
		got, size, err := ReadBatchHeader(br)
		if err != nil {
			if err != io.EOF && !errors.Is(err, ErrBatchFormat) {
				t.Fatalf("error %v is neither EOF nor a format error", err)
			}
			return
		}
		line := fmt.Sprintf("%s %d\n", got, size)
		if enc := string(AppendBatchHeader(nil, got, size)); enc != line {
			t.Fatalf("AppendBatchHeader wrote %q for the line %q", enc, line)
		}
		if !bytes.HasPrefix(b, []byte(line)) || size < 0 || size > MaxBatchBlobSize {
			t.Fatalf("accepted %q as %q", b, line)
		}
		if rest, _ := io.ReadAll(br); !bytes.Equal(rest, b[len(line):]) {
			t.Fatal("the parser consumed more than its line")
		}
	})
}
