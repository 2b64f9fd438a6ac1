package asset

import (
	"encoding/base64"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/charter-dev/charter/identity"
	"pgregory.net/rapid"
)

// govFixture: an asset owned by keys 0, 1, 2 (weight 1 each, threshold 2),
// and a proposal by key 0 to delist it.
type govFixture struct {
	t     *testing.T
	state *State
	keys  []*identity.Key
	prop  *Proposal
}

func newGov(t *testing.T) *govFixture {
	keys := []*identity.Key{key(t, 0), key(t, 1), key(t, 2), key(t, 3)}
	m := manifest(t, "governed")
	m.Owners = []Owner{{keys[0].DID(), 1}, {keys[1].DID(), 1}, {keys[2].DID(), 1}}
	s, err := NewState(m)
	if err != nil {
		t.Fatal(err)
	}
	return &govFixture{t: t, state: s, keys: keys, prop: &Proposal{
		Asset: s.Asset, Change: Change{Kind: Delist}, Expires: NewTime(t0.Add(time.Hour)),
		Nonce: "n1", Proposer: keys[0].DID(), Version: 1,
	}}
}

func (g *govFixture) signProp(p *Proposal, k *identity.Key) *identity.Envelope {
	env, err := p.Sign(k)
	if err != nil {
		g.t.Fatal(err)
	}
	return env
}

func (g *govFixture) approve(p *Proposal, k *identity.Key) *identity.Envelope {
	a, err := NewApproval(p, k.DID())
	if err != nil {
		g.t.Fatal(err)
	}
	env, err := a.Sign(k)
	if err != nil {
		g.t.Fatal(err)
	}
	return env
}

func (g *govFixture) signRaw(kind string, v interface{ Canonical() ([]byte, error) }, keys ...*identity.Key) *identity.Envelope {
	b, err := v.Canonical()
	if err != nil {
		g.t.Fatal(err)
	}
	env, err := identity.Sign(identity.PayloadType(kind), b, keys...)
	if err != nil {
		g.t.Fatal(err)
	}
	return env
}

