package auditlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/client"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
)

// Defaults for Options, tuned on a 2-core machine for the targets in
// docs/performance/auditlog.md (>= 8,000 durable appends/s with concurrent
// writers; append-and-prove p50 <= 400 ms).
const (
	DefaultBatchMaxSize       = 4096
	DefaultBatchMaxAge        = 20 * time.Millisecond
	DefaultCheckpointInterval = 100 * time.Millisecond // the POSIX driver's minimum
	DefaultPollInterval       = 10 * time.Millisecond
	DefaultHTTPPrefix         = "/log"
)

// Options tune a Log. The zero value is valid.
type Options struct {
	// VerifierKey is the note verifier key of the signer. It is needed only
	// when the signer passed to Open has no VerifierKey method (a *Signer
	// from this package has one).
	VerifierKey string
	// BatchMaxSize and BatchMaxAge bound a sequencing batch: a batch is
	// written (and fsynced) when it holds BatchMaxSize entries or its first
	// entry has waited BatchMaxAge.
	BatchMaxSize uint
	BatchMaxAge  time.Duration
	// CheckpointInterval is how often a new checkpoint is signed when the
	// tree has grown (at least 100ms).
	CheckpointInterval time.Duration
	// PollInterval bounds how long a caller waiting for a checkpoint
	// (AppendAndProve, AwaitCheckpoint) may miss one published by another
	// process sharing the log. Checkpoints this process signs are seen
	// within about a millisecond of being stored, and an idle log does not
	// read its checkpoint at all (see publication).
	PollInterval time.Duration
	// HTTPPrefix is the path under which Handler serves the log.
	HTTPPrefix string
	// IdleAfter is how long after its last append the log stops tessera's
	// appender, whose timers would otherwise wake the process ten times a
	// second; the next append starts it again (a few milliseconds). Zero
	// means DefaultIdleAfter.
	IdleAfter time.Duration
}

func (o *Options) fill() {
	if o.BatchMaxSize == 0 {
		o.BatchMaxSize = DefaultBatchMaxSize
	}
	if o.BatchMaxAge == 0 {
		o.BatchMaxAge = DefaultBatchMaxAge
	}
	if o.CheckpointInterval == 0 {
		o.CheckpointInterval = DefaultCheckpointInterval
	}
	if o.PollInterval == 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.HTTPPrefix == "" {
		o.HTTPPrefix = DefaultHTTPPrefix
	}
	if o.IdleAfter == 0 {
		o.IdleAfter = DefaultIdleAfter
	}
}

// Log is an open transparency log stored in a directory. Its methods are
// safe for concurrent use. A directory must be open by one Log at a time.
type Log struct {
	dir      string
	opts     Options
	vkey     string
	verifier note.Verifier

	name string // the storage, for messages: a directory or a database
	// closeStorage releases the storage (a database pool), or is nil.
	closeStorage func() error
	reader       tessera.LogReader
	pub          *publication
	base         context.Context // of the log's background work
	cancel       context.CancelFunc
	driver       appendDriver
	topts        *tessera.AppendOptions

	// amu guards the running appender: started by the first append after
	// the log went idle, stopped IdleAfter after the last (appender.go).
	amu      sync.Mutex
	run      *appenderRun
	inflight int         // appends whose index is not known yet
	lastAdd  time.Time   // when the last append got its index
	idle     *time.Timer // runs sleepIfIdle
	sleepErr error       // the last failed idle shutdown, for tests

	mu     sync.RWMutex
	closed bool

	// trees keeps the hashed subtrees of the tiles ProveEntryUnder read.
	trees tileTrees

	// lastCp is the last checkpoint openOwnCheckpoint verified.
	cpMu   sync.Mutex
	lastCp Checkpoint
}

// Receipt is what AppendAndProve and ProveInclusion return: an entry, its
// index and a C2SP tlog-proof of its inclusion under a signed checkpoint.
// VerifyReceipt(r.Entry, r.Proof, vkey) checks it offline.
type Receipt struct {
	Index      uint64
	Entry      []byte // the encoded entry (EncodeEntry)
	Proof      []byte // C2SP tlog-proof text
	Checkpoint Checkpoint
}

