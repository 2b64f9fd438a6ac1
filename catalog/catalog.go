// Package catalog holds the types of Charter's persisted, queryable state:
// what is stored, what kind of object each blob is, and which blobs were
// found corrupt. Everything signed is in the transparency log first; the
// catalog is derived state that can be rebuilt.
//
// Backends live in subpackages named after what they wrap
// (catalog/sqlite, later catalog/postgres). Callers declare the small
// interface they need.
package catalog

import (
	"errors"
	"time"

	"github.com/charter-dev/charter/content"
)

// ErrNotFound reports a lookup of something the catalog does not hold.
var ErrNotFound = errors.New("catalog: not found")

// ErrApplied reports a log entry that the catalog has applied already.
var ErrApplied = errors.New("catalog: log entry already applied")

// ErrNoEffect marks an applier's error for a log entry that applies with
// no effect: a duplicate of a statement applied before, or a statement
// that breaks the rules at its position in the log. Its changes are undone
// but the entry is recorded as applied, so replay never stops on it.
var ErrNoEffect = errors.New("catalog: log entry has no effect")

// Kind says what a stored blob is.
type Kind string

// The kinds of object.
const (
	KindBlob    Kind = "blob"    // plain bytes
	KindDataset Kind = "dataset" // a dataset index (see content.Index)
)

// Object is a stored blob as the catalog knows it.
type Object struct {
	ID      content.ID `json:"id"`
	Size    int64      `json:"size"`
	Kind    Kind       `json:"kind"`
	Created time.Time  `json:"created"`
}

// Corruption records a blob whose bytes on disk no longer match its id.
type Corruption struct {
	ID     content.ID `json:"id"`
	Offset int64      `json:"offset"`
	Length int64      `json:"length"`
	Detail string     `json:"detail"`
	Found  time.Time  `json:"found"`
}