func TestApplyRules(t *testing.T) {
	now := t0.Add(time.Minute)
	type tc struct {
		name string
		// build returns the state, the proposal envelope and the approvals.
		build      func(g *govFixture) (*State, *identity.Envelope, []*identity.Envelope)
		at         time.Time
		wantStatus Status
		wantErr    error
	}
	k := func(g *govFixture, i int) *identity.Key { return g.keys[i] }
	tests := []tc{
		{"proposer alone is below threshold", func(g *govFixture) (*State, *identity.Envelope, []*identity.Envelope) {
			return g.state, g.signProp(g.prop, k(g, 0)), nil
		}, now, Pending, nil},
		{"proposer and one owner apply", func(g *govFixture) (*State, *identity.Envelope, []*identity.Envelope) {
			return g.state, g.signProp(g.prop, k(g, 0)), []*identity.Envelope{g.approve(g.prop, k(g, 1))}
		}, now, Applied, nil},
		{"all owners apply", func(g *govFixture) (*State, *identity.Envelope, []*identity.Envelope) {
			return g.state, g.signProp(g.prop, k(g, 0)), []*identity.Envelope{g.approve(g.prop, k(g, 1)), g.approve(g.prop, k(g, 2))}
		}, now, Applied, nil},
		{"heavy proposer alone applies", func(g *govFixture) (*State, *identity.Envelope, []*identity.Envelope) {
			s := g.state.clone()
			s.Owners[0].Weight = 2
			return s, g.signProp(g.prop, k(g, 0)), nil
		}, now, Applied, nil},
		{"approval by a non-owner", func(g *govFixture) (*State, *identity.Envelope, []*identity.Envelope) {
			return g.state, g.signProp(g.prop, k(g, 0)), []*identity.Envelope{g.approve(g.prop, k(g, 3))}
		}, now, 0, ErrNotOwner},
		{"proposal by a non-owner", func(g *govFixture) (*State, *identity.Envelope, []*identity.Envelope) {
			p := *g.prop
			p.Proposer = k(g, 3).DID()
			return g.state, g.signProp(&p, k(g, 3)), []*identity.Envelope{g.approve(&p, k(g, 1)), g.approve(&p, k(g, 2))}
		}, now, 0, ErrNotOwner},
		{"same owner approves twice", func(g *govFixture) (*State, *identity.Envelope, []*identity.Envelope) {
			a := g.approve(g.prop, k(g, 1))
			return g.state, g.signProp(g.prop, k(g, 0)), []*identity.Envelope{a, a}
		}, now, 0, ErrDuplicateApproval},
		{"proposer approves again", func(g *govFixture) (*State, *identity.Envelope, []*identity.Envelope) {
			return g.state, g.signProp(g.prop, k(g, 0)), []*identity.Envelope{g.approve(g.prop, k(g, 0))}
		}, now, 0, ErrDuplicateApproval},
		{"approval of another proposal", func(g *govFixture) (*State, *identity.Envelope, []*identity.Envelope) {
			other := *g.prop
			other.Nonce = "n2"
			return g.state, g.signProp(g.prop, k(g, 0)), []*identity.Envelope{g.approve(&other, k(g, 1))}
		}, now, 0, ErrWrongProposal},
		{"approval naming another asset", func(g *govFixture) (*State, *identity.Envelope, []*identity.Envelope) {
			a, _ := NewApproval(g.prop, k(g, 1).DID())
			a.Asset = idOf([]byte("elsewhere"))
			return g.state, g.signProp(g.prop, k(g, 0)), []*identity.Envelope{g.signRaw(KindApproval, a, k(g, 1))}
		}, now, 0, ErrWrongProposal},
		{"approval for an older version", func(g *govFixture) (*State, *identity.Envelope, []*identity.Envelope) {
			a, _ := NewApproval(g.prop, k(g, 1).DID())
			a.Version = 7
			return g.state, g.signProp(g.prop, k(g, 0)), []*identity.Envelope{g.signRaw(KindApproval, a, k(g, 1))}
		}, now, 0, ErrStaleVersion},
		{"proposal against a stale version", func(g *govFixture) (*State, *identity.Envelope, []*identity.Envelope) {
			s := g.state.clone()
			s.Version = 2
			return s, g.signProp(g.prop, k(g, 0)), []*identity.Envelope{g.approve(g.prop, k(g, 1))}
		}, now, 0, ErrStaleVersion},
		{"proposal for another asset", func(g *govFixture) (*State, *identity.Envelope, []*identity.Envelope) {
			p := *g.prop
			p.Asset = idOf([]byte("elsewhere"))
			return g.state, g.signProp(&p, k(g, 0)), nil
		}, now, 0, ErrWrongProposal},
		{"approval at expiry", func(g *govFixture) (*State, *identity.Envelope, []*identity.Envelope) {
			return g.state, g.signProp(g.prop, k(g, 0)), []*identity.Envelope{g.approve(g.prop, k(g, 1))}
		}, t0.Add(time.Hour), 0, ErrExpired},
		{"approval after expiry", func(g *govFixture) (*State, *identity.Envelope, []*identity.Envelope) {
			return g.state, g.signProp(g.prop, k(g, 0)), []*identity.Envelope{g.approve(g.prop, k(g, 1))}
		}, t0.Add(48 * time.Hour), 0, ErrExpired},
		{"forged approval", func(g *govFixture) (*State, *identity.Envelope, []*identity.Envelope) {
			a := g.approve(g.prop, k(g, 1))
			sig, _ := base64.StdEncoding.DecodeString(a.Signatures[0].Sig)
			sig[5] ^= 4
			a.Signatures[0].Sig = base64.StdEncoding.EncodeToString(sig)
			return g.state, g.signProp(g.prop, k(g, 0)), []*identity.Envelope{a}
		}, now, 0, identity.ErrBadSignature},
		{"approval signed by someone else", func(g *govFixture) (*State, *identity.Envelope, []*identity.Envelope) {
			a, _ := NewApproval(g.prop, k(g, 1).DID())
			return g.state, g.signProp(g.prop, k(g, 0)), []*identity.Envelope{g.signRaw(KindApproval, a, k(g, 2))}
		}, now, 0, ErrInvalid},
		{"approval with an extra signer", func(g *govFixture) (*State, *identity.Envelope, []*identity.Envelope) {
			a, _ := NewApproval(g.prop, k(g, 1).DID())
			return g.state, g.signProp(g.prop, k(g, 0)), []*identity.Envelope{g.signRaw(KindApproval, a, k(g, 1), k(g, 2))}
		}, now, 0, ErrInvalid},
		{"proposal signed by someone else", func(g *govFixture) (*State, *identity.Envelope, []*identity.Envelope) {
			return g.state, g.signRaw(KindProposal, g.prop, k(g, 1)), []*identity.Envelope{g.approve(g.prop, k(g, 2))}
		}, now, 0, ErrInvalid},
		{"proposal passed as approval", func(g *govFixture) (*State, *identity.Envelope, []*identity.Envelope) {
			return g.state, g.signProp(g.prop, k(g, 0)), []*identity.Envelope{g.signProp(g.prop, k(g, 0))}
		}, now, 0, identity.ErrWrongPayloadType},
		{"invalid change", func(g *govFixture) (*State, *identity.Envelope, []*identity.Envelope) {
			p := *g.prop
			p.Change = Change{Kind: SetContributors, Contributors: []Contributor{{k(g, 0).DID(), 10}}}
			return g.state, g.signRaw(KindProposal, &p, k(g, 0)), nil
		}, now, 0, ErrContributors},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGov(t)
			s, prop, apps := tt.build(g)
			before := *s
			before.Owners = slices.Clone(s.Owners)
			got, status, err := Apply(s, prop, apps, tt.at)
			if !reflect.DeepEqual(&before, s) {
				t.Fatal("Apply modified its input state")
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err %v, want %v", err, tt.wantErr)
				}
				if got != s {
					t.Fatal("refused Apply returned another state")
				}
				return
			}
			if err != nil || status != tt.wantStatus {
				t.Fatalf("got %v %v, want %v", status, err, tt.wantStatus)
			}
			switch status {
			case Pending:
				if !reflect.DeepEqual(got, s) {
					t.Fatal("pending changed the state")
				}
			case Applied:
				if !got.Delisted || got.Version != s.Version+1 {
					t.Fatalf("applied state %+v", got)
				}
			}
		})
	}
}

