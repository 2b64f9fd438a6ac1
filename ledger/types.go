package ledger

import (
	"fmt"
	"math"
)

// MaxIDLen is the longest account or transfer id, in bytes.
const MaxIDLen = 256

// MaxRefLen is the longest Transfer.Ref, in bytes.
const MaxRefLen = 4096

// AccountKind says what an account stands for. The engine treats all kinds
// alike; the kind is recorded for statements and checks by callers.
type AccountKind uint8

// Account kinds.
const (
	KindLicensee     AccountKind = 1 // a licensee's prepaid balance or credit line
	KindAssetRevenue AccountKind = 2 // revenue received by an asset, before splits
	KindContributor  AccountKind = 3 // a contributor's earnings
	KindEscrow       AccountKind = 4 // funds held while a dispute is open
	KindExternal     AccountKind = 5 // money entering or leaving the system (bank, card, chain)
	KindPlatformFee  AccountKind = 6 // the operator's fee
)

func (k AccountKind) String() string {
	switch k {
	case KindLicensee:
		return "licensee"
	case KindAssetRevenue:
		return "asset-revenue"
	case KindContributor:
		return "contributor"
	case KindEscrow:
		return "escrow"
	case KindExternal:
		return "external"
	case KindPlatformFee:
		return "platform-fee"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

func (k AccountKind) valid() bool { return k >= KindLicensee && k <= KindPlatformFee }

// AccountFlags change how the engine treats an account.
type AccountFlags uint32

// Account flags.
const (
	// AllowNegative lets the account's debits exceed its credits without
	// bound (external accounts, where money enters the system).
	AllowNegative AccountFlags = 1 << iota

	accountFlagsMask = AllowNegative
)

// Account is an account's definition. It never changes once created.
type Account struct {
	ID    string
	Kind  AccountKind
	Flags AccountFlags
	// CreditLimit is how far debits (posted plus pending) may exceed posted
	// credits when AllowNegative is not set: 0 means no overdraft at all.
	CreditLimit int64
	// Currency names the unit of every amount on the account, e.g. "USD"
	// (cents) or "USD-6" (micro-dollars). Transfers only move money between
	// accounts of the same currency.
	Currency string
}

// Validate reports whether a is well formed.
func (a Account) Validate() error {
	if err := validID("account id", a.ID); err != nil {
		return err
	}
	if !a.Kind.valid() {
		return fmt.Errorf("account %q: unknown kind %d: %w", a.ID, a.Kind, ErrInvalid)
	}
	if a.Flags&^accountFlagsMask != 0 {
		return fmt.Errorf("account %q: unknown flags %#x: %w", a.ID, uint32(a.Flags), ErrInvalid)
	}
	if a.CreditLimit < 0 {
		return fmt.Errorf("account %q: negative credit limit: %w", a.ID, ErrInvalid)
	}
	if a.Flags&AllowNegative != 0 && a.CreditLimit != 0 {
		return fmt.Errorf("account %q: credit limit set on an account that allows any negative balance: %w", a.ID, ErrInvalid)
	}
	if err := validID("currency", a.Currency); err != nil {
		return err
	}
	if len(a.Currency) > 32 {
		return fmt.Errorf("account %q: currency longer than 32 bytes: %w", a.ID, ErrInvalid)
	}
	return nil
}

// Balance is an account's running totals. Every field is non-negative.
type Balance struct {
	DebitsPosted   int64
	CreditsPosted  int64
	DebitsPending  int64
	CreditsPending int64
}

// Net returns credits minus debits (posted only). The sum of Net over all
// accounts is zero.
func (b Balance) Net() int64 { return b.CreditsPosted - b.DebitsPosted }

// AccountBalance is an account with its balance.
type AccountBalance struct {
	Account
	Balance
}

// TransferFlags select a transfer's mode.
type TransferFlags uint32

// Transfer flags.
const (
	// Linked ties the transfer to the next one in the batch: the chain up
	// to and including the first transfer without Linked applies all or
	// nothing.
	Linked TransferFlags = 1 << iota
	// Pending reserves the amount (DebitsPending/CreditsPending) until a
	// later PostPending or VoidPending transfer resolves it.
	Pending
	// PostPending moves a pending transfer's reserved amount (all of it when
	// Amount is 0, or Amount of it, releasing the rest).
	PostPending
	// VoidPending releases a pending transfer's reserved amount.
	VoidPending

	transferFlagsMask = Linked | Pending | PostPending | VoidPending
)

// Transfer moves Amount from the Debit account to the Credit account.
type Transfer struct {
	ID     string // caller-chosen; the idempotency key
	Debit  string // account debited (money leaves)
	Credit string // account credited (money arrives)
	Amount int64
	Flags  TransferFlags
	// PendingID names the pending transfer a PostPending or VoidPending
	// transfer resolves. Debit, Credit and Amount of such a transfer may be
	// left zero (taken from the pending transfer); if set they must match
	// (Amount may be smaller, to post part of the reservation).
	PendingID string
	// Reverses names the transfer this one corrects. A reversal must mirror
	// its original (same amount, debit and credit swapped); see Reversal.
	Reverses string
	// Code is an application-defined kind (charge, split, royalty, payout…).
	Code uint16
	// Ref is free provenance text for statements: the receipt or usage
	// event, the settlement batch, the lineage path.
	Ref string
}

// Reversal returns the transfer that corrects t under the id id.
func Reversal(id string, t Transfer) Transfer {
	return Transfer{ID: id, Debit: t.Credit, Credit: t.Debit, Amount: t.Amount, Reverses: t.ID, Code: t.Code, Ref: t.Ref}
}

func (t Transfer) mode() TransferFlags { return t.Flags &^ Linked }

// Validate checks t on its own, before the ledger sees it.
func (t Transfer) Validate() error {
	if err := validID("transfer id", t.ID); err != nil {
		return err
	}
	if t.Flags&^transferFlagsMask != 0 {
		return fmt.Errorf("transfer %q: unknown flags %#x: %w", t.ID, uint32(t.Flags), ErrInvalid)
	}
	if len(t.Ref) > MaxRefLen {
		return fmt.Errorf("transfer %q: ref longer than %d bytes: %w", t.ID, MaxRefLen, ErrInvalid)
	}
	switch t.mode() {
	case 0, Pending:
		if t.PendingID != "" {
			return fmt.Errorf("transfer %q: pending id set without PostPending or VoidPending: %w", t.ID, ErrInvalid)
		}
		if err := validID("debit account", t.Debit); err != nil {
			return fmt.Errorf("transfer %q: %w", t.ID, err)
		}
		if err := validID("credit account", t.Credit); err != nil {
			return fmt.Errorf("transfer %q: %w", t.ID, err)
		}
		if t.Amount <= 0 {
			return fmt.Errorf("transfer %q: amount %d: %w\nhint: amounts are positive integers in the currency's smallest unit", t.ID, t.Amount, ErrAmount)
		}
		if t.Reverses != "" {
			if t.mode() == Pending {
				return fmt.Errorf("transfer %q: a reversal cannot be pending: %w", t.ID, ErrInvalid)
			}
			if err := validID("reversed transfer id", t.Reverses); err != nil {
				return fmt.Errorf("transfer %q: %w", t.ID, err)
			}
		}
	case PostPending, VoidPending:
		if err := validID("pending id", t.PendingID); err != nil {
			return fmt.Errorf("transfer %q: %w", t.ID, err)
		}
		if t.Reverses != "" {
			return fmt.Errorf("transfer %q: a post or void cannot be a reversal: %w", t.ID, ErrInvalid)
		}
		if t.Debit != "" {
			if err := validID("debit account", t.Debit); err != nil {
				return fmt.Errorf("transfer %q: %w", t.ID, err)
			}
		}
		if t.Credit != "" {
			if err := validID("credit account", t.Credit); err != nil {
				return fmt.Errorf("transfer %q: %w", t.ID, err)
			}
		}
		if t.Amount < 0 {
			return fmt.Errorf("transfer %q: amount %d: %w", t.ID, t.Amount, ErrAmount)
		}
	default:
		return fmt.Errorf("transfer %q: flags %#x combine more than one of Pending, PostPending, VoidPending: %w", t.ID, uint32(t.Flags), ErrInvalid)
	}
	if t.Debit != "" && t.Debit == t.Credit {
		return fmt.Errorf("transfer %q: debit and credit are the same account: %w", t.ID, ErrInvalid)
	}
	return nil
}

// Record is a transfer as the journal holds it: resolved (a post or void
// carries the accounts and the amount it actually moved or released) and
// stamped with its journal position and time.
type Record struct {
	Transfer
	Seq  uint64
	Time int64 // Unix nanoseconds
}

// Result is the outcome of one transfer of a batch.
type Result struct {
	Record       // the journaled transfer (the original one when Existed)
	Existed bool // the id was already applied with the same content
	Err     error
}

func validID(what, s string) error {
	if s == "" {
		return fmt.Errorf("empty %s: %w", what, ErrInvalid)
	}
	if len(s) > MaxIDLen {
		return fmt.Errorf("%s longer than %d bytes: %w", what, MaxIDLen, ErrInvalid)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("%s %q: byte %#x at %d is not printable ASCII: %w", what, s, c, i, ErrInvalid)
		}
	}
	return nil
}

// addChecked returns a+b or ErrOverflow; both must be non-negative.
func addChecked(a, b int64) (int64, error) {
	if b > math.MaxInt64-a {
		return 0, ErrOverflow
	}
	return a + b, nil
}
