package httpsig_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/charter-dev/charter/httpsig"
	"github.com/charter-dev/charter/identity"
)

// A client signs every request through a Transport; the server verifies
// each one, learns the signer's DID and refuses unsigned or replayed
// requests.
func Example() {
	key, _ := identity.NewKeyFromSeed(make([]byte, 32))
	nonces := httpsig.NewMemoryNonceStore(0, nil)

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		did, err := httpsig.Verify(r, time.Now(), httpsig.VerifyOptions{Nonces: nonces})
		switch {
		case errors.Is(err, httpsig.ErrMissingSignature):
			http.Error(w, "sign your request", http.StatusUnauthorized)
		case err != nil:
			http.Error(w, "bad signature", http.StatusUnauthorized)
		default:
			fmt.Fprintf(w, "hello %s", did)
		}
	}))
	defer srv.Close()

	client := &http.Client{Transport: &httpsig.Transport{Key: key}}
	for _, c := range []*http.Client{client, http.DefaultClient} {
		resp, err := c.Get(srv.URL + "/v1/blobs/x/slice?offset=0&length=16384")
		if err != nil {
			panic(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%d %s\n", resp.StatusCode, strings.TrimSpace(string(b)))
	}
	// Output:
	// 200 hello did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp
	// 401 sign your request
}