func TestApplyChanges(t *testing.T) {
	g := newGov(t)
	now := t0.Add(time.Minute)
	k := g.keys
	lic := "commercial-training"
	run := func(s *State, c Change, by ...*identity.Key) *State {
		t.Helper()
		p := &Proposal{Asset: s.Asset, Change: c, Expires: NewTime(t0.Add(time.Hour)), Nonce: NewNonce(), Proposer: by[0].DID(), Version: s.Version}
		var apps []*identity.Envelope
		for _, a := range by[1:] {
			apps = append(apps, g.approve(p, a))
		}
		n, st, err := Apply(s, g.signProp(p, by[0]), apps, now)
		if err != nil || st != Applied {
			t.Fatalf("%s: %v %v", c.Kind, st, err)
		}
		return n
	}
	s := run(g.state, Change{Kind: SetLicense, License: &lic}, k[0], k[1])
	if s.License != lic || s.Version != 2 {
		t.Fatalf("set-license: %+v", s)
	}
	s = run(s, Change{Kind: SetContributors, Contributors: []Contributor{{k[1].DID(), 400_000}, {k[2].DID(), 600_000}}}, k[1], k[2])
	if len(s.Contributors) != 2 || s.Contributors[1].Share != 600_000 {
		t.Fatalf("set-contributors: %+v", s.Contributors)
	}
	// Hand the asset to key 3 alone.
	s = run(s, Change{Kind: SetOwners, Owners: []Owner{{k[3].DID(), 1}}, Threshold: 1}, k[2], k[0])
	if s.Version != 4 || !s.IsOwner(k[3].DID()) || s.IsOwner(k[0].DID()) {
		t.Fatalf("set-owners: %+v", s)
	}
	// Former owners can no longer propose; the new owner alone can.
	p := &Proposal{Asset: s.Asset, Change: Change{Kind: Delist}, Expires: NewTime(t0.Add(time.Hour)), Nonce: "x", Proposer: k[0].DID(), Version: s.Version}
	if _, _, err := Apply(s, g.signProp(p, k[0]), []*identity.Envelope{g.approve(p, k[1])}, now); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("former owner proposed: %v", err)
	}
	s = run(s, Change{Kind: Delist}, k[3])
	if !s.Delisted {
		t.Fatal("not delisted")
	}
	s = run(s, Change{Kind: Relist}, k[3])
	if s.Delisted || s.Version != 6 {
		t.Fatalf("relist: %+v", s)
	}
	// The manifest, and so the asset id, never changes.
	if s.Asset != g.state.Asset || s.Manifest.Name != "governed" {
		t.Fatal("manifest changed")
	}
}

