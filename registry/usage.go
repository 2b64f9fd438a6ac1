package registry

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/internal/canonjson"
	"github.com/charter-dev/charter/metering"
)

// QuotaKey names the counters a grant's use counts against: quotas bound
// what one licensee uses of one asset under one set of terms, over all its
// grants (docs/spec/license-terms.md), so a fresh grant does not reset them.
func QuotaKey(g *grant.Grant) string {
	return g.Licensee.String() + " " + g.Asset.String() + " " + g.Terms.String()
}

// UsageQuotaSet reports whether g's terms bound the tokens or runs its
// licensee may report.
func UsageQuotaSet(g *grant.Grant) bool { return g.Quotas.MaxTokens > 0 || g.Quotas.MaxRuns > 0 }

// OverUsageQuota says why usage u, on top of tokens and runs already
// counted, is over g's quotas, or returns "".
func OverUsageQuota(g *grant.Grant, u *metering.Usage, tokens, runs int64) string {
	switch q := g.Quotas; {
	case q.MaxTokens > 0 && u.Tokens > q.MaxTokens-tokens:
		return fmt.Sprintf("%d tokens are counted, this report of %d is over", tokens, u.Tokens)
	case q.MaxRuns > 0 && u.Runs > q.MaxRuns-runs:
		return fmt.Sprintf("%d runs are counted, this report of %d is over", runs, u.Runs)
	}
	return ""
}

// grantOf opens the grant of a grant record.
func grantOf(rec *catalog.GrantRecord) (*grant.Grant, error) {
	env, err := identity.ParseEnvelope(rec.Envelope)
	if err != nil {
		return nil, err
	}
	return grant.OpenGrant(env)
}

// applyReceipt applies a receipt entry.
func applyReceipt(tx catalog.Tx, idx uint64, payload []byte) error {
	env, err := identity.ParseEnvelope(payload)
	if err != nil {
		return NoEffect{err}
	}
	rc, id, err := metering.OpenReceipt(env)
	if err != nil {
		return NoEffect{err}
	}
	grec, err := tx.Grant(rc.Grant.String())
	if err != nil {
		return NoEffect{fmt.Errorf("receipt for unknown grant %s: %w", rc.Grant, err)}
	}
	g, err := grantOf(grec)
	if err != nil {
		return err
	}
	// The sealed copy goes and the quota counters grow in this entry's
	// transaction: a receipt is counted once, live and on replay.
	if err := tx.ApplyReceipt(id.String(), rc.Grant.String(), rc.Session, rc.Part, QuotaKey(g), rc.Bytes, rc.Requests); err != nil {
		return err
	}
	return tx.PutReceipt(catalog.ReceiptRecord{ID: id.String(), Grant: rc.Grant.String(), Asset: rc.Asset.String(), Licensee: rc.Licensee.String(),
		Session: rc.Session, Bytes: rc.Bytes, Requests: rc.Requests, Envelope: payload, LogIndex: idx})
}

// applyUsage applies a usage entry. A duplicate (grant, id) is refused by
// the insert itself, inside the entry's transaction.
func applyUsage(tx catalog.Tx, idx uint64, payload []byte) error {
	env, err := identity.ParseEnvelope(payload)
	if err != nil {
		return NoEffect{err}
	}
	u, sid, err := metering.OpenUsage(env)
	if err != nil {
		return NoEffect{err}
	}
	g, err := tx.Grant(u.Grant.String())
	if err != nil {
		return NoEffect{fmt.Errorf("usage under unknown grant %s: %w", u.Grant, err)}
	}
	if g.Licensee != u.Licensee.String() {
		return NoEffect{fmt.Errorf("usage by %s under grant of %s", u.Licensee, g.Licensee)}
	}
	gr, err := grantOf(g)
	if err != nil {
		return err
	}
	quota := ""
	if UsageQuotaSet(gr) {
		// The quota holds on replay as it did live: a report that would
		// overrun it has no effect, whatever else the log holds.
		quota = QuotaKey(gr)
		tokens, runs, err := tx.UsageQuota(quota)
		if err != nil {
			return err
		}
		if over := OverUsageQuota(gr, u, tokens, runs); over != "" {
			return NoEffect{fmt.Errorf("usage %s under grant %s is over the quota: %s", u.ID, u.Grant, over)}
		}
	}
	err = tx.PutUsage(catalog.UsageRecord{Grant: g.ID, ID: u.ID, Statement: sid.String(), Asset: g.Asset, Licensee: g.Licensee,
		Tokens: u.Tokens, Calls: u.Calls, Runs: u.Runs, Time: u.Time.Time().Format(time.RFC3339), Envelope: payload, LogIndex: idx, Quota: quota})
	if errors.Is(err, catalog.ErrDuplicate) {
		return duplicate("%v", err)
	}
	return err
}

