package license

import (
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/charter-dev/charter/internal/canonjson"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cedar-policy/cedar-go"
	"github.com/zeebo/blake3"
)

// ErrEvaluation reports that Cedar could not evaluate a policy. Decisions
// fail closed: such a request is neither allowed nor denied, it is an error.
var ErrEvaluation = errors.New("license: policy evaluation failed")

// Effect is the outcome of a decision.
type Effect string

// Effects.
const (
	Allow         Effect = "allow"
	Deny          Effect = "deny"
	NeedsApproval Effect = "needs_approval" // the terms allow it and the owners must approve
)

// Decision is the result of evaluating a request against terms.
type Decision struct {
	Effect Effect `json:"effect"`
	// Policies are the ids of the determining Cedar policies, sorted: the
	// forbids that fired on deny, "grant" otherwise.
	Policies []string `json:"policies"`
	// Reasons say in plain words why, one per policy.
	Reasons []string `json:"reasons"`
}

// Allowed reports whether the request may be granted now.
func (d Decision) Allowed() bool { return d.Effect == Allow }

// Entity types of the Cedar schema.
const (
	typeLicensee     = "Licensee"
	typeOrganisation = "Organisation"
	typeAsset        = "Asset"
	typeAction       = "Action"
)

// cedarRequest maps a normalised request to Cedar.
func cedarRequest(r *Request) cedar.Request {
	return cedar.Request{
		Principal: cedar.NewEntityUID(typeLicensee, cedar.String(r.Licensee)),
		Action:    cedar.NewEntityUID(typeAction, cedar.String(r.Purpose)),
		Resource:  cedar.NewEntityUID(typeAsset, cedar.String(r.Asset)),
		Context: cedar.NewRecord(cedar.RecordMap{
			"commercial":   cedar.Boolean(r.Commercial),
			"derivative":   cedar.Boolean(r.Derivative),
			"territory":    cedar.String(r.Territory),
			"organisation": cedar.String(r.Organisation),
			"time":         cedar.Long(r.Time.Unix()),
		}),
	}
}

// entities returns the Cedar entities of a normalised request: the
// licensee, whose parents are its organisations, each organisation, and the
// asset.
func entities(r *Request) cedar.EntityMap {
	m := make(cedar.EntityMap, 2+len(r.Organisations))
	parents := make([]cedar.EntityUID, len(r.Organisations))
	for i, o := range r.Organisations {
		uid := cedar.NewEntityUID(typeOrganisation, cedar.String(o))
		parents[i] = uid
		m[uid] = cedar.Entity{UID: uid}
	}
	lic := cedar.NewEntityUID(typeLicensee, cedar.String(r.Licensee))
	m[lic] = cedar.Entity{UID: lic, Parents: cedar.NewEntityUIDSet(parents...)}
	asset := cedar.NewEntityUID(typeAsset, cedar.String(r.Asset))
	m[asset] = cedar.Entity{UID: asset}
	return m
}

// entitiesJSON writes the entities of a normalised request in Cedar's
// entity JSON format, deterministically (compiler v1): entities sorted by
// type then id, canonicalised with RFC 8785 (members attrs, parents, uid).
func entitiesJSON(r *Request) []byte {
	type uid = uidJSON
	type entity = entityJSON
	var es []entity
	es = append(es, entity{UID: uid{typeAsset, r.Asset}, Attrs: map[string]any{}, Parents: []uid{}})
	var parents []uid
	for _, o := range r.Organisations {
		parents = append(parents, uid{typeOrganisation, o})
	}
	if parents == nil {
		parents = []uid{}
	}
	es = append(es, entity{UID: uid{typeLicensee, r.Licensee}, Attrs: map[string]any{}, Parents: parents})
	for _, o := range r.Organisations {
		es = append(es, entity{UID: uid{typeOrganisation, o}, Attrs: map[string]any{}, Parents: []uid{}})
	}
	b, err := canonjson.Marshal(es)
	if err != nil {
		panic(err) // strings and empty maps always encode
	}
	return b
}

// uidJSON and entityJSON are Cedar's entity JSON; canonjson.Marshal sorts
// their members.
type uidJSON struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type entityJSON struct {
	UID     uidJSON        `json:"uid"`
	Attrs   map[string]any `json:"attrs"`
	Parents []uidJSON      `json:"parents"`
}

// Decide evaluates r against c's policy set.
func (c *Compiled) Decide(r Request) (Decision, error) {
	if err := r.normalize(); err != nil {
		return Decision{}, err
	}
	return c.decide(&r, entities(&r))
}

func (c *Compiled) decide(r *Request, ents cedar.EntityMap) (Decision, error) {
	ok, diag := cedar.Authorize(c.Set, ents, cedarRequest(r))
	if len(diag.Errors) > 0 {
		msgs := make([]string, len(diag.Errors))
		for i, e := range diag.Errors {
			msgs[i] = string(e.PolicyID) + ": " + e.Message
		}
		slices.Sort(msgs)
		return Decision{}, fmt.Errorf("%w: %s", ErrEvaluation, strings.Join(msgs, "; "))
	}
	d := Decision{Effect: Deny}
	for _, reason := range diag.Reasons {
		d.Policies = append(d.Policies, string(reason.PolicyID))
	}
	slices.Sort(d.Policies)
	if ok == cedar.Allow {
		d.Effect = Allow
		if c.Terms.Approval == Owners {
			d.Effect = NeedsApproval
		}
	}
	for _, id := range d.Policies {
		d.Reasons = append(d.Reasons, c.reason(id, r, d.Effect))
	}
	if len(d.Policies) == 0 {
		d.Reasons = []string{"no policy allows this request"}
	}
	return d, nil
}

