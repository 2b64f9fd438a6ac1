// Package blob stores bytes under content ids computed by package content.
//
// Storage is described by small role interfaces in the style of perkeep's
// blobserver: a backend implements the abilities it has (Stager, Opener,
// Statter, Enumerator, Remover) and callers ask only for the ones they use.
// Backends never compute or trust addresses: the only way bytes enter
// storage is Put, which streams them through content.Ingest, names them by
// the BLAKE3 digest it computed, and commits them only if that name is the
// one the caller expected.
//
// Every blob has two parts, stored under the same id: the data and its Bao
// outboard tree. Put commits the outboard before the data, so a visible data
// part always has its outboard beside it.
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/charter-dev/charter/content"
)

// Sentinel errors, matched with errors.Is.
var (
	// ErrNotFound reports a key that is not stored.
	ErrNotFound = errors.New("blob: not found")
	// ErrMismatch reports bytes whose content id is not the one the caller
	// expected; nothing was stored.
	ErrMismatch = errors.New("blob: content does not match the expected id")
	// ErrStop may be returned by an Enumerate callback to end the
	// enumeration early; Enumerate then returns nil.
	ErrStop = errors.New("blob: stop enumeration")
	// ErrClosed reports use of a staged write after Commit or Abort.
	ErrClosed = errors.New("blob: staged write already committed or aborted")
)

// Part names one of the two byte streams stored for a content id.
type Part uint8

const (
	// Data is the content itself.
	Data Part = iota
	// Outboard is the Bao outboard tree that verifies ranges of Data.
	Outboard
)

// String returns "data" or "outboard".
func (p Part) String() string {
	switch p {
	case Data:
		return "data"
	case Outboard:
		return "outboard"
	}
	return fmt.Sprintf("part(%d)", uint8(p))
}

// Valid reports whether p is Data or Outboard.
func (p Part) Valid() bool { return p == Data || p == Outboard }

// Key addresses one stored byte stream.
type Key struct {
	ID   content.ID
	Part Part
}

// String returns the id, followed by ".obao" for the outboard part.
func (k Key) String() string {
	if k.Part == Outboard {
		return k.ID.String() + ".obao"
	}
	return k.ID.String()
}

// Stager starts writes whose bytes stay invisible until committed.
type Stager interface {
	Stage(ctx context.Context) (Staged, error)
}

// KeyStager is a Stager that can also start a write whose key is known
// before its bytes, as when the caller declared the content id. A backend
// whose final key must be fixed when a write starts (an S3 multipart upload)
// then writes the bytes once, straight to that key. The staged bytes stay
// invisible until Commit, which must be given the same key (any other is an
// error); Put commits only after the computed id matched the declared one
// and aborts otherwise.
type KeyStager interface {
	Stager
	StageKey(ctx context.Context, k Key) (Staged, error)
}

// Staged is a write in progress. Bytes written to it are not visible under
// any key until Commit. Exactly one of Commit or Abort must be called; a
// second call of either returns ErrClosed (Abort after Commit is a no-op
// that returns nil, so it is safe to defer).
type Staged interface {
	io.Writer
	// Commit makes the written bytes visible under k atomically: a reader
	// sees either nothing or all of them. If k already exists, the existing
	// bytes are kept and the staged ones discarded (content addressing makes
	// them equal); that is not an error.
	Commit(ctx context.Context, k Key) error
	// Abort discards the staged bytes.
	Abort() error
}

// Reader reads one stored byte stream.
type Reader interface {
	io.ReaderAt
	io.ReadSeeker
	io.Closer
	// Size is the length of the stream in bytes.
	Size() int64
}

// Hinter is a Reader that can be told which bytes its caller will read
// next, so that a backend reading over the network asks for them in as few
// requests as it can and for nothing past them.
type Hinter interface {
	// Hint says the reads that follow lie in [off, end), in order.
	Hint(off, end int64)
}

// Hint tells r, if it is a Hinter, that the reads that follow lie in
// [off, end).
func Hint(r Reader, off, end int64) {
	if h, ok := r.(Hinter); ok {
		h.Hint(off, end)
	}
}

// Sender is a Reader that can write a range of its stream to a writer
// itself, without the bytes passing through the caller's buffers: an S3
// store on a plain-HTTP endpoint hands w's ReadFrom an *io.LimitedReader
// of the TCP connection it fetches them on, which a writer on a TCP
// socket moves with splice(2). The bytes are not verified, as with Open:
// the server sends them where its client verifies them (a split slice's
// data) or asked for them unverified (a raw Range download).
type Sender interface {
	// SendRange writes bytes [off, off+n) to w, calling w.Write and
	// w.ReadFrom if it has one, and fails if it could not write all n.
	SendRange(w io.Writer, off, n int64) (int64, error)
}

