package server

import (
	"fmt"
	"net/http"
	"time"

	"github.com/charter-dev/charter/httpsig"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/metering"
)

// HeaderView carries a view token (metering.View): a browser's short-lived
// right, signed by a DID's key, to read that DID's money.
const HeaderView = "Charter-View"

// Money is visible to its owner and the operator only
// (docs/spec/http-api.md, "Who may read"). A request reads the money of a
// DID when it is
//   - signed (RFC 9421) by that DID's key or by the operator's (the
//     server's) key, or
//   - carries a view token signed by that DID's key or the operator's
//     (Charter-View), which `charter earnings --console` makes for the
//     web console.
//
// mayReadMoney answers nil or the problem to send.
func (s *Server) mayReadMoney(r *http.Request, did identity.DID) error {
	allowed := func(who identity.DID) bool { return who == did || who == s.key.DID() }
	if r.Header.Get(httpsig.SignatureInputHeader) != "" {
		return s.signedBy(r, func(who identity.DID) error {
			if !allowed(who) {
				return errorf(http.StatusForbidden, "not-yours", "Money is visible to its owner only", fmt.Sprintf("the request is signed by %s, not by %s or the operator", who, did), fmt.Sprintf("sign with the key of %s", did), nil)
			}
			return nil
		}, "sign the request with your key (RFC 9421); `charter earnings` does")
	}
	if tok := r.Header.Get(HeaderView); tok != "" {
		v, signer, err := metering.OpenView(tok, time.Now())
		if err != nil {
			return errorf(http.StatusUnauthorized, "bad-view-token", "View token refused", err.Error(), "make a new one with `charter earnings --console`", err)
		}
		if v.DID != did || !allowed(signer) {
			return errorf(http.StatusForbidden, "not-yours", "Money is visible to its owner only", fmt.Sprintf("the view token is for %s, signed by %s; this request reads %s", v.DID, signer, did), "open the console with `charter earnings --console` and the key of the DID you want to see", nil)
		}
		return nil
	}
	return errorf(http.StatusUnauthorized, "signature-required", "Money is visible to its owner only",
		fmt.Sprintf("reading the earnings and accounts of %s needs a request signed by its key or the operator's", did),
		fmt.Sprintf("run `charter earnings %s` with that key, or `charter earnings --console` to open the web console's owner view", did), nil)
}

// operatorOnly admits requests signed (RFC 9421) by the operator's key.
func (s *Server) operatorOnly(r *http.Request, what string) error {
	if r.Header.Get(httpsig.SignatureInputHeader) == "" {
		return errorf(http.StatusUnauthorized, "signature-required", "Only the operator may "+what, "the request must be signed by the operator's key (the server's key)", "run it with --key DATA/keys/server.key on the server's machine; the server also settles on its own every minute", nil)
	}
	return s.signedBy(r, func(who identity.DID) error {
		if who != s.key.DID() {
			return errorf(http.StatusForbidden, "not-operator", "Only the operator may "+what, fmt.Sprintf("the request is signed by %s, not by the operator", who), "run it with --key DATA/keys/server.key on the server's machine", nil)
		}
		return nil
	}, "sign the request with the operator's key (RFC 9421)")
}

// maySign admits requests signed (RFC 9421) by a key ok accepts; who
// names those keys in the refusal.
func (s *Server) maySign(r *http.Request, what string, ok func(identity.DID) bool, who string) error {
	if r.Header.Get(httpsig.SignatureInputHeader) == "" {
		return errorf(http.StatusUnauthorized, "signature-required", "Money is visible to its owner only", fmt.Sprintf("reading %s needs a request signed by %s", what, who), "sign the request with your key (RFC 9421); the Go client's WithKey does", nil)
	}
	return s.signedBy(r, func(d identity.DID) error {
		if !ok(d) {
			return errorf(http.StatusForbidden, "not-yours", "Money is visible to its owner only", fmt.Sprintf("the request is signed by %s, not by %s", d, who), "", nil)
		}
		return nil
	}, "sign the request with your key (RFC 9421)")
}

// signedBy checks a request's RFC 9421 signature and admits its signer
// when admit answers nil (signedWith); hint says how to sign.
func (s *Server) signedBy(r *http.Request, admit func(identity.DID) error, hint string) error {
	_, err := s.signedWith(r, httpsig.VerifyOptions{}, admit, hint)
	return err
}