// DisputeStatus is the status a dispute takes when resolved with outcome.
func DisputeStatus(outcome string) string {
	if outcome == metering.Void {
		return "voided"
	}
	return "released"
}

// applyDispute applies a dispute entry: an opened dispute or a resolution.
func (r *Registry) applyDispute(tx catalog.Tx, idx uint64, payload []byte) error {
	env, err := identity.ParseEnvelope(payload)
	if err != nil {
		return NoEffect{err}
	}
	kind, _ := identity.Kind(env.PayloadType)
	if kind == metering.KindResolution {
		res, signers, _, err := metering.OpenResolution(env)
		if err != nil {
			return NoEffect{err}
		}
		d, err := tx.Dispute(res.Dispute.String())
		if err != nil || d.Status != "open" || d.Asset != res.Asset.String() {
			return NoEffect{fmt.Errorf("resolution of dispute %s does not apply", res.Dispute)}
		}
		rec, err := tx.Asset(res.Asset)
		if err != nil {
			return NoEffect{err}
		}
		if err := grant.CheckThreshold(rec.State, signers, "resolution"); err != nil {
			return NoEffect{err}
		}
		if err := tx.ResolveDispute(d.ID, DisputeStatus(res.Outcome), idx); err != nil {
			return err
		}
		return tx.Trail(res.Asset, idx, auditlog.TypeDispute, fmt.Sprintf("dispute %s resolved: %s", d.ID, DisputeStatus(res.Outcome)))
	}
	d, id, err := metering.OpenDispute(env)
	if err != nil {
		return NoEffect{err}
	}
	rec, err := tx.Asset(d.Asset)
	if err != nil {
		return NoEffect{err}
	}
	if _, err := tx.Dispute(id.String()); err == nil {
		return duplicate("dispute %s is logged", id)
	}
	licensee, err := tx.HasGrant(d.Asset.String(), d.Opener.String())
	if err != nil {
		return err
	}
	mine, err := tx.OpenDisputeBy(d.Asset.String(), d.Opener.String())
	if err != nil {
		return err
	}
	lin, err := metering.Lineage(rec.State, LookupState(tx.Asset))
	if err != nil {
		return NoEffect{err}
	}
	if err := metering.CheckStanding(lin, d.Opener, licensee, d.Opener == r.operator, mine); err != nil {
		return NoEffect{err}
	}
	if err := tx.PutDispute(catalog.DisputeRecord{ID: id.String(), Asset: d.Asset.String(), Opener: d.Opener.String(), Reason: d.Reason, Envelope: payload, LogIndex: idx}); err != nil {
		return err
	}
	return tx.Trail(d.Asset, idx, auditlog.TypeDispute, fmt.Sprintf("dispute %s opened by %s: %s", id, d.Opener, d.Reason))
}

// SettlementEntry is the signed payload (kind "settlement", signed by the
// operator) of a "settlement" log entry: the ledger journal's root and
// size after the batch, the log index through which uses were settled,
// and the uses left unsettled (docs/settlement.md).
type SettlementEntry struct {
	Failed      []string `json:"failed"`
	JournalRoot string   `json:"journalRoot"`
	JournalSize uint64   `json:"journalSize"`
	Through     uint64   `json:"through"`
	Uses        int      `json:"uses"`
}

// applySettlement applies a settlement entry: it marks the uses it covers
// settled.
func (r *Registry) applySettlement(tx catalog.Tx, idx uint64, payload []byte) error {
	env, err := identity.ParseEnvelope(payload)
	if err != nil {
		return NoEffect{err}
	}
	signers, body, err := identity.Verify(env, identity.PayloadType("settlement"))
	if err != nil {
		return NoEffect{err}
	}
	if len(signers) != 1 || signers[0] != r.operator {
		return NoEffect{errors.New("settlement not signed by this server")}
	}
	var e SettlementEntry
	if err := canonjson.Unmarshal(body, &e); err != nil { // the canonical form Settle writes, nothing else
		return NoEffect{err}
	}
	if e.Through >= idx {
		return NoEffect{fmt.Errorf("settlement %d covers entries up to %d", idx, e.Through)}
	}
	if last, err := tx.LastSettlement(); err != nil {
		return err
	} else if bytes.Equal(last, body) {
		return duplicate("settlement through %d is logged", e.Through)
	}
	if err := tx.PutSettlement(idx, body); err != nil {
		return err
	}
	if err := tx.MarkSettled(e.Through, e.Failed); err != nil {
		return NoEffect{err}
	}
	return nil
}
