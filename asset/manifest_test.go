package asset

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/internal/visible"
)

var update = flag.Bool("update", false, "rewrite testdata vectors")

func TestManifestRoundTrip(t *testing.T) {
	m := manifest(t, "data.csv")
	m.Parents = []Parent{{Asset: idOf([]byte("p1")), Royalty: 100_000}, {Asset: idOf([]byte("p2")), Royalty: 50_000, Stacking: Absolute}}
	b, err := m.Canonical()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseManifest(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	b2, _ := got.Canonical()
	if !bytes.Equal(b, b2) {
		t.Fatal("canonical form not stable")
	}
	if got.Parents[0].Stacking != Relative {
		t.Fatalf("default stacking %q, want relative", got.Parents[0].Stacking)
	}
	id1, _ := m.ID()
	id2, _ := got.ID()
	if id1 != id2 || id1 != idOf(b) {
		t.Fatal("IDs differ")
	}
	checkJCS(t, b)
}

// checkJCS checks that b is RFC 8785 JCS for the JSON value it holds:
// re-encoding it through generic maps (which sort keys) without HTML
// escaping gives the same bytes.
func checkJCS(t *testing.T, b []byte) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	if got := bytes.TrimSuffix(buf.Bytes(), []byte("\n")); !bytes.Equal(got, b) {
		t.Fatalf("not JCS:\n%s\nsorted:\n%s", b, got)
	}
}

