// Package metering defines the signed statements of use and dispute that
// settlement turns into money, and the pricing rules that do it.
//
// A Receipt is signed by the server for one download session under a
// grant (bytes and ranges served, times). A Usage event is signed by a
// licensee (tokens, calls, training runs under a grant) and is idempotent
// by its id. A Dispute, signed by anyone, holds an asset's revenue; a
// Resolution signed by the asset's owners releases or voids it. Fund and
// Withdrawal statements move money into and out of the ledger.
//
// Like packages asset and grant, this package is pure: statements are
// parsed strictly (canonical JSON only), validated and priced; the server
// logs and applies them. Formats: docs/spec/usage-receipt.md,
// docs/spec/usage-event.md, docs/spec/dispute.md.
package metering

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/internal/visible"
	"github.com/charter-dev/charter/license"
)

// Payload kinds (identity.PayloadType(kind) is the DSSE payload type).
const (
	KindReceipt    = "receipt"
	KindUsage      = "usage"
	KindDispute    = "dispute"
	KindResolution = "dispute-resolution"
	KindFund       = "fund"
	KindWithdrawal = "withdrawal"
)

// Limits.
const (
	// MaxQuantity bounds every counted quantity of a usage event (tokens,
	// calls, runs): 10^15, so that a quantity times any price fits the
	// 128-bit intermediate and a sum of a few events cannot wrap.
	MaxQuantity = 1_000_000_000_000_000
	// MaxRanges is the most ranges a receipt lists.
	MaxRanges = 1024
	// MaxIDLen is the longest usage event id, in bytes.
	MaxIDLen = 64
	// MaxReason is the longest dispute reason, in bytes.
	MaxReason = 1024
	// LateWindow is how long after a grant expires usage events dated
	// within its validity are still accepted.
	LateWindow = 7 * 24 * time.Hour
	// ClockSkew is how far in the future an event's time may lie.
	ClockSkew = 5 * time.Minute
)

// Errors. Callers match them with errors.Is.
var (
	ErrMalformed = errors.New("metering: malformed statement")
	ErrInvalid   = errors.New("metering: invalid statement")
	// ErrQuantity reports a negative, zero or too large quantity.
	ErrQuantity = errors.New("metering: invalid quantity")
	// ErrOverflow reports a price that does not fit an int64.
	ErrOverflow = errors.New("metering: charge overflows")
	// ErrGrantRevoked reports usage under a revoked grant.
	ErrGrantRevoked = errors.New("metering: grant revoked")
	// ErrGrantExpired reports usage outside the grant's validity or after
	// the late window.
	ErrGrantExpired = errors.New("metering: grant not valid for this usage")
	// ErrCurrency reports a malformed ledger currency.
	ErrCurrency = errors.New("metering: malformed currency")
)

// Range is a byte range of one content served in a session.
type Range struct {
	Content content.ID `json:"content"`
	Length  int64      `json:"length"`
	Offset  int64      `json:"offset"`
}

// Receipt is the server's signed record of one download session under a
// grant. Fields are declared in JSON key order (canonical encoding).
type Receipt struct {
	Asset    asset.ID     `json:"asset"`
	Bytes    int64        `json:"bytes"` // bytes served, repeats included
	Ended    asset.Time   `json:"ended"`
	Grant    asset.ID     `json:"grant"`
	Issuer   identity.DID `json:"issuer"`
	Licensee identity.DID `json:"licensee"`
	Part     int64        `json:"part"`   // 1 for a session's first receipt, +1 after each close
	Ranges   []Range      `json:"ranges"` // merged, sorted by content then offset
	Requests int64        `json:"requests"`
	Session  string       `json:"session"`
	Started  asset.Time   `json:"started"`
}

// Usage is a licensee's signed report of use under a grant.
type Usage struct {
	Calls    int64        `json:"calls"`
	Grant    asset.ID     `json:"grant"`
	ID       string       `json:"id"`
	Licensee identity.DID `json:"licensee"`
	Runs     int64        `json:"runs"`
	Time     asset.Time   `json:"time"`
	Tokens   int64        `json:"tokens"`
}

// Dispute puts an asset's revenue on hold. Anyone may open one.
type Dispute struct {
	Asset   asset.ID     `json:"asset"`
	Created asset.Time   `json:"created"`
	Nonce   string       `json:"nonce"`
	Opener  identity.DID `json:"opener"`
	Reason  string       `json:"reason"`
}

// Outcomes of a dispute resolution.
const (
	Release = "release" // held splits are posted to the contributors
	Void    = "void"    // held splits are voided; the money stays with the asset
)

