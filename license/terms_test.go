package license

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// validDoc is a document that uses every member of the vocabulary.
func validDoc() string {
	return `{
  "profile": "urn:charter:license:v1",
  "name": "full",
  "version": 1,
  "purposes": ["train", "research"],
  "commercial": true,
  "licensees": {"who": "listed", "principals": ["` + alice + `"], "organisations": ["acme"]},
  "window": {"notBefore": "2026-01-01T00:00:00Z", "notAfter": "2027-01-01T00:00:00Z"},
  "grant": {"maxSeconds": 86400},
  "territory": {"allow": ["FR", "DE"], "deny": ["RU"]},
  "approval": "owners",
  "attribution": {"required": true, "text": "Data: Example Corpus"},
  "derivatives": {"allowed": true, "reciprocal": true, "royalty": 25000, "stacking": "absolute"},
  "obligations": {"publishResults": true, "returnDerivedData": true, "deleteAfterExpiry": true},
  "price": {"model": "per_gib", "currency": "EUR", "amount": 150, "exponent": 2},
  "quotas": {"maxBytes": 1099511627776, "maxRequests": 1000, "maxTokens": 5000000, "maxRuns": 3}
}`
}

func TestParseFullDocument(t *testing.T) {
	tm, err := Parse([]byte(validDoc()))
	if err != nil {
		t.Fatal(err)
	}
	want := &Terms{
		Name: "full", Version: 1,
		Purposes: []Purpose{Research, Train}, Commercial: true,
		Who: Listed, Principals: []string{alice}, Organisations: []string{"acme"},
		NotBefore:      time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:       time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC),
		GrantSeconds:   86400,
		TerritoryAllow: []string{"DE", "FR"}, TerritoryDeny: []string{"RU"},
		Approval:    Owners,
		Attribution: true, AttributionText: "Data: Example Corpus",
		Derivatives: Derivatives{Allowed: true, Reciprocal: true, Royalty: 25000, Stacking: Absolute},
		Obligations: Obligations{PublishResults: true, ReturnDerivedData: true, DeleteAfterExpiry: true},
		Price:       Price{Model: PerGiB, Currency: "EUR", Amount: 150, Exponent: 2},
		Quotas:      Quotas{MaxBytes: 1 << 40, MaxRequests: 1000, MaxTokens: 5000000, MaxRuns: 3},
	}
	a, _ := tm.Encode()
	b, err := want.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatalf("parsed terms differ:\n got %s\nwant %s", a, b)
	}
	// The canonical form is a fixed point and sorts the lists.
	again, err := Parse(a)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := again.Encode()
	if !bytes.Equal(a, c) {
		t.Fatalf("canonical form is not a fixed point:\n%s\n%s", a, c)
	}
	if !strings.Contains(string(a), `"allow":["DE","FR"]`) || !strings.Contains(string(a), `"purposes":["research","train"]`) {
		t.Errorf("lists not sorted in %s", a)
	}
}

// edit replaces old with new in the valid document; the test fails when
// old is not there, so a typo cannot make a case vacuous.
func edit(t *testing.T, old, new string) []byte {
	t.Helper()
	d := validDoc()
	if !strings.Contains(d, old) {
		t.Fatalf("valid document has no %q", old)
	}
	return []byte(strings.Replace(d, old, new, 1))
}

