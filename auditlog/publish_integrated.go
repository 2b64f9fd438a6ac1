package auditlog

import (
	"context"
	"fmt"
)

// PublishIntegrated makes sure a published checkpoint covers every entry
// integrated into the tree, and returns that checkpoint. On a log several
// processes share (tessera's MySQL driver), a process that died after its
// entries were integrated but before a checkpoint covered them leaves them
// unreadable (readers verify against a checkpoint) until some appender
// publishes: this starts this process's appender, which publishes within
// about CheckpointInterval, and waits for it. When the checkpoint already
// covers the tree it only reads it.
func (l *Log) PublishIntegrated(ctx context.Context) (Checkpoint, error) {
	size, err := l.reader.IntegratedSize(ctx)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("auditlog: integrated size: %w", err)
	}
	if cp, err := l.Checkpoint(ctx); err == nil && cp.Size >= size {
		return cp, nil
	}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return Checkpoint{}, ErrClosed
	}
	_, err = l.acquire()
	l.mu.RUnlock()
	if err != nil {
		return Checkpoint{}, err
	}
	defer l.release()
	return l.AwaitCheckpoint(ctx, size)
}