// Resolution closes a dispute; owners of the asset reaching its threshold
// sign it.
type Resolution struct {
	Asset   asset.ID   `json:"asset"`
	Created asset.Time `json:"created"`
	Dispute asset.ID   `json:"dispute"`
	Outcome string     `json:"outcome"`
}

// Fund is an operator's deposit into a licensee's account from an external
// account, optionally opening the account with a credit line.
type Fund struct {
	Amount      int64        `json:"amount"`
	Created     asset.Time   `json:"created"`
	CreditLimit int64        `json:"creditLimit"`
	Currency    string       `json:"currency"`
	From        string       `json:"from"` // external account name, e.g. "bank"
	Licensee    identity.DID `json:"licensee"`
	Nonce       string       `json:"nonce"`
}

// Withdrawal is a contributor's payout request: a transfer of earnings to
// an external account.
type Withdrawal struct {
	Amount      int64        `json:"amount"`
	Contributor identity.DID `json:"contributor"`
	Created     asset.Time   `json:"created"`
	Currency    string       `json:"currency"`
	Nonce       string       `json:"nonce"`
	To          string       `json:"to"` // external account name, e.g. "bank"
}

// maxStatement bounds every metering statement's payload.
const maxStatement = 64 << 10

// format is the statement format of kind: payloads up to maxStatement,
// bad ones reported with ErrMalformed.
func format(kind string) identity.Format {
	return identity.Format{Kind: kind, MaxSize: maxStatement, Malformed: ErrMalformed}
}

// sign validates v and signs it as a statement of kind.
func sign(kind string, v interface{ Validate() error }, keys ...*identity.Key) (*identity.Envelope, error) {
	if err := v.Validate(); err != nil {
		return nil, err
	}
	return format(kind).Sign(v, keys...)
}

// open verifies env as a statement of kind signed by at least one key and
// decodes and validates it into v. It returns the signers and the id.
func open(env *identity.Envelope, kind string, v interface{ Validate() error }) ([]identity.DID, asset.ID, error) {
	signers, payload, err := format(kind).Open(env, v)
	if err != nil {
		return nil, asset.ID{}, err
	}
	if err := v.Validate(); err != nil {
		return nil, asset.ID{}, err
	}
	return signers, grant.StatementID(payload), nil
}

func signedBy(signers []identity.DID, who identity.DID) error {
	if len(signers) != 1 || signers[0] != who {
		return fmt.Errorf("%w: must be signed by %s alone", ErrInvalid, who)
	}
	return nil
}

func quantity(name string, v int64) error {
	if v < 0 || v > MaxQuantity {
		return fmt.Errorf("%w: %s %d outside [0, %d]", ErrQuantity, name, v, int64(MaxQuantity))
	}
	return nil
}

// Validate checks a receipt on its own.
func (r *Receipt) Validate() error {
	switch {
	case r.Asset.IsZero() || r.Grant.IsZero() || r.Issuer.IsZero() || r.Licensee.IsZero():
		return fmt.Errorf("%w: receipt needs asset, grant, issuer and licensee", ErrInvalid)
	case r.Session == "" || len(r.Session) > MaxIDLen || !idChars(r.Session):
		return fmt.Errorf("%w: session id must be 1 to %d letters, digits, '.', '_' or '-'", ErrInvalid, MaxIDLen)
	case r.Part < 1 || r.Requests < 1 || r.Bytes < 0:
		return fmt.Errorf("%w: receipt counts out of range", ErrInvalid)
	case r.Started.IsZero() || r.Ended.IsZero() || r.Ended.Time().Before(r.Started.Time()):
		return fmt.Errorf("%w: receipt times out of order", ErrInvalid)
	case len(r.Ranges) > MaxRanges:
		return fmt.Errorf("%w: %d ranges, limit %d", ErrInvalid, len(r.Ranges), MaxRanges)
	}
	for i, g := range r.Ranges {
		if g.Content.IsZero() || g.Offset < 0 || g.Length <= 0 || g.Offset > math.MaxInt64-g.Length {
			return fmt.Errorf("%w: range %d malformed", ErrInvalid, i)
		}
		if i > 0 {
			p := r.Ranges[i-1]
			c := strings.Compare(p.Content.String(), g.Content.String())
			if c > 0 || (c == 0 && p.Offset+p.Length >= g.Offset) {
				return fmt.Errorf("%w: ranges not merged and sorted", ErrInvalid)
			}
		}
	}
	return nil
}

// Sign signs a receipt with the server's key.
func (r *Receipt) Sign(k *identity.Key) (*identity.Envelope, error) {
	return sign(KindReceipt, r, k)
}

