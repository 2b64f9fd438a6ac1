// Package asset holds the rules of Charter's rights registry: asset
// manifests, registration checks, priority of claims, lineage limits and the
// governance state machine for owner-approved changes.
//
// The package is pure: it does no I/O. Signatures are checked with package
// identity; whatever must be looked up (the state of a parent asset) is
// passed in as a function, as upspin's access checks take their loaders.
// The server appends signed statements to the log and then applies them with
// these functions; the catalog replays the log through the same functions.
//
// Shares are integers in parts per million (Whole = 1,000,000 = 100%),
// never floats. Every statement is DSSE-signed JSON in canonical form
// (RFC 8785 JCS: sorted keys, no white space); a statement's ID is the
// CIDv1 (raw, blake3) of its canonical payload bytes, so an asset's ID is
// the hash of its registration manifest and does not depend on signatures.
//
// The formats are specified in docs/spec/asset-manifest.md,
// docs/spec/proposal.md and docs/spec/approval.md.
package asset
