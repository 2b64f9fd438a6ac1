package settlement

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/charter-dev/charter/api"
	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/ledger"
	"github.com/charter-dev/charter/metering"
)

// Fund deposits f (a statement whose signature, signer and freshness the
// caller checked: only the operator funds) into the licensee's prepaid
// account from an external account. A credit limit opens the account with
// a credit line; it cannot change once the account is open
// (ErrCreditLineFixed). The statement id makes the deposit idempotent.
func (s *Service) Fund(ctx context.Context, f *metering.Fund, id asset.ID) (api.FundAnswer, error) {
	acct := LicenseeAccount(f.Licensee.String(), f.Currency)
	ext := ExternalAccount(f.From, f.Currency)
	s.ledgerMu.Lock()
	defer s.ledgerMu.Unlock()
	cur, err := s.l.LookupAccount(ctx, acct)
	switch {
	case errors.Is(err, ledger.ErrAccountNotFound):
		if err := s.l.CreateAccounts(ctx, ledger.Account{ID: acct, Kind: ledger.KindLicensee, CreditLimit: f.CreditLimit, Currency: f.Currency}); err != nil {
			return api.FundAnswer{}, err
		}
	case err != nil:
		return api.FundAnswer{}, err
	case f.CreditLimit != 0 && cur.CreditLimit != f.CreditLimit:
		return api.FundAnswer{}, fmt.Errorf("%w: account %s was opened with credit limit %d", ErrCreditLineFixed, acct, cur.CreditLimit)
	}
	if err := s.openAccount(ctx, ledger.Account{ID: ext, Kind: ledger.KindExternal, Flags: ledger.AllowNegative, Currency: f.Currency}); err != nil {
		return api.FundAnswer{}, err
	}
	ans := api.FundAnswer{Account: acct, Currency: f.Currency}
	if f.Amount > 0 {
		tid := "fund:" + id.String()
		res, err := s.l.CreateTransfers(ctx, []ledger.Transfer{{ID: tid, Debit: ext, Credit: acct, Amount: f.Amount, Ref: "deposit from " + f.From}})
		if err != nil {
			return api.FundAnswer{}, err
		}
		if res[0].Err != nil {
			return api.FundAnswer{}, res[0].Err
		}
		ans.Transfer = tid
	}
	b, err := s.l.LookupAccount(ctx, acct)
	if err != nil {
		return api.FundAnswer{}, err
	}
	ans.Balance, ans.CreditLimit = b.Net(), b.CreditLimit
	s.log.Info("deposit", "account", acct, "amount", f.Amount, "credit_limit", f.CreditLimit)
	return ans, nil
}

// Withdraw records a contributor's payout (a statement whose signature
// and freshness the caller checked) as a transfer of earnings to an
// external account. It pays only what the verified journal backs
// (ErrLedgerTampered otherwise), and never takes the account below zero
// (ErrInsufficientFunds); a currency without an account is ErrNoEarnings.
func (s *Service) Withdraw(ctx context.Context, wd *metering.Withdrawal, id asset.ID) (api.FundAnswer, error) {
	acct := ContributorAccount(wd.Contributor.String(), wd.Currency)
	ext := ExternalAccount(wd.To, wd.Currency)
	s.ledgerMu.Lock()
	defer s.ledgerMu.Unlock()
	if _, err := s.l.LookupAccount(ctx, acct); err != nil {
		if errors.Is(err, ledger.ErrAccountNotFound) {
			return api.FundAnswer{}, fmt.Errorf("%w: %s has no account %s: %w", ErrNoEarnings, wd.Contributor, acct, err)
		}
		return api.FundAnswer{}, err
	}
	if err := s.backed(ctx, acct); err != nil {
		return api.FundAnswer{}, err
	}
	if err := s.openAccount(ctx, ledger.Account{ID: ext, Kind: ledger.KindExternal, Flags: ledger.AllowNegative, Currency: wd.Currency}); err != nil {
		return api.FundAnswer{}, err
	}
	tid := "withdraw:" + id.String()
	res, err := s.l.CreateTransfers(ctx, []ledger.Transfer{{ID: tid, Debit: acct, Credit: ext, Amount: wd.Amount, Ref: "payout to " + wd.To}})
	if err != nil {
		return api.FundAnswer{}, err
	}
	if err := res[0].Err; err != nil {
		if errors.Is(err, ledger.ErrExceedsLimit) {
			return api.FundAnswer{}, fmt.Errorf("%w: withdrawing %s %s: %w", ErrInsufficientFunds, metering.FormatAmount(wd.Amount, wd.Currency), wd.Currency, err)
		}
		return api.FundAnswer{}, err
	}
	b, err := s.l.LookupAccount(ctx, acct)
	if err != nil {
		return api.FundAnswer{}, err
	}
	s.log.Info("payout", "account", acct, "amount", wd.Amount, "to", wd.To)
	return api.FundAnswer{Account: acct, Currency: wd.Currency, Balance: b.Net(), Transfer: tid}, nil
}

// Accounts returns a principal's ledger accounts (prepaid, contributor)
// with balances, sorted by account.
func (s *Service) Accounts(ctx context.Context, did identity.DID) ([]api.FundAnswer, error) {
	out := []api.FundAnswer{}
	for _, p := range []string{ledger.LicenseeAccount(did.String()) + "@", ledger.ContributorAccount(did.String()) + "@"} {
		as, err := s.l.Accounts(ctx, p)
		if err != nil {
			return nil, err
		}
		for _, a := range as {
			out = append(out, api.FundAnswer{Account: a.ID, Currency: a.Currency, Balance: a.Net(), CreditLimit: a.CreditLimit})
		}
	}
	slices.SortFunc(out, func(a, b api.FundAnswer) int { return strings.Compare(a.Account, b.Account) })
	return out, nil
}

// LastFailed returns the uses of asset the last settlement run could not
// charge, with the reason, and whether this service ran since it started
// (if not, or on replicas, the catalog's UnsettledReasons hold the list).
func (s *Service) LastFailed(asset string) ([]metering.FailedUse, bool) {
	m := s.lastFailed.Load()
	if m == nil {
		return nil, false
	}
	return (*m)[asset], true
}
