// Package settlement turns metered use into money: uses → prices → splits
// → ledger → log, and reads it back as earnings.
//
// A Service prices every unsettled receipt and usage event under the terms
// its grant was made under, charges the licensee's prepaid account, splits
// the revenue up the asset's lineage (ledger/settle, ledger/split), holds
// the splits of disputed assets, and logs the ledger journal's root as a
// "settlement" entry (registry.SettlementEntry), whose application marks
// the uses settled. It also verifies the ledger against its journal and
// the logged roots, pays out only what the verified journal backs, and
// answers earnings statements from one account's postings.
//
// The package does no HTTP and opens nothing: it is handed a catalog, a
// ledger and a function that signs and logs its entries. server/ calls it
// and maps its errors to HTTP problems.
package settlement

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/ledger"
	"github.com/charter-dev/charter/license"
	"github.com/charter-dev/charter/metering"
)

// Catalog is what settlement reads from the catalog (and the reasons of
// unsettled uses, which it keeps there).
type Catalog interface {
	Applied(ctx context.Context) (next uint64, above map[uint64]bool, err error)
	Asset(ctx context.Context, id asset.ID) (*catalog.AssetRecord, error)
	Grant(ctx context.Context, id string) (*catalog.GrantRecord, error)
	catalog.UsageReader
	SetUnsettledReasons(ctx context.Context, rs []catalog.UnsettledReason) error
	UnsettledReasons(ctx context.Context, asset string) ([]catalog.UnsettledReason, error)
}

// Config is what a Service runs on.
type Config struct {
	Catalog Catalog
	Ledger  ledger.Ledger
	// Terms returns the parsed licence terms of a grant (by the grant's
	// Terms reference); the caller caches them.
	Terms func(ctx context.Context, grant string) (*license.Terms, error)
	// Append signs a settlement entry's payload with the operator's key,
	// logs it and returns its log index once it applied.
	Append func(ctx context.Context, payload []byte) (uint64, error)
	// Logger receives the service's log; nil means slog.Default().
	Logger *slog.Logger
	// SharedFailures keeps the last run's unsettled uses in the catalog
	// only (replicas read them from there), not in memory as well.
	SharedFailures bool
}

// Service settles and reports. It is safe for concurrent use: settlement
// runs are serialised, and so are ledger writes that check before they
// write.
type Service struct {
	cfg Config
	cat Catalog
	l   ledger.Ledger
	log *slog.Logger

	// ledgerMu serialises ledger writers that check before they write;
	// settleMu whole settlement runs.
	ledgerMu sync.Mutex
	settleMu sync.Mutex
	// books is the journal-backed view of every balance, verified by
	// Verify and caught up before payouts (guarded by ledgerMu).
	books *ledger.Books
	// heldDone remembers, per asset, the dispute resolution whose held
	// splits were resolved (guarded by settleMu).
	heldDone map[string]uint64
	// lastFailed holds, by asset, the uses the last run could not charge.
	lastFailed atomic.Pointer[map[string][]metering.FailedUse]
}

// New returns a Service on cfg's catalog and ledger. Call Verify before
// paying anything out.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{cfg: cfg, cat: cfg.Catalog, l: cfg.Ledger, log: cfg.Logger, heldDone: map[string]uint64{}}
}

// Ledger returns the ledger the service runs on.
func (s *Service) Ledger() ledger.Ledger { return s.l }

// Errors in the user's terms; server maps them to HTTP problems.
var (
	// ErrLedgerTampered reports a ledger that fails verification against
	// its own journal or the settlement roots in the transparency log.
	ErrLedgerTampered = errors.New("the ledger does not match its journal or the log")
	// ErrLedgerUnverified reports a service whose ledger was not verified
	// (Verify was not run).
	ErrLedgerUnverified = errors.New("the ledger was not verified at start")
	// ErrCreditLineFixed reports a deposit that would change the credit
	// line of an open account.
	ErrCreditLineFixed = errors.New("a credit line is fixed when the account opens")
	// ErrNoEarnings reports a withdrawal from a currency the contributor
	// has no account in.
	ErrNoEarnings = errors.New("no earnings in this currency")
	// ErrInsufficientFunds reports a withdrawal beyond the balance.
	ErrInsufficientFunds = errors.New("not enough earnings")
	// ErrBadPeriod reports an earnings period other than day or month.
	ErrBadPeriod = errors.New("unknown period")
)

// Account names. The ledger's account ids follow ledger's conventions with
// the currency appended after "@", so one principal or asset has one
// account per currency: "licensee:<did>@USD-4", "contributor:<did>@USD-4",
// "asset:<asset>@USD-4", "external:<name>@USD-4".

// InCurrency names the per-currency variant of a principal or asset.
func InCurrency(name, cur string) string { return name + "@" + cur }

// SplitCurrency undoes InCurrency.
func SplitCurrency(s string) (name, cur string) {
	i := strings.LastIndexByte(s, '@')
	if i < 0 {
		return s, ""
	}
	return s[:i], s[i+1:]
}

// LicenseeAccount is the prepaid account of a licensee in a currency.
func LicenseeAccount(did, cur string) string { return ledger.LicenseeAccount(InCurrency(did, cur)) }

// ContributorAccount is the earnings account of a contributor in a
// currency.
func ContributorAccount(did, cur string) string {
	return ledger.ContributorAccount(InCurrency(did, cur))
}

// ExternalAccount is an account outside Charter (a bank) in a currency.
func ExternalAccount(name, cur string) string {
	return ledger.ExternalAccount(InCurrency(name, cur))
}

// openAccount opens an account unless it exists; an existing account is
// accepted whatever its definition (credit lines are fixed when opened).
func (s *Service) openAccount(ctx context.Context, a ledger.Account) error {
	if _, err := s.l.LookupAccount(ctx, a.ID); err == nil {
		return nil
	} else if !errors.Is(err, ledger.ErrAccountNotFound) {
		return err
	}
	err := s.l.CreateAccounts(ctx, a)
	if errors.Is(err, ledger.ErrIDConflict) {
		return nil // opened meanwhile
	}
	return err
}
