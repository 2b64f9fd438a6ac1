// Package identity holds Charter's principals: Ed25519 keys kept in files
// readable by their owner only, their did:key identifiers, and DSSE
// envelopes signed by one or more keys.
//
// A principal is an Ed25519 key. Its identifier is a did:key DID (multicodec
// ed25519-pub 0xed01, base58btc multibase, "did:key:z6Mk..."), so a DID is
// the public key itself and needs no registry to resolve.
//
// Every signed statement in Charter is a DSSE envelope whose payload type is
// "application/vnd.charter.<kind>+json" (see PayloadType) and whose
// signatures carry the signer's DID as key id. Verify checks every signature
// against the key inside its key id and returns the distinct signers.
//
// Key files are PKCS#8 "PRIVATE KEY" PEM blocks (what `openssl genpkey
// -algorithm ed25519` writes), stored with mode 0600; Load refuses a key file
// that the group or others can read, as ssh does.
//
// The formats are specified in docs/spec/identity.md and docs/spec/dsse.md.
package identity
