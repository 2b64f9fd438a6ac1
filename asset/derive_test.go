package asset

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/charter-dev/charter/license"
)

// rights is an in-memory RightLookup.
type rights map[ID]*Right

func (r rights) lookup(id ID) (*Right, error) {
	if x, ok := r[id]; ok {
		c := *x
		return &c, nil
	}
	return nil, ErrUnknownGrant
}

func templateTerms(t testing.TB, name string) *license.Terms {
	tm, err := license.Template(name)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// termsByName is a TermsLookup that takes template names as references.
func termsByName(t testing.TB) TermsLookup {
	return func(ref string) (*license.Terms, error) { return license.Template(ref) }
}

func TestCheckDerivation(t *testing.T) {
	a, c := key(t, 0).DID(), key(t, 2).DID()
	parent := manifest(t, "corpus")
	pid, _ := parent.ID()
	other, _ := manifest(t, "other").ID()
	gid := idOf([]byte("grant"))
	good := func() *Right {
		return &Right{Grant: gid, Asset: pid, Licensee: a, Derivative: true, Commercial: true,
			NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(time.Hour), Terms: templateTerms(t, "commercial-training")}
	}
	tests := []struct {
		name   string
		mutate func(*Manifest, *Right)
		term   string // "" allowed
	}{
		{"derivative grant held by an owner", nil, ""},
		{"royalty above the ask", func(m *Manifest, r *Right) { m.Parents[0].Royalty = 200_000 }, ""},
		{"no grant cited", func(m *Manifest, r *Right) { m.Parents[0].Grant = ID{} }, "grant"},
		{"unknown grant", func(m *Manifest, r *Right) { m.Parents[0].Grant = idOf([]byte("nope")) }, "grant"},
		{"grant on another asset", func(m *Manifest, r *Right) { r.Asset = other }, "grant"},
		{"grant not for a derivative", func(m *Manifest, r *Right) { r.Derivative = false }, "grant.derivative"},
		{"grant held by a stranger", func(m *Manifest, r *Right) { r.Licensee = c }, "grant.licensee"},
		{"revoked grant", func(m *Manifest, r *Right) { r.Revoked = true }, "grant.revoked"},
		{"created after the window", func(m *Manifest, r *Right) { r.NotAfter = t0 }, "grant.window"},
		{"created before the window", func(m *Manifest, r *Right) { r.NotBefore = t0.Add(ClockSkew + time.Second) }, "grant.window"},
		{"created within skew before the window", func(m *Manifest, r *Right) { r.NotBefore = t0.Add(ClockSkew) }, ""},
		{"commercial licence, non-commercial grant", func(m *Manifest, r *Right) { r.Commercial = false }, "grant.commercial"},
		{"no licence, non-commercial grant", func(m *Manifest, r *Right) { r.Commercial = false; m.License = "" }, "grant.commercial"},
		{"non-commercial licence, non-commercial grant", func(m *Manifest, r *Right) {
			r.Commercial = false
			r.Terms.Commercial = false
			m.License = "research-only"
		}, ""},
		{"parent's terms forbid derivatives", func(m *Manifest, r *Right) { r.Terms = templateTerms(t, "research-only") }, "derivatives.allowed"},
		{"royalty below the ask", func(m *Manifest, r *Right) { m.Parents[0].Royalty = 10_000 }, "derivatives.royalty"},
		{"stacking other than asked", func(m *Manifest, r *Right) { m.Parents[0].Stacking = Absolute }, "derivatives.stacking"},
		{"commercial child of a non-commercial parent", func(m *Manifest, r *Right) { r.Terms.Commercial = false }, "commercial"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := manifest(t, "model")
			m.License = "inference-metered"
			m.Parents = []Parent{{Asset: pid, Grant: gid, Royalty: 50_000, Stacking: Relative}}
			r := good()
			if tt.mutate != nil {
				tt.mutate(m, r)
			}
			err := CheckDerivation(m, rights{gid: r}.lookup, termsByName(t))
			if tt.term == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var de *DerivationError
			if !errors.As(err, &de) || !errors.Is(err, ErrNoRight) {
				t.Fatalf("got %v, want a DerivationError on %s", err, tt.term)
			}
			if de.Term != tt.term || de.Parent != pid {
				t.Fatalf("refused on %s of %s, want %s of %s: %v", de.Term, de.Parent, tt.term, pid, err)
			}
			if !strings.Contains(err.Error(), pid.String()) || !strings.Contains(err.Error(), "hint: ") {
				t.Fatalf("error does not name the parent or give a hint: %v", err)
			}
		})
	}
	// No parents: nothing to check, nothing looked up.
	m := manifest(t, "plain")
	if err := CheckDerivation(m, nil, nil); err != nil {
		t.Fatal(err)
	}
	// A lookup failure is passed on, not taken as a refusal.
	disk := errors.New("disk on fire")
	m.Parents = []Parent{{Asset: pid, Grant: gid}}
	if err := CheckDerivation(m, func(ID) (*Right, error) { return nil, disk }, termsByName(t)); !errors.Is(err, disk) || errors.Is(err, ErrNoRight) {
		t.Fatalf("lookup failure: %v", err)
	}
}

func TestDerivationHint(t *testing.T) {
	pid, _ := manifest(t, "corpus").ID()
	m := manifest(t, "model")
	m.Parents = []Parent{{Asset: pid}}
	err := CheckDerivation(m, rights{}.lookup, termsByName(t))
	want := "hint: charter grant request " + pid.String() + " --purpose train --derivative --commercial, then publish again"
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Fatalf("got %v\nwant suffix %s", err, want)
	}
}

func TestCheckFresh(t *testing.T) {
	m := manifest(t, "plain")
	if err := CheckFresh(m, t0.Add(24*time.Hour)); err != nil {
		t.Fatalf("a manifest without parents is not judged by time: %v", err)
	}
	m.Parents = []Parent{{Asset: idOf([]byte("p")), Grant: idOf([]byte("g"))}}
	for _, d := range []time.Duration{0, ClockSkew, -ClockSkew} {
		if err := CheckFresh(m, t0.Add(d)); err != nil {
			t.Errorf("skew %s: %v", d, err)
		}
	}
	for _, d := range []time.Duration{ClockSkew + time.Second, -ClockSkew - time.Second} {
		if err := CheckFresh(m, t0.Add(d)); !errors.Is(err, ErrInvalid) {
			t.Errorf("skew %s: %v", d, err)
		}
	}
}

// TestParentGrantCanonical: a cited grant is part of the canonical
// manifest (so of the asset id); a parent without one encodes as before.
func TestParentGrantCanonical(t *testing.T) {
	m := manifest(t, "model")
	pid := idOf([]byte("p"))
	m.Parents = []Parent{{Asset: pid, Royalty: 1}}
	before, err := m.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(before), `"grant"`) {
		t.Fatalf("zero grant encoded: %s", before)
	}
	m.Parents[0].Grant = idOf([]byte("g"))
	b, err := m.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	want := `"parents":[{"asset":"` + pid.String() + `","grant":"` + idOf([]byte("g")).String() + `","royalty":1,"stacking":"relative"}]`
	if !strings.Contains(string(b), want) {
		t.Fatalf("canonical %s\nwant %s", b, want)
	}
	got, err := ParseManifest(b)
	if err != nil || got.Parents[0].Grant != m.Parents[0].Grant {
		t.Fatalf("round trip: %v %+v", err, got)
	}
	if _, err := ParseManifest([]byte(strings.Replace(string(b), idOf([]byte("g")).String(), "", 1))); err == nil {
		t.Fatal("an empty grant id parsed")
	}
}
