package license

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/charter-dev/charter/internal/canonjson"
	"regexp"
	"slices"
	"strings"
	"time"

	json "github.com/go-json-experiment/json"
	"github.com/multiformats/go-multibase"
	"github.com/zeebo/blake3"

	"github.com/charter-dev/charter/internal/visible"
)

// Profile is the value of the "profile" member of every terms document this
// package reads and writes.
const Profile = "urn:charter:license:v1"

// Limits on a terms document.
const (
	MaxTermsSize     = 64 << 10 // bytes of JSON
	MaxListed        = 1000     // principals, and organisations, per list
	MaxTextLen       = 1024     // bytes of attribution text
	MaxGrantSeconds  = 10 * 366 * 24 * 3600
	maxIdentifierLen = 256
)

var (
	// ErrInvalidTerms reports a terms document that is not valid. The error
	// is a *FieldError naming the member at fault.
	ErrInvalidTerms = errors.New("license: invalid terms")
	// ErrInvalidRequest reports an access request that is not valid.
	ErrInvalidRequest = errors.New("license: invalid request")
	// ErrUnknownTemplate reports a template name that does not exist.
	ErrUnknownTemplate = errors.New("license: unknown template")
	// ErrNotSuccessor reports terms that are not the next version of the
	// terms they claim to replace.
	ErrNotSuccessor = errors.New("license: not the next version of the terms")
)

// FieldError says which member of a document is wrong and why. It wraps
// ErrInvalidTerms or ErrInvalidRequest (or ErrInvalidRecord).
type FieldError struct {
	Err     error  // the sentinel: ErrInvalidTerms, ErrInvalidRequest, ErrInvalidRecord
	Field   string // dotted path of the member, e.g. "price.amount"; "" for the whole document
	Problem string
	Hint    string // optional advice for the user
}

