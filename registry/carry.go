package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/charter-dev/charter/auditlog"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/license"
)

// Carried documents (docs/spec/log-entry.md, "Carried documents";
// docs/design/decisions.md, "Apply reads the log, not the blob store").
// What applying a statement needs beyond the statement — the licence
// terms a registration's right to derive is checked against, the content
// ids a dataset guards — is put into the log by the server, in entries of
// its own signed by its key, before the statement that needs it. Applying
// such an entry records its part in the catalog; applying a later
// statement reads the parts from the catalog. Apply never reads the blob
// store, so a catalog rebuilt from the log alone equals the live one.

// TypeDatasetFiles is the log entry type of a part of a dataset's member
// list; auditlog.TypeLicense is that of a part of licence terms.
const TypeDatasetFiles = "dataset.files"

// PartPayloadType is the DSSE payload type of a carried part.
const PartPayloadType = "application/vnd.charter.log-part"

// partMagic starts every part's payload.
const partMagic = "charter/log-part@v1"

// Limits of a part. A part signed by one key fits a log entry
// (auditlog.MaxEntrySize) with room to spare (TestPartFitsEntry).
const (
	// MaxPartBody is the most bytes of document one part carries.
	MaxPartBody = 44_800
	// PartFiles is how many file ids a full dataset.files part carries
	// (32 bytes each).
	PartFiles = MaxPartBody / digestSize
	// MaxParts bounds the parts of one document: 91,750,400 files, or
	// terms far beyond license.MaxTermsSize.
	MaxParts = 1 << 16
	// MaxTermsParts is how many parts the largest licence terms take.
	MaxTermsParts = (license.MaxTermsSize + MaxPartBody - 1) / MaxPartBody
)

const digestSize = 32

// ErrBadPart marks a carried part that does not parse or breaks the
// format's rules.
var ErrBadPart = errors.New("registry: malformed carried part")

// Part is one part of a carried document: licence terms (Kind
// auditlog.TypeLicense, Body a slice of the terms document) or a dataset's
// member list (Kind TypeDatasetFiles, Body the 32-byte digests of its
// files' content ids, in index order). Every part but the last is full
// (MaxPartBody bytes), so a document has exactly one division into parts.
type Part struct {
	Kind    string
	Content content.ID // the terms, or the dataset index
	Part    int
	Parts   int
	Body    []byte
}

// Encode returns the part's payload:
//
//	"charter/log-part@v1" SP kind SP content-id SP part SP parts LF body
func (p Part) Encode() []byte {
	b := fmt.Appendf(nil, "%s %s %s %d %d\n", partMagic, p.Kind, p.Content, p.Part, p.Parts)
	return append(b, p.Body...)
}

// ParsePart parses a part's payload and checks the format's rules; it
// accepts exactly what Encode produces from a valid Part.
func ParsePart(b []byte) (Part, error) {
	nl := bytes.IndexByte(b, '\n')
	if nl < 0 {
		return Part{}, fmt.Errorf("%w: no header line", ErrBadPart)
	}
	f := strings.Split(string(b[:nl]), " ")
	if len(f) != 5 || f[0] != partMagic {
		return Part{}, fmt.Errorf("%w: header is not %q kind content part parts", ErrBadPart, partMagic)
	}
	p := Part{Kind: f[1], Body: b[nl+1:]}
	var err error
	if p.Content, err = content.ParseID(f[2]); err != nil || p.Content.String() != f[2] {
		return Part{}, fmt.Errorf("%w: content id %q", ErrBadPart, f[2])
	}
	if p.Part, err = decimal(f[3]); err != nil {
		return Part{}, err
	}
	if p.Parts, err = decimal(f[4]); err != nil {
		return Part{}, err
	}
	return p, p.check()
}

// decimal parses a number written without sign or leading zeros.
func decimal(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || strconv.Itoa(n) != s {
		return 0, fmt.Errorf("%w: number %q", ErrBadPart, s)
	}
	return n, nil
}

