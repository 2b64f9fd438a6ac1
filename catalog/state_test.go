package catalog

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
)

func testState(t testing.TB) *asset.State {
	did := func(b byte) identity.DID {
		return identity.DIDFromPublicKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{b}, 32)).Public().(ed25519.PublicKey))
	}
	id := func(b byte) asset.ID {
		a, err := asset.ParseID(content.IDFromDigest([32]byte{b}).String())
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	m := asset.Manifest{
		Content:      content.IDFromDigest([32]byte{1}),
		Contributors: []asset.Contributor{{DID: did(3), Share: asset.Whole / 4}, {DID: did(4), Share: 3 * asset.Whole / 4}},
		Created:      asset.NewTime(time.Unix(1_800_000_000, 0)),
		Description:  "Modèle fine-tuned on \"quotes\" <and> tabs\t",
		License:      "commercial-training",
		MediaType:    "application/x-model",
		Name:         "model 7 — ünïcode",
		Owners:       []asset.Owner{{DID: did(1), Weight: 2}, {DID: did(2), Weight: 1}},
		Parents:      []asset.Parent{{Asset: id(9), Grant: id(10), Royalty: asset.Whole / 10, Stacking: asset.Relative}, {Asset: id(11), Royalty: 5}},
		Threshold:    2,
	}
	return &asset.State{Asset: id(7), Manifest: m, Version: 3, Owners: m.Owners, Threshold: 2, Contributors: []asset.Contributor{}, License: "research", Delisted: true}
}

// TestStateDecoder: stored states decode as encoding/json decodes them,
// on the fast path and off it.
func TestStateDecoder(t *testing.T) {
	st := testState(t)
	plain := *st
	plain.Manifest.Description, plain.Manifest.Name = "plain", "plain"
	for _, s := range []*asset.State{st, &plain} {
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var d StateDecoder
		got, err := d.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, s) {
			t.Fatalf("decoded %+v\nwant %+v", got, s)
		}
		fast := stateScan{b: b, dec: &d}
		if _, ok := fast.state(); !ok && s == &plain {
			t.Fatalf("the fast path refused what json.Marshal wrote: %s", b)
		}
	}
	var d StateDecoder
	if got, err := d.Decode([]byte("null")); got != nil || err != nil {
		t.Fatalf("null: %v, %v", got, err)
	}
	for _, bad := range []string{``, `{`, `{"version":1.5}`, `{"version":-1}`, `{"asset":"nope"}`, `{"owners":[{"did":"did:key:z6"}]}`, `{} x`, `{"version":01}`} {
		if _, err := d.Decode([]byte(bad)); err == nil {
			t.Errorf("%s decoded", bad)
		}
	}
}

// FuzzStateDecoder: whatever the bytes, the decoder answers what
// encoding/json answers.
func FuzzStateDecoder(f *testing.F) {
	st := testState(f)
	b, _ := json.Marshal(st)
	f.Add(b)
	plain := *st
	plain.Manifest.Description = ""
	b, _ = json.Marshal(&plain)
	f.Add(b)
	f.Add([]byte(`{"asset":"x","asset":"y"}`))
	f.Add([]byte(`{"Version":2,"owners":[],"contributors":null}`))
	f.Add([]byte(`{"version":18446744073709551615,"threshold":-9223372036854775808,"delisted":true}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var want *asset.State
		werr := json.Unmarshal(b, &want)
		var d StateDecoder
		got, err := d.Decode(b)
		if (err == nil) != (werr == nil) {
			t.Fatalf("%q: error %v, encoding/json %v", b, err, werr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: decoded %+v, encoding/json %+v", b, got, want)
		}
	})
}

func BenchmarkStateDecoder(b *testing.B) {
	st := testState(b)
	st.Manifest.Description, st.Manifest.Name = "plain", "plain"
	j, _ := json.Marshal(st)
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			var s *asset.State
			if err := json.Unmarshal(j, &s); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decoder", func(b *testing.B) {
		var d StateDecoder
		for b.Loop() {
			if _, err := d.Decode(j); err != nil {
				b.Fatal(err)
			}
		}
	})
}
