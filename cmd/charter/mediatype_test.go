package main

import "testing"

// TestFileMediaType: a single file is published with its own media type,
// never the dataset type.
func TestFileMediaType(t *testing.T) {
	for name, want := range map[string]string{
		"model.safetensors":   "application/x-safetensors",
		"Weights.GGUF":        "application/x-gguf",
		"train.parquet":       "application/vnd.apache.parquet",
		"data/rows.jsonl":     "application/jsonl",
		"notes.txt":           "text/plain",
		"card.md":             "text/markdown",
		"model.bin":           "application/octet-stream",
		"no-extension":        "application/octet-stream",
		"picture.png":         "image/png",
		"archive.unknown-ext": "application/octet-stream",
	} {
		if got := fileMediaType(name); got != want {
			t.Errorf("fileMediaType(%q) = %q, want %q", name, got, want)
		}
	}
}
