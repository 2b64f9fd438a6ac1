package asset

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/internal/visible"
	"lukechampine.com/blake3"
)

// Errors. Every validation error also matches ErrInvalid.
var (
	ErrInvalid      = errors.New("asset: invalid statement")
	ErrMalformed    = errors.New("asset: malformed JSON")
	ErrNotCanonical = errors.New("asset: statement is not in canonical form")
	ErrField        = errors.New("asset: bad field")
	ErrOwners       = errors.New("asset: bad owners")
	ErrThreshold    = errors.New("asset: bad threshold")
	ErrContributors = errors.New("asset: bad contributors")
	ErrParents      = errors.New("asset: bad parents")

	ErrThresholdNotMet = errors.New("asset: signatures do not reach the owners' threshold")
	ErrNotOwner        = errors.New("asset: signer is not an owner")
	ErrUnknownAsset    = errors.New("asset: unknown asset")
	ErrLineageTooLarge = errors.New("asset: too many ancestors")
	ErrCycle           = errors.New("asset: lineage cycle")

	ErrStaleVersion      = errors.New("asset: proposal is not against the current version")
	ErrExpired           = errors.New("asset: proposal has expired")
	ErrWrongProposal     = errors.New("asset: approval is for another proposal")
	ErrDuplicateApproval = errors.New("asset: owner approved twice")
)

func invalid(kind error, format string, args ...any) error {
	return fmt.Errorf("%w: %w: %s", ErrInvalid, kind, fmt.Sprintf(format, args...))
}

// Limits.
const (
	MaxParents      = 16   // direct parents of one asset
	MaxAncestors    = 1024 // distinct ancestors of one asset, all generations
	MaxOwners       = identity.MaxSignatures
	MaxContributors = 256
	MaxWeight       = 1_000_000 // largest weight of one owner
	MaxStatement    = 64 << 10  // largest statement payload, bytes
	maxName         = 256
	maxDescription  = 4096
	maxMediaType    = 255
	maxLicense      = 512
	// maxVersion keeps version numbers exact in every JSON implementation
	// (RFC 8785 numbers are IEEE 754 doubles).
	maxVersion = 1<<53 - 1
)

// Share is a fraction in parts per million: Whole (1,000,000) is 100%.
type Share int64

// Whole is 100%.
const Whole Share = 1_000_000

// String formats s as a percentage, e.g. "12.5%".
func (s Share) String() string {
	return strconv.FormatFloat(float64(s)/1e4, 'f', -1, 64) + "%"
}

// ID names a statement: the CIDv1 (codec raw, blake3) of its canonical JSON
// payload. An asset's ID is the ID of its registration manifest; a
// proposal's ID is the ID of the proposal. The zero ID is not valid.
type ID struct{ c content.ID }

// idOf returns the ID of canonical payload bytes.
func idOf(canonical []byte) ID { return ID{content.IDFromDigest(blake3.Sum256(canonical))} }

// ParseID parses an ID in its CID string form.
func ParseID(s string) (ID, error) {
	c, err := content.ParseID(s)
	if err != nil {
		return ID{}, err
	}
	return ID{c}, nil
}

// String returns the CID string ("bafkr4i...").
func (id ID) String() string { return id.c.String() }

// IsZero reports whether id is the zero ID.
func (id ID) IsZero() bool { return id.c.IsZero() }

// MarshalText implements encoding.TextMarshaler.
func (id ID) MarshalText() ([]byte, error) { return id.c.MarshalText() }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID) UnmarshalText(b []byte) error { return id.c.UnmarshalText(b) }

// Time is an instant in the canonical form used in statements: RFC 3339 in
// UTC with whole seconds, e.g. "2026-11-26T08:00:00Z".
type Time struct{ t time.Time }

// NewTime returns t in UTC truncated to whole seconds.
func NewTime(t time.Time) Time { return Time{t.UTC().Truncate(time.Second)} }

// Time returns the instant.
func (t Time) Time() time.Time { return t.t }

// IsZero reports whether t is the zero time.
func (t Time) IsZero() bool { return t.t.IsZero() }

// MarshalText implements encoding.TextMarshaler.
func (t Time) MarshalText() ([]byte, error) { return []byte(t.t.Format(time.RFC3339)), nil }

// UnmarshalText accepts only the canonical form.
func (t *Time) UnmarshalText(b []byte) error {
	p, err := time.Parse(time.RFC3339, string(b))
	if err != nil || p.Year() < 1 || p.Year() > 9999 {
		return fmt.Errorf("%w: time %q: want RFC 3339 UTC with whole seconds", ErrField, b)
	}
	if p.UTC().Format(time.RFC3339) != string(b) {
		return fmt.Errorf("%w: time %q: want RFC 3339 UTC with whole seconds, e.g. %q", ErrField, b, p.UTC().Format(time.RFC3339))
	}
	*t = Time{p.UTC()}
	return nil
}