// Open opens the log in dir (tessera's POSIX driver), creating it when dir
// holds no log. Checkpoints are signed by signer, whose name is the log's
// origin. An existing log must have been created with the same key. Close
// the Log to flush pending work. OpenURL opens a log on another driver.
func Open(ctx context.Context, dir string, signer note.Signer, opts Options) (*Log, error) {
	v, vkey, err := verifierOf(signer, opts)
	if err != nil {
		return nil, err
	}
	driver, err := posix.New(ctx, posix.Config{Path: dir})
	if err != nil {
		return nil, fmt.Errorf("auditlog: open %s: %w", dir, err)
	}
	return open(ctx, storage{
		name:     dir,
		dir:      dir,
		driver:   driver.(appendDriver),
		existing: func(context.Context) ([]byte, error) { return readCheckpointFile(dir) },
	}, signer, v, vkey, opts)
}

// storage is what open needs of a tessera driver.
type storage struct {
	name     string // for messages: a directory, or "MySQL database NAME"
	dir      string // the POSIX directory, or ""
	driver   appendDriver
	existing func(context.Context) ([]byte, error) // the stored checkpoint, fs.ErrNotExist if none
	close    func() error                          // releases the storage, or nil
	// spaced: the driver publishes a checkpoint at most every
	// CheckpointInterval whichever process publishes it (publication's
	// quiet).
	spaced bool
}

// verifierOf returns the verifier of signer's checkpoints.
func verifierOf(signer note.Signer, opts Options) (note.Verifier, string, error) {
	if signer == nil {
		return nil, "", fmt.Errorf("%w: no signer", ErrKey)
	}
	vkey := opts.VerifierKey
	if s, ok := signer.(interface{ VerifierKey() string }); ok {
		vkey = s.VerifierKey()
	}
	if vkey == "" {
		return nil, "", fmt.Errorf("%w: verifier key unknown\nhint: load the key with auditlog.LoadKey or set Options.VerifierKey", ErrKey)
	}
	v, err := NewVerifier(vkey)
	if err != nil {
		return nil, "", err
	}
	if err := checkKeyPair(signer, v); err != nil {
		return nil, "", err
	}
	return v, vkey, nil
}

// open opens a log on st; on error it releases st.
func open(ctx context.Context, st storage, signer note.Signer, v note.Verifier, vkey string, opts Options) (l *Log, err error) {
	defer func() {
		if err != nil && st.close != nil {
			st.close()
		}
	}()
	opts.fill()
	l = &Log{dir: st.dir, name: st.name, opts: opts, vkey: vkey, verifier: v, driver: st.driver, closeStorage: st.close}
	// An existing log must carry our signature: a log is bound to its key.
	if raw, err := st.existing(ctx); err == nil {
		if _, err := OpenCheckpoint(raw, v); err != nil {
			return nil, fmt.Errorf("auditlog: open %s: %w\nhint: a log keeps the key it was created with", st.name,
				&TamperedError{File: layout.CheckpointPath, Entry: -1, Problem: "does not verify with the log's key: " + err.Error(), cause: err})
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("auditlog: open %s: %w", st.name, err)
	}

	l.base, l.cancel = context.WithCancel(context.WithoutCancel(ctx))
	l.pub = newPublication(l.readPublished, opts.PollInterval)
	if st.spaced {
		l.pub.quiet = opts.CheckpointInterval
	}
	l.topts = tessera.NewAppendOptions().
		WithCheckpointSigner(signalSigner{Signer: signer, signed: l.pub.signedSize}).
		WithBatching(opts.BatchMaxSize, opts.BatchMaxAge).
		WithCheckpointInterval(opts.CheckpointInterval)
	// The first appender initialises a new log and publishes its first
	// checkpoint; its reader serves every read, appender or not.
	r, err := l.startAppender()
	if err != nil {
		l.cancel()
		return nil, fmt.Errorf("auditlog: open %s: %w", st.name, err)
	}
	l.run, l.reader, l.lastAdd = r, r.reader, time.Now()
	l.amu.Lock() // the idle timer may fire before armIdle has stored it
	l.armIdle(opts.IdleAfter)
	l.amu.Unlock()
	l.trees.r = l.reader
	go l.pub.follow(l.base)
	l.pub.wake() // read the checkpoint a previous run left, once
	return l, nil
}

// checkKeyPair makes sure v verifies what signer signs.
func checkKeyPair(signer note.Signer, v note.Verifier) error {
	msg, err := note.Sign(&note.Note{Text: "auditlog key check\n"}, signer)
	if err != nil {
		return fmt.Errorf("%w: signer: %v", ErrKey, err)
	}
	if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
		return fmt.Errorf("%w: verifier key does not match the signer: %v", ErrKey, err)
	}
	return nil
}

