package server

import (
	"fmt"
	"net/http"
	"time"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/settlement"
)

// Earnings is api.Earnings.
type Earnings = api.Earnings

// earnings handles GET /v1/earnings?did=&from=&to=&period=day|month: the
// statement of a contributor's accounts, every unit traced to the use and
// the lineage path it came from (docs/settlement.md).
func (s *Server) earnings(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	q := r.URL.Query()
	did, err := identity.ParseDID(q.Get("did"))
	if err != nil {
		return errorf(http.StatusBadRequest, "bad-did", "Malformed DID", err.Error(), "pass ?did=did:key:...", err)
	}
	if err := s.mayReadMoney(r, did); err != nil {
		return err
	}
	var from, to int64
	for _, p := range []struct {
		name string
		dst  *int64
	}{{"from", &from}, {"to", &to}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			if t, err = time.Parse("2006-01-02", v); err != nil {
				return errorf(http.StatusBadRequest, "bad-time", "Malformed time", fmt.Sprintf("%s=%q", p.name, v), "use RFC 3339 or YYYY-MM-DD", err)
			}
		}
		*p.dst = t.UnixNano()
	}
	out, err := s.money.Earnings(ctx, did, settlement.EarningsQuery{From: from, To: to, Period: q.Get("period")})
	if err != nil {
		return moneyProblem(err)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// accounts handles GET /v1/accounts?did=: a principal's ledger accounts
// (prepaid, contributor) with balances.
func (s *Server) accounts(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	did, err := identity.ParseDID(r.URL.Query().Get("did"))
	if err != nil {
		return errorf(http.StatusBadRequest, "bad-did", "Malformed DID", err.Error(), "pass ?did=did:key:...", err)
	}
	if err := s.mayReadMoney(r, did); err != nil {
		return err
	}
	out, err := s.money.Accounts(ctx, did)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, api.AccountsAnswer{DID: did.String(), Accounts: out})
	return nil
}
