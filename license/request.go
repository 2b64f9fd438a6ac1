package license

import (
	"fmt"
	"github.com/charter-dev/charter/internal/canonjson"
	"slices"
	"time"

	json "github.com/go-json-experiment/json"
)

// Request is an access request: who wants to use which asset, for what, in
// which context, at what time. It becomes the Cedar request
// (Licensee::"did:key:…", Action::"<purpose>", Asset::"<asset>") with
// context {commercial, derivative, territory, organisation, time}.
type Request struct {
	Licensee      string    // did:key of the licensee
	Asset         string    // asset id
	Purpose       Purpose   // what the asset will be used for
	Commercial    bool      // the use is commercial
	Derivative    bool      // the licensee will make and publish a derived asset
	Territory     string    // ISO 3166-1 alpha-2 where the use happens; "" if unknown
	Organisation  string    // organisation the licensee acts for; "" for none; must be in Organisations
	Organisations []string  // organisations the licensee is a verified member of
	Time          time.Time // when the decision is made; whole seconds count
}

type wireRequest struct {
	Licensee      *string  `json:"licensee"`
	Asset         *string  `json:"asset"`
	Purpose       *Purpose `json:"purpose"`
	Commercial    *bool    `json:"commercial"`
	Derivative    bool     `json:"derivative"`
	Territory     string   `json:"territory"`
	Organisation  string   `json:"organisation"`
	Organisations []string `json:"organisations"`
	Time          *string  `json:"time"`
}

func reqErr(field, problem, hint string) error {
	return &FieldError{Err: ErrInvalidRequest, Field: field, Problem: problem, Hint: hint}
}

// MaxRequestSize bounds the JSON of a request.
const MaxRequestSize = 64 << 10

// ParseRequest reads the JSON form of a request strictly and validates it.
// Errors wrap ErrInvalidRequest.
func ParseRequest(b []byte) (Request, error) {
	if len(b) > MaxRequestSize {
		return Request{}, reqErr("", "request too large", "")
	}
	var w wireRequest
	if err := json.Unmarshal(b, &w, strict); err != nil {
		return Request{}, jsonError(ErrInvalidRequest, err, "")
	}
	var r Request
	for _, m := range []struct {
		field string
		ok    bool
	}{{"licensee", w.Licensee != nil}, {"asset", w.Asset != nil}, {"purpose", w.Purpose != nil}, {"commercial", w.Commercial != nil}, {"time", w.Time != nil}} {
		if !m.ok {
			return Request{}, reqErr(m.field, "missing", "")
		}
	}
	r.Licensee, r.Asset, r.Purpose, r.Commercial = *w.Licensee, *w.Asset, *w.Purpose, *w.Commercial
	r.Derivative, r.Territory, r.Organisation = w.Derivative, w.Territory, w.Organisation
	r.Organisations = w.Organisations
	tm, err := time.Parse(time.RFC3339, *w.Time)
	if err != nil || tm.UTC().Format(time.RFC3339) != *w.Time {
		return Request{}, reqErr("time", fmt.Sprintf("%q is not a UTC time in whole seconds", *w.Time), "write times like 2026-01-01T00:00:00Z")
	}
	r.Time = tm
	if err := r.normalize(); err != nil {
		return Request{}, err
	}
	return r, nil
}

// normalize validates r and puts it in canonical form (UTC, whole seconds,
// sorted organisations).
func (r *Request) normalize() error {
	if err := checkDIDKey(r.Licensee); err != nil {
		return reqErr("licensee", fmt.Sprintf("%q: %v", r.Licensee, err), "licensees are did:key ids of Ed25519 keys")
	}
	if !orgRE.MatchString(r.Asset) {
		return reqErr("asset", fmt.Sprintf("%q is not an asset id", r.Asset), "")
	}
	if !r.Purpose.Valid() {
		return reqErr("purpose", fmt.Sprintf("%q is not a purpose", r.Purpose), purposeHint)
	}
	if r.Territory != "" && !ValidTerritory(r.Territory) {
		return reqErr("territory", fmt.Sprintf("%q is not an ISO 3166-1 alpha-2 code", r.Territory), "two upper-case letters, or empty when unknown")
	}
	if len(r.Organisations) > MaxListed {
		return reqErr("organisations", "too many", "")
	}
	r.Organisations = slices.Clone(r.Organisations)
	for _, o := range r.Organisations {
		if !orgRE.MatchString(o) {
			return reqErr("organisations", fmt.Sprintf("%q is not an organisation id", o), "")
		}
	}
	slices.Sort(r.Organisations)
	for i := 1; i < len(r.Organisations); i++ {
		if r.Organisations[i] == r.Organisations[i-1] {
			return reqErr("organisations", fmt.Sprintf("%q is listed twice", r.Organisations[i]), "")
		}
	}
	if r.Organisation != "" && !slices.Contains(r.Organisations, r.Organisation) {
		return reqErr("organisation", fmt.Sprintf("%q is not among the licensee's organisations", r.Organisation), "a licensee acts only for an organisation it is a member of")
	}
	if r.Time.IsZero() || r.Time.Unix() < 0 || r.Time.Year() > 9999 {
		return reqErr("time", "missing or out of range", "")
	}
	r.Time = time.Unix(r.Time.Unix(), 0).UTC()
	return nil
}

// Encode returns the canonical JSON of the request: every member present,
// in the order of the spec, organisations sorted, time in UTC whole seconds.
func (r Request) Encode() ([]byte, error) {
	if err := r.normalize(); err != nil {
		return nil, err
	}
	return r.encodeNormalized()
}

func (r Request) encodeNormalized() ([]byte, error) {
	ts := r.Time.Format(time.RFC3339)
	orgs := r.Organisations
	if orgs == nil {
		orgs = []string{}
	}
	w := wireRequest{
		Licensee: &r.Licensee, Asset: &r.Asset, Purpose: &r.Purpose, Commercial: &r.Commercial,
		Derivative: r.Derivative, Territory: r.Territory, Organisation: r.Organisation,
		Organisations: orgs, Time: &ts,
	}
	return canonjson.Marshal(&w)
}

// MarshalJSON writes the canonical form (Encode).
func (r Request) MarshalJSON() ([]byte, error) { return r.Encode() }

// UnmarshalJSON reads a request strictly (ParseRequest).
func (r *Request) UnmarshalJSON(b []byte) error {
	p, err := ParseRequest(b)
	if err != nil {
		return err
	}
	*r = p
	return nil
}
