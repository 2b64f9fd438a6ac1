package server

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/ledger"
	"github.com/charter-dev/charter/metering"
	"github.com/charter-dev/charter/settlement"
)

// The money handlers: HTTP in, settlement.Service out. The rules (account
// names, deposits, payouts backed by the verified journal) are in package
// settlement.

// ErrLedgerTampered reports a ledger that fails verification against its
// own journal or the settlement roots in the transparency log.
var ErrLedgerTampered = settlement.ErrLedgerTampered

// moneyProblem maps the errors of package settlement to HTTP problems.
func moneyProblem(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, settlement.ErrLedgerUnverified):
		return errorf(http.StatusServiceUnavailable, "ledger-unverified", "Ledger not verified", "this server did not verify its ledger at start", "restart the server", err)
	case errors.Is(err, settlement.ErrLedgerTampered):
		return errorf(http.StatusServiceUnavailable, "ledger-tampered", "Ledger failed verification", "the ledger does not match its journal; payouts are stopped until the operator restores it", "ask the operator; `charter admin check` reports the details", err)
	case errors.Is(err, settlement.ErrCreditLineFixed):
		return errorf(http.StatusConflict, "credit-line-fixed", "Credit line already set", firstLine(err.Error()), "a credit line is fixed when the account opens; deposit instead", errors.Join(err, ledger.ErrIDConflict))
	case errors.Is(err, settlement.ErrNoEarnings):
		return errorf(http.StatusNotFound, "no-earnings", "No earnings in this currency", firstLine(err.Error()), "see `charter earnings` for your balances", err)
	case errors.Is(err, settlement.ErrInsufficientFunds):
		return errorf(http.StatusConflict, "insufficient-funds", "Not enough earnings", firstLine(err.Error()), "see `charter earnings` for your balance", err)
	case errors.Is(err, settlement.ErrBadPeriod):
		return errorf(http.StatusBadRequest, "bad-period", "Unknown period", firstLine(err.Error()), "use day or month", err)
	}
	return err
}

// FundAnswer is the answer to a deposit or a withdrawal.
type FundAnswer = api.FundAnswer

// statementFresh refuses statements older than 10 minutes or from the
// future; their ids are idempotency keys, so a replay within the window
// applies nothing twice.
func statementFresh(created time.Time) error {
	if age := time.Since(created); age > 10*time.Minute || age < -time.Minute {
		return errorf(http.StatusUnprocessableEntity, "stale-request", "Statement too old or from the future", fmt.Sprintf("created %s", created.Format(time.RFC3339)), "sign a new one; check your clock", nil)
	}
	return nil
}

// funds receive the operator's deposits (POST /v1/funds), withdrawals
// contributors' payout requests (POST /v1/withdrawals). Package settlement
// makes each one happen once (a ledger transfer named by its id, under
// its ledger lock), so neither takes a lock here, nor is either appended
// to the log as it is.
var (
	funds = &intake[*metering.Fund]{
		open: func(env *identity.Envelope) (opened[*metering.Fund], error) {
			f, signers, id, err := metering.OpenFund(env)
			return opened[*metering.Fund]{f, id, signers}, err
		},
	}
	withdrawals = &intake[*metering.Withdrawal]{
		open: func(env *identity.Envelope) (opened[*metering.Withdrawal], error) {
			wd, id, err := metering.OpenWithdrawal(env)
			return opened[*metering.Withdrawal]{v: wd, id: id}, err
		},
		check: func(wd *metering.Withdrawal) error { return statementFresh(wd.Created.Time()) },
	}
)

// fund handles POST /v1/funds: a deposit into a licensee's prepaid account
// from an external account, signed by the operator (the server's key,
// keys/server.key in the data folder).
func (s *Server) fund(w http.ResponseWriter, r *http.Request) error {
	in, err := receive(r.Context(), s, r, funds)
	if err != nil {
		return err
	}
	f, signers, id := in.v, in.signers, in.id
	operator := false
	for _, d := range signers {
		operator = operator || d == s.key.DID()
	}
	if !operator {
		return errorf(http.StatusForbidden, "not-operator", "Only the operator may fund accounts", "a deposit must be signed by the server's key", "sign with --key DATA/keys/server.key on the server's machine", nil)
	}
	if err := statementFresh(f.Created.Time()); err != nil {
		return err
	}
	ans, err := s.money.Fund(r.Context(), f, id)
	if err != nil {
		return moneyProblem(err)
	}
	writeJSON(w, http.StatusOK, ans)
	return nil
}

// withdraw handles POST /v1/withdrawals: a contributor's payout request,
// recorded as a transfer of earnings to an external account.
func (s *Server) withdraw(w http.ResponseWriter, r *http.Request) error {
	in, err := receive(r.Context(), s, r, withdrawals)
	if err != nil {
		return err
	}
	wd, id := in.v, in.id
	ans, err := s.money.Withdraw(r.Context(), wd, id)
	if err != nil {
		return moneyProblem(err)
	}
	writeJSON(w, http.StatusOK, ans)
	return nil
}