func TestManifestValidate(t *testing.T) {
	a, b, c := key(t, 0).DID(), key(t, 1).DID(), key(t, 2).DID()
	p := func(s string) ID { return idOf([]byte(s)) }
	tests := []struct {
		name   string
		mutate func(*Manifest)
		want   error
	}{
		{"ok", func(*Manifest) {}, nil},
		{"no content", func(m *Manifest) { m.Content = content.ID{} }, ErrField},
		{"no name", func(m *Manifest) { m.Name = "" }, ErrField},
		{"long name", func(m *Manifest) { m.Name = strings.Repeat("n", 257) }, ErrField},
		{"control in name", func(m *Manifest) { m.Name = "a\nb" }, ErrField},
		{"newline in description ok", func(m *Manifest) { m.Description = "line 1\nline 2\ttab" }, nil},
		{"line separator", func(m *Manifest) { m.Description = "a\u2028b" }, ErrField},
		{"bad utf8", func(m *Manifest) { m.Name = "a\xffb" }, ErrField},
		{"RLO in name", func(m *Manifest) { m.Name = "invoice\u202efdp.exe" }, ErrField},
		{"LRI in name", func(m *Manifest) { m.Name = "a\u2066b\u2069" }, ErrField},
		{"RLM in name", func(m *Manifest) { m.Name = "a\u200fb" }, ErrField},
		{"ALM in name", func(m *Manifest) { m.Name = "a\u061cb" }, ErrField},
		{"zero-width space in name", func(m *Manifest) { m.Name = "ad\u200bmin" }, ErrField},
		{"ZWJ in ascii name", func(m *Manifest) { m.Name = "ad\u200dmin" }, ErrField},
		{"ZWNJ in persian name ok", func(m *Manifest) { m.Name = "می\u200cخواهم" }, nil},
		{"hebrew name ok", func(m *Manifest) { m.Name = "שלום.txt" }, nil},
		{"RLO in description", func(m *Manifest) { m.Description = "safe\u202e" }, ErrField},
		{"RLO in license", func(m *Manifest) { m.License = "open\u202e" }, ErrField},
		{"BOM in media type", func(m *Manifest) { m.MediaType = "\ufefftext/plain" }, ErrField},
		{"bad media type", func(m *Manifest) { m.MediaType = "csv" }, ErrField},
		{"media type case", func(m *Manifest) { m.MediaType = "Text/CSV" }, ErrField},
		{"media type params ok", func(m *Manifest) { m.MediaType = "text/csv; charset=utf-8" }, nil},
		{"no media type ok", func(m *Manifest) { m.MediaType = "" }, nil},
		{"no created", func(m *Manifest) { m.Created = Time{} }, ErrField},
		{"no owners", func(m *Manifest) { m.Owners = nil }, ErrOwners},
		{"duplicate owner", func(m *Manifest) { m.Owners = []Owner{{a, 1}, {a, 1}} }, ErrOwners},
		{"zero weight", func(m *Manifest) { m.Owners[1].Weight = 0 }, ErrOwners},
		{"negative weight", func(m *Manifest) { m.Owners[1].Weight = -1 }, ErrOwners},
		{"huge weight", func(m *Manifest) { m.Owners[1].Weight = MaxWeight + 1 }, ErrOwners},
		{"zero-DID owner", func(m *Manifest) { m.Owners[1].DID = identity.DID{} }, ErrOwners},
		{"threshold zero", func(m *Manifest) { m.Threshold = 0 }, ErrThreshold},
		{"threshold above total", func(m *Manifest) { m.Threshold = 3 }, ErrThreshold},
		{"weighted threshold ok", func(m *Manifest) { m.Owners = []Owner{{a, 3}, {b, 1}}; m.Threshold = 4 }, nil},
		{"no contributors", func(m *Manifest) { m.Contributors = nil }, ErrContributors},
		{"shares under 100%", func(m *Manifest) { m.Contributors = []Contributor{{a, 500_000}, {b, 499_999}} }, ErrContributors},
		{"shares over 100%", func(m *Manifest) { m.Contributors = []Contributor{{a, 500_000}, {b, 500_001}} }, ErrContributors},
		{"shares exact", func(m *Manifest) { m.Contributors = []Contributor{{a, 333_334}, {b, 333_333}, {c, 333_333}} }, nil},
		{"zero share", func(m *Manifest) { m.Contributors = []Contributor{{a, Whole}, {b, 0}} }, ErrContributors},
		{"negative share", func(m *Manifest) { m.Contributors = []Contributor{{a, Whole + 1}, {b, -1}} }, ErrContributors},
		{"duplicate contributor", func(m *Manifest) { m.Contributors = []Contributor{{a, 500_000}, {a, 500_000}} }, ErrContributors},
		{"parents at limit", func(m *Manifest) {
			for i := range MaxParents {
				m.Parents = append(m.Parents, Parent{Asset: p(string(rune('a' + i))), Royalty: 1000})
			}
		}, nil},
		{"too many parents", func(m *Manifest) {
			for i := range MaxParents + 1 {
				m.Parents = append(m.Parents, Parent{Asset: p(string(rune('a' + i))), Royalty: 1000})
			}
		}, ErrParents},
		{"duplicate parent", func(m *Manifest) { m.Parents = []Parent{{Asset: p("x")}, {Asset: p("x")}} }, ErrParents},
		{"zero parent", func(m *Manifest) { m.Parents = []Parent{{}} }, ErrParents},
		{"royalties over 100%", func(m *Manifest) {
			m.Parents = []Parent{{Asset: p("x"), Royalty: 600_000}, {Asset: p("y"), Royalty: 400_001}}
		}, ErrParents},
		{"royalties exactly 100%", func(m *Manifest) {
			m.Parents = []Parent{{Asset: p("x"), Royalty: 600_000}, {Asset: p("y"), Royalty: 400_000}}
		}, nil},
		{"zero royalty ok", func(m *Manifest) { m.Parents = []Parent{{Asset: p("x")}} }, nil},
		{"negative royalty", func(m *Manifest) { m.Parents = []Parent{{Asset: p("x"), Royalty: -1}} }, ErrParents},
		{"bad stacking", func(m *Manifest) { m.Parents = []Parent{{Asset: p("x"), Stacking: "compound"}} }, ErrParents},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := manifest(t, "x")
			tt.mutate(m)
			err := m.Validate()
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				// A valid manifest survives its canonical form.
				b, err := m.Canonical()
				if err != nil {
					t.Fatal(err)
				}
				if _, err := ParseManifest(b); err != nil {
					t.Fatalf("ParseManifest(Canonical()): %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParseManifestRejects(t *testing.T) {
	m := manifest(t, "x")
	good, _ := m.Canonical()
	s := string(good)
	did0 := key(t, 0).DID().String()
	for name, tc := range map[string]struct {
		in   string
		want error
	}{
		"not json":       {"{", ErrMalformed},
		"trailing space": {s + " ", ErrNotCanonical},
		"trailing value": {s + "{}", ErrMalformed},
		"unknown field":  {strings.Replace(s, `"content"`, `"colour":"red","content"`, 1), ErrMalformed},
		"duplicate key":  {strings.Replace(s, `"name":"x"`, `"name":"x","name":"y"`, 1), ErrMalformed},
		"case variant":   {strings.Replace(s, `"name"`, `"Name"`, 1), ErrMalformed},
		"white space":    {strings.Replace(s, `,"name"`, `, "name"`, 1), ErrNotCanonical},
		"missing field":  {strings.Replace(s, `"license":"",`, ``, 1), ErrNotCanonical},
		"negative share": {strings.Replace(s, `"share":1000000`, `"share":-1000000`, 1), ErrInvalid},
		"float share":    {strings.Replace(s, `"share":1000000`, `"share":1e6`, 1), ErrMalformed},
		"bad did":        {strings.Replace(s, did0, "did:key:z6Mk", 1), identity.ErrBadDID},
		"bad time":       {strings.Replace(s, `2026-11-26T08:00:00Z`, `2026-11-26T09:00:00+01:00`, 1), ErrField},
		"fraction time":  {strings.Replace(s, `2026-11-26T08:00:00Z`, `2026-11-26T08:00:00.5Z`, 1), ErrField},
		"bad content":    {strings.Replace(s, m.Content.String(), "bafkqaaa", 1), content.ErrBadID},
		"too large":      {strings.Replace(s, `"description":"`, `"description":"`+strings.Repeat("d", MaxStatement), 1), ErrMalformed},
		"null owners":    {strings.Replace(s, `"owners":[`, `"owners":null,"x":[`, 1), ErrMalformed},
		"escaped html":   {strings.Replace(s, `"description":"`, `"description":"\u003c`, 1), ErrNotCanonical},
	} {
		_, err := ParseManifest([]byte(tc.in))
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", name, err, tc.want)
		}
	}
	if _, err := ParseManifest(good); err != nil {
		t.Fatal(err)
	}
}

func TestSignOpenManifest(t *testing.T) {
	m := manifest(t, "model.bin")
	env, err := m.Sign(key(t, 0), key(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	got, id, signers, err := OpenManifest(env)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := m.ID()
	if id != want || got.Name != "model.bin" || len(signers) != 2 {
		t.Fatalf("OpenManifest = %v %v %v", got, id, signers)
	}
	// Another statement kind is refused.
	other, _ := identity.Sign(identity.PayloadType(KindProposal), []byte("{}"), key(t, 0))
	if _, _, _, err := OpenManifest(other); !errors.Is(err, identity.ErrWrongPayloadType) {
		t.Fatalf("proposal opened as manifest: %v", err)
	}
	bad := *m
	bad.Threshold = 0
	if _, err := bad.Sign(key(t, 0)); !errors.Is(err, ErrThreshold) {
		t.Fatalf("signing an invalid manifest: %v", err)
	}
}

// vectorFile is testdata/manifest-vectors.json: canonical payloads, their
// IDs, and envelopes signed by the W3C seed keys.
type vectorFile struct {
	Comment string   `json:"comment"`
	Vectors []vector `json:"vectors"`
}

type vector struct {
	Name        string          `json:"name"`
	PayloadType string          `json:"payloadType"`
	Payload     json.RawMessage `json:"payload"`
	ID          string          `json:"id"`
	Envelope    json.RawMessage `json:"envelope"`
}

func makeVectors(t *testing.T) []vector {
	var out []vector
	add := func(name, kind string, payload []byte, env *identity.Envelope) {
		js, err := env.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, vector{name, identity.PayloadType(kind), payload, idOf(payload).String(), js})
	}
	// A dataset owned by seed-0 alone.
	ds := &Manifest{
		Content:      contentOf("hello, charter\n"),
		Name:         "greetings.txt",
		Description:  "A one-line dataset.",
		MediaType:    "text/plain; charset=utf-8",
		Owners:       []Owner{{key(t, 0).DID(), 1}},
		Threshold:    1,
		Contributors: []Contributor{{key(t, 0).DID(), Whole}},
		License:      "open",
		Created:      NewTime(t0),
	}
	dsID, _ := ds.ID()
	b, _ := ds.Canonical()
	env, err := ds.Sign(key(t, 0))
	if err != nil {
		t.Fatal(err)
	}
	add("dataset, one owner", KindAsset, b, env)

	// A model trained on it, two owners (2-of-3 by weight), two contributors.
	model := &Manifest{
		Content:      contentOf("model weights"),
		Name:         "tiny-model",
		MediaType:    "application/octet-stream",
		Owners:       []Owner{{key(t, 1).DID(), 2}, {key(t, 2).DID(), 1}},
		Threshold:    2,
		Contributors: []Contributor{{key(t, 1).DID(), 750_000}, {key(t, 2).DID(), 250_000}},
		Parents:      []Parent{{Asset: dsID, Royalty: 100_000, Stacking: Relative}},
		Created:      NewTime(t0.Add(time.Hour)),
	}
	modelID, _ := model.ID()
	b, _ = model.Canonical()
	env, err = model.Sign(key(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	add("model with a parent, threshold met by one heavy owner", KindAsset, b, env)

	// A proposal to add seed-3 as an owner of the model, and seed-2's approval.
	p := &Proposal{
		Asset: modelID,
		Change: Change{Kind: SetOwners, Threshold: 3,
			Owners: []Owner{{key(t, 1).DID(), 2}, {key(t, 2).DID(), 1}, {key(t, 3).DID(), 1}}},
		Expires:  NewTime(t0.Add(7 * 24 * time.Hour)),
		Nonce:    "0123456789abcdef",
		Proposer: key(t, 2).DID(),
		Version:  1,
	}
	b, _ = p.Canonical()
	env, err = p.Sign(key(t, 2))
	if err != nil {
		t.Fatal(err)
	}
	add("proposal: set owners", KindProposal, b, env)
	a, _ := NewApproval(p, key(t, 1).DID())
	b, _ = a.Canonical()
	env, err = a.Sign(key(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	add("approval of that proposal", KindApproval, b, env)

	// A fine-tune of the model that cites its grant on the parent (the
	// grant id here is an example; registration looks it up).
	tune := &Manifest{
		Content:      contentOf("fine-tuned weights"),
		Name:         "tiny-tune",
		MediaType:    "application/octet-stream",
		Owners:       []Owner{{key(t, 3).DID(), 1}},
		Threshold:    1,
		Contributors: []Contributor{{key(t, 3).DID(), Whole}},
		Parents:      []Parent{{Asset: modelID, Grant: idOf([]byte("example grant")), Royalty: 50_000, Stacking: Relative}},
		Created:      NewTime(t0.Add(2 * time.Hour)),
	}
	b, _ = tune.Canonical()
	env, err = tune.Sign(key(t, 3))
	if err != nil {
		t.Fatal(err)
	}
	add("derived asset citing its grant on the parent", KindAsset, b, env)
	return out
}

func TestVectors(t *testing.T) {
	got := makeVectors(t)
	const path = "testdata/vectors.json"
	if *update {
		b, _ := json.MarshalIndent(vectorFile{
			Comment: "Charter asset statements: canonical payload (RFC 8785 JCS), id = CIDv1(raw, blake3(payload)), DSSE envelope signed by the keys with seeds 00..00 to 00..03 (the W3C did:key Ed25519 test vector seeds). Regenerate: go test ./asset -run TestVectors -update",
			Vectors: got,
		}, "", "  ")
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f vectorFile
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Vectors) != len(got) {
		t.Fatalf("%d vectors on disk, %d made (run with -update?)", len(f.Vectors), len(got))
	}
	compact := func(r json.RawMessage) []byte {
		var buf bytes.Buffer
		if err := json.Compact(&buf, r); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	for i, v := range f.Vectors {
		if !bytes.Equal(compact(v.Envelope), got[i].Envelope) || v.ID != got[i].ID {
			t.Errorf("%s: made envelope differs from the vector", v.Name)
		}
		env, err := identity.ParseEnvelope(compact(v.Envelope))
		if err != nil {
			t.Fatal(err)
		}
		_, payload, err := identity.Verify(env, v.PayloadType)
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		if !bytes.Equal(payload, compact(v.Payload)) {
			t.Errorf("%s: envelope payload differs from the vector's payload", v.Name)
		}
		if idOf(payload).String() != v.ID {
			t.Errorf("%s: id mismatch", v.Name)
		}
		switch v.PayloadType {
		case identity.PayloadType(KindAsset):
			_, _, _, err = OpenManifest(env)
		case identity.PayloadType(KindProposal):
			_, _, err = OpenProposal(env)
		case identity.PayloadType(KindApproval):
			_, err = OpenApproval(env)
		}
		if err != nil {
			t.Errorf("%s: %v", v.Name, err)
		}
	}
}

func FuzzParseManifest(f *testing.F) {
	for _, v := range makeVectors(&testing.T{}) {
		if v.PayloadType == identity.PayloadType(KindAsset) {
			f.Add([]byte(v.Payload))
		}
	}
	f.Add([]byte(`{"content":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseManifest(b)
		if err != nil {
			return
		}
		c, err := m.Canonical()
		if err != nil || !bytes.Equal(c, b) {
			t.Fatalf("accepted non-canonical input or cannot re-encode: %v", err)
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("accepted invalid manifest: %v", err)
		}
		for _, s := range []string{m.Name, m.License, m.MediaType} {
			if err := visible.Check(s, false); err != nil {
				t.Fatalf("accepted text that does not display as itself: %v", err)
			}
		}
		if err := visible.Check(m.Description, true); err != nil {
			t.Fatalf("accepted a description that does not display as itself: %v", err)
		}
	})
}