func TestParseVocabulary(t *testing.T) {
	ok := []struct{ name, old, new string }{
		{"every purpose", `["train", "research"]`, `["train","fine-tune","infer","evaluate","embed","synthesize","research"]`},
		{"not commercial", `"commercial": true`, `"commercial": false`},
		{"anyone", `{"who": "listed", "principals": ["` + alice + `"], "organisations": ["acme"]}`, `{"who": "anyone"}`},
		{"principals only", `, "organisations": ["acme"]`, ``},
		{"organisations only", `"principals": ["` + alice + `"], `, ``},
		{"no window", `"window": {"notBefore": "2026-01-01T00:00:00Z", "notAfter": "2027-01-01T00:00:00Z"},`, ``},
		{"open-ended window", `, "notAfter": "2027-01-01T00:00:00Z"`, ``},
		{"no territory", `"territory": {"allow": ["FR", "DE"], "deny": ["RU"]},`, ``},
		{"deny list only", `"allow": ["FR", "DE"], `, ``},
		{"automatic approval", `"owners"`, `"automatic"`},
		{"no attribution", `{"required": true, "text": "Data: Example Corpus"}`, `{"required": false}`},
		{"no derivatives", `{"allowed": true, "reciprocal": true, "royalty": 25000, "stacking": "absolute"}`, `{"allowed": false}`},
		{"relative stacking", `"absolute"`, `"relative"`},
		{"derivatives without royalty", `, "royalty": 25000, "stacking": "absolute"`, ``},
		{"royalty 100%", `25000`, `1000000`},
		{"no obligations", `"obligations": {"publishResults": true, "returnDerivedData": true, "deleteAfterExpiry": true},`, ``},
		{"free", `{"model": "per_gib", "currency": "EUR", "amount": 150, "exponent": 2}`, `{"model": "free"}`},
		{"flat", `"per_gib"`, `"flat"`},
		{"per request", `"per_gib"`, `"per_request"`},
		{"per 1k tokens", `"per_gib"`, `"per_1k_tokens"`},
		{"per training run", `"per_gib"`, `"per_training_run"`},
		{"finer unit", `"amount": 150, "exponent": 2`, `"amount": 15, "exponent": 6`},
		{"JPY exponent 0", `"EUR", "amount": 150, "exponent": 2`, `"JPY", "amount": 150, "exponent": 0`},
		{"JPY exponent omitted", `"EUR", "amount": 150, "exponent": 2`, `"JPY", "amount": 150`},
		{"token symbol", `"EUR"`, `"USDC"`},
		{"largest amount", `"amount": 150`, `"amount": 9007199254740991`},
		{"no quotas", `,
  "quotas": {"maxBytes": 1099511627776, "maxRequests": 1000, "maxTokens": 5000000, "maxRuns": 3}`, ``},
		{"zero quota is unlimited", `"maxRuns": 3`, `"maxRuns": 0`},
		{"no name", `"name": "full",`, ``},
		{"later version", `"version": 1,`, `"version": 2, "supersedes": "` + strings.Repeat("ab", 32) + `",`},
	}
	for _, c := range ok {
		t.Run("ok/"+c.name, func(t *testing.T) {
			tm, err := Parse(edit(t, c.old, c.new))
			if err != nil {
				t.Fatal(err)
			}
			b, err := tm.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Parse(b); err != nil {
				t.Fatalf("canonical form does not parse: %v\n%s", err, b)
			}
		})
	}

	bad := []struct{ name, old, new, field string }{
		{"unknown member", `"name": "full",`, `"name": "full", "colour": "red",`, ""},
		{"member in wrong case", `"commercial": true`, `"Commercial": true`, ""},
		{"duplicate member", `"commercial": true`, `"commercial": true, "commercial": false`, ""},
		{"wrong profile", `urn:charter:license:v1`, `urn:charter:license:v2`, "profile"},
		{"missing profile", `"profile": "urn:charter:license:v1",`, ``, "profile"},
		{"missing version", `"version": 1,`, ``, "version"},
		{"version 0", `"version": 1`, `"version": 0`, "version"},
		{"version 2 without supersedes", `"version": 1`, `"version": 2`, "supersedes"},
		{"version 1 with supersedes", `"version": 1,`, `"version": 1, "supersedes": "` + strings.Repeat("ab", 32) + `",`, "supersedes"},
		{"bad name", `"full"`, `"Full Terms"`, "name"},
		{"empty purposes", `["train", "research"]`, `[]`, "purposes"},
		{"missing purposes", `"purposes": ["train", "research"],`, ``, "purposes"},
		{"unknown purpose", `"research"]`, `"resell"]`, "purposes"},
		{"purpose in wrong case", `"train",`, `"Train",`, "purposes"},
		{"duplicate purpose", `["train", "research"]`, `["train", "train"]`, "purposes"},
		{"commercial not bool", `"commercial": true`, `"commercial": "yes"`, "commercial"},
		{"missing commercial", `"commercial": true,`, ``, "commercial"},
		{"bad who", `"who": "listed"`, `"who": "everyone"`, "licensees.who"},
		{"listed without lists", `"principals": ["` + alice + `"], "organisations": ["acme"]`, `"principals": []`, "licensees"},
		{"anyone with a list", `"who": "listed"`, `"who": "anyone"`, "licensees"},
		{"principal not a did:key", alice, `did:web:example.com`, "licensees.principals"},
		{"principal not ed25519", alice, `did:key:z` + strings.Repeat("1", 30), "licensees.principals"},
		{"bad organisation", `"acme"`, `"acme corp"`, "licensees.organisations"},
		{"duplicate organisation", `["acme"]`, `["acme", "acme"]`, "licensees.organisations"},
		{"inverted window", `"notBefore": "2026-01-01T00:00:00Z", "notAfter": "2027-01-01T00:00:00Z"`, `"notBefore": "2027-01-01T00:00:00Z", "notAfter": "2026-01-01T00:00:00Z"`, "window"},
		{"empty window", `"notAfter": "2027-01-01T00:00:00Z"`, `"notAfter": "2026-01-01T00:00:00Z"`, "window"},
		{"window with offset", `2027-01-01T00:00:00Z`, `2027-01-01T01:00:00+01:00`, "window.notAfter"},
		{"window with fraction", `2027-01-01T00:00:00Z`, `2027-01-01T00:00:00.5Z`, "window.notAfter"},
		{"window not a time", `2027-01-01T00:00:00Z`, `next year`, "window.notAfter"},
		{"missing grant", `"grant": {"maxSeconds": 86400},`, ``, "grant.maxSeconds"},
		{"zero grant", `"maxSeconds": 86400`, `"maxSeconds": 0`, "grant.maxSeconds"},
		{"negative grant", `"maxSeconds": 86400`, `"maxSeconds": -1`, "grant.maxSeconds"},
		{"grant too long", `"maxSeconds": 86400`, `"maxSeconds": 999999999999`, "grant.maxSeconds"},
		{"lower-case territory", `"FR"`, `"fr"`, "territory.allow"},
		{"unassigned territory", `"FR"`, `"ZZ"`, "territory.allow"},
		{"alpha-3 territory", `"RU"`, `"RUS"`, "territory.deny"},
		{"allowed and denied", `"deny": ["RU"]`, `"deny": ["DE"]`, "territory"},
		{"bad approval", `"owners"`, `"committee"`, "approval"},
		{"missing approval", `"approval": "owners",`, ``, "approval"},
		{"attribution without text", `, "text": "Data: Example Corpus"`, ``, "attribution.text"},
		{"text without attribution", `"required": true`, `"required": false`, "attribution.text"},
		{"attribution control char", `Example Corpus`, `Example\u0007Corpus`, "attribution.text"},
		{"attribution RLO", `Example Corpus`, `Example\u202eCorpus`, "attribution.text"},
		{"attribution isolate", `Example Corpus`, `Example \u2067Corpus\u2069`, "attribution.text"},
		{"attribution zero-width space", `Example Corpus`, `Exam\u200bple Corpus`, "attribution.text"},
		{"missing derivatives", `"derivatives": {"allowed": true, "reciprocal": true, "royalty": 25000, "stacking": "absolute"},`, ``, "derivatives.allowed"},
		{"royalty without derivatives", `"allowed": true, "reciprocal": true`, `"allowed": false, "reciprocal": false`, "derivatives"},
		{"royalty over 100%", `25000`, `1000001`, "derivatives.royalty"},
		{"negative royalty", `25000`, `-1`, "derivatives.royalty"},
		{"fractional royalty", `25000`, `2.5`, "derivatives.royalty"},
		{"bad stacking", `"absolute"`, `"compound"`, "derivatives.stacking"},
		{"missing stacking", `, "stacking": "absolute"`, ``, "derivatives.stacking"},
		{"missing price", `"price": {"model": "per_gib", "currency": "EUR", "amount": 150, "exponent": 2},`, ``, "price.model"},
		{"bad price model", `"per_gib"`, `"per_gb"`, "price.model"},
		{"free with amount", `"model": "per_gib"`, `"model": "free"`, "price"},
		{"no currency", `"currency": "EUR", `, ``, "price.currency"},
		{"bad currency", `"EUR"`, `"euro"`, "price.currency"},
		{"zero amount", `"amount": 150`, `"amount": 0`, "price.amount"},
		{"negative amount", `"amount": 150`, `"amount": -150`, "price.amount"},
		{"float amount", `"amount": 150`, `"amount": 1.5`, "price.amount"},
		{"exponent notation", `"amount": 150`, `"amount": 15e1`, "price.amount"},
		{"amount above 2^53-1", `"amount": 150`, `"amount": 9007199254740992`, "price.amount"},
		{"amount overflows int64", `"amount": 150`, `"amount": 99999999999999999999`, "price.amount"},
		{"amount as string", `"amount": 150`, `"amount": "150"`, "price.amount"},
		{"exponent coarser than minor unit", `"exponent": 2`, `"exponent": 1`, "price.exponent"},
		{"exponent too large", `"exponent": 2`, `"exponent": 19`, "price.exponent"},
		{"negative quota", `"maxRuns": 3`, `"maxRuns": -3`, "quotas.maxRuns"},
		{"quota overflow", `"maxBytes": 1099511627776`, `"maxBytes": 9223372036854775808`, "quotas.maxBytes"},
		{"quota above 2^53-1", `"maxTokens": 5000000`, `"maxTokens": 9007199254740992`, "quotas.maxTokens"},
		{"trailing data", `"maxRuns": 3}`, `"maxRuns": 3}, "x": 1`, ""},
	}
	for _, c := range bad {
		t.Run("bad/"+c.name, func(t *testing.T) {
			_, err := Parse(edit(t, c.old, c.new))
			if !errors.Is(err, ErrInvalidTerms) {
				t.Fatalf("err = %v, want ErrInvalidTerms", err)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("err %v is not a *FieldError", err)
			}
			if fe.Field != c.field {
				t.Errorf("field = %q, want %q (%v)", fe.Field, c.field, err)
			}
		})
	}
}

