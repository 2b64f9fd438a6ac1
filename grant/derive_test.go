package grant

import (
	"github.com/charter-dev/charter/internal/canonjson"
	"strings"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
)

// TestGrantDerivative: a derivative grant says so in its signed payload; a
// grant that is not one encodes exactly as before the member existed, so
// grants logged earlier keep their bytes and ids.
func TestGrantDerivative(t *testing.T) {
	srv, lic := seedKey(t, 7), seedKey(t, 8)
	g := &Grant{Asset: testAsset(), Commercial: true, Decision: 3, ID: StatementID([]byte("r")), Issuer: srv.DID(), Licensee: lic.DID(),
		NotBefore: asset.NewTime(time.Unix(1_800_000_000, 0)), NotAfter: asset.NewTime(time.Unix(1_800_086_400, 0)), Purpose: "train",
		Terms: content.IDFromDigest([32]byte{9})}
	plain, _ := canonjson.Marshal(g)
	if strings.Contains(string(plain), "derivative") {
		t.Fatalf("non-derivative grant mentions it: %s", plain)
	}
	g.Derivative = true
	env, err := g.Sign(srv)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := canonjson.Marshal(g)
	if !strings.Contains(string(b), `"decision":3,"derivative":true,"id":`) {
		t.Fatalf("canonical: %s", b)
	}
	got, err := OpenGrant(env)
	if err != nil || !got.Derivative {
		t.Fatalf("open: %v %+v", err, got)
	}
	r := got.Right(true, nil)
	if !r.Derivative || !r.Revoked || r.Asset != g.Asset || r.Licensee != lic.DID() || !r.NotAfter.Equal(g.NotAfter.Time()) || !r.Commercial {
		t.Fatalf("right: %+v", r)
	}
	// "derivative": false written out is not canonical.
	forged := strings.Replace(string(plain), `"id":`, `"derivative":false,"id":`, 1)
	fenv, _ := identity.Sign(identity.PayloadType(KindGrant), []byte(forged), srv)
	if _, err := OpenGrant(fenv); err == nil {
		t.Fatal("a non-canonical grant opened")
	}
}
