// Package deps pins the modules Charter has chosen so that `go mod tidy`
// keeps them while the packages that use them are being written. It is
// never imported and will be removed once every module has a real user.
package deps

import (
	_ "github.com/cedar-policy/cedar-go"
	_ "github.com/ipfs/boxo/ipld/unixfs/importer"
	_ "github.com/ipfs/go-cid"
	_ "github.com/ipld/go-car/v2"
	_ "github.com/jackc/pgx/v5"
	_ "github.com/multiformats/go-multibase"
	_ "github.com/multiformats/go-multihash"
	_ "github.com/rogpeppe/go-internal/testscript"
	_ "github.com/schollz/progressbar/v3"
	_ "github.com/secure-systems-lab/go-securesystemslib/dsse"
	_ "github.com/transparency-dev/merkle"
	_ "github.com/transparency-dev/tessera"
	_ "github.com/transparency-dev/tessera/storage/posix"
	_ "github.com/zeebo/blake3"
	_ "golang.org/x/mod/sumdb/note"
	_ "golang.org/x/sync/errgroup"
	_ "golang.org/x/term"
	_ "lukechampine.com/blake3/bao"
	_ "modernc.org/sqlite"
	_ "pgregory.net/rapid"
)