// Origin is the log's origin (its key name).
func (l *Log) Origin() string { return l.verifier.Name() }

// VerifierKey is the note verifier key of the log, served at /log/key.
func (l *Log) VerifierKey() string { return l.vkey }

// Verifier is the note verifier of the log's checkpoints.
func (l *Log) Verifier() note.Verifier { return l.verifier }

// Close waits until every appended entry is covered by a published
// checkpoint (or ctx ends), then stops the log's background work.
func (l *Log) Close(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	err := l.stopAppender(ctx)
	l.cancel()
	close(l.pub.done)
	if l.closeStorage != nil {
		err = errors.Join(err, l.closeStorage())
	}
	if err != nil {
		return fmt.Errorf("auditlog: close: %w", err)
	}
	return nil
}

// add queues an encoded entry. The caller holds l.mu for reading, and
// calls done once the future resolved.
func (l *Log) add(ctx context.Context, typ string, payload []byte) (b []byte, fut tessera.IndexFuture, done func(), err error) {
	if l.closed {
		return nil, nil, nil, ErrClosed
	}
	b, err = EncodeEntry(typ, payload)
	if err != nil {
		return nil, nil, nil, err
	}
	r, err := l.acquire()
	if err != nil {
		return nil, nil, nil, err
	}
	return b, r.app.Add(ctx, tessera.NewEntry(b)), l.release, nil
}

// Append adds an entry of type typ carrying payload (a signed statement)
// and returns its index once the entry is durably sequenced and integrated
// into the tree (written and fsynced); a checkpoint covering it follows
// within about CheckpointInterval. Errors wrap ErrBadType, ErrMalformed,
// ErrTooLarge or ErrClosed.
func (l *Log) Append(ctx context.Context, typ string, payload []byte) (uint64, error) {
	l.mu.RLock()
	_, fut, done, err := l.add(ctx, typ, payload)
	l.mu.RUnlock()
	if err != nil {
		return 0, err
	}
	idx, err := fut()
	done()
	if err != nil {
		return 0, fmt.Errorf("auditlog: append: %w", err)
	}
	return idx.Index, nil
}

// AppendAndProve is Append, returning only once a signed checkpoint covers
// the entry, with the receipt proving its inclusion.
func (l *Log) AppendAndProve(ctx context.Context, typ string, payload []byte) (Receipt, error) {
	l.mu.RLock()
	b, fut, done, err := l.add(ctx, typ, payload)
	l.mu.RUnlock()
	if err != nil {
		return Receipt{}, err
	}
	idx, err := fut()
	done()
	if err != nil {
		return Receipt{}, fmt.Errorf("auditlog: append: %w", err)
	}
	cp, err := l.AwaitCheckpoint(ctx, idx.Index+1)
	if err != nil {
		return Receipt{}, fmt.Errorf("auditlog: append: %w", err)
	}
	return l.receipt(ctx, newProver(ctx, l.reader, cp.Size), cp, idx.Index, b)
}

// receipt builds and checks the inclusion proof of entry at index under cp.
func (l *Log) receipt(ctx context.Context, pr *prover, cp Checkpoint, index uint64, entry []byte) (Receipt, error) {
	hashes, err := pr.inclusion(ctx, index)
	if err != nil {
		return Receipt{}, err
	}
	if err := verifyInclusion(index, LeafHash(entry), hashes, cp); err != nil {
		return Receipt{}, tampered("", int64(index), "is not proved by the tiles: %s", rootMismatch(err))
	}
	p := Proof{Index: index, Hashes: hashes, Checkpoint: cp.Raw}
	return Receipt{Index: index, Entry: entry, Proof: p.Marshal(), Checkpoint: cp}, nil
}