func TestProposalValidate(t *testing.T) {
	a := key(t, 0).DID()
	lic := "x"
	base := func() *Proposal {
		return &Proposal{Asset: idOf([]byte("a")), Change: Change{Kind: Delist}, Expires: NewTime(t0), Nonce: "n", Proposer: a, Version: 1}
	}
	for name, tc := range map[string]struct {
		mutate func(*Proposal)
		want   error
	}{
		"ok":                 {func(*Proposal) {}, nil},
		"no asset":           {func(p *Proposal) { p.Asset = ID{} }, ErrField},
		"no proposer":        {func(p *Proposal) { p.Proposer = identity.DID{} }, ErrField},
		"version 0":          {func(p *Proposal) { p.Version = 0 }, ErrField},
		"no expiry":          {func(p *Proposal) { p.Expires = Time{} }, ErrField},
		"no nonce":           {func(p *Proposal) { p.Nonce = "" }, ErrField},
		"long nonce":         {func(p *Proposal) { p.Nonce = strings.Repeat("n", 65) }, ErrField},
		"nonce chars":        {func(p *Proposal) { p.Nonce = "a b" }, ErrField},
		"unknown kind":       {func(p *Proposal) { p.Change.Kind = "transfer" }, ErrField},
		"delist with fields": {func(p *Proposal) { p.Change.License = &lic }, ErrField},
		"license ok":         {func(p *Proposal) { p.Change = Change{Kind: SetLicense, License: &lic} }, nil},
		"license missing":    {func(p *Proposal) { p.Change = Change{Kind: SetLicense} }, ErrField},
		"owners with license": {func(p *Proposal) {
			p.Change = Change{Kind: SetOwners, Owners: []Owner{{a, 1}}, Threshold: 1, License: &lic}
		}, ErrField},
		"owners bad threshold": {func(p *Proposal) { p.Change = Change{Kind: SetOwners, Owners: []Owner{{a, 1}}, Threshold: 2} }, ErrThreshold},
		"owners none":          {func(p *Proposal) { p.Change = Change{Kind: SetOwners, Threshold: 1} }, ErrOwners},
		"contributors sum":     {func(p *Proposal) { p.Change = Change{Kind: SetContributors, Contributors: []Contributor{{a, 1}}} }, ErrContributors},
		"contributors + owners": {func(p *Proposal) {
			p.Change = Change{Kind: SetContributors, Contributors: []Contributor{{a, Whole}}, Threshold: 1}
		}, ErrField},
	} {
		p := base()
		tc.mutate(p)
		err := p.Validate()
		if tc.want == nil && err != nil || !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
			continue
		}
		if err == nil {
			b, _ := p.Canonical()
			if _, err := ParseProposal(b); err != nil {
				t.Errorf("%s: round trip: %v", name, err)
			}
		}
	}
	// Canonical form omits the fields of other kinds.
	b, _ := base().Canonical()
	if strings.Contains(string(b), "owners") || strings.Contains(string(b), "license") {
		t.Fatalf("delist proposal carries other fields: %s", b)
	}
	if _, err := ParseProposal([]byte(strings.Replace(string(b), `"kind":"delist"`, `"kind":"delist","owners":[]`, 1))); err == nil {
		t.Fatal("accepted an empty owners list on delist")
	}
}