func (p Part) check() error {
	switch {
	case p.Kind != auditlog.TypeLicense && p.Kind != TypeDatasetFiles:
		return fmt.Errorf("%w: kind %q", ErrBadPart, p.Kind)
	case p.Parts < 1 || p.Parts > MaxParts || p.Part >= p.Parts:
		return fmt.Errorf("%w: part %d of %d", ErrBadPart, p.Part, p.Parts)
	case len(p.Body) > MaxPartBody:
		return fmt.Errorf("%w: %d bytes of body, limit %d", ErrBadPart, len(p.Body), MaxPartBody)
	case p.Part < p.Parts-1 && len(p.Body) != p.full():
		return fmt.Errorf("%w: part %d of %d holds %d bytes, not a full part's %d", ErrBadPart, p.Part, p.Parts, len(p.Body), p.full())
	case p.Parts > 1 && len(p.Body) == 0:
		return fmt.Errorf("%w: empty last part", ErrBadPart)
	case p.Kind == TypeDatasetFiles && len(p.Body)%digestSize != 0:
		return fmt.Errorf("%w: %d bytes of file ids, not a multiple of %d", ErrBadPart, len(p.Body), digestSize)
	case p.Kind == auditlog.TypeLicense && (len(p.Body) == 0 || p.Parts > MaxTermsParts):
		return fmt.Errorf("%w: licence terms in %d parts", ErrBadPart, p.Parts)
	}
	return nil
}

// full is the body size of every part but the last.
func (p Part) full() int {
	if p.Kind == TypeDatasetFiles {
		return PartFiles * digestSize
	}
	return MaxPartBody
}

// TermsParts divides licence terms doc, whose content id is id, into
// parts.
func TermsParts(id content.ID, doc []byte) []Part {
	n := max(1, (len(doc)+MaxPartBody-1)/MaxPartBody)
	out := make([]Part, n)
	for i := range n {
		out[i] = Part{Kind: auditlog.TypeLicense, Content: id, Part: i, Parts: n, Body: doc[i*MaxPartBody : min(len(doc), (i+1)*MaxPartBody)]}
	}
	return out
}

// FilesParts is how many parts the member list of a dataset of n files
// takes.
func FilesParts(n int) int { return max(1, (n+PartFiles-1)/PartFiles) }

// FilesPartsOf divides the member list of dataset index id into parts as
// next yields its files' ids, one part at a time: emit is called with
// each part as it fills. n is the number of files next yields.
func FilesPartsOf(id content.ID, n int, next func() (content.ID, error), emit func(Part) error) error {
	parts := FilesParts(n)
	if parts > MaxParts {
		return fmt.Errorf("registry: a dataset of %d files is over the limit of %d", n, MaxParts*PartFiles)
	}
	for i := range parts {
		k := min(PartFiles, n-i*PartFiles)
		body := make([]byte, 0, k*digestSize)
		for range k {
			f, err := next()
			if err != nil {
				return err
			}
			d := f.Digest()
			body = append(body, d[:]...)
		}
		if err := emit(Part{Kind: TypeDatasetFiles, Content: id, Part: i, Parts: parts, Body: body}); err != nil {
			return err
		}
	}
	return nil
}

// OpenPart verifies the envelope of a carried part, signed by operator
// alone, and parses its part, which must be of kind typ.
func OpenPart(typ string, payload []byte, operator identity.DID) (Part, error) {
	env, err := identity.ParseEnvelope(payload)
	if err != nil {
		return Part{}, err
	}
	signers, body, err := identity.Verify(env, PartPayloadType)
	if err != nil {
		return Part{}, err
	}
	if len(signers) != 1 || signers[0] != operator {
		return Part{}, fmt.Errorf("%w: a carried part is signed by the server key %s alone", ErrBadPart, operator)
	}
	p, err := ParsePart(body)
	if err != nil {
		return Part{}, err
	}
	if p.Kind != typ {
		return Part{}, fmt.Errorf("%w: a %s part in a %s entry", ErrBadPart, p.Kind, typ)
	}
	return p, nil
}