// OpenReceipt verifies a receipt signed by its issuer and returns it with
// its id.
func OpenReceipt(env *identity.Envelope) (*Receipt, asset.ID, error) {
	var r Receipt
	signers, id, err := open(env, KindReceipt, &r)
	if err != nil {
		return nil, id, err
	}
	return &r, id, signedBy(signers, r.Issuer)
}

func idChars(s string) bool {
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// Validate checks a usage event on its own: an id of 1 to MaxIDLen
// letters, digits, '.', '_' or '-', quantities in [0, MaxQuantity], at
// least one of them positive.
func (u *Usage) Validate() error {
	switch {
	case u.Grant.IsZero() || u.Licensee.IsZero() || u.Time.IsZero():
		return fmt.Errorf("%w: usage needs grant, licensee and time", ErrInvalid)
	case u.ID == "" || len(u.ID) > MaxIDLen || !idChars(u.ID):
		return fmt.Errorf("%w: usage id %q must be 1 to %d letters, digits, '.', '_' or '-'", ErrInvalid, u.ID, MaxIDLen)
	}
	for _, q := range []struct {
		n string
		v int64
	}{{"tokens", u.Tokens}, {"calls", u.Calls}, {"runs", u.Runs}} {
		if err := quantity(q.n, q.v); err != nil {
			return err
		}
	}
	if u.Tokens == 0 && u.Calls == 0 && u.Runs == 0 {
		return fmt.Errorf("%w: usage reports nothing (tokens, calls and runs are all 0)", ErrQuantity)
	}
	return nil
}

// Sign signs a usage event with the licensee's key.
func (u *Usage) Sign(k *identity.Key) (*identity.Envelope, error) { return sign(KindUsage, u, k) }

// OpenUsage verifies a usage event signed by its licensee alone.
func OpenUsage(env *identity.Envelope) (*Usage, asset.ID, error) {
	var u Usage
	signers, id, err := open(env, KindUsage, &u)
	if err != nil {
		return nil, id, err
	}
	return &u, id, signedBy(signers, u.Licensee)
}

// Accept decides whether usage u may be recorded at time now under grant g,
// revoked or not. An event dated outside the grant's validity is refused;
// so is any event under a revoked grant. Under an expired grant, events
// dated within its validity are accepted until LateWindow after expiry.
func Accept(u *Usage, g *grant.Grant, revoked bool, now time.Time) error {
	if u.Grant != g.ID || u.Licensee != g.Licensee {
		return fmt.Errorf("%w: usage for grant %s by %s does not match grant %s of %s", ErrInvalid, u.Grant, u.Licensee, g.ID, g.Licensee)
	}
	if revoked {
		return fmt.Errorf("%w: grant %s was revoked; usage under it is not accepted", ErrGrantRevoked, g.ID)
	}
	t := u.Time.Time()
	if t.After(now.Add(ClockSkew)) {
		return fmt.Errorf("%w: usage dated %s is in the future", ErrGrantExpired, t.Format(time.RFC3339))
	}
	if !g.ValidAt(t) {
		return fmt.Errorf("%w: usage dated %s is outside the grant's validity %s to %s", ErrGrantExpired, t.Format(time.RFC3339), g.NotBefore.Time().Format(time.RFC3339), g.NotAfter.Time().Format(time.RFC3339))
	}
	if now.After(g.NotAfter.Time().Add(LateWindow)) {
		return fmt.Errorf("%w: grant %s expired %s; late usage is accepted for %s after expiry", ErrGrantExpired, g.ID, g.NotAfter.Time().Format(time.RFC3339), LateWindow)
	}
	return nil
}

// Validate checks a dispute on its own.
func (d *Dispute) Validate() error {
	switch {
	case d.Asset.IsZero() || d.Opener.IsZero() || d.Created.IsZero():
		return fmt.Errorf("%w: dispute needs asset, opener and time", ErrInvalid)
	case len(d.Nonce) < 16 || len(d.Nonce) > 64:
		return fmt.Errorf("%w: dispute nonce must be 16 to 64 characters", ErrInvalid)
	case strings.TrimSpace(d.Reason) == "" || len(d.Reason) > MaxReason:
		return fmt.Errorf("%w: a dispute needs a reason of at most %d bytes", ErrInvalid, MaxReason)
	}
	// Owners and the operator read the reason before they act on it.
	if err := visible.Check(d.Reason, true); err != nil {
		return fmt.Errorf("%w: reason %q: %w", ErrInvalid, d.Reason, err)
	}
	return nil
}

// Sign signs a dispute with the opener's key.
func (d *Dispute) Sign(k *identity.Key) (*identity.Envelope, error) { return sign(KindDispute, d, k) }

// OpenDispute verifies a dispute signed by its opener alone.
func OpenDispute(env *identity.Envelope) (*Dispute, asset.ID, error) {
	var d Dispute
	signers, id, err := open(env, KindDispute, &d)
	if err != nil {
		return nil, id, err
	}
	return &d, id, signedBy(signers, d.Opener)
}

// Validate checks a resolution on its own.
func (r *Resolution) Validate() error {
	switch {
	case r.Asset.IsZero() || r.Dispute.IsZero() || r.Created.IsZero():
		return fmt.Errorf("%w: resolution needs asset, dispute and time", ErrInvalid)
	case r.Outcome != Release && r.Outcome != Void:
		return fmt.Errorf("%w: outcome %q, want %q or %q", ErrInvalid, r.Outcome, Release, Void)
	}
	return nil
}

// Sign signs a resolution with owners' keys.
func (r *Resolution) Sign(keys ...*identity.Key) (*identity.Envelope, error) {
	return sign(KindResolution, r, keys...)
}

// OpenResolution verifies a resolution and returns its signers; whether
// they reach the owners' threshold is the caller's check (grant.Weight).
func OpenResolution(env *identity.Envelope) (*Resolution, []identity.DID, asset.ID, error) {
	var r Resolution
	signers, id, err := open(env, KindResolution, &r)
	return &r, signers, id, err
}

func account(name string) bool {
	return name != "" && len(name) <= 64 && idChars(name)
}

// Validate checks a fund statement on its own.
func (f *Fund) Validate() error {
	switch {
	case f.Licensee.IsZero() || f.Created.IsZero():
		return fmt.Errorf("%w: fund needs licensee and time", ErrInvalid)
	case f.Amount < 0 || f.CreditLimit < 0 || (f.Amount == 0 && f.CreditLimit == 0):
		return fmt.Errorf("%w: amount and credit limit must not be negative, and one must be positive", ErrQuantity)
	case !account(f.From):
		return fmt.Errorf("%w: external account %q", ErrInvalid, f.From)
	case len(f.Nonce) < 16 || len(f.Nonce) > 64:
		return fmt.Errorf("%w: nonce must be 16 to 64 characters", ErrInvalid)
	}
	_, _, err := ParseCurrency(f.Currency)
	return err
}

// Sign signs a fund statement with the operator's key.
func (f *Fund) Sign(k *identity.Key) (*identity.Envelope, error) { return sign(KindFund, f, k) }

// OpenFund verifies a fund statement and returns its signers (the caller
// checks that the operator signed) and id.
func OpenFund(env *identity.Envelope) (*Fund, []identity.DID, asset.ID, error) {
	var f Fund
	signers, id, err := open(env, KindFund, &f)
	return &f, signers, id, err
}

// Validate checks a withdrawal on its own.
func (w *Withdrawal) Validate() error {
	switch {
	case w.Contributor.IsZero() || w.Created.IsZero():
		return fmt.Errorf("%w: withdrawal needs contributor and time", ErrInvalid)
	case w.Amount <= 0:
		return fmt.Errorf("%w: withdrawal amount must be positive", ErrQuantity)
	case !account(w.To):
		return fmt.Errorf("%w: external account %q", ErrInvalid, w.To)
	case len(w.Nonce) < 16 || len(w.Nonce) > 64:
		return fmt.Errorf("%w: nonce must be 16 to 64 characters", ErrInvalid)
	}
	_, _, err := ParseCurrency(w.Currency)
	return err
}

// Sign signs a withdrawal with the contributor's key.
func (w *Withdrawal) Sign(k *identity.Key) (*identity.Envelope, error) {
	return sign(KindWithdrawal, w, k)
}

// OpenWithdrawal verifies a withdrawal signed by its contributor alone.
func OpenWithdrawal(env *identity.Envelope) (*Withdrawal, asset.ID, error) {
	var w Withdrawal
	signers, id, err := open(env, KindWithdrawal, &w)
	if err != nil {
		return nil, id, err
	}
	return &w, id, signedBy(signers, w.Contributor)
}

// Currency returns the ledger currency of a price: the currency code and,
// when the exponent is not 0, "-" and the exponent, e.g. "USD-4" for
// amounts in 1/10,000 USD. Ledger amounts count units of it.
func Currency(p license.Price) string {
	if p.Exponent == 0 {
		return p.Currency
	}
	return p.Currency + "-" + strconv.Itoa(p.Exponent)
}

// ParseCurrency splits a ledger currency into code and exponent.
func ParseCurrency(s string) (code string, exp int, err error) {
	code, e, has := strings.Cut(s, "-")
	if code == "" || len(code) > 12 || !idChars(code) || strings.ContainsAny(code, "._") {
		return "", 0, fmt.Errorf("%w: %q (want a code such as USD or USD-4)", ErrCurrency, s)
	}
	if has {
		exp, err = strconv.Atoi(e)
		if err != nil || exp < 1 || exp > 18 || strconv.Itoa(exp) != e {
			return "", 0, fmt.Errorf("%w: %q (exponent must be 1 to 18)", ErrCurrency, s)
		}
	}
	return code, exp, nil
}

// ParseAmount reads a decimal amount of currency cur ("12.5" in "USD-4" is
// 125000 units) exactly; more decimals than the exponent, a sign or an
// amount past int64 are refused.
func ParseAmount(s, cur string) (int64, error) {
	_, exp, err := ParseCurrency(cur)
	if err != nil {
		return 0, err
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > exp || strings.Trim(whole+frac, "0123456789") != "" || (strings.Contains(s, ".") && frac == "") {
		return 0, fmt.Errorf("%w: amount %q in %s (at most %d decimals, no sign)", ErrQuantity, s, cur, exp)
	}
	digits := whole + frac + strings.Repeat("0", exp-len(frac))
	v, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: amount %q in %s does not fit", ErrOverflow, s, cur)
	}
	return v, nil
}

// FormatAmount writes units of currency cur as a decimal.
func FormatAmount(v int64, cur string) string {
	_, exp, err := ParseCurrency(cur)
	if err != nil || exp == 0 {
		return strconv.FormatInt(v, 10)
	}
	neg := v < 0
	u := uint64(v)
	if neg {
		u = -u
	}
	s := strconv.FormatUint(u, 10)
	if len(s) <= exp {
		s = strings.Repeat("0", exp-len(s)+1) + s
	}
	s = s[:len(s)-exp] + "." + s[len(s)-exp:]
	if neg {
		s = "-" + s
	}
	return s
}

// Quantity is what one use consumed, in the units prices count.
type Quantity struct {
	Grants   int64 // 1 for the one charge of a flat price
	Bytes    int64
	Requests int64 // download sessions and reported calls
	Tokens   int64
	Runs     int64
}

// GiB is the unit of per_gib prices.
const GiB = 1 << 30

// Price returns the charge for q under price p, in units of Currency(p).
//
//   - flat: Amount per grant (q.Grants)
//   - per_gib: ceil(Bytes × Amount / 2^30), rounded up per use
//   - per_request: Requests × Amount
//   - per_1k_tokens: ceil(Tokens × Amount / 1000), rounded up per use
//   - per_training_run: Runs × Amount
//   - free: 0
//
// Quantities a model does not price are not charged. A negative quantity
// or a charge past int64 is an error; nothing is ever rounded down.
func Price(p license.Price, q Quantity) (int64, error) {
	if p.Amount < 0 {
		return 0, fmt.Errorf("%w: negative price", ErrQuantity)
	}
	for _, v := range []int64{q.Grants, q.Bytes, q.Requests, q.Tokens, q.Runs} {
		if v < 0 {
			return 0, fmt.Errorf("%w: negative quantity", ErrQuantity)
		}
	}
	switch p.Model {
	case license.Flat:
		return mulDivUp(q.Grants, p.Amount, 1)
	case license.PerGiB:
		return mulDivUp(q.Bytes, p.Amount, GiB)
	case license.PerRequest:
		return mulDivUp(q.Requests, p.Amount, 1)
	case license.Per1kTokens:
		return mulDivUp(q.Tokens, p.Amount, 1000)
	case license.PerTrainingRun:
		return mulDivUp(q.Runs, p.Amount, 1)
	}
	return 0, nil
}

// mulDivUp returns ceil(a×b/d) for non-negative a, b and positive d.
func mulDivUp(a, b, d int64) (int64, error) {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi >= uint64(d) {
		return 0, fmt.Errorf("%w: %d × %d / %d", ErrOverflow, a, b, d)
	}
	q, r := bits.Div64(hi, lo, uint64(d))
	if q > math.MaxInt64 {
		return 0, fmt.Errorf("%w: %d × %d / %d", ErrOverflow, a, b, d)
	}
	if r != 0 {
		q++ // at most 2^63: no wrap
	}
	if q > math.MaxInt64 {
		return 0, fmt.Errorf("%w: %d × %d / %d", ErrOverflow, a, b, d)
	}
	return int64(q), nil
}