// TestBelowThresholdNeverChangesState is the governance safety property:
// however approvals are combined, a set of distinct current owners whose
// weight is below the threshold never changes the state, and invalid
// approvals (non-owners, duplicates, other proposals, stale versions,
// expiry) are refused without changing it either. A set that reaches the
// threshold applies.
func TestBelowThresholdNeverChangesState(t *testing.T) {
	var keys []*identity.Key
	for i := range 8 {
		keys = append(keys, key(t, byte(i)))
	}
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(1, 6).Draw(rt, "owners")
		m := manifest(t, "prop")
		m.Owners = nil
		var total int64
		for i := range n {
			w := rapid.Int64Range(1, 5).Draw(rt, "weight")
			m.Owners = append(m.Owners, Owner{keys[i].DID(), w})
			total += w
		}
		m.Threshold = rapid.Int64Range(1, total).Draw(rt, "threshold")
		s, err := NewState(m)
		if err != nil {
			rt.Fatal(err)
		}
		s.Version = rapid.Uint64Range(1, 3).Draw(rt, "version")
		orig := *s
		orig.Owners = slices.Clone(s.Owners)

		order := rapid.Permutation([]int{0, 1, 2, 3, 4, 5}[:n]).Draw(rt, "order")
		take := rapid.IntRange(1, n).Draw(rt, "take")
		signers := order[:take]
		var weight int64
		for _, i := range signers {
			weight += m.Owners[i].Weight
		}
		p := &Proposal{Asset: s.Asset, Change: Change{Kind: Delist}, Expires: NewTime(t0.Add(time.Hour)),
			Nonce: "p", Proposer: keys[signers[0]].DID(), Version: s.Version}
		g := &govFixture{t: t}
		prop := g.signProp(p, keys[signers[0]])
		var apps []*identity.Envelope
		for _, i := range signers[1:] {
			apps = append(apps, g.approve(p, keys[i]))
		}
		// Maybe slip in one bad approval at a random position.
		bad := rapid.IntRange(0, 5).Draw(rt, "bad")
		var wantErr error
		switch bad {
		case 1: // a non-owner
			apps = append(apps, g.approve(p, keys[7]))
			wantErr = ErrNotOwner
		case 2: // a replay of the proposer's consent
			apps = append(apps, g.approve(p, keys[signers[0]]))
			wantErr = ErrDuplicateApproval
		case 3: // an approval of another proposal
			other := *p
			other.Nonce = "q"
			apps = append(apps, g.approve(&other, keys[order[rapid.IntRange(0, n-1).Draw(rt, "who")]]))
			wantErr = ErrWrongProposal
		case 4: // an approval for an older version
			a, _ := NewApproval(p, keys[signers[0]].DID())
			a.Version--
			if a.Version == 0 {
				a.Version = 9
			}
			apps = append(apps, g.signRaw(KindApproval, a, keys[signers[0]]))
			wantErr = ErrStaleVersion
		}
		if len(apps) > 1 {
			i := rapid.IntRange(0, len(apps)-1).Draw(rt, "pos")
			apps[i], apps[len(apps)-1] = apps[len(apps)-1], apps[i]
		}
		now := t0.Add(time.Minute)
		if bad == 5 {
			now = t0.Add(time.Hour)
			wantErr = ErrExpired
		}

		got, status, err := Apply(s, prop, apps, now)
		if !reflect.DeepEqual(&orig, s) {
			rt.Fatal("input state modified")
		}
		switch {
		case wantErr != nil:
			if !errors.Is(err, wantErr) || got != s {
				rt.Fatalf("bad approval %d: %v, want %v", bad, err, wantErr)
			}
		case weight < m.Threshold:
			if err != nil || status != Pending || !reflect.DeepEqual(got, s) {
				rt.Fatalf("weight %d < threshold %d changed the state: %v %v", weight, m.Threshold, status, err)
			}
		default:
			if err != nil || status != Applied || !got.Delisted || got.Version != s.Version+1 {
				rt.Fatalf("weight %d >= threshold %d did not apply: %v %v", weight, m.Threshold, status, err)
			}
		}
	})
}

func FuzzParseProposal(f *testing.F) {
	for _, v := range makeVectors(&testing.T{}) {
		if v.PayloadType != identity.PayloadType(KindAsset) {
			f.Add([]byte(v.Payload))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if p, err := ParseProposal(b); err == nil {
			if c, _ := p.Canonical(); string(c) != string(b) {
				t.Fatal("accepted non-canonical proposal")
			}
		}
		if a, err := ParseApproval(b); err == nil {
			if c, _ := a.Canonical(); string(c) != string(b) {
				t.Fatal("accepted non-canonical approval")
			}
		}
	})
}
