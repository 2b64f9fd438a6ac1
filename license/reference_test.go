package license

import (
	"slices"
	"testing"
	"time"

	"github.com/cedar-policy/cedar-go"
	"pgregory.net/rapid"
)

// refDecide is a plain Go evaluator of terms, written from the spec without
// Cedar. Decide must agree with it on every request.
func refDecide(t *Terms, r Request) (Effect, []string) {
	t = t.Clone()
	if err := t.Validate(); err != nil {
		panic(err)
	}
	return refDecideValid(t, r)
}

// refDecideValid is refDecide on terms already validated.
func refDecideValid(t *Terms, r Request) (Effect, []string) {
	now := r.Time.Unix()
	var v []string
	if !slices.Contains(t.Purposes, r.Purpose) {
		v = append(v, PolicyPurpose)
	}
	if t.Who == Listed {
		ok := slices.Contains(t.Principals, r.Licensee)
		for _, o := range r.Organisations {
			ok = ok || slices.Contains(t.Organisations, o)
		}
		if !ok {
			v = append(v, PolicyLicensee)
		}
	}
	if !t.NotBefore.IsZero() && now < t.NotBefore.Unix() {
		v = append(v, PolicyNotBefore)
	}
	if !t.NotAfter.IsZero() && now >= t.NotAfter.Unix() {
		v = append(v, PolicyNotAfter)
	}
	if len(t.TerritoryAllow) > 0 && !slices.Contains(t.TerritoryAllow, r.Territory) {
		v = append(v, PolicyTerritoryAllow)
	}
	if slices.Contains(t.TerritoryDeny, r.Territory) {
		v = append(v, PolicyTerritoryDeny)
	}
	if r.Commercial && !t.Commercial {
		v = append(v, PolicyCommercial)
	}
	if r.Derivative && !t.Derivatives.Allowed {
		v = append(v, PolicyDerivatives)
	}
	if len(v) > 0 {
		slices.Sort(v)
		return Deny, v
	}
	if t.Approval == Owners {
		return NeedsApproval, []string{PolicyGrant}
	}
	return Allow, []string{PolicyGrant}
}

var (
	poolPrincipals = []string{didKey("alice"), didKey("bob"), didKey("carol")}
	poolOrgs       = []string{"acme", "globex", "did:key:org", "example.org/lab"}
	poolTerritory  = []string{"DE", "FR", "US", "RU", "JP"}
)

func subset[T any](t *rapid.T, pool []T, label string) []T {
	var out []T
	for i, x := range pool {
		if rapid.Bool().Draw(t, label+string(rune('0'+i))) {
			out = append(out, x)
		}
	}
	return out
}

func genTerms(t *rapid.T) *Terms {
	tm := &Terms{Version: 1, GrantSeconds: 3600, Price: Price{Model: Free}}
	for len(tm.Purposes) == 0 {
		tm.Purposes = subset(t, Purposes(), "purpose")
	}
	tm.Commercial = rapid.Bool().Draw(t, "commercial")
	tm.Who = Anyone
	if rapid.Bool().Draw(t, "listed") {
		tm.Who = Listed
		for len(tm.Principals)+len(tm.Organisations) == 0 {
			tm.Principals = subset(t, poolPrincipals, "principal")
			tm.Organisations = subset(t, poolOrgs, "org")
		}
	}
	base := t0.Unix()
	if rapid.Bool().Draw(t, "hasNotBefore") {
		tm.NotBefore = time.Unix(base+rapid.Int64Range(-5, 5).Draw(t, "notBefore"), 0)
	}
	if rapid.Bool().Draw(t, "hasNotAfter") {
		lo := int64(-5)
		if !tm.NotBefore.IsZero() {
			lo = tm.NotBefore.Unix() - base + 1
		}
		tm.NotAfter = time.Unix(base+rapid.Int64Range(lo, lo+6).Draw(t, "notAfter"), 0)
	}
	allow := subset(t, poolTerritory, "allow")
	for _, c := range subset(t, poolTerritory, "deny") {
		if !slices.Contains(allow, c) {
			tm.TerritoryDeny = append(tm.TerritoryDeny, c)
		}
	}
	tm.TerritoryAllow = allow
	tm.Approval = rapid.SampledFrom([]Approval{Automatic, Owners}).Draw(t, "approval")
	tm.Derivatives.Allowed = rapid.Bool().Draw(t, "derivatives")
	return tm
}

func genRequest(t *rapid.T) Request {
	r := Request{
		Licensee:      rapid.SampledFrom(poolPrincipals).Draw(t, "licensee"),
		Asset:         rapid.SampledFrom([]string{asset, "dataset-1", "model:v2"}).Draw(t, "asset"),
		Purpose:       rapid.SampledFrom(Purposes()).Draw(t, "purpose"),
		Commercial:    rapid.Bool().Draw(t, "rcommercial"),
		Derivative:    rapid.Bool().Draw(t, "rderivative"),
		Territory:     rapid.SampledFrom(append([]string{""}, poolTerritory...)).Draw(t, "territory"),
		Organisations: subset(t, poolOrgs, "member"),
		Time:          time.Unix(t0.Unix()+rapid.Int64Range(-6, 12).Draw(t, "time"), rapid.Int64Range(0, 999999999).Draw(t, "nanos")),
	}
	if len(r.Organisations) > 0 && rapid.Bool().Draw(t, "actsFor") {
		r.Organisation = rapid.SampledFrom(r.Organisations).Draw(t, "organisation")
	}
	return r
}

// TestDecideAgreesWithReference: Cedar and the plain Go evaluator give the
// same effect and the same determining policies on random terms and
// requests.
func TestDecideAgreesWithReference(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		tm := genTerms(rt)
		r := genRequest(rt)
		d, err := Decide(tm, r)
		if err != nil {
			rt.Fatal(err)
		}
		e, p := refDecide(tm, r)
		if d.Effect != e || !slices.Equal(d.Policies, p) {
			c, _ := Compile(tm)
			rt.Fatalf("cedar %s %v, reference %s %v\n%s", d.Effect, d.Policies, e, p, c.Text)
		}
	})
}

// TestEntitiesJSONMatchesEntities: the entities JSON a record hashes is the
// same set of entities Decide evaluates.
func TestEntitiesJSONMatchesEntities(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		r := genRequest(rt)
		if err := r.normalize(); err != nil {
			rt.Fatal(err)
		}
		var parsed cedar.EntityMap
		if err := parsed.UnmarshalJSON(entitiesJSON(&r)); err != nil {
			rt.Fatal(err)
		}
		direct := entities(&r)
		if len(parsed) != len(direct) {
			rt.Fatalf("%d entities from JSON, %d direct", len(parsed), len(direct))
		}
		for uid, e := range direct {
			if p, ok := parsed[uid]; !ok || !p.Equal(e) {
				rt.Fatalf("entity %v differs: %+v vs %+v", uid, p, e)
			}
		}
	})
}

// TestRecordRecheckProperty: every record Record makes re-checks.
func TestRecordRecheckProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		tm := genTerms(rt)
		r := genRequest(rt)
		rec, d, err := Record(tm, r)
		if err != nil {
			rt.Fatal(err)
		}
		if rec.Decision != d.Effect {
			rt.Fatal("record and decision differ")
		}
		tb, _ := tm.Encode()
		rb, _ := r.Encode()
		if err := Recheck(rec, tb, rb); err != nil {
			rt.Fatal(err)
		}
	})
}
