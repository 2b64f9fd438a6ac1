package server

import (
	"context"
	"errors"
	"github.com/charter-dev/charter/api"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/metering"
)

// TestDisputeStanding: a stranger's fresh key cannot hold an asset's
// revenue with disputes; owners, contributors (of the asset or of what it
// derives from), licensees and the operator can, each with at most one
// open dispute per asset. A stranger's dispute put in the log by other
// means does not apply either, live or on replay.
func TestDisputeStanding(t *testing.T) {
	m := newMarket(t, Config{})
	ctx := context.Background()
	open := func(k *identity.Key) (*api.DisputeAnswer, error) {
		d := &metering.Dispute{Asset: m.model, Created: asset.NewTime(time.Now()), Nonce: grant.NewNonce(), Opener: k.DID(), Reason: "r"}
		env, _ := d.Sign(k)
		return m.c.OpenDispute(ctx, env)
	}
	status := func(err error) (int, string) {
		var ce *client.Error
		if !errors.As(err, &ce) {
			return 0, ""
		}
		return ce.Problem.Status, ce.Problem.Type
	}
	stranger, _ := identity.Generate()
	for i := range 3 {
		if code, typ := status(func() error { _, err := open(stranger); return err }()); code != http.StatusForbidden || !strings.HasSuffix(typ, "no-standing") {
			t.Fatalf("stranger's dispute %d: %d %s", i, code, typ)
		}
	}
	for _, who := range []struct {
		name string
		k    *identity.Key
	}{{"licensee", m.consumer}, {"owner", m.max}, {"upstream contributor", m.bea}, {"operator", m.s.key}} {
		if _, err := open(who.k); err != nil {
			t.Fatalf("%s: %v", who.name, err)
		}
		// A second open dispute by the same opener on the same asset.
		if code, typ := status(func() error { _, err := open(who.k); return err }()); code != http.StatusConflict || !strings.HasSuffix(typ, "dispute-open") {
			t.Fatalf("%s's second dispute: %d %s", who.name, code, typ)
		}
	}
	ds, err := m.s.cat.Disputes(ctx, m.model.String(), "open")
	if err != nil || len(ds) != 4 {
		t.Fatalf("open disputes %d %v, want 4", len(ds), err)
	}
	// The stranger's dispute appended to the log directly: no effect.
	d := &metering.Dispute{Asset: m.model, Created: asset.NewTime(time.Now()), Nonce: grant.NewNonce(), Opener: stranger.DID(), Reason: "r"}
	env, _ := d.Sign(stranger)
	raw, _ := env.Marshal()
	if _, err := m.s.commit(ctx, auditlog.TypeDispute, raw); err == nil {
		t.Fatal("a stranger's logged dispute applied")
	}
	if ds, _ := m.s.cat.Disputes(ctx, m.model.String(), "open"); len(ds) != 4 {
		t.Fatalf("open disputes %d after the stranger's entry", len(ds))
	}
}