func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.Err.Error())
	b.WriteString(": ")
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Problem)
	if e.Hint != "" {
		b.WriteString("\nhint: ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// Unwrap returns the sentinel error.
func (e *FieldError) Unwrap() error { return e.Err }

func termsErr(field, problem, hint string) error {
	return &FieldError{Err: ErrInvalidTerms, Field: field, Problem: problem, Hint: hint}
}

// Terms is a parsed, valid licence. Zero values mean "no restriction" or
// "not required" where the spec says a member is optional. Use Parse to read
// one and Validate after building one in code.
type Terms struct {
	Name       string // short identifier such as "research-only"; may be empty
	Version    int64  // 1 for the first terms of an asset, +1 for every change
	Supersedes string // lower-case hex BLAKE3 of the canonical terms this version replaces; empty for version 1

	Purposes   []Purpose // allowed purposes, canonical order
	Commercial bool      // commercial use allowed

	Who           Who      // anyone or listed
	Principals    []string // did:key ids allowed when Who is Listed
	Organisations []string // organisations whose members are allowed when Who is Listed

	NotBefore    time.Time // zero: no lower bound
	NotAfter     time.Time // zero: no upper bound; requests at or after it are refused
	GrantSeconds int64     // longest grant, in seconds (> 0)

	TerritoryAllow []string // ISO 3166-1 alpha-2; empty: everywhere
	TerritoryDeny  []string // ISO 3166-1 alpha-2

	Approval Approval

	Attribution     bool
	AttributionText string

	Derivatives Derivatives
	Obligations Obligations
	Price       Price
	Quotas      Quotas
}

// Derivatives says whether derived assets (a model trained on a dataset, a
// fine-tuned model) may be made and published, and what flows back.
type Derivatives struct {
	Allowed    bool
	Reciprocal bool     // derivatives must be published under these same terms
	Royalty    int64    // share of derivative revenue in parts per million (Whole = 100%), as asset.Share
	Stacking   Stacking // required when Royalty > 0
}

// Obligations are duties the licensee accepts with a grant.
type Obligations struct {
	PublishResults    bool
	ReturnDerivedData bool
	DeleteAfterExpiry bool
}

// Price is what a grant costs. The value of one unit of the model is
// Amount × 10^-Exponent Currency; for ISO 4217 currencies Exponent is at
// least the currency's minor units, so Amount counts the smallest unit or a
// declared finer one.
type Price struct {
	Model    PriceModel
	Currency string // ISO 4217 code or a token symbol; empty when free
	Amount   int64
	Exponent int
}

// Quotas bound a grant's use; zero means unlimited.
type Quotas struct {
	MaxBytes    int64
	MaxRequests int64
	MaxTokens   int64
	MaxRuns     int64
}

// The wire form. Pointers tell a missing member from a zero one.
type wireTerms struct {
	Profile     *string          `json:"profile"`
	Name        string           `json:"name,omitzero"`
	Version     *int64           `json:"version"`
	Supersedes  string           `json:"supersedes,omitzero"`
	Purposes    []Purpose        `json:"purposes"`
	Commercial  *bool            `json:"commercial"`
	Licensees   *wireLicensees   `json:"licensees"`
	Window      *wireWindow      `json:"window,omitzero"`
	Grant       *wireGrant       `json:"grant"`
	Territory   *wireTerritory   `json:"territory,omitzero"`
	Approval    *Approval        `json:"approval"`
	Attribution *wireAttribution `json:"attribution,omitzero"`
	Derivatives *wireDerivatives `json:"derivatives"`
	Obligations *wireObligations `json:"obligations,omitzero"`
	Price       *wirePrice       `json:"price"`
	Quotas      *wireQuotas      `json:"quotas,omitzero"`
}

type wireLicensees struct {
	Who           *Who     `json:"who"`
	Principals    []string `json:"principals,omitempty"`
	Organisations []string `json:"organisations,omitempty"`
}

type wireWindow struct {
	NotBefore string `json:"notBefore,omitzero"`
	NotAfter  string `json:"notAfter,omitzero"`
}

type wireGrant struct {
	MaxSeconds *int64 `json:"maxSeconds"`
}

type wireTerritory struct {
	Allow []string `json:"allow,omitempty"`
	Deny  []string `json:"deny,omitempty"`
}

type wireAttribution struct {
	Required bool   `json:"required"`
	Text     string `json:"text,omitzero"`
}

type wireDerivatives struct {
	Allowed    *bool    `json:"allowed"`
	Reciprocal bool     `json:"reciprocal,omitzero"`
	Royalty    int64    `json:"royalty,omitzero"`
	Stacking   Stacking `json:"stacking,omitzero"`
}

type wireObligations struct {
	PublishResults    bool `json:"publishResults,omitzero"`
	ReturnDerivedData bool `json:"returnDerivedData,omitzero"`
	DeleteAfterExpiry bool `json:"deleteAfterExpiry,omitzero"`
}

type wirePrice struct {
	Model    *PriceModel `json:"model"`
	Currency string      `json:"currency,omitzero"`
	Amount   int64       `json:"amount,omitzero"`
	Exponent int         `json:"exponent,omitzero"`
}

type wireQuotas struct {
	MaxBytes    int64 `json:"maxBytes,omitzero"`
	MaxRequests int64 `json:"maxRequests,omitzero"`
	MaxTokens   int64 `json:"maxTokens,omitzero"`
	MaxRuns     int64 `json:"maxRuns,omitzero"`
}

// strict are the options every document in this package is read with:
// unknown members, duplicate members, invalid UTF-8 and non-integer numbers
// for integer members are all errors, and names match case-sensitively.
var strict = json.JoinOptions(json.RejectUnknownMembers(true), json.MatchCaseInsensitiveNames(false))

// Parse reads a terms document strictly and validates it. Errors wrap
// ErrInvalidTerms; most are a *FieldError.
func Parse(b []byte) (*Terms, error) {
	if len(b) > MaxTermsSize {
		return nil, termsErr("", fmt.Sprintf("document is %d bytes, more than %d", len(b), MaxTermsSize), "")
	}
	var w wireTerms
	if err := json.Unmarshal(b, &w, strict); err != nil {
		return nil, jsonError(ErrInvalidTerms, err, "terms are one JSON object; docs/spec/license-terms.md lists every member")
	}
	t, err := fromWire(&w)
	if err != nil {
		return nil, err
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return t, nil
}

func fromWire(w *wireTerms) (*Terms, error) {
	t := &Terms{}
	switch {
	case w.Profile == nil:
		return nil, termsErr("profile", "missing", `set "profile": "`+Profile+`"`)
	case *w.Profile != Profile:
		return nil, termsErr("profile", fmt.Sprintf("%q is not supported", *w.Profile), `this version reads "`+Profile+`"`)
	}
	t.Name = w.Name
	if w.Version == nil {
		return nil, termsErr("version", "missing", "the first terms of an asset are version 1")
	}
	t.Version = *w.Version
	t.Supersedes = w.Supersedes
	if w.Purposes == nil {
		return nil, termsErr("purposes", "missing", purposeHint)
	}
	t.Purposes = slices.Clone(w.Purposes)
	if w.Commercial == nil {
		return nil, termsErr("commercial", "missing", `say "commercial": true or false`)
	}
	t.Commercial = *w.Commercial
	if w.Licensees == nil {
		return nil, termsErr("licensees", "missing", `{"who": "anyone"} lets anyone license`)
	}
	if w.Licensees.Who == nil {
		return nil, termsErr("licensees.who", "missing", `"anyone" or "listed"`)
	}
	t.Who = *w.Licensees.Who
	t.Principals = slices.Clone(w.Licensees.Principals)
	t.Organisations = slices.Clone(w.Licensees.Organisations)
	if w.Window != nil {
		var err error
		if t.NotBefore, err = parseTime("window.notBefore", w.Window.NotBefore); err != nil {
			return nil, err
		}
		if t.NotAfter, err = parseTime("window.notAfter", w.Window.NotAfter); err != nil {
			return nil, err
		}
	}
	if w.Grant == nil || w.Grant.MaxSeconds == nil {
		return nil, termsErr("grant.maxSeconds", "missing", "the longest grant in seconds, e.g. 2592000 for 30 days")
	}
	t.GrantSeconds = *w.Grant.MaxSeconds
	if w.Territory != nil {
		t.TerritoryAllow = slices.Clone(w.Territory.Allow)
		t.TerritoryDeny = slices.Clone(w.Territory.Deny)
	}
	if w.Approval == nil {
		return nil, termsErr("approval", "missing", `"automatic" or "owners"`)
	}
	t.Approval = *w.Approval
	if w.Attribution != nil {
		t.Attribution = w.Attribution.Required
		t.AttributionText = w.Attribution.Text
	}
	if w.Derivatives == nil || w.Derivatives.Allowed == nil {
		return nil, termsErr("derivatives.allowed", "missing", `say whether derived assets may be made: "derivatives": {"allowed": false}`)
	}
	t.Derivatives = Derivatives{
		Allowed:    *w.Derivatives.Allowed,
		Reciprocal: w.Derivatives.Reciprocal,
		Royalty:    w.Derivatives.Royalty,
		Stacking:   w.Derivatives.Stacking,
	}
	if w.Obligations != nil {
		t.Obligations = Obligations(*w.Obligations)
	}
	if w.Price == nil || w.Price.Model == nil {
		return nil, termsErr("price.model", "missing", `{"model": "free"} for no charge`)
	}
	t.Price = Price{Model: *w.Price.Model, Currency: w.Price.Currency, Amount: w.Price.Amount, Exponent: w.Price.Exponent}
	if w.Quotas != nil {
		t.Quotas = Quotas(*w.Quotas)
	}
	return t, nil
}

func parseTime(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil || tm.UTC().Format(time.RFC3339) != s || tm.Unix() < 0 {
		return time.Time{}, termsErr(field, fmt.Sprintf("%q is not a UTC time in whole seconds", s), "write times like 2026-01-01T00:00:00Z")
	}
	return tm.UTC(), nil
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

const purposeHint = "list one or more of embed, evaluate, fine-tune, infer, research, synthesize, train"

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
var orgRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,255}$`)
var tokenRE = regexp.MustCompile(`^[A-Z][A-Z0-9]{1,11}$`)

// Validate checks every rule of the spec and normalises t in place (sorted
// lists, UTC times). Parse calls it; call it on terms built in code.
func (t *Terms) Validate() error {
	if t.Name != "" && !nameRE.MatchString(t.Name) {
		return termsErr("name", fmt.Sprintf("%q is not a short name", t.Name), "lower-case letters, digits, '.', '_' and '-', at most 64")
	}
	if t.Version < 1 || t.Version > MaxSafeInteger {
		return termsErr("version", fmt.Sprintf("%d is not a version", t.Version), "versions count from 1")
	}
	switch {
	case t.Version == 1 && t.Supersedes != "":
		return termsErr("supersedes", "version 1 supersedes nothing", "drop supersedes or raise the version")
	case t.Version > 1 && !isHex32(t.Supersedes):
		return termsErr("supersedes", "missing or not 64 lower-case hex digits", "a later version names the BLAKE3 hash of the terms it replaces (license.Terms.Hash)")
	}
	if len(t.Purposes) == 0 {
		return termsErr("purposes", "must not be empty", purposeHint)
	}
	for _, p := range t.Purposes {
		if !p.Valid() {
			return termsErr("purposes", fmt.Sprintf("%q is not a purpose", p), purposeHint)
		}
	}
	if err := sortUnique("purposes", t.Purposes); err != nil {
		return err
	}
	switch t.Who {
	case Anyone:
		if len(t.Principals) > 0 || len(t.Organisations) > 0 {
			return termsErr("licensees", `lists are only allowed with "who": "listed"`, "")
		}
	case Listed:
		if len(t.Principals) == 0 && len(t.Organisations) == 0 {
			return termsErr("licensees", `"listed" needs principals or organisations`, `use "who": "anyone" to let anyone license`)
		}
		if len(t.Principals) > MaxListed || len(t.Organisations) > MaxListed {
			return termsErr("licensees", fmt.Sprintf("more than %d entries in a list", MaxListed), "license to an organisation instead")
		}
		for _, p := range t.Principals {
			if err := checkDIDKey(p); err != nil {
				return termsErr("licensees.principals", fmt.Sprintf("%q: %v", p, err), "principals are did:key ids of Ed25519 keys")
			}
		}
		for _, o := range t.Organisations {
			if !orgRE.MatchString(o) {
				return termsErr("licensees.organisations", fmt.Sprintf("%q is not an organisation id", o), "letters, digits and . _ : @ / + -, at most 256")
			}
		}
		if err := sortUnique("licensees.principals", t.Principals); err != nil {
			return err
		}
		if err := sortUnique("licensees.organisations", t.Organisations); err != nil {
			return err
		}
	default:
		return termsErr("licensees.who", fmt.Sprintf("%q is not allowed", t.Who), `"anyone" or "listed"`)
	}
	for _, tm := range []*time.Time{&t.NotBefore, &t.NotAfter} {
		if !tm.IsZero() {
			if tm.Unix() < 0 || tm.Year() > 9999 {
				return termsErr("window", "time out of range", "")
			}
			*tm = time.Unix(tm.Unix(), 0).UTC()
		}
	}
	if !t.NotBefore.IsZero() && !t.NotAfter.IsZero() && !t.NotBefore.Before(t.NotAfter) {
		return termsErr("window", fmt.Sprintf("notBefore %s is not before notAfter %s", formatTime(t.NotBefore), formatTime(t.NotAfter)), "the window is [notBefore, notAfter)")
	}
	if t.GrantSeconds <= 0 || t.GrantSeconds > MaxGrantSeconds {
		return termsErr("grant.maxSeconds", fmt.Sprintf("%d is not between 1 and %d", t.GrantSeconds, MaxGrantSeconds), "grants are given for at most ten years")
	}
	for _, l := range []struct {
		field string
		codes []string
	}{{"territory.allow", t.TerritoryAllow}, {"territory.deny", t.TerritoryDeny}} {
		for _, c := range l.codes {
			if !ValidTerritory(c) {
				return termsErr(l.field, fmt.Sprintf("%q is not an ISO 3166-1 alpha-2 code", c), "two upper-case letters, e.g. DE, US, JP")
			}
		}
		if err := sortUnique(l.field, l.codes); err != nil {
			return err
		}
	}
	for _, c := range t.TerritoryDeny {
		if slices.Contains(t.TerritoryAllow, c) {
			return termsErr("territory", fmt.Sprintf("%s is both allowed and denied", c), "")
		}
	}
	switch t.Approval {
	case Automatic, Owners:
	default:
		return termsErr("approval", fmt.Sprintf("%q is not allowed", t.Approval), `"automatic" or "owners"`)
	}
	switch {
	case t.Attribution && t.AttributionText == "":
		return termsErr("attribution.text", "required when attribution is required", "the line licensees must show, e.g. \"Data: Example Corpus (CC-BY)\"")
	case !t.Attribution && t.AttributionText != "":
		return termsErr("attribution.text", "set but attribution is not required", `add "required": true`)
	case len(t.AttributionText) > MaxTextLen:
		return termsErr("attribution.text", fmt.Sprintf("longer than %d bytes", MaxTextLen), "")
	}
	if err := visible.Check(t.AttributionText, false); err != nil {
		return termsErr("attribution.text", err.Error(), "write the line as plain text: no control, bidirectional or invisible characters")
	}
	d := t.Derivatives
	if !d.Allowed && (d.Reciprocal || d.Royalty != 0 || d.Stacking != "") {
		return termsErr("derivatives", "reciprocal, royalty and stacking need allowed: true", "")
	}
	if d.Royalty < 0 || d.Royalty > Whole {
		return termsErr("derivatives.royalty", fmt.Sprintf("%d is not between 0 and %d", d.Royalty, Whole), "parts per million: 1000000 = 100%, 25000 = 2.5%")
	}
	switch {
	case d.Royalty > 0 && d.Stacking != Relative && d.Stacking != Absolute:
		return termsErr("derivatives.stacking", fmt.Sprintf("%q is not allowed", d.Stacking), `"relative" or "absolute"`)
	case d.Royalty == 0 && d.Stacking != "":
		return termsErr("derivatives.stacking", "set without a royalty share", "")
	}
	if err := t.Price.validate(); err != nil {
		return err
	}
	for _, q := range []struct {
		field string
		v     int64
	}{{"quotas.maxBytes", t.Quotas.MaxBytes}, {"quotas.maxRequests", t.Quotas.MaxRequests}, {"quotas.maxTokens", t.Quotas.MaxTokens}, {"quotas.maxRuns", t.Quotas.MaxRuns}} {
		if q.v < 0 || q.v > MaxSafeInteger {
			return termsErr(q.field, fmt.Sprintf("%d is not between 0 and %d", q.v, int64(MaxSafeInteger)), "0 or absent means unlimited")
		}
	}
	return nil
}

func (p Price) validate() error {
	if !slices.Contains(priceModels(), p.Model) {
		return termsErr("price.model", fmt.Sprintf("%q is not a price model", p.Model), "free, flat, per_gib, per_request, per_1k_tokens or per_training_run")
	}
	if p.Model == Free {
		if p.Currency != "" || p.Amount != 0 || p.Exponent != 0 {
			return termsErr("price", "a free price has no currency, amount or exponent", "")
		}
		return nil
	}
	minor, iso := MinorUnits(p.Currency)
	if !iso && !tokenRE.MatchString(p.Currency) {
		return termsErr("price.currency", fmt.Sprintf("%q is neither an ISO 4217 code nor a token symbol", p.Currency), "e.g. USD, EUR, JPY, or a token symbol such as USDC")
	}
	if p.Amount <= 0 || p.Amount > MaxSafeInteger {
		return termsErr("price.amount", fmt.Sprintf("%d is not between 1 and %d", p.Amount, int64(MaxSafeInteger)), `an integer count of the smallest unit; use "model": "free" for no charge`)
	}
	if p.Exponent < 0 || p.Exponent > MaxExponent {
		return termsErr("price.exponent", fmt.Sprintf("%d is not between 0 and %d", p.Exponent, MaxExponent), "")
	}
	if iso && p.Exponent < minor {
		return termsErr("price.exponent", fmt.Sprintf("%d is coarser than %s's minor unit (%d)", p.Exponent, p.Currency, minor),
			fmt.Sprintf("amounts count the smallest unit or a finer one: exponent %d means 1 = 10^-%d %s", minor, minor, p.Currency))
	}
	return nil
}

func sortUnique[T ~string](field string, s []T) error {
	slices.Sort(s)
	for i := 1; i < len(s); i++ {
		if s[i] == s[i-1] {
			return termsErr(field, fmt.Sprintf("%q is listed twice", s[i]), "")
		}
	}
	return nil
}

func isHex32(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// checkDIDKey accepts a did:key holding an Ed25519 public key
// (multicodec 0xed, base58btc multibase).
func checkDIDKey(s string) error {
	const prefix = "did:key:z"
	if !strings.HasPrefix(s, prefix) || len(s) > 128 {
		return errors.New("not a did:key in base58btc")
	}
	enc, b, err := multibase.Decode(s[len("did:key:"):])
	if err != nil || enc != multibase.Base58BTC {
		return errors.New("not a did:key in base58btc")
	}
	if len(b) != 34 || b[0] != 0xed || b[1] != 0x01 {
		return errors.New("not an Ed25519 did:key")
	}
	return nil
}

func (t *Terms) toWire() *wireTerms {
	profile, version, commercial := Profile, t.Version, t.Commercial
	who, approval, allowed, model, grant := t.Who, t.Approval, t.Derivatives.Allowed, t.Price.Model, t.GrantSeconds
	w := &wireTerms{
		Profile:    &profile,
		Name:       t.Name,
		Version:    &version,
		Supersedes: t.Supersedes,
		Purposes:   t.Purposes,
		Commercial: &commercial,
		Licensees:  &wireLicensees{Who: &who, Principals: t.Principals, Organisations: t.Organisations},
		Grant:      &wireGrant{MaxSeconds: &grant},
		Approval:   &approval,
		Derivatives: &wireDerivatives{Allowed: &allowed, Reciprocal: t.Derivatives.Reciprocal,
			Royalty: t.Derivatives.Royalty, Stacking: t.Derivatives.Stacking},
		Price: &wirePrice{Model: &model, Currency: t.Price.Currency, Amount: t.Price.Amount, Exponent: t.Price.Exponent},
	}
	if !t.NotBefore.IsZero() || !t.NotAfter.IsZero() {
		w.Window = &wireWindow{NotBefore: formatTime(t.NotBefore), NotAfter: formatTime(t.NotAfter)}
	}
	if len(t.TerritoryAllow) > 0 || len(t.TerritoryDeny) > 0 {
		w.Territory = &wireTerritory{Allow: t.TerritoryAllow, Deny: t.TerritoryDeny}
	}
	if t.Attribution {
		w.Attribution = &wireAttribution{Required: true, Text: t.AttributionText}
	}
	if t.Obligations != (Obligations{}) {
		o := wireObligations(t.Obligations)
		w.Obligations = &o
	}
	if t.Quotas != (Quotas{}) {
		q := wireQuotas(t.Quotas)
		w.Quotas = &q
	}
	return w
}

// Encode returns the canonical JSON of valid terms: members in the order of
// the spec, optional members left out when zero, lists sorted, no
// insignificant white space. Parse(Encode(t)) gives back equal terms, and
// Encode of any document that Parse accepts is a fixed point.
func (t *Terms) Encode() ([]byte, error) {
	c := t.Clone()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return canonjson.Marshal(c.toWire())
}

// Clone returns a deep copy of t.
func (t *Terms) Clone() *Terms {
	c := *t
	c.Purposes = slices.Clone(t.Purposes)
	c.Principals = slices.Clone(t.Principals)
	c.Organisations = slices.Clone(t.Organisations)
	c.TerritoryAllow = slices.Clone(t.TerritoryAllow)
	c.TerritoryDeny = slices.Clone(t.TerritoryDeny)
	return &c
}

// Digests are the SHA-256 and BLAKE3 hashes of some bytes, in lower-case
// hex. The BLAKE3 one equals the digest inside the bytes' content id.
type Digests struct {
	SHA256 string `json:"sha256"`
	BLAKE3 string `json:"blake3"`
}

// Sum returns the digests of b.
func Sum(b []byte) Digests {
	s := sha256.Sum256(b)
	k := blake3.Sum256(b)
	return Digests{SHA256: hex.EncodeToString(s[:]), BLAKE3: hex.EncodeToString(k[:])}
}

// Hash returns the digests of the canonical encoding of t. Its BLAKE3 hex
// is what a later version's Supersedes names.
func (t *Terms) Hash() (Digests, error) {
	b, err := t.Encode()
	if err != nil {
		return Digests{}, err
	}
	return Sum(b), nil
}

// CheckSuccessor reports whether next may replace prev: next.Version is
// prev.Version+1 and next.Supersedes is the BLAKE3 hash of prev. Errors wrap
// ErrNotSuccessor. Grants keep the terms they were granted under; this rule
// only orders the versions.
func CheckSuccessor(prev, next *Terms) error {
	h, err := prev.Hash()
	if err != nil {
		return fmt.Errorf("%w: previous terms: %w", ErrNotSuccessor, err)
	}
	if err := next.Clone().Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrNotSuccessor, err)
	}
	if next.Version != prev.Version+1 {
		return fmt.Errorf("%w: version %d does not follow %d", ErrNotSuccessor, next.Version, prev.Version)
	}
	if next.Supersedes != h.BLAKE3 {
		return fmt.Errorf("%w: supersedes %q, but the previous terms hash to %s\nhint: set supersedes to the BLAKE3 hash of the terms in force", ErrNotSuccessor, next.Supersedes, h.BLAKE3)
	}
	return nil
}

// GrantExpiry returns when a grant starting at start ends: start plus the
// longest grant, but never after the terms' notAfter.
func (t *Terms) GrantExpiry(start time.Time) time.Time {
	end := start.Add(time.Duration(t.GrantSeconds) * time.Second)
	if !t.NotAfter.IsZero() && t.NotAfter.Before(end) {
		end = t.NotAfter
	}
	return end.UTC()
}

// MarshalJSON writes the canonical form (Encode), so terms can be embedded
// in other JSON documents.
func (t *Terms) MarshalJSON() ([]byte, error) { return t.Encode() }

// UnmarshalJSON reads terms strictly (Parse).
func (t *Terms) UnmarshalJSON(b []byte) error {
	p, err := Parse(b)
	if err != nil {
		return err
	}
	*t = *p
	return nil
}
