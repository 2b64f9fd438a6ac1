package server

import (
	"context"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/registry"
)

// How replicas apply the shared log (docs/design/decisions.md,
// "Replicas"): each replica's Sequencer follows the catalog's applied
// watermark (registry/follow.go), so it applies its own entries and skips
// those others applied; the follower below covers a replica with no
// requests of its own: it tails the watermark and the log's checkpoint and
// applies what stays unapplied for registry.GapWait (a replica died
// between append and apply, or mid-apply).

// followEvery is how often a replica compares the catalog's watermark with
// the log.
const followEvery = 250 * time.Millisecond

// follow keeps the shared catalog up with the log when nobody applies
// what was appended: every followEvery it looks at the watermark, and when
// the watermark stayed below the log's size for GapWait it applies the
// missing entries from the log (registry.Replay). It looks at the
// watermark as announced (replicaState.watched: no query while the
// announcements arrive); one announced late only makes it look at the log
// later, and Replay applies only what the catalog holds as unapplied.
func (s *Server) follow(ctx context.Context) {
	t := time.NewTicker(followEvery)
	defer t.Stop()
	var last uint64
	var since time.Time
	watermark := s.rep.watched
	if watermark == nil {
		watermark = s.rep.gen
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w, err := watermark(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("follower: reading the catalog's applied watermark", "err", err)
			}
			continue
		}
		if w != last || since.IsZero() {
			last, since = w, time.Now()
			continue
		}
		if time.Since(since) < registry.GapWait {
			continue
		}
		since = time.Now()
		cp, err := s.tlog.Checkpoint(ctx)
		if err == nil && cp.Size <= w {
			// A replica that died after its entries were integrated may
			// have left no checkpoint covering them: publish one.
			cp, err = s.tlog.PublishIntegrated(ctx)
		}
		if err != nil || cp.Size <= w {
			continue
		}
		s.log.Warn("follower: log entries left unapplied: applying them from the log", "from", w, "to", cp.Size)
		if _, n, err := s.reg.Replay(ctx, s.cat, s.tlog); err != nil {
			if ctx.Err() == nil {
				s.log.Error("follower: applying log entries", "err", err)
			}
		} else if n > 0 {
			s.forgetAssets()
		}
	}
}

// sharedAsset is assetRecord on a replica: another replica's apply does
// not reach this process's forgetAssets, so a cached record is used only
// while the catalog's generation (its applied watermark, which every
// applied entry moves, in the entry's transaction) is the one it was read
// at. A record read after the generation is at least as new as it.
func (s *Server) sharedAsset(ctx context.Context, id asset.ID) (*catalog.AssetRecord, error) {
	gen, err := s.rep.gen(ctx)
	if err != nil {
		return nil, err
	}
	return s.sharedAssetAt(ctx, id, gen)
}

// sharedAssetAt is sharedAsset at a generation the caller read after its
// request arrived.
func (s *Server) sharedAssetAt(ctx context.Context, id asset.ID, gen uint64) (*catalog.AssetRecord, error) {
	if v, ok := s.rep.assets.Load(id); ok {
		if c := v.(cachedAsset); c.gen == gen {
			return c.rec, nil
		}
	}
	rec, err := s.cat.Asset(ctx, id)
	if err != nil {
		return nil, err
	}
	s.rep.assets.Store(id, cachedAsset{gen: gen, rec: rec})
	return rec, nil
}

type cachedAsset struct {
	gen uint64
	rec *catalog.AssetRecord
}
