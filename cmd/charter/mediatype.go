package main

import (
	"mime"
	"path/filepath"
	"strings"
)

// modelTypes are the media types of common AI file formats that have no
// entry in the system's MIME tables (or a poor one).
var modelTypes = map[string]string{
	".safetensors": "application/x-safetensors",
	".gguf":        "application/x-gguf",
	".onnx":        "application/onnx",
	".pt":          "application/x-pytorch",
	".pth":         "application/x-pytorch",
	".ckpt":        "application/x-pytorch",
	".npy":         "application/x-npy",
	".npz":         "application/x-npz",
	".parquet":     "application/vnd.apache.parquet",
	".arrow":       "application/vnd.apache.arrow.file",
	".jsonl":       "application/jsonl",
	".ndjson":      "application/x-ndjson",
	".csv":         "text/csv",
	".tsv":         "text/tab-separated-values",
	".md":          "text/markdown",
	".txt":         "text/plain",
	".json":        "application/json",
}

// fileMediaType is the media type a single file is published with when
// --media-type is not given: its own, from its name (the AI formats
// above, then the system's MIME tables, parameters dropped), else
// application/octet-stream. Never the dataset type: that names a folder's
// index.
func fileMediaType(path string) string {
	ext := strings.ToLower(filepath.Ext(path))
	if t, ok := modelTypes[ext]; ok {
		return t
	}
	if t := mime.TypeByExtension(ext); t != "" {
		if mt, _, err := mime.ParseMediaType(t); err == nil && mt != "" {
			return mt
		}
	}
	return "application/octet-stream"
}
