package postgres

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/catalog/sqlite"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
)

// TestSameAsSQLite runs one history of log entries and operational calls
// against SQLite and PostgreSQL and compares everything they answer: Dump
// and DumpOperational line for line (what a rebuild comparison relies on),
// QuotaDrift, and every reader's answer. Ids mix upper and lower case, so
// an ordering by the database's locale instead of by bytes shows.
func TestSameAsSQLite(t *testing.T) {
	ctx := t.Context()
	sq, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "catalog.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sq.Close() })
	pg := openTest(t)
	a, b := history(t, sq), history(t, pg)
	if len(a) != len(b) {
		t.Fatalf("SQLite answered %d lines, PostgreSQL %d", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Errorf("answer %d differs:\nSQLite:     %s\nPostgreSQL: %s", i, a[i], b[i])
		}
	}
}

func pdigest(s string) [32]byte { return sha256.Sum256([]byte(s)) }
func pcid(s string) content.ID  { return content.IDFromDigest(pdigest(s)) }

func paid(t *testing.T, s string) asset.ID {
	id, err := asset.ParseID(pcid("statement " + s).String())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func pdid(s string) identity.DID {
	d := pdigest("key " + s)
	return identity.DIDFromPublicKey(ed25519.NewKeyFromSeed(d[:]).Public().(ed25519.PublicKey))
}

func pstate(t *testing.T, name string, parents ...asset.ID) *asset.State {
	m := asset.Manifest{
		Content:   pcid("data " + name),
		Created:   asset.NewTime(time.Unix(1_800_000_000, 0)),
		Name:      "Name « " + name + " »",
		MediaType: "text/plain",
		Owners:    []asset.Owner{{DID: pdid(name), Weight: 1}},
		Threshold: 1,
		License:   "terms " + name,
	}
	for _, p := range parents {
		m.Parents = append(m.Parents, asset.Parent{Asset: p, Grant: paid(t, "grant on "+p.String()), Royalty: asset.Whole / 10, Stacking: asset.Relative})
	}
	return &asset.State{Asset: paid(t, name), Manifest: m, Version: 1, Owners: m.Owners, Threshold: 1, License: m.License}
}

// history applies the same entries and calls to c and returns its answers
// as text lines.
func history(t *testing.T, c catalog.Catalog) []string {
	ctx := t.Context()
	var out []string
	say := func(what string, v any, err error) {
		j, jerr := json.Marshal(v)
		if jerr != nil {
			t.Fatalf("%s: %v", what, jerr)
		}
		out = append(out, fmt.Sprintf("%s: %s err=%v", what, j, err != nil))
	}
	sayErr := func(what string, err error) {
		out = append(out, fmt.Sprintf("%s: applied=%v noeffect=%v notfound=%v dup=%v failed=%v", what,
			errors.Is(err, catalog.ErrApplied), errors.Is(err, catalog.ErrNoEffect), errors.Is(err, catalog.ErrNotFound), errors.Is(err, catalog.ErrDuplicate), err != nil))
	}
	root, mid := pstate(t, "Root"), pstate(t, "mid")
	leaf := pstate(t, "leaf", root.Asset, mid.Asset)
	prop := paid(t, "proposal")
	t0 := time.Unix(1_800_000_000, 123456789)
	var idx uint64
	next := func() uint64 { idx++; return idx }
	changes := []catalog.Change{
		{Index: next(), Fn: func(tx catalog.Tx) error {
			return tx.PutAsset(catalog.AssetRecord{State: root, Claim: "priority", Priority: root.Asset, LogIndex: 1})
		}},
		{Index: next(), Fn: func(tx catalog.Tx) error {
			return tx.PutAsset(catalog.AssetRecord{State: mid, Claim: "priority", Priority: mid.Asset, LogIndex: 2})
		}},
		{Index: next(), Fn: func(tx catalog.Tx) error {
			if err := tx.PutAsset(catalog.AssetRecord{State: leaf, Claim: "conflict", Priority: root.Asset, LogIndex: 3}); err != nil {
				return err
			}
			if err := tx.PutClaimant(catalog.Claimant{Asset: leaf.Asset, Content: leaf.Manifest.Content.String(), LogIndex: 3, Signers: []identity.DID{pdid("x"), pdid("Y")}, Conflict: true, Dataset: true}); err != nil {
				return err
			}
			if err := tx.Claims(leaf.Asset.String(), func(add func(string) error) error {
				for _, f := range []string{"Zeta", "alpha", "Beta", "b"} {
					if err := add(pcid(f).String()); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				return err
			}
			return tx.Trail(leaf.Asset, 3, "register", "registered « leaf »")
		}},
		{Index: next(), Fn: func(tx catalog.Tx) error {
			return tx.PutClaimant(catalog.Claimant{Asset: mid.Asset, Content: mid.Manifest.Content.String(), LogIndex: 2, Signers: []identity.DID{pdid("m")}, Unindexed: true})
		}},
		{Index: next(), Fn: func(tx catalog.Tx) error {
			if err := tx.PutProposal(prop, root.Asset, []byte(`{"p":1}`), "pending", 5); err != nil {
				return err
			}
			return tx.AddApproval(prop, "did:key:zB", []byte(`{"a":"B"}`), 5)
		}},
		{Index: next(), Fn: func(tx catalog.Tx) error {
			if err := tx.AddApproval(prop, "did:key:za", []byte(`{"a":"a"}`), 6); err != nil {
				return err
			}
			if err := tx.SetProposalStatus(prop, "applied"); err != nil {
				return err
			}
			s := *root
			s.Version = 2
			s.License = "terms v2"
			return tx.SetState(&s)
		}},
		// Grants with ids and licensees of both cases.
		{Index: next(), Fn: func(tx catalog.Tx) error {
			return tx.PutGrant("Grant-B", root.Asset.String(), "Lic", []byte(`{"g":"B"}`), 7)
		}},
		{Index: next(), Fn: func(tx catalog.Tx) error {
			if err := tx.PutGrant("grant-a", root.Asset.String(), "lic", []byte(`{"g":"a"}`), 8); err != nil {
				return err
			}
			return tx.MarkApplied(10) // a decision record riding along
		}},
		{Index: next(), Fn: func(tx catalog.Tx) error { return tx.RevokeGrant("Grant-B") }},
		{Index: 10, Fn: func(tx catalog.Tx) error { return errors.New("must not run: applied by entry 8") }},
		{Index: 11, Fn: func(tx catalog.Tx) error {
			if err := tx.PutGrantRequest("req", mid.Asset.String(), []byte(`{"r":1}`), 11, 11); err != nil {
				return err
			}
			if err := tx.AddGrantApproval("req", "Owner", true, []byte(`{}`), 11); err != nil {
				return err
			}
			if err := tx.AddGrantApproval("req", "owner", false, []byte(`{}`), 11); err != nil {
				return err
			}
			return tx.SetGrantRequestStatus("req", "denied")
		}},
		{Index: 12, Fn: func(tx catalog.Tx) error {
			if err := tx.ApplyReceipt("rcpt-1", "grant-a", "S", 1, "quota a", 300, 2); err != nil {
				return err
			}
			return tx.PutReceipt(catalog.ReceiptRecord{ID: "rcpt-1", Grant: "grant-a", Asset: root.Asset.String(), Licensee: "lic", Session: "S", Bytes: 300, Requests: 2, Envelope: []byte(`{"rc":1}`), LogIndex: 12})
		}},
		{Index: 13, Fn: func(tx catalog.Tx) error {
			return tx.PutUsage(catalog.UsageRecord{Grant: "Grant-B", ID: "u1", Statement: "st", Asset: root.Asset.String(), Licensee: "Lic", Tokens: 1000, Calls: 2, Runs: 1, Time: "2027-01-01T00:00:00Z", Envelope: []byte(`{"u":1}`), LogIndex: 13})
		}},
		{Index: 14, Fn: func(tx catalog.Tx) error {
			// A duplicate usage: no effect, but applied.
			err := tx.PutUsage(catalog.UsageRecord{Grant: "Grant-B", ID: "u1", Statement: "st2", LogIndex: 14, Envelope: []byte(`{}`)})
			return fmt.Errorf("%w: %w", catalog.ErrNoEffect, err)
		}},
		{Index: 15, Fn: func(tx catalog.Tx) error {
			if err := tx.PutSettlement(15, []byte(`{"journalSize":42,"journalRoot":"ab12"}`)); err != nil {
				return err
			}
			return tx.MarkSettled(13, []string{"u:Grant-B/u1", "r:rcpt-1"})
		}},
		// Two disputes in one entry would share a log index, whose order
		// SQLite takes from insertion and PostgreSQL does not keep; the
		// log never does that, and neither does this history.
		{Index: 16, Fn: func(tx catalog.Tx) error {
			if err := tx.PutDispute(catalog.DisputeRecord{ID: "D1", Asset: root.Asset.String(), Opener: "Lic", Reason: "réason", Envelope: []byte(`{"d":1}`), LogIndex: 16}); err != nil {
				return err
			}
			return tx.PutDispute(catalog.DisputeRecord{ID: "d2", Asset: mid.Asset.String(), Opener: "lic", Reason: "other", Envelope: []byte(`{"d":2}`), LogIndex: 17})
		}},
		{Index: 17, Fn: func(tx catalog.Tx) error { return tx.ResolveDispute("D1", "released", 17) }},
		{Index: 18, Fn: func(tx catalog.Tx) error {
			if err := tx.PutAsset(catalog.AssetRecord{State: pstate(t, "broken"), LogIndex: 18}); err != nil {
				return err
			}
			return errors.New("an applier failed") // undone, not applied
		}},
	}
	for i, err := range c.UpdateSeq(ctx, changes) {
		sayErr(fmt.Sprintf("apply %d", changes[i].Index), err)
	}
	sayErr("apply again", c.Update(ctx, 3, func(catalog.Tx) error { return nil }))
	next2, above, err := c.Applied(ctx)
	say("applied", fmt.Sprint(next2, above), err)
	// Reads inside a transaction.
	sayErr("tx reads", c.Update(ctx, 19, func(tx catalog.Tx) error {
		r, err := tx.Asset(root.Asset)
		say("tx asset", r, err)
		rs, err := tx.AssetsByContent(leaf.Manifest.Content)
		say("tx by content", len(rs), err)
		ch, err := tx.Children(root.Asset)
		say("tx children", ch, err)
		p, err := tx.Proposal(prop)
		say("tx proposal", p, err)
		g, err := tx.Grant("Grant-B")
		say("tx grant", g, err)
		ok, err := tx.HasGrant(root.Asset.String(), "lic")
		say("tx has grant", ok, err)
		gr, err := tx.GrantRequest("req")
		say("tx grant request", gr, err)
		d, err := tx.Dispute("d2")
		say("tx dispute", d, err)
		o, err := tx.OpenDisputeBy(mid.Asset.String(), "lic")
		say("tx open dispute", o, err)
		l, err := tx.LastSettlement()
		say("tx last settlement", string(l), err)
		_, err = tx.Asset(paid(t, "nothing"))
		sayErr("tx missing asset", err)
		return tx.DropFileClaims(leaf.Asset, pcid("alpha").String())
	}))

	// Operational state.
	for _, n := range []int64{60, 50, 10} {
		ok, d, tot, err := c.ChargeUpload(ctx, "Key", "2027-01-01", n, 100, 150)
		say("charge upload", fmt.Sprint(ok, d, tot), err)
	}
	ok, used, err := c.ChargeGrantRequest(ctx, "lic", "2027-01-01", 1)
	say("charge request", fmt.Sprint(ok, used), err)
	ok, used, err = c.ChargeGrantRequest(ctx, "lic", "2027-01-01", 1)
	say("charge request", fmt.Sprint(ok, used), err)
	for _, g := range []string{"grant-a", "Grant-B"} {
		k := catalog.MeterKey{Grant: g, Session: "S", Asset: root.Asset.String(), Licensee: "lic", Quota: "quota " + g}
		ok, err := c.MeterReserve(ctx, k, 100, catalog.Quota{MaxBytes: 1000}, t0)
		say("reserve", ok, err)
		n, err := c.MeterServed(ctx, g, "S", "Content", 10, 40, 40, t0.Add(time.Second))
		say("served", n, err)
		n, err = c.MeterServed(ctx, g, "S", "content", 0, 20, 60, t0.Add(2*time.Second))
		say("served", n, err)
	}
	q1, q2, err := c.QuotaUse(ctx, "quota grant-a")
	say("quota use", fmt.Sprint(q1, q2), err)
	fl, err := c.InFlight(ctx, "S", "lic")
	say("in flight", fl, err)
	sealed, err := c.SealSessions(ctx, catalog.SessionFilter{Session: "S", Licensee: "lic", Grant: "grant-a"}, func(s *catalog.OpenSession) ([]byte, error) {
		return fmt.Appendf(nil, "%+v", *s), nil
	})
	say("sealed", sealed, err)
	k := catalog.MeterKey{Grant: "Grant-B", Session: "S2", Asset: root.Asset.String(), Licensee: "lic", Quota: "q"}
	c.MeterReserve(ctx, k, 7, catalog.Quota{}, t0)
	has, err := c.HasSession(ctx, "S", "lic")
	say("has session", has, err)
	ns := c.Nonces(2, func() time.Time { return t0 })
	for _, n := range []string{"n1", "n1", "n2", "n3"} {
		seen, err := ns.Seen(ctx, "Key", n, t0.Add(time.Minute))
		say("nonce "+n, seen, err)
	}
	for _, name := range []string{"Blob", "blob", "set"} {
		kind := catalog.KindBlob
		if name == "set" {
			kind = catalog.KindDataset
		}
		must(t, c.PutObject(ctx, catalog.Object{ID: pcid(name), Size: int64(len(name)), Kind: kind, Created: t0}))
	}
	must(t, c.PutObject(ctx, catalog.Object{ID: pcid("blob"), Size: 4, Kind: catalog.KindDataset, Created: t0.Add(time.Hour)}))
	must(t, c.MarkCorrupt(ctx, catalog.Corruption{ID: pcid("Blob"), Offset: 5, Length: 6, Detail: "bad", Found: t0}))
	must(t, c.MarkCorrupt(ctx, catalog.Corruption{ID: pcid("blob"), Offset: 1, Length: 2, Detail: "worse", Found: t0}))
	must(t, c.ClearCorrupt(ctx, pcid("nothing")))

	// Every reader.
	for _, id := range []asset.ID{root.Asset, mid.Asset, leaf.Asset} {
		r, err := c.Asset(ctx, id)
		say("asset", r, err)
		ch, err := c.Children(ctx, id)
		say("children", ch, err)
		ps, err := c.Proposals(ctx, id)
		say("proposals", ps, err)
		tr, err := c.Trail(ctx, id)
		say("trail", tr, err)
	}
	_, err = c.Asset(ctx, paid(t, "broken"))
	sayErr("failed entry's asset", err)
	all, err := c.ListAssets(ctx)
	say("list assets", ids(all), err)
	by, err := c.AssetsByContent(ctx, leaf.Manifest.Content)
	say("by content", ids(by), err)
	for _, f := range []string{"data leaf", "alpha", "Zeta"} {
		cl, err := c.ContentClaims(ctx, pcid(f).String())
		say("claims "+f, cl, err)
	}
	un, err := c.Unindexed(ctx)
	say("unindexed", un, err)
	ix, err := c.IndexedDataset(ctx, leaf.Manifest.Content.String())
	say("indexed", ix, err)
	re, err := c.Reindex(ctx, mid.Manifest.Content.String(), func(add func(string) error) error { return add(pcid("mid file").String()) })
	say("reindex", re, err)
	for _, q := range [][2]string{{"", ""}, {root.Asset.String(), ""}, {"", "lic"}, {root.Asset.String(), "Lic"}} {
		gs, err := c.Grants(ctx, q[0], q[1])
		say("grants "+q[0]+" "+q[1], gs, err)
	}
	grs, err := c.GrantRequests(ctx, "", "denied")
	say("grant requests", grs, err)
	_, err = c.GrantRequest(ctx, "none")
	sayErr("missing request", err)
	u, err := c.Usage(ctx, "Grant-B", "u1")
	say("usage", u, err)
	rs, err := c.Receipts(ctx, "", -1)
	say("receipts", rs, err)
	rs, err = c.Receipts(ctx, "grant-a", 0)
	say("receipts none", rs, err)
	st, err := c.SettledThrough(ctx)
	say("settled through", st, err)
	var uses []string
	err = c.Unsettled(ctx, 100, func(u catalog.Use) error { uses = append(uses, fmt.Sprintf("%+v", u)); return nil })
	say("unsettled", uses, err)
	sm, order, err := c.Settlements(ctx, 5)
	say("settlements", fmt.Sprint(sm, order), err)
	jr, err := c.JournalRoots(ctx)
	say("journal roots", jr, err)
	for _, q := range [][2]string{{"", ""}, {root.Asset.String(), ""}, {"", "open"}} {
		ds, err := c.Disputes(ctx, q[0], q[1])
		say("disputes", ds, err)
	}
	obj, err := c.Object(ctx, pcid("blob"))
	say("object", obj, err)
	kk, found, err := c.Corruption(ctx, pcid("Blob"))
	say("corruption", fmt.Sprint(kk, found), err)
	ks, err := c.Corruptions(ctx)
	say("corruptions", ks, err)
	srs, err := c.SealedReceipts(ctx)
	say("sealed receipts", srs, err)
	drift, err := c.QuotaDrift(ctx)
	say("drift", drift, err)
	raised, err := c.RaiseQuotaFloor(ctx)
	say("raised", raised, err)
	drift, err = c.QuotaDrift(ctx)
	say("drift after", drift, err)
	must(t, c.ReleaseReservations(ctx))

	dump, err := c.Dump(ctx)
	must(t, err)
	ops, err := c.DumpOperational(ctx)
	must(t, err)
	// Nonces' expiry is the test clock's; the rest as is.
	return append(append(out, dump...), ops...)
}

func ids(rs []*catalog.AssetRecord) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.State.Manifest.Name)
	}
	return strings.Join(s, ", ")
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
