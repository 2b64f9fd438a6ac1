package auditlog

import (
	"context"
	"fmt"
	"time"

	"github.com/transparency-dev/tessera"
)

// DefaultIdleAfter is how long a log waits after its last append before it
// stops tessera's appender (see Options.IdleAfter).
const DefaultIdleAfter = time.Second

// appenderRun is one running tessera appender: its Add, its shutdown and the
// context of its background work (sequencing, integration, checkpoint
// publication, metrics).
type appenderRun struct {
	app      *tessera.Appender
	shutdown func(context.Context) error
	cancel   context.CancelFunc
	reader   tessera.LogReader
}

// startAppender starts a tessera appender on the log's driver.
func (l *Log) startAppender() (*appenderRun, error) {
	bg, cancel := context.WithCancel(l.base)
	app, shutdown, qr, err := tessera.NewAppender(bg, quietDriver{d: l.driver, size: l.pub.size}, l.topts)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("auditlog: start appending to %s: %w", l.name, err)
	}
	return &appenderRun{app: app, shutdown: shutdown, cancel: cancel, reader: qr.(quietReader).LogReader}, nil
}

// acquire returns the running appender, starting one when the log sleeps,
// and counts the caller as in flight until it calls release.
func (l *Log) acquire() (*appenderRun, error) {
	l.amu.Lock()
	defer l.amu.Unlock()
	if l.run == nil {
		r, err := l.startAppender()
		if err != nil {
			return nil, err
		}
		l.run = r
	}
	l.inflight++
	return l.run, nil
}

// release ends an append started by acquire (its index future resolved)
// and arms the idle timer.
func (l *Log) release() {
	l.amu.Lock()
	defer l.amu.Unlock()
	l.inflight--
	l.lastAdd = time.Now()
	l.armIdle(l.opts.IdleAfter)
}

// armIdle schedules sleepIfIdle; l.amu is held.
func (l *Log) armIdle(after time.Duration) {
	if l.idle == nil {
		l.idle = time.AfterFunc(after, l.sleepIfIdle)
	}
}

// sleepIfIdle stops the appender once no append is in flight and none came
// for IdleAfter: tessera's appender wakes ten times a second to publish
// checkpoints and sample metrics even when nothing is appended, and an idle
// server should not use the CPU. Its shutdown waits until a published
// checkpoint covers every entry appended, so nothing is left unpublished;
// appends arriving meanwhile wait, then start a new appender.
func (l *Log) sleepIfIdle() {
	l.amu.Lock()
	defer l.amu.Unlock()
	l.idle = nil
	if l.run == nil {
		return
	}
	if l.inflight > 0 {
		return // their release re-arms
	}
	if wait := l.opts.IdleAfter - time.Since(l.lastAdd); wait > 0 {
		l.armIdle(wait)
		return
	}
	r := l.run
	l.run = nil
	ctx, cancel := context.WithTimeout(l.base, 30*time.Second)
	defer cancel()
	if err := r.shutdown(ctx); err != nil {
		// The entries are sequenced; the next appender publishes them.
		l.sleepErr = err
	}
	r.cancel()
}

// stopAppender stops the running appender, if any, for Close.
func (l *Log) stopAppender(ctx context.Context) error {
	l.amu.Lock()
	defer l.amu.Unlock()
	if l.idle != nil {
		l.idle.Stop()
		l.idle = nil
	}
	r := l.run
	l.run = nil
	if r == nil {
		return nil
	}
	err := r.shutdown(ctx)
	r.cancel()
	return err
}