// Owner is one owner of an asset and the weight of their approval.
type Owner struct {
	DID    identity.DID `json:"did"`
	Weight int64        `json:"weight"`
}

// Contributor is a principal entitled to a share of the asset's revenue.
type Contributor struct {
	DID   identity.DID `json:"did"`
	Share Share        `json:"share"`
}

// Stacking says how a parent's royalty combines with royalties further up
// the lineage; see docs/spec/asset-manifest.md.
type Stacking string

const (
	// Relative: the parent's royalty is a share of what this asset earns,
	// and the parent's own parents take their share of that, recursively.
	Relative Stacking = "relative"
	// Absolute: the parent's royalty is a share of the gross revenue of the
	// sale, whatever the depth.
	Absolute Stacking = "absolute"
)

// Parent is an asset this one was derived from or trained on.
type Parent struct {
	Asset ID `json:"asset"`
	// Grant cites the grant on the parent that gives the owners the right
	// to derive (see CheckDerivation); it is left out of the canonical
	// form when zero, and registration refuses a parent without one.
	Grant    ID       `json:"grant,omitzero"`
	Royalty  Share    `json:"royalty"`
	Stacking Stacking `json:"stacking"`
}

// checkText applies Charter's rule for displayed text (visible.Check):
// valid UTF-8 without control characters (newline and tab allowed where
// multiline is true), line separators, bidirectional controls or invisible
// characters. Besides keeping names from disguising themselves, this keeps
// canonical JSON the same in every encoder.
func checkText(field, s string, max int, multiline bool) error {
	if len(s) > max {
		return invalid(ErrField, "%s is %d bytes, limit %d", field, len(s), max)
	}
	if err := visible.Check(s, multiline); err != nil {
		if len(s) > 80 { // the position finds it; do not echo a whole description
			return invalid(ErrField, "%s: %v", field, err)
		}
		return invalid(ErrField, "%s %q: %v", field, s, err)
	}
	return nil
}

func checkOwners(owners []Owner, threshold int64) error {
	if len(owners) == 0 {
		return invalid(ErrOwners, "an asset needs at least one owner")
	}
	if len(owners) > MaxOwners {
		return invalid(ErrOwners, "%d owners, limit %d", len(owners), MaxOwners)
	}
	seen := map[identity.DID]bool{}
	var total int64
	for i, o := range owners {
		if o.DID.IsZero() {
			return invalid(ErrOwners, "owner %d has no DID", i)
		}
		if seen[o.DID] {
			return invalid(ErrOwners, "duplicate owner %s", o.DID)
		}
		seen[o.DID] = true
		if o.Weight <= 0 || o.Weight > MaxWeight {
			return invalid(ErrOwners, "owner %s has weight %d, want 1..%d", o.DID, o.Weight, MaxWeight)
		}
		total += o.Weight
	}
	if threshold <= 0 {
		return invalid(ErrThreshold, "threshold %d, want at least 1", threshold)
	}
	if threshold > total {
		return invalid(ErrThreshold, "threshold %d is above the owners' total weight %d", threshold, total)
	}
	return nil
}

func checkContributors(cs []Contributor) error {
	if len(cs) == 0 {
		return invalid(ErrContributors, "at least one contributor is required (shares must sum to 100%%)")
	}
	if len(cs) > MaxContributors {
		return invalid(ErrContributors, "%d contributors, limit %d", len(cs), MaxContributors)
	}
	seen := map[identity.DID]bool{}
	var sum Share
	for i, c := range cs {
		if c.DID.IsZero() {
			return invalid(ErrContributors, "contributor %d has no DID", i)
		}
		if seen[c.DID] {
			return invalid(ErrContributors, "duplicate contributor %s", c.DID)
		}
		seen[c.DID] = true
		if c.Share <= 0 || c.Share > Whole {
			return invalid(ErrContributors, "contributor %s has share %d ppm, want 1..%d", c.DID, c.Share, Whole)
		}
		sum += c.Share
	}
	if sum != Whole {
		return invalid(ErrContributors, "contributor shares sum to %d ppm (%s), want exactly %d (100%%)", sum, sum, Whole)
	}
	return nil
}

// weightOf returns the total weight of the distinct owners among signers,
// and the first signer that is not an owner, if any.
func weightOf(owners []Owner, signers []identity.DID) (int64, identity.DID) {
	w := map[identity.DID]int64{}
	for _, o := range owners {
		w[o.DID] = o.Weight
	}
	var total int64
	var stranger identity.DID
	counted := map[identity.DID]bool{}
	for _, s := range signers {
		ow, ok := w[s]
		if !ok {
			if stranger.IsZero() {
				stranger = s
			}
			continue
		}
		if !counted[s] {
			counted[s] = true
			total += ow
		}
	}
	return total, stranger
}