func TestParseRejectsNonObjects(t *testing.T) {
	for _, doc := range []string{``, `null`, `[]`, `"terms"`, `{`, `{}`, "\xff", strings.Repeat(" ", MaxTermsSize+1)} {
		if _, err := Parse([]byte(doc)); !errors.Is(err, ErrInvalidTerms) {
			t.Errorf("Parse(%.20q) = %v, want ErrInvalidTerms", doc, err)
		}
	}
}

func TestErrorsEndWithHint(t *testing.T) {
	_, err := Parse(edit(t, `"amount": 150`, `"amount": 0`))
	if err == nil || !strings.Contains(err.Error(), "price.amount") || !strings.Contains(err.Error(), "\nhint: ") {
		t.Fatalf("error %q should name the member and end with a hint", err)
	}
}

func TestEncodeRejectsInvalidTerms(t *testing.T) {
	tm := mustTemplate(t, "open")
	tm.Purposes = nil
	if _, err := tm.Encode(); !errors.Is(err, ErrInvalidTerms) {
		t.Fatalf("Encode of invalid terms: %v", err)
	}
}

func TestHashAndSuccessor(t *testing.T) {
	v1 := mustTemplate(t, "research-only")
	h1, err := v1.Hash()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := v1.Encode()
	if h1 != Sum(b) || len(h1.SHA256) != 64 || len(h1.BLAKE3) != 64 || h1.SHA256 == h1.BLAKE3 {
		t.Fatalf("bad hash %+v", h1)
	}
	v2 := v1.Clone()
	v2.Version, v2.Supersedes = 2, h1.BLAKE3
	v2.Purposes = append(v2.Purposes, Infer)
	if err := CheckSuccessor(v1, v2); err != nil {
		t.Fatal(err)
	}
	h2, _ := v2.Hash()
	if h2 == h1 {
		t.Fatal("different terms, same hash")
	}
	// Skipping a version, naming the wrong predecessor, or going back fail.
	skip := v2.Clone()
	skip.Version = 3
	wrong := v2.Clone()
	wrong.Supersedes = h1.SHA256
	for name, next := range map[string]*Terms{"skip": skip, "wrong hash": wrong, "same": v1} {
		if err := CheckSuccessor(v1, next); !errors.Is(err, ErrNotSuccessor) {
			t.Errorf("%s: %v, want ErrNotSuccessor", name, err)
		}
	}
	if err := CheckSuccessor(v2, v1); !errors.Is(err, ErrNotSuccessor) {
		t.Errorf("backwards: %v", err)
	}
}