// Checkpoint returns the latest published checkpoint, verified.
func (l *Log) Checkpoint(ctx context.Context) (Checkpoint, error) {
	raw, err := l.reader.ReadCheckpoint(ctx)
	if err != nil {
		return Checkpoint{}, readErr(layout.CheckpointPath, -1, err)
	}
	return l.openOwnCheckpoint(raw)
}

// AwaitCheckpoint returns the latest published checkpoint once it covers
// at least size entries (verified, like Checkpoint). It returns when ctx
// ends, when the Log is closed (ErrClosed) or when the stored checkpoint
// does not verify (ErrTampered). Waiting costs no polling for checkpoints
// this process publishes: the log's signer signals them.
func (l *Log) AwaitCheckpoint(ctx context.Context, size uint64) (Checkpoint, error) {
	return l.pub.await(ctx, size)
}

// readPublished reads the stored checkpoint for the publication: a log
// that has published none yet gives ErrNotFound.
func (l *Log) readPublished(ctx context.Context) (Checkpoint, error) {
	raw, err := l.reader.ReadCheckpoint(ctx)
	if errors.Is(err, fs.ErrNotExist) {
		return Checkpoint{}, fmt.Errorf("%w: no checkpoint published yet", ErrNotFound)
	}
	if err != nil {
		return Checkpoint{}, readErr(layout.CheckpointPath, -1, err)
	}
	return l.openOwnCheckpoint(raw)
}

// openOwnCheckpoint opens a checkpoint read from our own storage; one that
// does not verify was tampered with. The same bytes read again (the
// publication reads the checkpoint every few milliseconds while callers
// wait for a larger one) are not verified again.
func (l *Log) openOwnCheckpoint(raw []byte) (Checkpoint, error) {
	l.cpMu.Lock()
	last := l.lastCp
	l.cpMu.Unlock()
	if last.Raw != nil && bytes.Equal(last.Raw, raw) {
		return last, nil
	}
	cp, err := OpenCheckpoint(raw, l.verifier)
	if err != nil {
		return Checkpoint{}, &TamperedError{File: layout.CheckpointPath, Entry: -1, Problem: "does not verify: " + err.Error(), cause: err}
	}
	l.cpMu.Lock()
	if cp.Size >= l.lastCp.Size {
		l.lastCp = cp
	}
	l.cpMu.Unlock()
	return cp, nil
}

// ProveInclusion returns a receipt for the entry at index under the latest
// checkpoint. Errors wrap ErrNotFound or ErrTampered.
func (l *Log) ProveInclusion(ctx context.Context, index uint64) (Receipt, error) {
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		return Receipt{}, err
	}
	if index >= cp.Size {
		return Receipt{}, fmt.Errorf("%w: index %d, checkpoint size %d", ErrNotFound, index, cp.Size)
	}
	pr := newProver(ctx, l.reader, cp.Size)
	entries, err := verifiedBundle(ctx, l.reader, pr, cp, index/bundleWidth)
	if err != nil {
		return Receipt{}, err
	}
	return l.receipt(ctx, pr, cp, index, entries[index%bundleWidth])
}

// ProveEntry is ProveInclusion for an entry whose type and payload the
// caller holds, typically because it appended them: the inclusion proof is
// checked against the leaf hash of those bytes, so the entry bundle need not
// be read back and re-verified. Errors wrap ErrNotFound (no checkpoint
// covers index yet) or ErrTampered (the tiles do not prove those bytes at
// index).
func (l *Log) ProveEntry(ctx context.Context, index uint64, typ string, payload []byte) (Receipt, error) {
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		return Receipt{}, err
	}
	return l.ProveEntryUnder(ctx, cp, index, typ, payload)
}

