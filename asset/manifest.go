package asset

import (
	"github.com/charter-dev/charter/internal/canonjson"
	"mime"
	"strings"

	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
)

// KindAsset is the statement kind of a registration manifest; its DSSE
// payload type is identity.PayloadType(KindAsset).
const KindAsset = "asset"

// Manifest is an asset's registration statement, signed by its owners.
// Fields are declared in JSON key order, which canonical encoding needs.
type Manifest struct {
	// Content is the content id of the bytes the asset names.
	Content content.ID `json:"content"`
	// Contributors share the asset's revenue; shares sum to Whole.
	Contributors []Contributor `json:"contributors"`
	// Created is when the owners made the manifest (their claim; the log
	// position, not this time, decides priority).
	Created     Time   `json:"created"`
	Description string `json:"description"`
	// License is an opaque reference to licence terms, "" for none yet.
	License   string `json:"license"`
	MediaType string `json:"mediaType"`
	Name      string `json:"name"`
	// Owners control the asset: changes need Threshold weight of approvals.
	Owners []Owner `json:"owners"`
	// Parents are the assets this one was derived from or trained on.
	Parents   []Parent `json:"parents"`
	Threshold int64    `json:"threshold"`
}

// Canonical returns the manifest's canonical JSON: RFC 8785 (JCS) form,
// with every field present, empty lists as [] and stacking spelled out.
func (m *Manifest) Canonical() ([]byte, error) {
	c := *m
	if c.Contributors == nil {
		c.Contributors = []Contributor{}
	}
	if c.Owners == nil {
		c.Owners = []Owner{}
	}
	c.Parents = make([]Parent, len(m.Parents))
	for i, p := range m.Parents {
		if p.Stacking == "" {
			p.Stacking = Relative
		}
		c.Parents[i] = p
	}
	return canonjson.Marshal(&c)
}

// ID returns the asset ID: the ID of the canonical manifest.
func (m *Manifest) ID() (ID, error) {
	b, err := m.Canonical()
	if err != nil {
		return ID{}, err
	}
	return idOf(b), nil
}

// Validate checks every rule a manifest must meet on its own (the lineage
// rules that need other assets are in CheckRegistration).
func (m *Manifest) Validate() error {
	if m.Content.IsZero() {
		return invalid(ErrField, "content id is missing")
	}
	if m.Name == "" {
		return invalid(ErrField, "name is empty")
	}
	if err := checkText("name", m.Name, maxName, false); err != nil {
		return err
	}
	if err := checkText("description", m.Description, maxDescription, true); err != nil {
		return err
	}
	if err := checkMediaType(m.MediaType); err != nil {
		return err
	}
	if err := checkText("license", m.License, maxLicense, false); err != nil {
		return err
	}
	if m.Created.IsZero() {
		return invalid(ErrField, "created time is missing")
	}
	if err := checkOwners(m.Owners, m.Threshold); err != nil {
		return err
	}
	if err := checkContributors(m.Contributors); err != nil {
		return err
	}
	return m.checkParents()
}

func checkMediaType(s string) error {
	if s == "" {
		return nil
	}
	if err := checkText("media type", s, maxMediaType, false); err != nil {
		return err
	}
	mt, params, err := mime.ParseMediaType(s)
	if err != nil || !strings.Contains(mt, "/") {
		return invalid(ErrField, "media type %q is not type/subtype", s)
	}
	if mime.FormatMediaType(mt, params) != s {
		return invalid(ErrField, "media type %q is not in canonical form %q", s, mime.FormatMediaType(mt, params))
	}
	return nil
}

func (m *Manifest) checkParents() error {
	if len(m.Parents) > MaxParents {
		return invalid(ErrParents, "%d parents, limit %d", len(m.Parents), MaxParents)
	}
	if len(m.Parents) == 0 {
		return nil // the id below costs an encoding of the manifest
	}
	self, err := m.ID()
	if err != nil {
		return err
	}
	seen := map[ID]bool{}
	var sum Share
	for i, p := range m.Parents {
		if p.Asset.IsZero() {
			return invalid(ErrParents, "parent %d has no asset id", i)
		}
		if p.Asset == self {
			return invalid(ErrParents, "asset %s is its own parent", self)
		}
		if seen[p.Asset] {
			return invalid(ErrParents, "duplicate parent %s", p.Asset)
		}
		seen[p.Asset] = true
		if p.Royalty < 0 || p.Royalty > Whole {
			return invalid(ErrParents, "parent %s has royalty %d ppm, want 0..%d", p.Asset, p.Royalty, Whole)
		}
		switch p.Stacking {
		case "", Relative, Absolute:
		default:
			return invalid(ErrParents, "parent %s has stacking %q, want %q or %q", p.Asset, p.Stacking, Relative, Absolute)
		}
		sum += p.Royalty
	}
	if sum > Whole {
		return invalid(ErrParents, "parent royalties sum to %d ppm (%s), more than 100%%", sum, sum)
	}
	return nil
}

// ParseManifest parses and validates a manifest payload. The bytes must be
// the manifest's canonical form: strict JSON (no unknown, duplicate or
// wrongly cased fields) that re-encodes to exactly the same bytes, so that
// the asset ID computed by any implementation is the same.
func ParseManifest(b []byte) (*Manifest, error) {
	var m Manifest
	if err := manifestFormat.Parse(b, &m); err != nil {
		return nil, err
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Statement formats: every asset statement is bounded by MaxStatement and
// reports a bad payload with ErrMalformed or ErrNotCanonical.
var (
	manifestFormat = identity.Format{Kind: KindAsset, MaxSize: MaxStatement, Malformed: ErrMalformed, NotCanonical: ErrNotCanonical}
	proposalFormat = identity.Format{Kind: KindProposal, MaxSize: MaxStatement, Malformed: ErrMalformed, NotCanonical: ErrNotCanonical}
	approvalFormat = identity.Format{Kind: KindApproval, MaxSize: MaxStatement, Malformed: ErrMalformed, NotCanonical: ErrNotCanonical}
)

// Sign returns the manifest as a DSSE envelope signed by keys (the owners).
func (m *Manifest) Sign(keys ...*identity.Key) (*identity.Envelope, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return manifestFormat.Sign(m, keys...)
}

// OpenManifest verifies a registration envelope and parses its manifest.
// It returns the manifest, its asset ID and the verified signers; whether
// the signers are enough is CheckRegistration's rule.
func OpenManifest(env *identity.Envelope) (*Manifest, ID, []identity.DID, error) {
	var m Manifest
	signers, payload, err := manifestFormat.Open(env, &m)
	if err != nil {
		return nil, ID{}, nil, err
	}
	if err := m.Validate(); err != nil {
		return nil, ID{}, nil, err
	}
	return &m, idOf(payload), signers, nil
}
