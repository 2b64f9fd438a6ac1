package asset

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/charter-dev/charter/identity"
)

func TestCheckRegistration(t *testing.T) {
	a, b, c := key(t, 0).DID(), key(t, 1).DID(), key(t, 2).DID()
	reg := registry{}
	parent := reg.add(t, manifest(t, "parent"))
	errLookup := errors.New("disk on fire")

	tests := []struct {
		name    string
		mutate  func(*Manifest)
		signers []identity.DID
		lookup  Lookup
		want    error
	}{
		{"both owners", nil, []identity.DID{a, b}, nil, nil},
		{"below threshold", nil, []identity.DID{a}, nil, ErrThresholdNotMet},
		{"same owner twice counts once", nil, []identity.DID{a, a}, nil, ErrThresholdNotMet},
		{"no signers", nil, nil, nil, ErrThresholdNotMet},
		{"non-owner signer", nil, []identity.DID{a, b, c}, nil, ErrNotOwner},
		{"heavy owner alone", func(m *Manifest) { m.Owners = []Owner{{a, 2}, {b, 1}}; m.Threshold = 2 }, []identity.DID{a}, nil, nil},
		{"light owner alone", func(m *Manifest) { m.Owners = []Owner{{a, 2}, {b, 1}}; m.Threshold = 2 }, []identity.DID{b}, nil, ErrThresholdNotMet},
		{"invalid manifest", func(m *Manifest) { m.Threshold = 9 }, []identity.DID{a, b}, nil, ErrThreshold},
		{"registered parent", func(m *Manifest) { m.Parents = []Parent{{Asset: parent.Asset, Royalty: 10_000}} }, []identity.DID{a, b}, nil, nil},
		{"unknown parent", func(m *Manifest) { m.Parents = []Parent{{Asset: idOf([]byte("nope"))}} }, []identity.DID{a, b}, nil, ErrUnknownAsset},
		{"lookup says unknown", func(m *Manifest) { m.Parents = []Parent{{Asset: parent.Asset}} }, []identity.DID{a, b},
			func(ID) (*State, error) { return nil, fmt.Errorf("catalog: %w", ErrUnknownAsset) }, ErrUnknownAsset},
		{"lookup fails", func(m *Manifest) { m.Parents = []Parent{{Asset: parent.Asset}} }, []identity.DID{a, b},
			func(ID) (*State, error) { return nil, errLookup }, errLookup},
		{"parent with same content", func(m *Manifest) {
			m.Content = parent.Manifest.Content
			m.Parents = []Parent{{Asset: parent.Asset}}
		}, []identity.DID{a, b}, nil, ErrParents},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := manifest(t, "child")
			if tt.mutate != nil {
				tt.mutate(m)
			}
			lookup := tt.lookup
			if lookup == nil {
				lookup = reg.lookup
			}
			err := CheckRegistration(m, tt.signers, lookup)
			if tt.want == nil && err != nil || !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

// chain registers n assets, each the parent of the next, and returns the
// last.
func chain(t *testing.T, reg registry, n int, prefix string) *State {
	var prev *State
	for i := range n {
		m := manifest(t, fmt.Sprintf("%s-%d", prefix, i))
		if prev != nil {
			m.Parents = []Parent{{Asset: prev.Asset}}
		}
		prev = reg.add(t, m)
	}
	return prev
}

func TestAncestorLimit(t *testing.T) {
	reg := registry{}
	a, b := key(t, 0).DID(), key(t, 1).DID()
	// A chain of MaxAncestors assets: a child of its tip has exactly
	// MaxAncestors ancestors, which is allowed.
	tip := chain(t, reg, MaxAncestors, "c")
	m := manifest(t, "child")
	m.Parents = []Parent{{Asset: tip.Asset}}
	if err := CheckRegistration(m, []identity.DID{a, b}, reg.lookup); err != nil {
		t.Fatalf("%d ancestors: %v", MaxAncestors, err)
	}
	// One more ancestor through a second parent is too many.
	extra := reg.add(t, manifest(t, "extra"))
	m.Parents = append(m.Parents, Parent{Asset: extra.Asset})
	if err := CheckRegistration(m, []identity.DID{a, b}, reg.lookup); !errors.Is(err, ErrLineageTooLarge) {
		t.Fatalf("%d ancestors: %v", MaxAncestors+1, err)
	}
	// Shared ancestors count once (a diamond).
	reg2 := registry{}
	root := reg2.add(t, manifest(t, "root"))
	l, r := manifest(t, "left"), manifest(t, "right")
	l.Parents = []Parent{{Asset: root.Asset}}
	r.Parents = []Parent{{Asset: root.Asset}}
	ls, rs := reg2.add(t, l), reg2.add(t, r)
	d := manifest(t, "diamond")
	d.Parents = []Parent{{Asset: ls.Asset}, {Asset: rs.Asset}}
	ds := reg2.add(t, d)
	anc, err := Ancestors(ds, reg2.lookup)
	if err != nil || len(anc) != 3 {
		t.Fatalf("diamond ancestors %v, %v; want 3", anc, err)
	}
}

func TestCycleDetected(t *testing.T) {
	// IDs are hashes, so a real registry cannot hold a cycle; a lying
	// lookup can, and the check must not loop.
	m := manifest(t, "self")
	fake := idOf([]byte("fake parent"))
	m.Parents = []Parent{{Asset: fake}}
	self, _ := m.ID()
	lookup := func(id ID) (*State, error) {
		if id == fake {
			pm := manifest(t, "fake")
			pm.Parents = []Parent{{Asset: self}}
			return &State{Asset: fake, Manifest: *pm}, nil
		}
		return nil, nil
	}
	err := CheckRegistration(m, []identity.DID{key(t, 0).DID(), key(t, 1).DID()}, lookup)
	if !errors.Is(err, ErrCycle) {
		t.Fatalf("got %v, want ErrCycle", err)
	}
	// A lookup whose graph loops without reaching the new asset terminates.
	x, y := idOf([]byte("x")), idOf([]byte("y"))
	loop := func(id ID) (*State, error) {
		pm := manifest(t, "loop")
		next := x
		if id == x {
			next = y
		}
		pm.Parents = []Parent{{Asset: next}}
		return &State{Asset: id, Manifest: *pm}, nil
	}
	m.Parents = []Parent{{Asset: x}}
	if err := CheckRegistration(m, []identity.DID{key(t, 0).DID(), key(t, 1).DID()}, loop); err != nil {
		t.Fatalf("looping lookup: %v", err)
	}
}

func TestClassifyClaim(t *testing.T) {
	a, b, c := key(t, 0).DID(), key(t, 1).DID(), key(t, 2).DID()
	reg := registry{}
	first := reg.add(t, manifest(t, "song.mp3")) // owners a, b; threshold 2
	if st, id := ClassifyClaim(nil, []identity.DID{c}); st != ClaimPriority || !id.IsZero() {
		t.Fatalf("first claim: %v %v", st, id)
	}
	tests := []struct {
		signers []identity.DID
		want    ClaimStatus
	}{
		{[]identity.DID{c}, ClaimConflict},
		{[]identity.DID{a}, ClaimConflict}, // one owner alone is below the threshold
		{[]identity.DID{a, b}, ClaimSameOwners},
		{[]identity.DID{a, b, c}, ClaimSameOwners},
		{[]identity.DID{a, a}, ClaimConflict},
	}
	second := reg.add(t, manifest(t, "other"))
	for _, tt := range tests {
		st, id := ClassifyClaim([]*State{first, second}, tt.signers)
		if st != tt.want || id != first.Asset {
			t.Errorf("signers %v: %v %v, want %v %v", tt.signers, st, id, tt.want, first.Asset)
		}
	}
	// The priority claim's current owners count, not its original ones.
	moved := *first
	moved.Owners = []Owner{{c, 1}}
	moved.Threshold = 1
	if st, _ := ClassifyClaim([]*State{&moved}, []identity.DID{c}); st != ClaimSameOwners {
		t.Fatalf("new owner re-registering: %v", st)
	}
	for _, s := range []ClaimStatus{ClaimPriority, ClaimSameOwners, ClaimConflict} {
		if s.String() == "" {
			t.Fatal("empty name")
		}
	}
}

// TestStateJSON: the catalog stores State as JSON; it must round-trip.
func TestStateJSON(t *testing.T) {
	m := manifest(t, "stored")
	m.Parents = []Parent{{Asset: idOf([]byte("p")), Royalty: 5, Stacking: Absolute}}
	s, err := NewState(m)
	if err != nil {
		t.Fatal(err)
	}
	s.Version = 3
	s.Delisted = true
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var got State
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&got, s) {
		t.Fatalf("round trip:\n%+v\n%+v", &got, s)
	}
	if id, _ := got.Manifest.ID(); id != s.Asset {
		t.Fatal("manifest id changed in the round trip")
	}
}
