package server

import (
	"net/http"

	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/grant"
)

// HeaderSession names the download session a data-plane request belongs
// to; receipts are per grant and session.
const HeaderSession = "Charter-Session"

// meter records that bytes [off, off+n) of content id were served under
// grant g, for the session's receipt.
func (s *Server) meter(r *http.Request, g *grant.Grant, id content.ID, off, n int64) {
}
