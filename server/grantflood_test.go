package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/identity"
)

// TestGrantRequestFloodBounded: every evaluated grant request logs a
// decision record, so a key made a minute ago could grow the log without
// end with requests it knows will be denied. Each licensee key has a daily
// allowance; past it the request is refused before anything is logged,
// and another key's requests are evaluated as before.
func TestGrantRequestFloodBounded(t *testing.T) {
	f := newDeriveFixture(t)
	f.s.cfg.GrantRequestsDay = 3
	alice := f.keys[0]
	ctx := context.Background()
	corpus := f.parent(alice, "corpus", "research-only")
	flooder, _ := identity.Generate()
	var last uint64
	for i := range 3 {
		ans := f.grantOn(flooder, corpus, client.GrantOptions{Derivative: true})
		if ans.Status != "denied" || ans.DecisionReceipt == nil {
			t.Fatalf("request %d: %+v", i, ans)
		}
		last = ans.DecisionReceipt.Index
	}
	_, err := f.c.RequestGrant(ctx, flooder, corpus, "train", client.GrantOptions{Derivative: true})
	if client.StatusCode(err) != http.StatusTooManyRequests || !strings.Contains(err.Error(), "grant requests today") {
		t.Fatalf("request over the allowance: %v", err)
	}
	honest, _ := identity.Generate()
	ans, err := f.c.RequestGrant(ctx, honest, corpus, "research", client.GrantOptions{})
	if err != nil || ans.Status != "granted" {
		t.Fatalf("another key: %v %+v", err, ans)
	}
	if ans.DecisionReceipt == nil || ans.DecisionReceipt.Index != last+1 {
		t.Fatalf("the refused request was logged: last flooder decision %d, next decision %+v", last, ans.DecisionReceipt)
	}
}