// applyPart records a carried part. A part recorded before is a
// duplicate; the part that makes a member list whole also guards the
// datasets on its index that were registered before their list was in
// the log (reindex).
func (r *Registry) applyPart(tx catalog.Tx, idx uint64, typ string, payload []byte) error {
	p, err := OpenPart(typ, payload, r.operator)
	if err != nil {
		return NoEffect{err}
	}
	err = tx.PutPart(catalog.Part{Kind: p.Kind, Content: p.Content.String(), Part: p.Part, Parts: p.Parts, Body: p.Body, LogIndex: idx})
	if errors.Is(err, catalog.ErrPartLogged) {
		return duplicate("%s part %d of %s is logged", p.Kind, p.Part, p.Content)
	}
	if err != nil {
		return err
	}
	if p.Kind != TypeDatasetFiles {
		return nil
	}
	// The part that makes the list whole (parts arrive in any order)
	// guards the datasets registered before it.
	have, parts, err := tx.PartCount(p.Kind, p.Content.String())
	if err != nil || have != parts {
		return err
	}
	return r.reindex(tx, p.Content)
}

// errNotCarried marks a document whose parts the log does not hold whole.
var errNotCarried = errors.New("not in the log")

// eachFile calls each for every file id of the member list of dataset
// index id carried by the log, one part at a time, and returns how many
// there were. A list the log does not hold whole is ErrIndexUnreadable.
func eachFile(tx catalog.Tx, id content.ID, each func(content.ID) error) (int, error) {
	n, parts := 0, 1
	for i := 0; i < parts; i++ {
		p, err := tx.Part(TypeDatasetFiles, id.String(), i)
		if errors.Is(err, catalog.ErrNotFound) {
			return n, fmt.Errorf("%w: the member list of %s is %w (part %d of %d missing)", ErrIndexUnreadable, id, errNotCarried, i, parts)
		}
		if err != nil {
			return n, err
		}
		if i == 0 {
			parts = p.Parts
		}
		if p.Parts != parts || len(p.Body)%digestSize != 0 {
			return n, fmt.Errorf("%w: the parts of the member list of %s disagree", ErrIndexUnreadable, id)
		}
		for b := p.Body; len(b) > 0; b = b[digestSize:] {
			if err := each(content.IDFromDigest([digestSize]byte(b[:digestSize]))); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// carriedTerms reads the licence terms id from the parts the log carried
// and checks them against id.
func carriedTerms(tx catalog.Tx, id content.ID) ([]byte, error) {
	doc, err := termParts(tx, id)
	if err != nil {
		return nil, carriedErr(id, err)
	}
	info, err := content.Ingest(context.Background(), bytes.NewReader(doc), io.Discard, io.Discard)
	if err != nil {
		return nil, err
	}
	if info.ID != id {
		return nil, fmt.Errorf("%w: the log's terms %s hash to %s", ErrBadTerms, id, info.ID)
	}
	return doc, nil
}

// carriedErr is the error of terms id whose parts did not read: err, or
// (nil err) parts that differ from the terms' verified bytes.
func carriedErr(id content.ID, err error) error {
	if err == nil {
		return fmt.Errorf("%w: the log's terms %s differ from their verified bytes", ErrBadTerms, id)
	}
	return err
}

// termParts concatenates the parts of licence terms id the log carried.
func termParts(tx catalog.Tx, id content.ID) ([]byte, error) {
	var doc []byte
	parts := 1
	for i := 0; i < parts; i++ {
		p, err := tx.Part(auditlog.TypeLicense, id.String(), i)
		if errors.Is(err, catalog.ErrNotFound) {
			return nil, fmt.Errorf("%w: terms %s are %w", ErrBadTerms, id, errNotCarried)
		}
		if err != nil {
			return nil, err
		}
		if i == 0 {
			parts = p.Parts
		}
		if p.Parts != parts || parts > MaxTermsParts {
			return nil, fmt.Errorf("%w: the parts of terms %s disagree", ErrBadTerms, id)
		}
		doc = append(doc, p.Body...)
	}
	return doc, nil
}
