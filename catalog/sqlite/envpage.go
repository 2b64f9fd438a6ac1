package sqlite

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
)

// The page form of an envelope: what the covering indexes of grant and
// dispute pages hold (migration 5) instead of the envelope's JSON. A
// grant's envelope is ~970 bytes of JSON, most of it base64; with the
// row's other columns an index entry of ~1,150 bytes is more than SQLite
// keeps on a 4 KiB index page (~1,000), and every entry spilled to an
// overflow page of its own. The page form holds the payload and the
// signatures as bytes (~700 for a grant), so an entry stays on its page.
//
// Form 1: 0x01, then the payload type, the payload bytes, the number of
// signatures and each signature's key id and bytes, every string and
// count as a uvarint length (or count) and its bytes. It is used only
// when the envelope's JSON is exactly what pageEnvelope writes back from
// it (checked when it is made); any other envelope is kept as it is, in
// form 0: 0x00 and the envelope's bytes. (The fields are those of
// identity.Envelope, DSSE.)

const (
	pageRaw  = 0
	pageDSSE = 1
)

// pageForm returns the page form of an envelope.
func pageForm(env []byte) []byte {
	var e struct {
		PayloadType string `json:"payloadType"`
		Payload     string `json:"payload"`
		Signatures  []struct {
			KeyID string `json:"keyid"`
			Sig   string `json:"sig"`
		} `json:"signatures"`
	}
	if json.Unmarshal(env, &e) == nil {
		if p, err := base64.StdEncoding.DecodeString(e.Payload); err == nil {
			b := make([]byte, 0, len(env)*3/4+16)
			b = append(b, pageDSSE)
			b = appendBytes(b, []byte(e.PayloadType))
			b = appendBytes(b, p)
			b = binary.AppendUvarint(b, uint64(len(e.Signatures)))
			ok := true
			for _, s := range e.Signatures {
				sig, err := base64.StdEncoding.DecodeString(s.Sig)
				if err != nil {
					ok = false
					break
				}
				b = appendBytes(appendBytes(b, []byte(s.KeyID)), sig)
			}
			if ok {
				if back, err := pageEnvelope(b); err == nil && bytes.Equal(back, env) {
					return b
				}
			}
		}
	}
	return append([]byte{pageRaw}, env...)
}

func appendBytes(b, s []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

var errPageForm = errors.New("catalog: malformed page form of an envelope")

// pageEnvelope returns the envelope a page form holds.
func pageEnvelope(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, errPageForm
	}
	switch b[0] {
	case pageRaw:
		return bytes.Clone(b[1:]), nil
	case pageDSSE:
	default:
		return nil, errPageForm
	}
	r := pageReader{b: b[1:]}
	typ, payload := r.bytes(), r.bytes()
	n := r.uvarint()
	if r.err || n > uint64(len(r.b))/2 {
		return nil, errPageForm
	}
	out := make([]byte, 0, len(b)*4/3+96)
	out = append(out, `{"payloadType":`...)
	out = appendJSONString(out, typ)
	out = append(out, `,"payload":"`...)
	out = base64.StdEncoding.AppendEncode(out, payload)
	out = append(out, `","signatures":[`...)
	for i := range n {
		keyid, sig := r.bytes(), r.bytes()
		if r.err {
			return nil, errPageForm
		}
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, `{"keyid":`...)
		out = appendJSONString(out, keyid)
		out = append(out, `,"sig":"`...)
		out = base64.StdEncoding.AppendEncode(out, sig)
		out = append(out, `"}`...)
	}
	if r.err || len(r.b) != 0 {
		return nil, errPageForm
	}
	return append(out, "]}"...), nil
}

// appendJSONString appends s as encoding/json writes a string (the
// envelope's JSON came from it; pageForm checks the round trip).
func appendJSONString(b, s []byte) []byte {
	j, _ := json.Marshal(string(s))
	return append(b, j...)
}

// pageReader reads the uvarint-prefixed fields of a page form; a short or
// malformed field sets err.
type pageReader struct {
	b   []byte
	err bool
}

func (r *pageReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *pageReader) bytes() []byte {
	n := r.uvarint()
	if r.err || n > uint64(len(r.b)) {
		r.err = true
		return nil
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s
}
