package license

import (
	"errors"
	"fmt"
	"github.com/charter-dev/charter/internal/canonjson"
	"slices"
	"time"

	"github.com/cedar-policy/cedar-go"
	json "github.com/go-json-experiment/json"
)

// RecordType is the "type" member of a decision record, and
// RecordPayloadType the DSSE payload type to sign one with.
const (
	RecordType        = "charter.decision/v1"
	RecordPayloadType = "application/vnd.charter.decision+json"
)

var (
	// ErrInvalidRecord reports a decision record that does not parse.
	ErrInvalidRecord = errors.New("license: invalid decision record")
	// ErrMismatch reports a decision record that re-checking does not
	// confirm: a hash or the result differs.
	ErrMismatch = errors.New("license: decision record does not match")
)

// DecisionRecord is the verifiable trace of one decision: hashes of
// everything the evaluation read, the evaluation time, and the result.
// Anyone holding the terms and the request can re-run it with Recheck.
type DecisionRecord struct {
	Type     string   `json:"type"`     // RecordType
	Compiler int      `json:"compiler"` // compiler version that produced the policy
	Time     string   `json:"time"`     // evaluation time, RFC 3339 UTC whole seconds; equals the request's time
	Request  Digests  `json:"request"`  // canonical request JSON (Request.Encode)
	Terms    Digests  `json:"terms"`    // canonical terms JSON (Terms.Encode)
	Policy   Digests  `json:"policy"`   // compiled Cedar policy text
	Entities Digests  `json:"entities"` // Cedar entities JSON evaluated
	Decision Effect   `json:"decision"` // allow, deny or needs_approval
	Policies []string `json:"policies"` // determining policy ids, sorted
	Reasons  []string `json:"reasons"`  // plain words; informative, not re-checked
}

// Record decides r under t and returns the decision with its record. The
// entities are evaluated from the very bytes whose hash the record holds.
func Record(t *Terms, r Request) (*DecisionRecord, Decision, error) {
	return record(t, r, CompilerVersion)
}

func record(t *Terms, r Request, version int) (*DecisionRecord, Decision, error) {
	c, err := compiled(t, version)
	if err != nil {
		return nil, Decision{}, err
	}
	if err := r.normalize(); err != nil {
		return nil, Decision{}, err
	}
	canonReq, err := r.encodeNormalized()
	if err != nil {
		return nil, Decision{}, fmt.Errorf("license: encoding request: %w", err)
	}
	entsJSON := entitiesJSON(&r)
	var ents cedar.EntityMap
	if err := ents.UnmarshalJSON(entsJSON); err != nil {
		return nil, Decision{}, fmt.Errorf("license: entities do not parse: %w", err)
	}
	d, err := c.decide(&r, ents)
	if err != nil {
		return nil, Decision{}, err
	}
	rec := &DecisionRecord{
		Type:     RecordType,
		Compiler: c.Compiler,
		Time:     r.Time.Format(time.RFC3339),
		Request:  Sum(canonReq),
		Terms:    c.termsHash,
		Policy:   c.policyHash,
		Entities: Sum(entsJSON),
		Decision: d.Effect,
		Policies: nonNil(d.Policies),
		Reasons:  nonNil(d.Reasons),
	}
	return rec, d, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Encode returns the canonical JSON of the record.
func (rec *DecisionRecord) Encode() ([]byte, error) {
	c := *rec
	c.Policies, c.Reasons = nonNil(c.Policies), nonNil(c.Reasons)
	return canonjson.Marshal(&c)
}

func recErr(field, problem string) error {
	return &FieldError{Err: ErrInvalidRecord, Field: field, Problem: problem}
}

// MaxRecordSize bounds the JSON of a decision record.
const MaxRecordSize = 64 << 10

// ParseRecord reads a decision record strictly. It checks the shape, not
// the content: use Recheck for that.
func ParseRecord(b []byte) (*DecisionRecord, error) {
	if len(b) > MaxRecordSize {
		return nil, recErr("", "record too large")
	}
	var rec DecisionRecord
	if err := json.Unmarshal(b, &rec, strict); err != nil {
		return nil, jsonError(ErrInvalidRecord, err, "")
	}
	if rec.Type != RecordType {
		return nil, recErr("type", fmt.Sprintf("%q is not %q", rec.Type, RecordType))
	}
	if rec.Compiler < 1 {
		return nil, recErr("compiler", "missing")
	}
	if tm, err := time.Parse(time.RFC3339, rec.Time); err != nil || tm.UTC().Format(time.RFC3339) != rec.Time {
		return nil, recErr("time", "not a UTC time in whole seconds")
	}
	for _, d := range []struct {
		field string
		d     Digests
	}{{"request", rec.Request}, {"terms", rec.Terms}, {"policy", rec.Policy}, {"entities", rec.Entities}} {
		if !isHex32(d.d.SHA256) || !isHex32(d.d.BLAKE3) {
			return nil, recErr(d.field, "digests must be 64 lower-case hex digits")
		}
	}
	switch rec.Decision {
	case Allow, Deny, NeedsApproval:
	default:
		return nil, recErr("decision", fmt.Sprintf("%q is not allow, deny or needs_approval", rec.Decision))
	}
	rec.Policies, rec.Reasons = nonNil(rec.Policies), nonNil(rec.Reasons)
	return &rec, nil
}

// Recheck re-runs the decision of rec offline: it parses the published
// terms and the request, compiles the terms with the compiler version the
// record names, evaluates again, and confirms every hash, the time and the
// result. It returns nil when everything matches, an error wrapping
// ErrMismatch naming the first difference, or ErrInvalidTerms,
// ErrInvalidRequest or ErrUnsupportedCompiler when the inputs cannot be
// used.
func Recheck(rec *DecisionRecord, terms, request []byte) error {
	if rec.Type != RecordType {
		return recErr("type", fmt.Sprintf("%q is not %q", rec.Type, RecordType))
	}
	t, err := Parse(terms)
	if err != nil {
		return err
	}
	r, err := ParseRequest(request)
	if err != nil {
		return err
	}
	got, _, err := record(t, r, rec.Compiler)
	if err != nil {
		return err
	}
	mismatch := func(what string, want, have any) error {
		return fmt.Errorf("%w: %s: record has %v, re-evaluation gives %v", ErrMismatch, what, want, have)
	}
	switch {
	case got.Terms != rec.Terms:
		return mismatch("terms hash", rec.Terms, got.Terms)
	case got.Request != rec.Request:
		return mismatch("request hash", rec.Request, got.Request)
	case got.Time != rec.Time:
		return mismatch("time", rec.Time, got.Time)
	case got.Policy != rec.Policy:
		return mismatch("policy hash", rec.Policy, got.Policy)
	case got.Entities != rec.Entities:
		return mismatch("entities hash", rec.Entities, got.Entities)
	case got.Decision != rec.Decision:
		return mismatch("decision", rec.Decision, got.Decision)
	case !slices.Equal(got.Policies, rec.Policies):
		return mismatch("determining policies", rec.Policies, got.Policies)
	}
	return nil
}
