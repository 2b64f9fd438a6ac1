package api

// UploadStatus answers POST /v1/uploads/{id} while a resumable upload is
// not complete: the part size, and the parts the server holds
// (docs/spec/resumable-uploads.md).
type UploadStatus struct {
	ID       string `json:"id"`
	Size     int64  `json:"size"`
	PartSize int64  `json:"partSize"`
	Parts    []int  `json:"parts"`
	// Held is the number of bytes in the parts held.
	Held int64 `json:"held"`
}

// UploadPart answers PUT /v1/uploads/{id}/{part}.
type UploadPart struct {
	Part int   `json:"part"`
	Size int64 `json:"size"`
}
