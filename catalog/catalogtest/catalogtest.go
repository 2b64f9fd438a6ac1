// Package catalogtest is the behaviour every catalog backend must have,
// checked through package catalog's interfaces only. A backend's tests
// call Run with a function that opens a new, empty catalog:
//
//	func TestCatalog(t *testing.T) {
//		catalogtest.Run(t, func(t *testing.T) catalog.Catalog {
//			c, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "catalog.db"))
//			...
//			t.Cleanup(func() { c.Close() })
//			return c
//		})
//	}
//
// The suite runs the embedded backend in plain `go test` and the real
// servers in CI (see .ci/run).
package catalogtest

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
)

// Opener returns a new, empty catalog and arranges for it to be closed
// (and its storage removed) when t ends.
type Opener func(t *testing.T) catalog.Catalog

// Run runs every part of the suite against catalogs made by open, each
// part on a catalog of its own.
func Run(t *testing.T, open Opener) {
	parts := []struct {
		name string
		fn   func(*testing.T, Opener)
	}{
		{"Apply", testApply},
		{"ApplyConcurrent", testApplyConcurrent},
		{"ApplyMarkOnly", testApplyMarkOnly},
		{"Rollback", testRollback},
		{"Registry", testRegistry},
		{"Proposals", testProposals},
		{"Claims", testClaims},
		{"Reindex", testReindex},
		{"Parts", testParts},
		{"Grants", testGrants},
		{"GrantRequests", testGrantRequests},
		{"Counters", testCounters},
		{"MeterRanges", testMeterRanges},
		{"MeterRangesCollapse", testMeterRangesCollapse},
		{"Quota", testQuota},
		{"SealIsolated", testSealIsolated},
		{"Reservations", testReservations},
		{"ReceiptAheadOfSession", testReceiptAheadOfSession},
		{"Receipts", testReceipts},
		{"Usage", testUsage},
		{"Settlement", testSettlement},
		{"Disputes", testDisputes},
		{"Nonces", testNonces},
		{"NoncesConcurrent", testNoncesConcurrent},
		{"Objects", testObjects},
		{"Dump", testDump},
		{"QuotaFloor", testQuotaFloor},
		{"Pages", testPages},
		{"PageBound", testPageBound},
		{"Credentials", testCredentials},
	}
	for _, p := range parts {
		t.Run(p.name, func(t *testing.T) { p.fn(t, open) })
	}
}

var ctx = context.Background()

// digest is a 32-byte digest standing for the bytes named s.
func digest(s string) [32]byte { return sha256.Sum256([]byte(s)) }

// cid returns a content id standing for the bytes named s.
func cid(s string) content.ID { return content.IDFromDigest(digest(s)) }

// aid returns an asset (or proposal) id standing for the statement named s.
func aid(t *testing.T, s string) asset.ID {
	t.Helper()
	id, err := asset.ParseID(cid("statement " + s).String())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// did returns the DID of a key named s.
func did(s string) identity.DID {
	d := digest("key " + s)
	return identity.DIDFromPublicKey(ed25519.NewKeyFromSeed(d[:]).Public().(ed25519.PublicKey))
}

// state returns the state of a registered asset named name on content
// named data, derived from parents.
func state(t *testing.T, name, data string, parents ...asset.ID) *asset.State {
	t.Helper()
	m := asset.Manifest{
		Content:   cid(data),
		Created:   asset.NewTime(time.Unix(1_800_000_000, 0)),
		Name:      name,
		MediaType: "text/plain",
		Owners:    []asset.Owner{{DID: did("owner " + name), Weight: 1}},
		Threshold: 1,
		License:   "terms " + name,
	}
	for _, p := range parents {
		m.Parents = append(m.Parents, asset.Parent{Asset: p, Grant: aid(t, "grant on "+p.String()), Royalty: asset.Whole / 10, Stacking: asset.Relative})
	}
	return &asset.State{Asset: aid(t, name), Manifest: m, Version: 1, Owners: m.Owners, Threshold: 1, License: m.License}
}

// apply applies log entry idx with fn and fails the test if it fails.
func apply(t *testing.T, c catalog.Applier, idx uint64, fn func(catalog.Tx) error) {
	t.Helper()
	if err := c.Update(ctx, idx, fn); err != nil {
		t.Fatalf("applying entry %d: %v", idx, err)
	}
}

// must fails the test on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// notFound fails the test unless err wraps catalog.ErrNotFound.
func notFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("%s: got %v, want an error wrapping catalog.ErrNotFound", what, err)
	}
}

// ids returns the asset ids of records.
func ids(rs []*catalog.AssetRecord) []asset.ID {
	var out []asset.ID
	for _, r := range rs {
		out = append(out, r.State.Asset)
	}
	return out
}

// equalIDs fails the test unless got and want hold the same ids in order.
func equalIDs(t *testing.T, what string, got, want []asset.ID) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s: got %v, want %v", what, got, want)
	}
}
