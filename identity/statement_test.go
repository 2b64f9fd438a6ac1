package identity

import (
	"errors"
	"strings"
	"testing"
)

type note struct {
	Author DID      `json:"author"`
	Tags   []string `json:"tags"`
	Text   string   `json:"text"`
}

// noteList fills Tags so that the canonical form has [] and never null.
type noteList note

func (n *noteList) Canonical() ([]byte, error) {
	c := note(*n)
	if c.Tags == nil {
		c.Tags = []string{}
	}
	return Format{}.Encode(&c)
}

var (
	errBad      = errors.New("test: malformed note")
	errNotCanon = errors.New("test: note not canonical")
	noteFormat  = Format{Kind: "note", MaxSize: 200, Malformed: errBad, NotCanonical: errNotCanon}
)

func TestFormatRoundTrip(t *testing.T) {
	a, b := testKey(t, 1), testKey(t, 2)
	n := note{Author: a.DID(), Tags: []string{"x"}, Text: "<é>"}
	env, err := noteFormat.Sign(&n, a, b)
	if err != nil {
		t.Fatal(err)
	}
	if env.PayloadType != "application/vnd.charter.note+json" {
		t.Fatalf("payload type %q", env.PayloadType)
	}
	var got note
	signers, payload, err := noteFormat.Open(env, &got)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"author":"` + a.DID().String() + `","tags":["x"],"text":"<é>"}`
	if string(payload) != want || got.Text != n.Text || len(signers) != 2 || signers[0] != a.DID() || signers[1] != b.DID() {
		t.Fatalf("got %s %+v %v", payload, got, signers)
	}
	// Another kind's format refuses the envelope.
	if _, _, err := (Format{Kind: "other", Malformed: errBad}).Open(env, &got); !errors.Is(err, ErrWrongPayloadType) {
		t.Fatalf("other kind: %v", err)
	}
}

func TestFormatRefuses(t *testing.T) {
	k := testKey(t, 3)
	did := k.DID().String()
	for _, c := range []struct {
		name    string
		payload string
		want    error
	}{
		{"unsorted", `{"text":"","author":"` + did + `","tags":null}`, errNotCanon},
		{"white space", `{"author":"` + did + `", "tags":null,"text":""}`, errNotCanon},
		{"unknown member", `{"author":"` + did + `","tags":null,"text":"","x":1}`, errBad},
		{"duplicate member", `{"author":"` + did + `","tags":null,"text":"","text":""}`, errBad},
		{"bad DID", `{"author":"did:key:x","tags":null,"text":""}`, errBad},
		{"too large", `{"author":"` + did + `","tags":null,"text":"` + strings.Repeat("a", 200) + `"}`, errBad},
		{"trailing data", `{"author":"` + did + `","tags":null,"text":""}{}`, errBad},
	} {
		env, err := Sign(noteFormat.PayloadType(), []byte(c.payload), k)
		if err != nil {
			t.Fatal(err)
		}
		var n note
		if _, _, err := noteFormat.Open(env, &n); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
	// Without NotCanonical, a non-canonical payload is Malformed.
	env, _ := Sign(noteFormat.PayloadType(), []byte(`{"text":"","author":"`+did+`","tags":null}`), k)
	var n note
	if _, _, err := (Format{Kind: "note", Malformed: errBad}).Open(env, &n); !errors.Is(err, errBad) {
		t.Errorf("no NotCanonical: %v", err)
	}
}

func TestFormatCanonicalMethod(t *testing.T) {
	k := testKey(t, 4)
	env, err := noteFormat.Sign(&noteList{Author: k.DID()}, k)
	if err != nil {
		t.Fatal(err)
	}
	var n noteList
	_, payload, err := noteFormat.Open(env, &n)
	if err != nil || !strings.Contains(string(payload), `"tags":[]`) {
		t.Fatalf("%s %v", payload, err)
	}
	env, _ = Sign(noteFormat.PayloadType(), []byte(`{"author":"`+k.DID().String()+`","tags":null,"text":""}`), k)
	if _, _, err := noteFormat.Open(env, &n); !errors.Is(err, errNotCanon) {
		t.Fatalf("null list accepted against the Canonical method: %v", err)
	}
}

// FuzzFormatParse: what Parse accepts is exactly what Encode writes.
func FuzzFormatParse(f *testing.F) {
	f.Add([]byte(`{"author":"did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK","tags":["a"],"text":"x"}`))
	f.Add([]byte(`{"author":"","tags":null,"text":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var n note
		if err := noteFormat.Parse(b, &n); err != nil {
			if !errors.Is(err, errBad) && !errors.Is(err, errNotCanon) {
				t.Fatalf("%q: %v matches neither error", b, err)
			}
			return
		}
		c, err := noteFormat.Encode(&n)
		if err != nil || string(c) != string(b) {
			t.Fatalf("accepted %q, encodes as %q (%v)", b, c, err)
		}
	})
}
