package postgres

import (
	"context"
	"testing"
)

func TestChargeUsageQuotas(t *testing.T) {
	ctx := context.Background()
	c := openTest(t)
	charge := func(n, maxBytes, maxReq int64) bool {
		ok, err := c.ChargeUsage(ctx, "g", n, maxBytes, maxReq)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	usage := func() (bytes, reqs int64) {
		c.pool.QueryRow(ctx, `SELECT COALESCE(SUM(bytes),0)::bigint, COALESCE(SUM(requests),0)::bigint FROM grant_usage WHERE "grant" = 'g'`).Scan(&bytes, &reqs)
		return
	}
	// A first request over the byte quota is refused and counts nothing.
	if charge(200, 100, 0) {
		t.Fatal("first request over the byte quota was allowed")
	}
	if b, r := usage(); b != 0 || r != 0 {
		t.Fatalf("refused request was counted: %d bytes, %d requests", b, r)
	}
	if !charge(60, 100, 2) || !charge(40, 100, 2) {
		t.Fatal("requests within quota refused")
	}
	if charge(1, 100, 0) {
		t.Fatal("byte quota exceeded")
	}
	if charge(0, 0, 2) {
		t.Fatal("request quota exceeded")
	}
	if b, r := usage(); b != 100 || r != 2 {
		t.Fatalf("usage %d bytes, %d requests; want 100, 2", b, r)
	}
}
