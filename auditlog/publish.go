package auditlog

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/transparency-dev/tessera"
	"golang.org/x/mod/sumdb/note"
)

// firstPoll is the first delay between reads of the checkpoint after this
// process signed one: the signed note reaches storage a moment after it is
// signed (a file rename, or a database commit).
const firstPoll = time.Millisecond

// publication follows the log's published checkpoint without polling while
// the log is idle. Tessera calls the checkpoint signer exactly when it
// publishes a new checkpoint; the signer is wrapped (signalSigner) so that
// the follower learns of it and reads the stored checkpoint until the
// signed size is visible, starting 1 ms after the signature and backing off
// to Options.PollInterval. It also reads while callers wait for a size no
// checkpoint of this process covers yet (another process sharing the log
// may publish it), at most every PollInterval. With no caller waiting and
// nothing signed it sleeps on a channel: an idle log does no work here.
type publication struct {
	read  func(context.Context) (Checkpoint, error) // the verified stored checkpoint
	every time.Duration                             // the longest delay between reads

	mu      sync.Mutex
	cp      Checkpoint    // latest verified checkpoint read
	err     error         // a tampered checkpoint, until a good one is read
	signed  uint64        // largest size this process signed
	waiting int           // callers waiting for a size cp does not cover
	changed chan struct{} // closed and replaced when cp or err changes
	kick    chan struct{} // wakes the follower; capacity 1
	done    chan struct{} // closed when the log closes
}

func newPublication(read func(context.Context) (Checkpoint, error), every time.Duration) *publication {
	return &publication{
		read:    read,
		every:   every,
		changed: make(chan struct{}),
		kick:    make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
}

func (p *publication) wake() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// signedSize records that a checkpoint of size was signed.
func (p *publication) signedSize(size uint64) {
	p.mu.Lock()
	p.signed = max(p.signed, size)
	p.mu.Unlock()
	p.wake()
}

// needed reports whether the follower should read the checkpoint again.
func (p *publication) needed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.waiting > 0 || p.signed > p.cp.Size
}

// follow runs until ctx ends.
func (p *publication) follow(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.kick:
		}
		for delay := firstPoll; ; delay = min(2*delay, p.every) {
			p.update(ctx)
			if !p.needed() {
				break
			}
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-p.kick:
				t.Stop()
				delay = firstPoll / 2 // a new signature: start over
			case <-t.C:
			}
		}
	}
}

// update reads the stored checkpoint once and tells waiters when it grew.
func (p *publication) update(ctx context.Context) {
	cp, err := p.read(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case err == nil && (cp.Size > p.cp.Size || p.cp.Raw == nil || p.err != nil):
		p.cp, p.err = cp, nil
	case err != nil && errors.Is(err, ErrTampered) && p.err == nil:
		p.err = err
	default:
		return
	}
	close(p.changed)
	p.changed = make(chan struct{})
}

// await returns a verified checkpoint of at least size entries.
func (p *publication) await(ctx context.Context, size uint64) (Checkpoint, error) {
	counted := false
	defer func() {
		if counted {
			p.mu.Lock()
			p.waiting--
			p.mu.Unlock()
		}
	}()
	for {
		p.mu.Lock()
		cp, err, ch := p.cp, p.err, p.changed
		if cp.Raw != nil && cp.Size >= size {
			p.mu.Unlock()
			return cp, nil
		}
		if !counted {
			p.waiting++
			counted = true
		}
		p.mu.Unlock()
		if err != nil {
			return Checkpoint{}, err
		}
		p.wake()
		select {
		case <-ctx.Done():
			return Checkpoint{}, ctx.Err()
		case <-p.done:
			return Checkpoint{}, ErrClosed
		case <-ch:
		}
	}
}

// signalSigner is the checkpoint signer handed to tessera: it signs with
// the log's key and tells the publication which size it signed.
type signalSigner struct {
	note.Signer
	signed func(size uint64)
}

func (s signalSigner) Sign(msg []byte) ([]byte, error) {
	sig, err := s.Signer.Sign(msg)
	if err == nil {
		if size, ok := checkpointSize(msg); ok {
			s.signed(size)
		}
	}
	return sig, err
}

// checkpointSize reads the size line of a checkpoint body.
func checkpointSize(body []byte) (uint64, bool) {
	_, rest, ok := bytes.Cut(body, []byte("\n"))
	if !ok {
		return 0, false
	}
	line, _, ok := bytes.Cut(rest, []byte("\n"))
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(string(line), 10, 64)
	return n, err == nil
}

// appendDriver is the lifecycle a tessera storage driver implements.
type appendDriver interface {
	Appender(context.Context, *tessera.AppendOptions) (*tessera.Appender, tessera.LogReader, error)
}

// quietDriver hands tessera a reader whose IntegratedSize and NextIndex
// answer from memory. Tessera calls them every 100 ms for its metrics
// gauges only (integrationStats.updateStats), which Charter does not
// export; on the POSIX driver each call reads and parses a state file, and
// on MySQL each is a query, so an idle log would do I/O ten times a
// second for nothing. Everything else reads the driver.
type quietDriver struct {
	d    appendDriver
	size func() uint64
}

func (q quietDriver) Appender(ctx context.Context, o *tessera.AppendOptions) (*tessera.Appender, tessera.LogReader, error) {
	a, r, err := q.d.Appender(ctx, o)
	if err != nil {
		return nil, nil, err
	}
	return a, quietReader{LogReader: r, size: q.size}, nil
}

type quietReader struct {
	tessera.LogReader
	size func() uint64
}

func (r quietReader) IntegratedSize(context.Context) (uint64, error) { return r.size(), nil }
func (r quietReader) NextIndex(context.Context) (uint64, error)      { return r.size(), nil }

// size is the size of the latest checkpoint the publication read.
func (p *publication) size() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cp.Size
}