// Presigner is a Reader whose bytes a third party can fetch straight from
// the store, with a URL that allows exactly one range for a short time (an
// S3 store: a SigV4 presigned GET whose Range header is signed). The bytes
// are not verified, as with Open: a server hands such a URL only to a
// client that verifies what it fetches against the tree the server sent.
type Presigner interface {
	// PresignRange returns a URL for a GET of bytes [off, off+n) valid
	// for ttl, and the headers the GET must send as they are (Range
	// among them, unless the range is the whole blob); any other range
	// fails the store's signature check.
	PresignRange(ctx context.Context, off, n int64, ttl time.Duration) (url string, header http.Header, err error)
}

// Opener opens stored byte streams. The bytes are not verified: wrap them
// with content's verifying readers before trusting them.
type Opener interface {
	// Open returns ErrNotFound (wrapped) if k is not stored.
	Open(ctx context.Context, k Key) (Reader, error)
}

// Statter reports the size of stored byte streams.
type Statter interface {
	// Stat returns ErrNotFound (wrapped) if k is not stored.
	Stat(ctx context.Context, k Key) (int64, error)
}

// Enumerator lists stored content.
type Enumerator interface {
	// Enumerate calls fn for every id whose Data part is stored and whose
	// digest sorts strictly after after's digest (the zero ID starts at the
	// beginning), in ascending order of digest bytes, with the data size.
	// If fn returns ErrStop, Enumerate returns nil; any other error from fn
	// is returned as is. Ids committed or removed while Enumerate runs may
	// or may not be reported.
	Enumerate(ctx context.Context, after content.ID, fn func(id content.ID, size int64) error) error
}

// Remover deletes stored byte streams.
type Remover interface {
	// Remove returns ErrNotFound (wrapped) if k is not stored.
	Remove(ctx context.Context, k Key) error
}

// Store is a backend with every ability. Backends implement it; code that
// needs less should ask for less.
type Store interface {
	Stager
	Opener
	Statter
	Enumerator
	Remover
}

// Put is the one way bytes enter storage. It streams r through
// content.Ingest into two staged writes, one for the data and one for the
// Bao outboard, and commits them under the id Ingest computed, outboard
// first. If want is not nil and the computed id differs, Put returns
// ErrMismatch and keeps nothing. If want is not nil and s is a KeyStager,
// both writes are staged with StageKey under want's keys. On any error
// nothing new is made visible except, possibly, an outboard without its
// data (invisible to Enumerate, harmless, and reused by the next Put of the
// same content).
//
// If want is not nil, s is also a Statter, and both parts of want are
// already stored, Put returns at once without reading r.
func Put(ctx context.Context, s Stager, r io.Reader, want *content.ID) (content.Info, error) {
	if want != nil {
		if st, ok := s.(Statter); ok {
			if info, ok := have(ctx, st, *want); ok {
				return info, nil
			}
		}
	}
	stage := func(Part) (Staged, error) { return s.Stage(ctx) }
	if ks, ok := s.(KeyStager); ok && want != nil {
		stage = func(p Part) (Staged, error) { return ks.StageKey(ctx, Key{*want, p}) }
	}
	data, err := stage(Data)
	if err != nil {
		return content.Info{}, fmt.Errorf("blob: stage data: %w", err)
	}
	defer data.Abort()
	obao, err := stage(Outboard)
	if err != nil {
		return content.Info{}, fmt.Errorf("blob: stage outboard: %w", err)
	}
	defer obao.Abort()

	info, err := content.Ingest(ctx, r, data, obao)
	if err != nil {
		return content.Info{}, fmt.Errorf("blob: ingest: %w", err)
	}
	if want != nil && info.ID != *want {
		return content.Info{}, fmt.Errorf("%w: got %s, want %s", ErrMismatch, info.ID, *want)
	}
	if err := obao.Commit(ctx, Key{info.ID, Outboard}); err != nil {
		return content.Info{}, fmt.Errorf("blob: commit outboard of %s: %w", info.ID, err)
	}
	if err := data.Commit(ctx, Key{info.ID, Data}); err != nil {
		return content.Info{}, fmt.Errorf("blob: commit data of %s: %w", info.ID, err)
	}
	return info, nil
}

// have reports whether both parts of id are stored, and the data size.
func have(ctx context.Context, st Statter, id content.ID) (content.Info, bool) {
	size, err := st.Stat(ctx, Key{id, Data})
	if err != nil {
		return content.Info{}, false
	}
	if _, err := st.Stat(ctx, Key{id, Outboard}); err != nil {
		return content.Info{}, false
	}
	return content.Info{ID: id, Size: size}, true
}

// Delete removes both parts of id, data first, so that a visible data part
// keeps its outboard until the data is gone. It returns ErrNotFound
// (wrapped) if the data part was not stored; a missing outboard is ignored.
func Delete(ctx context.Context, r Remover, id content.ID) error {
	if err := r.Remove(ctx, Key{id, Data}); err != nil {
		return fmt.Errorf("blob: delete %s: %w", id, err)
	}
	if err := r.Remove(ctx, Key{id, Outboard}); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("blob: delete outboard of %s: %w", id, err)
	}
	return nil
}
