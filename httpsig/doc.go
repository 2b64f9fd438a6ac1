// Package httpsig signs and verifies HTTP requests with RFC 9421 HTTP
// Message Signatures, in the profile Charter uses to prove that a request
// comes from the holder of a key: Ed25519, keyid the signer's did:key,
// created/expires/nonce/tag "charter" parameters, covering "@method",
// "@authority", "@path", "@query" and, for a body, an RFC 9530
// Content-Digest. Nothing in a signed request is a bearer secret: a copy of
// it is refused once its nonce has been seen or its short validity passed.
//
// Clients call Sign, or wrap their transport in a Transport. Servers call
// Verify with a NonceStore (MemoryNonceStore for one process) and map its
// sentinel errors to 401 problem+json responses. The Structured Field parser
// behind Verify is strict and bounded and is fuzzed.
//
// The profile is specified in docs/spec/http-signatures.md.
package httpsig
