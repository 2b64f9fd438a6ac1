// Package registry turns log entries into catalog changes. It holds
// Charter's state machine: Apply applies one entry of the transparency log
// inside a catalog transaction, the same function live (through the
// Sequencer, which applies entries strictly in log order) and on replay
// (Replay, Rebuild, Check), so a catalog rebuilt from the log equals the
// live one.
//
// Apply is a pure function of the log and the catalog: it reads the entry
// and the catalog transaction, nothing else. What a guard or a check needs
// beyond the statement (licence terms, a dataset's member list) is carried
// by entries of the log before it (carry.go), never read from the blob
// store, which the registry cannot open.
//
// The package knows no HTTP: it depends on the catalog's role interfaces,
// a reader of log entries and the domain packages (asset, grant, license,
// metering). What each entry does is specified in docs/spec/log-entry.md.
package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
)

// Log entry types of licensing beyond auditlog's.
const (
	TypeGrantRequest  = "grant.request"
	TypeGrantApproval = "grant.approval"
)

// Config configures a Registry.
type Config struct {
	// Operator is the server's identity: it signs grants and settlements,
	// and a dispute it opens has standing.
	Operator identity.DID
	// Logger receives what applying finds worth saying; nil means
	// slog.Default().
	Logger *slog.Logger
}

// Registry applies log entries to a catalog. It is safe for concurrent
// use; the catalog orders the transactions it runs in.
type Registry struct {
	operator identity.DID
	log      *slog.Logger

	// terms holds parsed licence terms (parsedTerms) by content id.
	terms sync.Map
	// opened holds manifests the live path verified and is logging, by
	// payload; issued holds grants the server signed and is logging.
	opened sync.Map
	issued sync.Map
}

// New returns a registry.
func New(cfg Config) *Registry {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Registry{operator: cfg.Operator, log: cfg.Logger}
}

// Operator is the DID of the server key the registry trusts.
func (r *Registry) Operator() identity.DID { return r.operator }

// Apply applies log entry idx inside a catalog transaction. It is
// deterministic given the catalog state before it: entries are applied in
// log order, live and on replay alike. An entry that repeats a statement
// applied before, or that breaks the registry's rules at its position
// (which the live path avoids appending), returns an error matching
// catalog.ErrNoEffect (a NoEffect): it is recorded as applied and has no
// effect. Any other error is a failure of the catalog or of reading what
// the entry names.
func (r *Registry) Apply(ctx context.Context, tx catalog.Tx, idx uint64, e auditlog.Entry) error {
	switch e.Type {
	case auditlog.TypeAssetRegister:
		return r.applyRegister(ctx, tx, idx, e.Payload)
	case auditlog.TypeAssetProposal:
		return r.applyProposal(ctx, tx, idx, e.Payload)
	case auditlog.TypeAssetApproval:
		return r.applyApproval(ctx, tx, idx, e.Payload)
	case auditlog.TypeGrant:
		return r.applyGrant(tx, idx, e.Payload)
	case auditlog.TypeLicense, TypeDatasetFiles:
		return r.applyPart(tx, idx, e.Type, e.Payload)
	case TypeGrantRequest:
		return applyGrantRequest(tx, idx, e.Payload)
	case TypeGrantApproval:
		return applyGrantApproval(tx, idx, e.Payload)
	case auditlog.TypeRevocation:
		return applyRevocation(tx, idx, e.Payload)
	case auditlog.TypeReceipt:
		return applyReceipt(tx, idx, e.Payload)
	case auditlog.TypeUsage:
		return applyUsage(tx, idx, e.Payload)
	case auditlog.TypeDispute:
		return r.applyDispute(tx, idx, e.Payload)
	case auditlog.TypeSettlement:
		return r.applySettlement(tx, idx, e.Payload)
	}
	return nil // no catalog effect (a decision record, an unknown type)
}

// HasCatalogEffect reports whether applying an entry of type typ may
// change the catalog beyond recording it as applied: false for decision
// records (Apply does nothing with them; the grant naming one applies it
// too), so the catalog can record them applied without a transaction
// savepoint of their own (catalog.Change with a nil Fn).
func HasCatalogEffect(typ string) bool {
	return typ != auditlog.TypeDecision
}

// ChangesAssets reports whether entries of type typ change asset records
// (callers caching asset records drop them after such an entry).
func ChangesAssets(typ string) bool {
	switch typ {
	case auditlog.TypeAssetRegister, auditlog.TypeAssetProposal, auditlog.TypeAssetApproval:
		return true
	}
	return false
}

// NoEffect is the error of a log entry that applies with no effect: it
// breaks the rules at its position in the log, or repeats a statement
// applied before (then Err wraps ErrDuplicate). It matches
// catalog.ErrNoEffect, so the catalog undoes the entry's changes and
// records it as applied.
type NoEffect struct{ Err error }

func (e NoEffect) Error() string { return e.Err.Error() }
func (e NoEffect) Unwrap() error { return e.Err }

// Is makes every NoEffect match catalog.ErrNoEffect.
func (e NoEffect) Is(target error) bool { return target == catalog.ErrNoEffect }

// ErrDuplicate marks a statement that was applied before.
var ErrDuplicate = errors.New("duplicate of a statement applied before")

// duplicate is the NoEffect of a repeated statement.
func duplicate(format string, args ...any) error {
	return NoEffect{fmt.Errorf("%w: %s", ErrDuplicate, fmt.Sprintf(format, args...))}
}

// LookupState is the asset.Lookup over asset records read by get (a
// catalog reader, or a transaction).
func LookupState(get func(asset.ID) (*catalog.AssetRecord, error)) asset.Lookup {
	return func(id asset.ID) (*asset.State, error) {
		rec, err := get(id)
		if errors.Is(err, catalog.ErrNotFound) {
			return nil, asset.ErrUnknownAsset
		}
		if err != nil {
			return nil, err
		}
		return rec.State, nil
	}
}

// OpenedManifest is a registration the live path verified, handed to Apply
// (Registry.Opened) so that the one ordered applier need not verify its
// signatures again, and what applying it found, for the answer (set once
// it applied).
type OpenedManifest struct {
	M       *asset.Manifest
	ID      asset.ID
	Signers []identity.DID

	Applied bool
	Claim   string
	Prio    asset.ID
	Version uint64
}

// Opened hands Apply the verified manifest whose envelope is payload until
// release is called (once the entry is applied, or will never be applied
// by this process).
func (r *Registry) Opened(payload []byte, om *OpenedManifest) (release func()) {
	r.opened.Store(string(payload), om)
	return func() { r.opened.Delete(string(payload)) }
}

// Issued hands Apply a grant the server signed, whose envelope is payload,
// so that applying it does not verify the server's own signature again.
func (r *Registry) Issued(payload []byte, g *grant.Grant) (release func()) {
	r.issued.Store(string(payload), g)
	return func() { r.issued.Delete(string(payload)) }
}
