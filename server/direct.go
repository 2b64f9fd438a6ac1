package server

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
)

// Direct reads (Config.S3DirectReads, docs/spec/verified-ranges.md "Direct
// data"): for a verified range of at least directMin bytes on a store that
// can presign (an S3 store), a client that asks for MediaSliceDirect gets
// the tree part of the split layout in the body and, in headers, a
// presigned GET of exactly the widened data range, valid DirectReadTTL. It
// fetches the data from the store itself and verifies it against the tree
// as it verifies the split layout's data: the bytes skip this server.
const (
	MediaSliceDirect = "application/vnd.charter.bao-slice-direct"

	// HeaderDataURL is the presigned URL of the data part; HeaderDataRange
	// the Range header its GET must send (signed: any other range fails
	// the store's signature check), absent when the data is the whole
	// blob (the URL then gets the whole object and only it);
	// HeaderDataExpires when it stops working (RFC 3339).
	HeaderDataURL     = "Charter-Data-URL"
	HeaderDataRange   = "Charter-Data-Range"
	HeaderDataExpires = "Charter-Data-Expires"

	// DirectReadTTL is how long a presigned data range stays valid.
	DirectReadTTL = 60 * time.Second
	// directMin is the shortest widened data range handed out as a URL;
	// shorter ones are not worth the client's second round trip.
	directMin = 1 << 20
)

// acceptsMedia reports whether the request's Accept header names mt.
func acceptsMedia(r *http.Request, mt string) bool {
	for _, v := range r.Header.Values("Accept") {
		for part := range strings.SplitSeq(v, ",") {
			t, _, _ := strings.Cut(part, ";")
			if strings.EqualFold(strings.TrimSpace(t), mt) {
				return true
			}
		}
	}
	return false
}

// sliceDirect answers a verified range with its tree and a presigned URL
// of its data, after slice's grant and quota checks (m is the request's
// reservation, nil for free content). The whole widened data range is
// charged before the URL is sent, whether or not the client fetches it;
// a failed charge sends no URL. It returns false, having written nothing
// and charged nothing, when the store cannot presign: slice then serves
// the range itself.
func (s *Server) sliceDirect(w http.ResponseWriter, r *http.Request, obj catalog.Object, m *metered, off, n, ws, we int64) (bool, error) {
	ctx := r.Context()
	id := obj.ID
	data, err := s.blobs.Open(ctx, blob.Key{ID: id, Part: blob.Data})
	if err != nil {
		return false, nil
	}
	defer data.Close()
	p, ok := data.(blob.Presigner)
	if !ok {
		return false, nil
	}
	ob, err := s.blobs.Open(ctx, blob.Key{ID: id, Part: blob.Outboard})
	if err != nil {
		return false, nil
	}
	defer ob.Close()
	if s.cfg.VerifyReads {
		if err := verifyRange(id, data, ob, obj.Size, off, n); err != nil {
			m.record(ctx, 0, true)
			s.recordCorruption(ctx, id, err)
			return true, s.lookupErr(ctx, id)
		}
	}
	var tree bytes.Buffer
	if err := content.ExtractTree(&tree, ob, obj.Size, off, n); err != nil {
		return false, nil
	}
	expires := time.Now().Add(DirectReadTTL)
	u, hdr, err := p.PresignRange(ctx, ws, we-ws, DirectReadTTL)
	if err != nil {
		s.log.Warn("presigning a data range; serving it here", "id", id, "offset", ws, "length", we-ws, "err", err)
		return false, nil
	}
	whole := ws == 0 && we == obj.Size
	if len(hdr) > 1 || (len(hdr) == 0) != whole || (!whole && hdr.Get("Range") == "") {
		// Only a URL bound to its range by the signature goes out.
		s.log.Warn("presigned data range signs other headers than Range; serving it here", "id", id, "headers", hdr)
		return false, nil
	}
	if m != nil {
		m.start = ws
		if err := m.charge(ctx, we-ws, true); err != nil {
			m.record(ctx, 0, true)
			return true, errorf(http.StatusServiceUnavailable, "busy", "Metering unavailable", "the range could not be charged, so no URL was issued: "+err.Error(), "retry later", err)
		}
	}
	setBlobHeaders(w, obj)
	h := w.Header()
	h.Set("Cache-Control", "no-store") // the URL is short-lived and this caller's
	h.Set("Content-Type", MediaSliceDirect)
	h.Add("Vary", "Accept")
	h.Set(HeaderDataURL, u)
	if !whole {
		h.Set(HeaderDataRange, hdr.Get("Range"))
	}
	h.Set(HeaderDataExpires, expires.UTC().Format(time.RFC3339))
	h.Set("Content-Length", strconv.Itoa(tree.Len()))
	if _, err := w.Write(tree.Bytes()); err != nil {
		s.log.Warn("sending a direct slice's tree", "id", id, "err", err)
	}
	return true, nil
}
