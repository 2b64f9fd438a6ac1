//go:build tools

// Package kubo pins the Kubo command this module builds; see go.mod and
// build.sh.
package kubo

import _ "github.com/ipfs/kubo/cmd/ipfs"