func (c *Compiled) label() string {
	if c.Terms.Name != "" {
		return c.Terms.Name + " terms"
	}
	return "these terms"
}

func joinStrings[T ~string](s []T) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = string(v)
	}
	return strings.Join(q, ", ")
}

// reason says in plain words what policy id means for request r.
func (c *Compiled) reason(id string, r *Request, e Effect) string {
	t, l := c.Terms, c.label()
	switch id {
	case PolicyGrant:
		if e == NeedsApproval {
			return "allowed by " + l + "; the owners must approve"
		}
		return "allowed by " + l
	case PolicyPurpose:
		return fmt.Sprintf("purpose %s not allowed by %s (allowed: %s)", r.Purpose, l, joinStrings(t.Purposes))
	case PolicyLicensee:
		return fmt.Sprintf("licensee %s is not listed by %s, nor a member of a listed organisation", r.Licensee, l)
	case PolicyNotBefore:
		return fmt.Sprintf("%s are not in force before %s", l, formatTime(t.NotBefore))
	case PolicyNotAfter:
		return fmt.Sprintf("%s ended at %s", l, formatTime(t.NotAfter))
	case PolicyTerritoryAllow:
		if r.Territory == "" {
			return fmt.Sprintf("territory unknown; %s allow only %s", l, joinStrings(t.TerritoryAllow))
		}
		return fmt.Sprintf("territory %s not allowed by %s (allowed: %s)", r.Territory, l, joinStrings(t.TerritoryAllow))
	case PolicyTerritoryDeny:
		return fmt.Sprintf("territory %s excluded by %s", r.Territory, l)
	case PolicyCommercial:
		return "commercial use not allowed by " + l
	case PolicyDerivatives:
		return "derivatives not allowed by " + l
	}
	return "policy " + id
}

// The compiled-policy cache, keyed by a fingerprint of the terms and the
// compiler version. It is bounded: when full it is emptied.
const maxCached = 4096

var cache struct {
	sync.RWMutex
	m map[[32]byte]*Compiled
}

// fingerprint is an injective binary encoding of every member of t (strings
// and lists length-prefixed), hashed with BLAKE3: the cache key. It is much
// cheaper than the canonical JSON and needs no validation: terms that are not
// valid are never cached, so they always miss and fail in Compile.
func fingerprint(t *Terms, version int) [32]byte {
	b := make([]byte, 0, 512)
	num := func(v int64) { b = binary.LittleEndian.AppendUint64(b, uint64(v)) }
	str := func(s string) { num(int64(len(s))); b = append(b, s...) }
	flag := func(v bool) {
		if v {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	list := func(l []string) {
		num(int64(len(l)))
		for _, s := range l {
			str(s)
		}
	}
	tm := func(x time.Time) { flag(x.IsZero()); num(x.Unix()); num(int64(x.Nanosecond())) }
	num(int64(version))
	str(t.Name)
	num(t.Version)
	str(t.Supersedes)
	num(int64(len(t.Purposes)))
	for _, p := range t.Purposes {
		str(string(p))
	}
	flag(t.Commercial)
	str(string(t.Who))
	list(t.Principals)
	list(t.Organisations)
	tm(t.NotBefore)
	tm(t.NotAfter)
	num(t.GrantSeconds)
	list(t.TerritoryAllow)
	list(t.TerritoryDeny)
	str(string(t.Approval))
	flag(t.Attribution)
	str(t.AttributionText)
	flag(t.Derivatives.Allowed)
	flag(t.Derivatives.Reciprocal)
	num(t.Derivatives.Royalty)
	str(string(t.Derivatives.Stacking))
	flag(t.Obligations.PublishResults)
	flag(t.Obligations.ReturnDerivedData)
	flag(t.Obligations.DeleteAfterExpiry)
	str(string(t.Price.Model))
	str(t.Price.Currency)
	num(t.Price.Amount)
	num(int64(t.Price.Exponent))
	num(t.Quotas.MaxBytes)
	num(t.Quotas.MaxRequests)
	num(t.Quotas.MaxTokens)
	num(t.Quotas.MaxRuns)
	return blake3.Sum256(b)
}

// compiled returns the compiled policy for t, from the cache when present.
func compiled(t *Terms, version int) (*Compiled, error) {
	key := fingerprint(t, version)
	cache.RLock()
	c := cache.m[key]
	cache.RUnlock()
	if c != nil {
		return c, nil
	}
	c, err := CompileVersion(t, version)
	if err != nil {
		return nil, err
	}
	cache.Lock()
	if cache.m == nil || len(cache.m) >= maxCached {
		cache.m = make(map[[32]byte]*Compiled)
	}
	cache.m[key] = c
	cache.Unlock()
	return c, nil
}

// Decide evaluates request r against terms t with cedar-go. The compiled
// policy set is cached by the terms' hash, so deciding many requests under
// the same terms compiles once. Errors wrap ErrInvalidTerms,
// ErrInvalidRequest or ErrEvaluation.
func Decide(t *Terms, r Request) (Decision, error) {
	c, err := compiled(t, CompilerVersion)
	if err != nil {
		return Decision{}, err
	}
	return c.Decide(r)
}
