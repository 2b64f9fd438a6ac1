package postgres_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/charter-dev/charter/lease"
	"github.com/charter-dev/charter/lease/leasetest"
	"github.com/charter-dev/charter/lease/postgres"
	"github.com/charter-dev/charter/ledger/postgres/pgtest"
)

// TestPostgres runs the lease suite against PostgreSQL; every store a case
// opens is another connection pool on one schema, as replicas would be.
func TestPostgres(t *testing.T) {
	schema := pgtest.Schema(t, "lease")
	u, err := url.Parse(pgtest.DSN())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	leasetest.Test(t, func(t *testing.T) lease.Store {
		s, err := postgres.Open(context.Background(), u.String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		return s
	})
}
