package grant

import (
	"errors"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/license"
)

// TestIssue: a grant copies the request's asset, licensee, purpose and
// flags, starts at the second it is issued (UTC) and ends when the terms
// say, never after their notAfter, with the terms' quotas.
func TestIssue(t *testing.T) {
	licensee, issuer := seedKey(t, 1).DID(), seedKey(t, 2).DID()
	req := &Request{Asset: testAsset(), Commercial: true, Derivative: true, Licensee: licensee, Purpose: "research"}
	rid := StatementID([]byte("the request"))
	termsID := content.IDFromDigest([32]byte{9})
	now := time.Date(2026, 12, 5, 21, 0, 0, 750_000_000, time.FixedZone("CET", 3600))
	start := time.Date(2026, 12, 5, 20, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		notAfter time.Time
		want     time.Time
	}{
		{"grant seconds", time.Time{}, start.Add(time.Hour)},
		{"terms end first", start.Add(time.Minute), start.Add(time.Minute)},
	} {
		terms := &license.Terms{GrantSeconds: 3600, NotAfter: tc.notAfter, Quotas: license.Quotas{MaxBytes: 5, MaxRuns: 2}}
		g := Issue(req, rid, terms, termsID, 42, issuer, now)
		want := Grant{Asset: req.Asset, Commercial: true, Decision: 42, Derivative: true, ID: rid, Issuer: issuer, Licensee: licensee,
			NotBefore: asset.NewTime(start), NotAfter: asset.NewTime(tc.want), Purpose: "research", Quotas: Quotas{MaxBytes: 5, MaxRuns: 2}, Terms: termsID}
		if *g != want {
			t.Errorf("%s: Issue = %+v, want %+v", tc.name, *g, want)
		}
	}
}

// TestCheckThreshold: the distinct current owners among the signers must
// reach the threshold; a signer twice or a stranger adds nothing.
func TestCheckThreshold(t *testing.T) {
	a, b, stranger := seedKey(t, 1).DID(), seedKey(t, 2).DID(), seedKey(t, 3).DID()
	st := &asset.State{Owners: []asset.Owner{{DID: a, Weight: 1}, {DID: b, Weight: 1}}, Threshold: 2}
	for _, tc := range []struct {
		signers []identity.DID
		ok      bool
	}{
		{[]identity.DID{a, b}, true},
		{[]identity.DID{a}, false},
		{[]identity.DID{a, a}, false},
		{[]identity.DID{a, stranger}, false},
		{nil, false},
	} {
		err := CheckThreshold(st, tc.signers, "revocation")
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, asset.ErrThresholdNotMet)) {
			t.Errorf("signers %v: %v, want ok=%v", tc.signers, err, tc.ok)
		}
	}
}

// TestCheckUse: only the licensee reads, only while the grant is
// unrevoked and valid, and only content of an asset it is for; the first
// failing check is reported.
func TestCheckUse(t *testing.T) {
	licensee, other := seedKey(t, 1).DID(), seedKey(t, 2).DID()
	start := time.Date(2026, 12, 5, 20, 0, 0, 0, time.UTC)
	g := &Grant{Asset: testAsset(), Licensee: licensee, NotBefore: asset.NewTime(start), NotAfter: asset.NewTime(start.Add(time.Hour))}
	in := start.Add(time.Minute)
	for _, tc := range []struct {
		name    string
		who     identity.DID
		revoked bool
		now     time.Time
		covers  []string
		want    error
	}{
		{"reads", licensee, false, in, []string{"x", g.Asset.String()}, nil},
		{"any asset", licensee, false, in, nil, nil},
		{"another key", other, true, in, nil, ErrNotLicensee},
		{"revoked", licensee, true, start.Add(2 * time.Hour), nil, ErrRevoked},
		{"before", licensee, false, start.Add(-time.Second), nil, ErrNotValidNow},
		{"at the end", licensee, false, start.Add(time.Hour), nil, ErrNotValidNow},
		{"other content", licensee, false, in, []string{}, ErrNotCovered},
	} {
		err := g.CheckUse(tc.who, tc.revoked, tc.now, tc.covers)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestCheckVote: only a current owner votes, once, on a pending request.
func TestCheckVote(t *testing.T) {
	owner, other := seedKey(t, 1).DID(), seedKey(t, 2).DID()
	st := &asset.State{Owners: []asset.Owner{{DID: owner, Weight: 1}}, Threshold: 1}
	a := &Approval{Approve: true, Approver: owner, Asset: testAsset(), Request: testAsset()}
	for _, tc := range []struct {
		name   string
		status string
		votes  map[string]bool
		by     identity.DID
		want   error
	}{
		{"counts", "pending", map[string]bool{}, owner, nil},
		{"closed", "granted", map[string]bool{}, owner, ErrRequestClosed},
		{"not an owner", "pending", map[string]bool{}, other, asset.ErrNotOwner},
		{"voted", "pending", map[string]bool{owner.String(): false}, owner, asset.ErrDuplicateApproval},
	} {
		v := *a
		v.Approver = tc.by
		err := CheckVote(st, tc.status, tc.votes, &v)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}
