// Package license holds Charter's licence terms and the decisions made
// under them. It is a pure core: no I/O, no clocks, no global state other
// than a bounded cache of compiled policies.
//
// Terms are an ODRL-shaped JSON document (purposes, commercial use, who may
// license, time window, grant duration, territory, approval, attribution,
// derivatives, obligations, price and quotas). [Parse] reads them strictly
// and [Terms.Encode] writes their canonical form (RFC 8785), whose hashes
// name them. Royalty shares are parts per million, as in package asset.
//
// [Compile] turns terms into a Cedar policy set (deterministic text: one
// permit, and one forbid per restriction, so a denial names every rule the
// request breaks; valid against [CedarSchema]) and [Decide] evaluates an
// access [Request] against it with cedar-go, caching compiled sets. A
// decision is allow, deny or needs_approval, with the determining policies
// and the reasons in plain words.
//
// [Record] makes a [DecisionRecord] holding the SHA-256 and BLAKE3 hashes of
// the canonical request, the terms, the compiled policy text and the
// entities, plus the evaluation time and the result. [Recheck] re-compiles
// and re-evaluates offline with the compiler version named in the record and
// reports [ErrMismatch] when anything differs.
//
// The formats are specified in docs/spec/license-terms.md and
// docs/spec/decision-record.md.
package license
