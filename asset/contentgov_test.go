package asset

import (
	"encoding/json"
	"errors"
	"os"
	"slices"
	"testing"

	"github.com/charter-dev/charter/identity"
)

// TestContentAccess runs the vectors of docs/spec/content-governance.md
// through ContentAccess.
func TestContentAccess(t *testing.T) {
	raw, err := os.ReadFile("testdata/content-governance.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Assets map[string]struct {
			Owners     map[string]int64 `json:"owners"`
			Threshold  int64            `json:"threshold"`
			NeedsGrant bool             `json:"needs_grant"`
		} `json:"assets"`
		Vectors []struct {
			Name   string `json:"name"`
			Claims []struct {
				Asset    string   `json:"asset"`
				LogIndex uint64   `json:"log_index"`
				Signers  []string `json:"signers"`
				Conflict bool     `json:"conflict"`
			} `json:"claims"`
			Unindexed []struct {
				Asset    string `json:"asset"`
				LogIndex uint64 `json:"log_index"`
			} `json:"unindexed"`
			Governors []string `json:"governors"`
			Free      bool     `json:"free"`
			Error     string   `json:"error"`
		} `json:"vectors"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	principals := map[string]identity.DID{}
	did := func(name string) identity.DID {
		if d, ok := principals[name]; ok {
			return d
		}
		d := key(t, byte(10+len(principals))).DID()
		principals[name] = d
		return d
	}
	reg := registry{}
	ids := map[string]ID{}
	names := map[ID]string{}
	open := map[ID]bool{}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range doc.Assets {
			if !yield(k) {
				return
			}
		}
	}) {
		a := doc.Assets[name]
		m := manifest(t, name)
		m.Owners = nil
		for _, who := range slices.Sorted(func(yield func(string) bool) {
			for k := range a.Owners {
				if !yield(k) {
					return
				}
			}
		}) {
			m.Owners = append(m.Owners, Owner{did(who), a.Owners[who]})
		}
		m.Threshold = a.Threshold
		st := reg.add(t, m)
		ids[name], names[st.Asset], open[st.Asset] = st.Asset, name, !a.NeedsGrant
	}
	needs := func(st *State) (bool, error) { return !open[st.Asset], nil }
	for _, v := range doc.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			var claims []ContentClaim
			for _, c := range v.Claims {
				cc := ContentClaim{Asset: ids[c.Asset], LogIndex: c.LogIndex, Conflict: c.Conflict}
				for _, s := range c.Signers {
					cc.Signers = append(cc.Signers, did(s))
				}
				claims = append(claims, cc)
			}
			var un []Unindexed
			for _, u := range v.Unindexed {
				un = append(un, Unindexed{Asset: ids[u.Asset], LogIndex: u.LogIndex})
			}
			a, err := ContentAccess(claims, un, reg.lookup, needs)
			if v.Error == "unindexed" {
				if !errors.Is(err, ErrUnindexed) {
					t.Fatalf("got %+v, %v; want ErrUnindexed", a, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := []string{}
			for _, g := range a.Governors {
				got = append(got, names[g])
			}
			want := v.Governors
			if want == nil {
				want = []string{}
			}
			if !slices.Equal(got, want) || a.Free != v.Free {
				t.Fatalf("governors %v free %v; want %v free %v", got, a.Free, want, v.Free)
			}
			if a.Free != (len(a.Needing) == 0) {
				t.Fatalf("free %v but needing %v", a.Free, a.Needing)
			}
		})
	}
}

// TestContentAccessLoaderErrors checks that a failing loader is an error,
// never a free read.
func TestContentAccessLoaderErrors(t *testing.T) {
	reg := registry{}
	st := reg.add(t, manifest(t, "x"))
	claims := []ContentClaim{{Asset: st.Asset, LogIndex: 1, Signers: []identity.DID{key(t, 0).DID(), key(t, 1).DID()}}}
	boom := errors.New("boom")
	if _, err := ContentAccess(claims, nil, func(ID) (*State, error) { return nil, boom }, func(*State) (bool, error) { return false, nil }); !errors.Is(err, boom) {
		t.Fatalf("lookup error: got %v", err)
	}
	if a, err := ContentAccess(claims, nil, reg.lookup, func(*State) (bool, error) { return false, boom }); !errors.Is(err, boom) || a.Free {
		t.Fatalf("terms error: got %+v, %v", a, err)
	}
	if _, err := ContentAccess(claims, nil, registry{}.lookup, func(*State) (bool, error) { return false, nil }); !errors.Is(err, ErrUnknownAsset) {
		t.Fatalf("unknown governor: got %v", err)
	}
}
