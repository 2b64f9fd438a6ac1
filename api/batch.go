package api

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
