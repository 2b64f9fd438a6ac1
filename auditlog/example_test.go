package auditlog_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/charter-dev/charter/auditlog"
)

// A server opens its log, appends a signed statement and hands the receipt
// to the client, who checks it offline with the log's verifier key.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "charter-log")
	defer os.RemoveAll(dir)

	key, err := auditlog.LoadOrCreateKey(filepath.Join(dir, "keys", "log.key"), "charter.example/log")
	if err != nil {
		panic(err)
	}
	l, err := auditlog.Open(ctx, filepath.Join(dir, "log"), key, auditlog.Options{})
	if err != nil {
		panic(err)
	}
	defer l.Close(ctx)
	mux := http.NewServeMux()
	mux.Handle("/log/", l.Handler()) // C2SP tlog-tiles, read-only

	envelope := []byte(`{"payloadType":"application/vnd.charter.asset+json","payload":"e30=","signatures":[]}`)
	r, err := l.AppendAndProve(ctx, auditlog.TypeAssetRegister, envelope)
	if err != nil {
		panic(err)
	}

	// Client side, offline: r.Entry and r.Proof, and the key from /log/key.
	index, cp, err := auditlog.VerifyReceipt(r.Entry, r.Proof, l.VerifierKey())
	if err != nil {
		panic(err)
	}
	e, _ := auditlog.DecodeEntry(r.Entry)
	fmt.Println(index, cp.Origin, cp.Size, e.Type)
	// Output: 0 charter.example/log 1 asset.register
}
