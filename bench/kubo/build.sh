#!/bin/sh
# Builds Kubo's `ipfs` command, the peer of the issue-14 benchmarks
# (client BenchmarkSmallFiles; the large put/get rows of docs/performance.md),
# into ${1:-/tmp/kubo/ipfs}. Takes minutes (about 16 on the 2-core machine
# under load); needs the Go module proxy. Then:
#   CHARTER_KUBO=/tmp/kubo/ipfs go test ./client -run '^$' -bench SmallFiles -benchtime 3x -smallfiles.n 10000
set -eu
cd "$(dirname "$0")"
out=${1:-/tmp/kubo/ipfs}
mkdir -p "$(dirname "$out")"
go build -o "$out" github.com/ipfs/kubo/cmd/ipfs
"$out" version
