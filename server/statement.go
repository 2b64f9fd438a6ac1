package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/identity"
)

// Every handler of a signed statement (a registration, proposal or
// approval, a grant request, vote or revocation, a usage report, a dispute
// or resolution, a deposit or withdrawal) starts the same way, in receive:
// read the DSSE envelope from the body, open it with the statement's
// package (signatures verified, payload strictly parsed and canonical),
// check that it names the route's {id}, check it on its own, and take the
// lock its changes are validated and logged under. What differs per kind
// of statement is declared once, in an intake; the handler then looks up
// what its statement needs under the lock, appends it (received.commit)
// and answers.

// An intake declares how the handler of one kind of statement receives
// it.
type intake[T any] struct {
	// open verifies the envelope and parses the statement (its package's
	// Open function).
	open func(*identity.Envelope) (opened[T], error)
	// path names the route's {id} in problems ("asset", "proposal"...);
	// "" for a route without one.
	path string
	// names returns the id the statement names in the route's {id};
	// wrong is the problem when it names another.
	names func(opened[T]) asset.ID
	wrong func(names, path asset.ID) error
	// check, when set, checks the statement on its own (freshness, a
	// reason's length), after the path.
	check func(T) error
	// lock, when set, returns the key the statement's changes run under,
	// one at a time. It may look up what the key depends on. Without it
	// receive takes no lock: the statement needs none (deposits,
	// withdrawals), or its handler takes one after lookups it needs
	// anyway (usage, whose key depends on its grant's quotas).
	lock func(ctx context.Context, s *Server, o opened[T]) (string, error)
	// entry is the log entry type the statement is appended as.
	entry string
}

// opened is what a statement package's Open function returns.
type opened[T any] struct {
	v       T
	id      asset.ID       // the statement's id, where its package names one
	signers []identity.DID // the distinct signers, where its package returns them
}

// received is a statement receive read, opened, checked and locked.
type received[T any] struct {
	opened[T]
	env   *identity.Envelope
	canon []byte // the envelope as the log holds it
	entry string
	// unlock releases the statement's lock; it may be called more than
	// once, and is a no-op when the intake takes none.
	unlock func()
}

// receive is the prologue of every handler of a signed statement (see
// above). On success the caller owns rc.unlock.
func receive[T any](ctx context.Context, s *Server, r *http.Request, in *intake[T]) (rc *received[T], err error) {
	var pathID asset.ID
	if in.path != "" {
		if pathID, err = pathAsset(r, in.path); err != nil {
			return nil, err
		}
	}
	env, canon, err := readEnvelope(r)
	if err != nil {
		return nil, err
	}
	o, err := in.open(env)
	if err != nil {
		return nil, err
	}
	if in.path != "" {
		if id := in.names(o); id != pathID {
			return nil, in.wrong(id, pathID)
		}
	}
	if in.check != nil {
		if err := in.check(o.v); err != nil {
			return nil, err
		}
	}
	rc = &received[T]{opened: o, env: env, canon: canon, entry: in.entry, unlock: func() {}}
	if in.lock != nil {
		key, err := in.lock(ctx, s, o)
		if err != nil {
			return nil, err
		}
		rc.unlock = s.inflight.lock(key)
	}
	return rc, nil
}

// commit appends the statement to the log as its intake's entry type and
// waits until the registry applied it (Server.commit). A failure is
// answered as not applied (notApplied). The lock is the caller's to
// release.
func (rc *received[T]) commit(ctx context.Context, s *Server) (uint64, error) {
	idx, err := s.commit(ctx, rc.entry, rc.canon)
	if err != nil {
		return idx, notApplied(idx, err)
	}
	return idx, nil
}

// pathAsset parses the request's {id} as the id of an asset or of another
// statement (what names it in the error).
func pathAsset(r *http.Request, what string) (asset.ID, error) {
	id, err := asset.ParseID(r.PathValue("id"))
	if err != nil {
		return id, errorf(http.StatusBadRequest, "bad-id", "Malformed "+what+" id", err.Error(), "", err)
	}
	return id, nil
}

// readEnvelope reads a DSSE envelope request body.
func readEnvelope(r *http.Request) (*identity.Envelope, []byte, error) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, identity.MaxEnvelopeSize+1))
	if err != nil {
		return nil, nil, err
	}
	if len(raw) > identity.MaxEnvelopeSize {
		return nil, nil, errorf(http.StatusRequestEntityTooLarge, "too-large", "Statement too large", fmt.Sprintf("a signed statement may hold at most %d bytes", identity.MaxEnvelopeSize), "", nil)
	}
	env, err := identity.ParseEnvelope(raw)
	if err != nil {
		return nil, nil, err
	}
	// Log the envelope in its canonical JSON form.
	canon, err := env.Marshal()
	if err != nil {
		return nil, nil, err
	}
	return env, canon, nil
}

// noSuchAsset answers a lookup of asset id that failed: a catalog that
// has no such asset is the problem "No such asset", anything else err.
func noSuchAsset(id asset.ID, err error) error {
	if errors.Is(err, catalog.ErrNotFound) {
		return errorf(http.StatusNotFound, "not-found", "No such asset", fmt.Sprintf("asset %s is not registered here", id), "", err)
	}
	return err
}