func TestGrantExpiry(t *testing.T) {
	tm := mustTemplate(t, "inference-metered") // 30 days
	start := t0
	if got, want := tm.GrantExpiry(start), start.Add(30*24*time.Hour); !got.Equal(want) {
		t.Errorf("expiry %v, want %v", got, want)
	}
	tm.NotAfter = start.Add(24 * time.Hour)
	if got := tm.GrantExpiry(start); !got.Equal(tm.NotAfter) {
		t.Errorf("expiry %v, want the end of the window %v", got, tm.NotAfter)
	}
}

func TestVocabularyTables(t *testing.T) {
	if n := len(iso3166); n != 249 {
		t.Errorf("%d ISO 3166-1 codes, want 249", n)
	}
	for _, c := range []string{"US", "DE", "JP", "BR", "ZA", "AX", "SS"} {
		if !ValidTerritory(c) {
			t.Errorf("%s should be valid", c)
		}
	}
	for _, c := range []string{"UK", "EU", "XK", "us", "", "USA"} {
		if ValidTerritory(c) {
			t.Errorf("%s should be invalid", c)
		}
	}
	for c, want := range map[string]int{"USD": 2, "EUR": 2, "JPY": 0, "KWD": 3, "CLF": 4} {
		if got, ok := MinorUnits(c); !ok || got != want {
			t.Errorf("MinorUnits(%s) = %d, %v", c, got, ok)
		}
	}
	if _, ok := MinorUnits("XAU"); ok {
		t.Error("XAU has no minor unit")
	}
	if len(Purposes()) != 7 {
		t.Error("seven purposes")
	}
	for _, p := range Purposes() {
		if !p.Valid() {
			t.Errorf("%s invalid", p)
		}
	}
}
