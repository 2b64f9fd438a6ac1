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
//
// On a log whose checkpoints are published at most every interval by any of
// the processes sharing it (tessera's MySQL driver: it refuses to publish
// sooner than the interval after the stored checkpoint's time), a process
// that saw another's checkpoint appear between two close reads knows the
// next one cannot appear before about interval after the first of them,
// and does not read before then (quiet); a signature of its own is read at
// once all the same. Callers arriving while it polls do not restart its
// back-off. Without this, every replica read the checkpoint tens of times
// a second under load, each new waiter restarting the 1 ms back-off.
type publication struct {
	read  func(context.Context) (Checkpoint, error) // the verified stored checkpoint
	every time.Duration                             // the longest delay between reads
	quiet time.Duration                             // the shortest time between publications; 0 if unknown

	mu        sync.Mutex
	cp        Checkpoint    // latest verified checkpoint read
	err       error         // a tampered checkpoint, until a good one is read
	signed    uint64        // largest size this process signed
	signedAt  time.Time     // when it signed it
	waiting   int           // callers waiting for a size cp does not cover
	lastRead  time.Time     // when the last read started
	notBefore time.Time     // no checkpoint of another process before then (quiet)
	changed   chan struct{} // closed and replaced when cp or err changes
	kick      chan struct{} // wakes the follower; capacity 1
	done      chan struct{} // closed when the log closes
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
	if size > p.signed {
		p.signedAt = time.Now()
	}
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

// unseenSignature reports whether this process signed a checkpoint that
// was not read back yet.
func (p *publication) unseenSignature() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.signed > p.cp.Size
}

// quietFor is how long no other process can publish a checkpoint (see
// publication), unless this one signed one not read back yet.
func (p *publication) quietFor() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.signed > p.cp.Size || p.notBefore.IsZero() {
		return 0
	}
	return time.Until(p.notBefore)
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
			wait := p.quietFor()
			if wait <= 0 {
				p.update(ctx)
				if !p.needed() {
					break
				}
				wait = delay
			}
			t := time.NewTimer(wait)
		sleep:
			for {
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-p.kick:
					if p.unseenSignature() {
						t.Stop()
						delay = firstPoll / 2 // a new signature: start over
						break sleep
					}
					// A new waiter: keep the pace.
				case <-t.C:
					break sleep
				}
			}
		}
	}
}

// update reads the stored checkpoint once and tells waiters when it grew.
func (p *publication) update(ctx context.Context) {
	start := time.Now()
	cp, err := p.read(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	prev := p.lastRead
	p.lastRead = start
	switch {
	case err == nil && (cp.Size > p.cp.Size || p.cp.Raw == nil || p.err != nil):
		switch {
		case p.quiet == 0:
		case cp.Size == p.signed:
			// Ours, published after it was signed.
			p.notBefore = p.signedAt.Add(p.quiet - p.every)
		case cp.Size > p.signed && p.cp.Raw != nil && !prev.IsZero() && start.Sub(prev) <= 2*p.every:
			// Another process published between prev and start: not
			// again before about prev+quiet (less a read's margin).
			p.notBefore = prev.Add(p.quiet - p.every)
		}
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
