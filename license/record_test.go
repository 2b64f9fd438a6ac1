package license

import (
	stdjson "encoding/json"
	"errors"
	"strings"
	"testing"
)

func recordFixture(t *testing.T) (*DecisionRecord, []byte, []byte) {
	t.Helper()
	tm := mustTemplate(t, "research-only")
	r := baseRequest()
	rec, d, err := Record(tm, r)
	if err != nil {
		t.Fatal(err)
	}
	if d.Effect != Allow || rec.Decision != Allow {
		t.Fatalf("decision %+v", d)
	}
	tb, err := tm.Encode()
	if err != nil {
		t.Fatal(err)
	}
	rb, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return rec, tb, rb
}

func TestRecordRechecks(t *testing.T) {
	rec, tb, rb := recordFixture(t)
	if err := Recheck(rec, tb, rb); err != nil {
		t.Fatal(err)
	}
	// Through the wire: encode, parse, re-check.
	b, err := rec.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := Recheck(back, tb, rb); err != nil {
		t.Fatal(err)
	}
	if b2, _ := back.Encode(); string(b2) != string(b) {
		t.Errorf("record encoding not stable:\n%s\n%s", b, b2)
	}
	// The record holds what the spec says.
	c, _ := Compile(mustTemplate(t, "research-only"))
	r := baseRequest()
	if rec.Terms != Sum(tb) || rec.Request != Sum(rb) || rec.Policy != Sum(c.Text) || rec.Entities != Sum(entitiesJSON(&r)) {
		t.Error("record hashes are not the hashes of the canonical inputs")
	}
	if rec.Time != "2026-06-01T12:00:00Z" || rec.Compiler != CompilerVersion || rec.Type != RecordType {
		t.Errorf("record header %+v", rec)
	}
}

func TestRecheckAcceptsNonCanonicalInputs(t *testing.T) {
	rec, tb, rb := recordFixture(t)
	// The same terms and request, pretty-printed and reordered, name the
	// same canonical bytes.
	pretty := strings.ReplaceAll(string(tb), ",", ",\n  ")
	req := strings.Replace(string(rb), `{"asset":`, `{"time":"2026-06-01T12:00:00Z","asset":`, 1)
	req = strings.Replace(req, `,"time":"2026-06-01T12:00:00Z"}`, `}`, 1)
	if req == string(rb) {
		t.Fatal("request not reordered")
	}
	if err := Recheck(rec, []byte(pretty), []byte(req)); err != nil {
		t.Fatal(err)
	}
}

func TestRecheckDetectsTampering(t *testing.T) {
	rec, tb, rb := recordFixture(t)
	otherTerms, _ := mustTemplate(t, "open").Encode()
	commercial := strings.Replace(string(rb), `"commercial":false`, `"commercial":true`, 1)
	later := strings.Replace(string(rb), `12:00:00Z`, `12:00:01Z`, 1)
	cases := map[string]struct {
		mod         func(*DecisionRecord)
		terms, req  string
		wantInvalid error
	}{
		"other terms":       {terms: string(otherTerms)},
		"other request":     {req: commercial},
		"other time":        {req: later},
		"flipped decision":  {mod: func(r *DecisionRecord) { r.Decision = Deny }},
		"needs approval":    {mod: func(r *DecisionRecord) { r.Decision = NeedsApproval }},
		"other policies":    {mod: func(r *DecisionRecord) { r.Policies = []string{"purpose"} }},
		"no policies":       {mod: func(r *DecisionRecord) { r.Policies = nil }},
		"policy hash":       {mod: func(r *DecisionRecord) { r.Policy.SHA256 = strings.Repeat("0", 64) }},
		"policy blake3":     {mod: func(r *DecisionRecord) { r.Policy.BLAKE3 = strings.Repeat("0", 64) }},
		"entities hash":     {mod: func(r *DecisionRecord) { r.Entities.BLAKE3 = strings.Repeat("0", 64) }},
		"terms hash":        {mod: func(r *DecisionRecord) { r.Terms.SHA256 = strings.Repeat("0", 64) }},
		"request hash":      {mod: func(r *DecisionRecord) { r.Request.BLAKE3 = strings.Repeat("0", 64) }},
		"record time":       {mod: func(r *DecisionRecord) { r.Time = "2026-06-01T12:00:01Z" }},
		"unknown compiler":  {mod: func(r *DecisionRecord) { r.Compiler = 2 }, wantInvalid: ErrUnsupportedCompiler},
		"invalid terms":     {terms: `{"profile":"urn:charter:license:v1"}`, wantInvalid: ErrInvalidTerms},
		"invalid request":   {req: `{}`, wantInvalid: ErrInvalidRequest},
		"wrong record type": {mod: func(r *DecisionRecord) { r.Type = "x" }, wantInvalid: ErrInvalidRecord},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := *rec
			if c.mod != nil {
				c.mod(&r)
			}
			terms, req := tb, rb
			if c.terms != "" {
				terms = []byte(c.terms)
			}
			if c.req != "" {
				req = []byte(c.req)
			}
			want := ErrMismatch
			if c.wantInvalid != nil {
				want = c.wantInvalid
			}
			if err := Recheck(&r, terms, req); !errors.Is(err, want) {
				t.Fatalf("Recheck = %v, want %v", err, want)
			}
		})
	}
	// Reasons are informative: rewording them does not break a record.
	r := *rec
	r.Reasons = []string{"reworded"}
	if err := Recheck(&r, tb, rb); err != nil {
		t.Errorf("reasons should not be re-checked: %v", err)
	}
}

