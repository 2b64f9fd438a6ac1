package server

// GCPercent is the garbage collector's target (GOGC) that `charter serve`
// runs with when the GOGC environment variable is not set. A server's
// live heap is small (tens of MB) while a busy one allocates about
// 100 KiB per statement, so at Go's default of 100 it collects several
// times a second, and each cycle scans the stack of every connection's
// goroutine: a tenth of the CPU of 1,024 concurrent registrations
// (docs/design/decisions.md, "GC target of charter serve"). At 400 the
// heap may grow to five times the live heap before a cycle.
const GCPercent = 400
