// Package sim is Charter's adversarial simulation: a deterministic,
// seeded run (in the style of TigerBeetle's VOPR) in which honest owners,
// licensees and contributors and an adversary holding many keys drive a
// real server — in process, or a built `charter serve` process that is
// killed with SIGKILL — through random interleavings of the API:
// duplicates, concurrent requests, dropped connections, crafted datasets
// that reuse other people's content ids, and restarts at random points.
//
// After every step the simulation checks invariants against its own model,
// which it derives from the transparency log in log order and from what
// it saw on the wire (every data-plane response passes through an
// observing handler):
//
//   - no byte of governed content is served without a grant that covers
//     it (InvUngrantedRead);
//   - every honest operation succeeds (InvHonestBlocked), including
//     settlement of honest use (InvSettlement);
//   - the server restarts after any step and every log prefix replays
//     (InvReplay); the catalog equals the replay of the log (InvCatalog);
//   - the ledger equals the replay of its hash-chained journal, is
//     balanced, and matches every settlement root in the log (InvLedger);
//   - every byte served under metered terms is in exactly one receipt
//     (InvMetering).
//
// The schedule of operations is a function of the seed and of the answers
// the server gives, so a failing seed reproduces: run it again with
// -sim.seed. See docs/design/simulation.md.
package sim