// ProveEntryUnder is ProveEntry under a checkpoint the caller already
// verified (from Checkpoint). Tiles, which never change once written, are
// read through a small cache; every proof is still checked against cp.
func (l *Log) ProveEntryUnder(ctx context.Context, cp Checkpoint, index uint64, typ string, payload []byte) (Receipt, error) {
	entry, err := EncodeEntry(typ, payload)
	if err != nil {
		return Receipt{}, err
	}
	if index >= cp.Size {
		return Receipt{}, fmt.Errorf("%w: index %d, checkpoint size %d", ErrNotFound, index, cp.Size)
	}
	hashes, err := l.trees.inclusion(ctx, index, cp.Size)
	if err != nil {
		return Receipt{}, err
	}
	if err := verifyInclusion(index, LeafHash(entry), hashes, cp); err != nil {
		return Receipt{}, tampered("", int64(index), "is not proved by the tiles: %s", rootMismatch(err))
	}
	p := Proof{Index: index, Hashes: hashes, Checkpoint: cp.Raw}
	return Receipt{Index: index, Entry: entry, Proof: p.Marshal(), Checkpoint: cp}, nil
}

// ConsistencyProof proves that the latest checkpoint extends the tree of
// size oldSize. Errors wrap ErrNotFound when oldSize is beyond it.
func (l *Log) ConsistencyProof(ctx context.Context, oldSize uint64) (Consistency, error) {
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		return Consistency{}, err
	}
	if oldSize > cp.Size {
		return Consistency{}, fmt.Errorf("%w: size %d is beyond the checkpoint size %d", ErrNotFound, oldSize, cp.Size)
	}
	c := Consistency{OldSize: oldSize, Checkpoint: cp.Raw}
	if oldSize == 0 || oldSize == cp.Size {
		return c, nil
	}
	c.Hashes, err = newProver(ctx, l.reader, cp.Size).consistency(ctx, oldSize)
	if err != nil {
		return Consistency{}, err
	}
	return c, nil
}

// readErr wraps an error from reading the log's storage: a resource that
// the checkpoint says exists and is missing means tampering.
func readErr(file string, entry int64, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return tampered(file, entry, "is missing, though the signed checkpoint covers it")
	}
	return fmt.Errorf("auditlog: %s: %w", file, err)
}

// prover builds proofs from the log's tiles for one tree size. It is not
// safe for concurrent use.
type prover struct {
	size uint64
	pb   *client.ProofBuilder
	err  error // first storage fault seen by the tile reader
}

func newProver(ctx context.Context, r TileReader, size uint64) *prover {
	pr := &prover{size: size}
	read := func(ctx context.Context, level, index uint64, p uint8) ([]byte, error) {
		b, err := r.ReadTile(ctx, level, index, p)
		if err != nil {
			if pr.err == nil {
				pr.err = readErr(layout.TilePath(level, index, p), -1, err)
			}
			return nil, err
		}
		want := int(p)
		if want == 0 {
			want = bundleWidth
		}
		if len(b)%HashSize != 0 || len(b)/HashSize < want {
			err := tampered(layout.TilePath(level, index, p), -1, "holds %d bytes, the tree needs %d hashes", len(b), want)
			if pr.err == nil {
				pr.err = err
			}
			return nil, err
		}
		return b, nil
	}
	// NewProofBuilder cannot fail: it only allocates.
	pr.pb, _ = client.NewProofBuilder(ctx, size, read)
	return pr
}

func (pr *prover) fail(what string, err error) error {
	if pr.err != nil {
		return pr.err
	}
	return fmt.Errorf("auditlog: %s: %w", what, err)
}

func (pr *prover) inclusion(ctx context.Context, index uint64) ([][]byte, error) {
	h, err := pr.pb.InclusionProof(ctx, index)
	if err != nil {
		return nil, pr.fail("inclusion proof", err)
	}
	return h, nil
}

func (pr *prover) consistency(ctx context.Context, oldSize uint64) ([][]byte, error) {
	h, err := pr.pb.ConsistencyProof(ctx, oldSize, pr.size)
	if err != nil {
		return nil, pr.fail("consistency proof", err)
	}
	return h, nil
}
