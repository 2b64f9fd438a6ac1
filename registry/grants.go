package registry

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
)

// applyGrant applies a grant entry. A grant this server just signed and
// logged (Issued) is taken as issued; one read back from the log is
// verified.
func (r *Registry) applyGrant(tx catalog.Tx, idx uint64, payload []byte) error {
	var g *grant.Grant
	if v, ok := r.issued.LoadAndDelete(string(payload)); ok {
		g = v.(*grant.Grant)
	} else {
		env, err := identity.ParseEnvelope(payload)
		if err != nil {
			return NoEffect{err}
		}
		if g, err = grant.OpenGrant(env); err != nil {
			return NoEffect{err}
		}
	}
	if p, ok := tx.(newGrantPutter); ok {
		if err := p.PutNewGrant(g.ID.String(), g.Asset.String(), g.Licensee.String(), payload, idx, duplicate("grant %s is logged", g.ID)); err != nil {
			return err
		}
	} else {
		if _, err := tx.Grant(g.ID.String()); err == nil {
			return duplicate("grant %s is logged", g.ID)
		}
		if err := tx.PutGrant(g.ID.String(), g.Asset.String(), g.Licensee.String(), payload, idx); err != nil {
			return err
		}
	}
	// The decision record the grant names has no catalog effect; it is
	// applied with the grant.
	if g.Decision < idx {
		if err := tx.MarkApplied(g.Decision); err != nil {
			return err
		}
	}
	if err := tx.SetGrantRequestStatus(g.ID.String(), "granted"); err != nil {
		return err
	}
	return tx.Trail(g.Asset, idx, auditlog.TypeGrant, fmt.Sprintf("grant %s to %s for %s until %s", g.ID, g.Licensee, g.Purpose, g.NotAfter.Time().Format(time.RFC3339)))
}

// newGrantPutter is a catalog transaction that checks a grant for a
// duplicate in the write that records it (catalog/postgres: its primary
// key, no read first): PutNewGrant fails the entry with dup, possibly only
// when the entry's writes are sent, if the grant id is recorded already.
type newGrantPutter interface {
	PutNewGrant(id, asset, licensee string, envelope []byte, index uint64, dup error) error
}

// QueuedEntry is the payload of a grant.request entry: the decision's log
// index and the licensee's envelope.
func QueuedEntry(envelope []byte, decision uint64) []byte {
	return fmt.Appendf(nil, "%d\n%s", decision, envelope)
}

func parseQueuedEntry(b []byte) (uint64, []byte, error) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return 0, nil, errors.New("malformed grant.request entry")
	}
	var d uint64
	if _, err := fmt.Sscanf(string(b[:i]), "%d", &d); err != nil {
		return 0, nil, err
	}
	return d, b[i+1:], nil
}

func applyGrantRequest(tx catalog.Tx, idx uint64, payload []byte) error {
	didx, envRaw, err := parseQueuedEntry(payload)
	if err != nil {
		return NoEffect{err}
	}
	env, err := identity.ParseEnvelope(envRaw)
	if err != nil {
		return NoEffect{err}
	}
	req, rid, err := grant.OpenRequest(env)
	if err != nil {
		return NoEffect{err}
	}
	if _, err := tx.GrantRequest(rid.String()); err == nil {
		return duplicate("request %s is queued", rid)
	}
	if _, err := tx.Grant(rid.String()); err == nil {
		return duplicate("request %s is granted", rid)
	}
	if err := tx.PutGrantRequest(rid.String(), req.Asset.String(), envRaw, didx, idx); err != nil {
		return err
	}
	return tx.Trail(req.Asset, idx, TypeGrantRequest, fmt.Sprintf("access request %s by %s for %s awaits the owners", rid, req.Licensee, req.Purpose))
}

// tally returns the approving and denying weight of a queued request's
// votes under the asset's current owners.
func tally(st *asset.State, votes map[string]bool) (yes, no int64) {
	for who, ok := range votes {
		d, err := identity.ParseDID(who)
		if err != nil {
			continue
		}
		w := grant.Weight(st, []identity.DID{d})
		if ok {
			yes += w
		} else {
			no += w
		}
	}
	return yes, no
}

func applyGrantApproval(tx catalog.Tx, idx uint64, payload []byte) error {
	env, err := identity.ParseEnvelope(payload)
	if err != nil {
		return NoEffect{err}
	}
	a, err := grant.OpenApproval(env)
	if err != nil {
		return NoEffect{err}
	}
	q, err := tx.GrantRequest(a.Request.String())
	if err != nil {
		return NoEffect{err}
	}
	if _, dup := q.Votes[a.Approver.String()]; dup {
		return duplicate("%s voted on request %s", a.Approver, a.Request)
	}
	if q.Status != "pending" {
		return NoEffect{fmt.Errorf("request %s is %s", a.Request, q.Status)}
	}
	if err := tx.AddGrantApproval(a.Request.String(), a.Approver.String(), a.Approve, payload, idx); err != nil {
		return err
	}
	verb := "approved"
	if !a.Approve {
		verb = "denied"
	}
	if err := tx.Trail(a.Asset, idx, TypeGrantApproval, fmt.Sprintf("%s %s access request %s", a.Approver, verb, a.Request)); err != nil {
		return err
	}
	rec, err := tx.Asset(a.Asset)
	if err != nil {
		return err
	}
	q.Votes[a.Approver.String()] = a.Approve
	yes, no := tally(rec.State, q.Votes)
	switch {
	case yes >= rec.State.Threshold:
		return tx.SetGrantRequestStatus(q.ID, "approved")
	case no >= rec.State.Threshold:
		return tx.SetGrantRequestStatus(q.ID, "denied")
	}
	return nil
}

func applyRevocation(tx catalog.Tx, idx uint64, payload []byte) error {
	env, err := identity.ParseEnvelope(payload)
	if err != nil {
		return NoEffect{err}
	}
	rv, signers, err := grant.OpenRevocation(env)
	if err != nil {
		return NoEffect{err}
	}
	g, err := tx.Grant(rv.Grant.String())
	if err != nil {
		return NoEffect{err}
	}
	if g.Revoked {
		return duplicate("grant %s is revoked", rv.Grant)
	}
	if g.Asset != rv.Asset.String() {
		return NoEffect{fmt.Errorf("grant %s is for asset %s, not %s", rv.Grant, g.Asset, rv.Asset)}
	}
	rec, err := tx.Asset(rv.Asset)
	if err != nil {
		return NoEffect{err}
	}
	if err := grant.CheckThreshold(rec.State, signers, "revocation"); err != nil {
		return NoEffect{err}
	}
	if err := tx.RevokeGrant(rv.Grant.String()); err != nil {
		return err
	}
	return tx.Trail(rv.Asset, idx, auditlog.TypeRevocation, fmt.Sprintf("grant %s revoked: %s", rv.Grant, rv.Reason))
}