func TestParseRecordStrict(t *testing.T) {
	rec, _, _ := recordFixture(t)
	good, _ := rec.Encode()
	if _, err := ParseRecord(good); err != nil {
		t.Fatal(err)
	}
	s := string(good)
	bad := map[string]string{
		"unknown member": strings.Replace(s, `"compiler":1`, `"compiler":1,"x":1`, 1),
		"duplicate":      strings.Replace(s, `"compiler":1`, `"compiler":1,"compiler":1`, 1),
		"type":           strings.Replace(s, RecordType, "charter.decision/v9", 1),
		"compiler 0":     strings.Replace(s, `"compiler":1`, `"compiler":0`, 1),
		"bad time":       strings.Replace(s, `2026-06-01T12:00:00Z`, `yesterday`, 1),
		"local time":     strings.Replace(s, `2026-06-01T12:00:00Z`, `2026-06-01T14:00:00+02:00`, 1),
		"short digest":   strings.Replace(s, rec.Policy.SHA256, "abcd", 1),
		"upper hex":      strings.Replace(s, rec.Policy.SHA256, strings.ToUpper(rec.Policy.SHA256), 1),
		"bad decision":   strings.Replace(s, `"decision":"allow"`, `"decision":"maybe"`, 1),
		"not an object":  `[]`,
		"empty":          ``,
	}
	for name, doc := range bad {
		if doc == s {
			t.Fatalf("%s: edit did not apply", name)
		}
		if _, err := ParseRecord([]byte(doc)); !errors.Is(err, ErrInvalidRecord) {
			t.Errorf("%s: %v, want ErrInvalidRecord", name, err)
		}
	}
}

func TestRequestCanonical(t *testing.T) {
	r := baseRequest()
	r.Organisations = []string{"globex", "acme"}
	r.Organisation = "acme"
	b, err := r.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"asset":"` + asset + `","commercial":false,"derivative":false,"licensee":"` + alice + `","organisation":"acme","organisations":["acme","globex"],"purpose":"research","territory":"DE","time":"2026-06-01T12:00:00Z"}`
	if string(b) != want {
		t.Fatalf("canonical request\n got %s\nwant %s", b, want)
	}
	back, err := ParseRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	if b2, _ := back.Encode(); string(b2) != string(b) {
		t.Errorf("not a fixed point: %s", b2)
	}
	for name, doc := range map[string]string{
		"missing purpose": strings.Replace(want, `"purpose":"research",`, ``, 1),
		"missing time":    strings.Replace(want, `,"time":"2026-06-01T12:00:00Z"`, ``, 1),
		"local time":      strings.Replace(want, `12:00:00Z`, `14:00:00+02:00`, 1),
		"unknown member":  strings.Replace(want, `"derivative":false`, `"derivative":false,"x":1`, 1),
		"not a did":       strings.Replace(want, alice, "did:web:x", 1),
	} {
		if _, err := ParseRequest([]byte(doc)); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestEmbeddingInJSON(t *testing.T) {
	type grant struct {
		Terms   *Terms  `json:"terms"`
		Request Request `json:"request"`
	}
	g := grant{Terms: mustTemplate(t, "inference-metered"), Request: baseRequest()}
	b, err := stdjson.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	var back grant
	if err := stdjson.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	want, _ := g.Terms.Encode()
	got, _ := back.Terms.Encode()
	if string(got) != string(want) || !back.Request.Time.Equal(g.Request.Time) || back.Request.Licensee != alice {
		t.Fatalf("round trip through encoding/json lost data: %s", b)
	}
	bad := strings.Replace(string(b), `"purposes":["embed"`, `"purposes":["resell"`, 1)
	if bad == string(b) {
		t.Fatal("edit did not apply")
	}
	if err := stdjson.Unmarshal([]byte(bad), &back); !errors.Is(err, ErrInvalidTerms) {
		t.Errorf("embedded invalid terms: %v", err)
	}
}
