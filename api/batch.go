package api

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/charter-dev/charter/content"
)

// Batch uploads (POST /v1/blobs/batch) carry many small blobs in one signed
// request, each framed as a header line "ID SIZE\n" and then SIZE bytes
// (docs/spec/http-api.md, "Batch upload"). These are the bounds a server
// applies to one request; a client splits larger sets into several.
const (
	// MediaBatch is the Content-Type of a batch upload's body.
	MediaBatch = "application/vnd.charter.blob-batch"
	// MaxBatchBlobs is the most blobs one batch may carry.
	MaxBatchBlobs = 1024
	// MaxBatchBlobSize is the largest blob a batch may carry; larger
	// blobs are uploaded one a request (POST /v1/blobs).
	MaxBatchBlobSize = 1 << 20
	// MaxBatchBytes bounds a batch's whole body, headers included.
	MaxBatchBytes = 16 << 20
	// MaxBatchHeader bounds one header line, newline included.
	MaxBatchHeader = 96
)

// BatchResult is the outcome for one blob of a batch upload, in request
// order: the stored blob (Created when this request stored its bytes), or
// the problem that refused it, which refused no other blob.
type BatchResult struct {
	ID      string   `json:"id"`
	Size    int64    `json:"size"`
	Kind    string   `json:"kind,omitempty"`
	Created bool     `json:"created"`
	Problem *Problem `json:"problem,omitempty"`
}

// BatchAnswer is the answer to a batch upload.
type BatchAnswer struct {
	Blobs []BatchResult `json:"blobs"`
}

// MediaBlobStream is the Content-Type of a batch read's answer (POST
// /v1/blobs/batch-read): for each asked id, in order, "ID ok SIZE\n" and
// the Bao slice of the whole blob, or "ID problem LEN\n" and a problem
// document of LEN bytes.
const MediaBlobStream = "application/vnd.charter.blob-stream"

// BatchReadRequest asks for at most MaxBatchBlobs whole blobs of at most
// MaxBatchBlobSize bytes each.
type BatchReadRequest struct {
	IDs []string `json:"ids"`
}

// ErrBatchFormat reports a batch body that is not a sequence of records
// "ID SIZE\n" + SIZE bytes.
var ErrBatchFormat = errors.New("malformed batch")

// ReadBatchHeader reads the header line "ID SIZE\n" of the next record of
// a batch body: a Charter content id in its canonical form, one space, and
// a decimal size of at most MaxBatchBlobSize without sign or leading
// zeros. At the end of the body it returns io.EOF; an error of the body
// itself (a refused digest, a body over its bound) is returned as is, and
// anything else wraps ErrBatchFormat.
func ReadBatchHeader(br *bufio.Reader) (content.ID, int64, error) {
	b, err := br.Peek(MaxBatchHeader)
	if len(b) == 0 && err == io.EOF {
		return content.ID{}, 0, io.EOF
	}
	if err != nil && err != io.EOF {
		return content.ID{}, 0, err
	}
	nl := bytes.IndexByte(b, '\n')
	if nl < 0 {
		if err == io.EOF {
			return content.ID{}, 0, fmt.Errorf("%w: the body ends inside a record header", ErrBatchFormat)
		}
		return content.ID{}, 0, fmt.Errorf("%w: a record header is over %d bytes", ErrBatchFormat, MaxBatchHeader)
	}
	line := b[:nl]
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return content.ID{}, 0, fmt.Errorf("%w: header %q is not \"ID SIZE\"", ErrBatchFormat, line)
	}
	idText, sizeText := string(line[:sp]), string(line[sp+1:])
	id, err := content.ParseID(idText)
	if err != nil || id.String() != idText {
		return content.ID{}, 0, fmt.Errorf("%w: %q is not a Charter content id", ErrBatchFormat, idText)
	}
	size, ok := batchSize(sizeText)
	if !ok {
		return content.ID{}, 0, fmt.Errorf("%w: size %q of %s is not a decimal number of bytes up to %d", ErrBatchFormat, sizeText, idText, MaxBatchBlobSize)
	}
	br.Discard(nl + 1)
	return id, size, nil
}

// batchSize parses a record's size: decimal digits, no sign, no leading
// zero (except "0" itself), at most MaxBatchBlobSize.
func batchSize(v string) (int64, bool) {
	if v == "" || len(v) > 8 || (len(v) > 1 && v[0] == '0') {
		return 0, false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	return n, err == nil && n <= MaxBatchBlobSize
}

// AppendBatchHeader appends the header line of a record of size bytes of
// content id, the line ReadBatchHeader reads.
func AppendBatchHeader(dst []byte, id content.ID, size int64) []byte {
	dst = append(dst, id.String()...)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, size, 10)
	return append(dst, '\n')
}
