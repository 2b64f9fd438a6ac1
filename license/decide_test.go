package license

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// listed returns open-like terms restricted by mod.
func terms(mod func(*Terms)) *Terms {
	t := &Terms{
		Name: "test", Version: 1,
		Purposes: Purposes(), Commercial: true, Who: Anyone,
		GrantSeconds: 3600, Approval: Automatic,
		Derivatives: Derivatives{Allowed: true}, Price: Price{Model: Free},
	}
	if mod != nil {
		mod(t)
	}
	return t
}

func TestDecideVocabulary(t *testing.T) {
	req := func(mod func(*Request)) Request {
		r := baseRequest()
		if mod != nil {
			mod(&r)
		}
		return r
	}
	cases := []struct {
		name     string
		terms    *Terms
		req      Request
		effect   Effect
		policies []string
		reason   string // substring of the reasons
	}{
		{"open allows", terms(nil), req(nil), Allow, []string{"grant"}, "allowed by test terms"},

		{"purpose allowed", terms(func(t *Terms) { t.Purposes = []Purpose{Research} }), req(nil), Allow, []string{"grant"}, ""},
		{"purpose denied", terms(func(t *Terms) { t.Purposes = []Purpose{Infer} }), req(func(r *Request) { r.Purpose = Train }), Deny, []string{"purpose"}, "purpose train not allowed by test terms (allowed: infer)"},

		{"commercial allowed", terms(nil), req(func(r *Request) { r.Commercial = true }), Allow, []string{"grant"}, ""},
		{"non-commercial under non-commercial terms", terms(func(t *Terms) { t.Commercial = false }), req(nil), Allow, []string{"grant"}, ""},
		{"commercial denied", terms(func(t *Terms) { t.Commercial = false }), req(func(r *Request) { r.Commercial = true }), Deny, []string{"commercial"}, "commercial use not allowed"},

		{"listed principal", terms(func(t *Terms) { t.Who, t.Principals = Listed, []string{alice} }), req(nil), Allow, []string{"grant"}, ""},
		{"unlisted principal", terms(func(t *Terms) { t.Who, t.Principals = Listed, []string{bob} }), req(nil), Deny, []string{"licensee"}, "is not listed"},
		{"member of listed organisation", terms(func(t *Terms) { t.Who, t.Organisations = Listed, []string{"acme"} }),
			req(func(r *Request) { r.Organisations = []string{"acme", "globex"} }), Allow, []string{"grant"}, ""},
		{"acting for a listed organisation", terms(func(t *Terms) { t.Who, t.Organisations = Listed, []string{"acme"} }),
			req(func(r *Request) { r.Organisations, r.Organisation = []string{"acme"}, "acme" }), Allow, []string{"grant"}, ""},
		{"member of another organisation", terms(func(t *Terms) { t.Who, t.Organisations = Listed, []string{"acme"} }),
			req(func(r *Request) { r.Organisations = []string{"globex"} }), Deny, []string{"licensee"}, "listed organisation"},
		{"organisation named like a principal", terms(func(t *Terms) { t.Who, t.Organisations = Listed, []string{alice} }),
			req(nil), Deny, []string{"licensee"}, ""},

		{"inside window", terms(func(t *Terms) { t.NotBefore, t.NotAfter = t0, t0.Add(time.Hour) }), req(nil), Allow, []string{"grant"}, ""},
		{"before window", terms(func(t *Terms) { t.NotBefore = t0.Add(time.Second) }), req(nil), Deny, []string{"not-before"}, "not in force before 2026-06-01T12:00:01Z"},
		{"at notAfter", terms(func(t *Terms) { t.NotAfter = t0 }), req(nil), Deny, []string{"not-after"}, "ended at 2026-06-01T12:00:00Z"},
		{"second before notAfter", terms(func(t *Terms) { t.NotAfter = t0.Add(time.Second) }), req(nil), Allow, []string{"grant"}, ""},
		{"sub-second time truncated", terms(func(t *Terms) { t.NotAfter = t0.Add(time.Second) }), req(func(r *Request) { r.Time = t0.Add(999 * time.Millisecond) }), Allow, []string{"grant"}, ""},

		{"allowed territory", terms(func(t *Terms) { t.TerritoryAllow = []string{"DE", "FR"} }), req(nil), Allow, []string{"grant"}, ""},
		{"territory not allowed", terms(func(t *Terms) { t.TerritoryAllow = []string{"FR"} }), req(nil), Deny, []string{"territory-allow"}, "territory DE not allowed"},
		{"unknown territory with allow list", terms(func(t *Terms) { t.TerritoryAllow = []string{"FR"} }), req(func(r *Request) { r.Territory = "" }), Deny, []string{"territory-allow"}, "territory unknown"},
		{"denied territory", terms(func(t *Terms) { t.TerritoryDeny = []string{"DE"} }), req(nil), Deny, []string{"territory-deny"}, "territory DE excluded"},
		{"other territory with deny list", terms(func(t *Terms) { t.TerritoryDeny = []string{"RU"} }), req(nil), Allow, []string{"grant"}, ""},
		{"unknown territory with deny list", terms(func(t *Terms) { t.TerritoryDeny = []string{"RU"} }), req(func(r *Request) { r.Territory = "" }), Allow, []string{"grant"}, ""},

		{"derivative allowed", terms(nil), req(func(r *Request) { r.Derivative = true }), Allow, []string{"grant"}, ""},
		{"derivative denied", terms(func(t *Terms) { t.Derivatives = Derivatives{} }), req(func(r *Request) { r.Derivative = true }), Deny, []string{"derivatives"}, "derivatives not allowed"},

		{"approval by owners", terms(func(t *Terms) { t.Approval = Owners }), req(nil), NeedsApproval, []string{"grant"}, "the owners must approve"},
		{"approval does not rescue a denial", terms(func(t *Terms) { t.Approval, t.Commercial = Owners, false }), req(func(r *Request) { r.Commercial = true }), Deny, []string{"commercial"}, ""},

		{"every restriction at once", terms(func(t *Terms) {
			t.Purposes, t.Commercial, t.Who, t.Principals = []Purpose{Infer}, false, Listed, []string{bob}
			t.NotAfter, t.TerritoryDeny, t.Derivatives = t0, []string{"DE"}, Derivatives{}
		}), req(func(r *Request) { r.Purpose, r.Commercial, r.Derivative = Train, true, true }), Deny,
			[]string{"commercial", "derivatives", "licensee", "not-after", "purpose", "territory-deny"}, ""},

		// Terms that restrict nothing a request can vary still ignore
		// price, quotas, obligations and attribution: those are duties of
		// the grant, not conditions of the decision.
		{"duties do not affect the decision", terms(func(t *Terms) {
			t.Price = Price{Model: Flat, Currency: "USD", Amount: 1, Exponent: 2}
			t.Quotas = Quotas{MaxRuns: 1}
			t.Obligations = Obligations{PublishResults: true}
			t.Attribution, t.AttributionText = true, "x"
		}), req(nil), Allow, []string{"grant"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := Decide(c.terms, c.req)
			if err != nil {
				t.Fatal(err)
			}
			if d.Effect != c.effect || !slices.Equal(d.Policies, c.policies) {
				t.Fatalf("decision %s %v, want %s %v (reasons %q)", d.Effect, d.Policies, c.effect, c.policies, d.Reasons)
			}
			if len(d.Reasons) != len(d.Policies) {
				t.Errorf("%d reasons for %d policies", len(d.Reasons), len(d.Policies))
			}
			if c.reason != "" && !strings.Contains(strings.Join(d.Reasons, "\n"), c.reason) {
				t.Errorf("reasons %q do not say %q", d.Reasons, c.reason)
			}
			if d.Allowed() != (c.effect == Allow) {
				t.Error("Allowed() disagrees with the effect")
			}
			// The reference evaluator agrees on every case of the table.
			if e, p := refDecide(c.terms, c.req); e != d.Effect || !slices.Equal(p, d.Policies) {
				t.Errorf("reference says %s %v", e, p)
			}
		})
	}
}

func TestTemplatesDecide(t *testing.T) {
	r := baseRequest()
	ro := mustTemplate(t, "research-only")

	// Research-only refuses commercial training, in words.
	r.Purpose, r.Commercial = Train, true
	d, err := Decide(ro, r)
	if err != nil {
		t.Fatal(err)
	}
	if d.Effect != Deny || !slices.Equal(d.Policies, []string{"commercial", "purpose"}) {
		t.Fatalf("research-only, commercial training: %+v", d)
	}
	for _, want := range []string{"purpose train not allowed by research-only terms", "commercial use not allowed by research-only terms"} {
		if !slices.ContainsFunc(d.Reasons, func(s string) bool { return strings.HasPrefix(s, want) }) {
			t.Errorf("reasons %q lack %q", d.Reasons, want)
		}
	}
	// ... and grants non-commercial research.
	r.Purpose, r.Commercial = Research, false
	if d, err = Decide(ro, r); err != nil || d.Effect != Allow {
		t.Fatalf("research-only, research: %+v %v", d, err)
	}

	want := map[string]map[Purpose]Effect{
		"open":                {Train: Allow, Infer: Allow, Research: Allow, Synthesize: Allow},
		"research-only":       {Train: Deny, Infer: Deny, Research: Allow, Evaluate: Allow},
		"commercial-training": {Train: Allow, FineTune: Allow, Infer: Deny, Evaluate: Allow},
		"inference-metered":   {Train: Deny, Infer: Allow, Embed: Allow, Evaluate: Allow},
		"approval-required":   {Train: NeedsApproval, Infer: NeedsApproval, Research: NeedsApproval},
	}
	for name, byPurpose := range want {
		tm := mustTemplate(t, name)
		for p, e := range byPurpose {
			r := baseRequest()
			r.Purpose = p
			d, err := Decide(tm, r)
			if err != nil || d.Effect != e {
				t.Errorf("%s, %s: %s %v (%v), want %s", name, p, d.Effect, d.Reasons, err, e)
			}
		}
	}
}

func TestTemplates(t *testing.T) {
	names := TemplateNames()
	if !slices.Equal(names, []string{"approval-required", "commercial-training", "inference-metered", "open", "research-only"}) {
		t.Fatalf("templates %v", names)
	}
	for _, n := range names {
		tm := mustTemplate(t, n)
		if tm.Name != n {
			t.Errorf("template %s is named %q", n, tm.Name)
		}
		b, err := tm.Encode()
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		back, err := Parse(b)
		if err != nil {
			t.Fatalf("%s does not parse back: %v", n, err)
		}
		if b2, _ := back.Encode(); string(b2) != string(b) {
			t.Errorf("%s: canonical form not stable", n)
		}
	}
	// Templates are copies: changing one does not change the next.
	a := mustTemplate(t, "open")
	a.Purposes[0] = "x"
	if b := mustTemplate(t, "open"); b.Purposes[0] == "x" {
		t.Error("Template returns shared state")
	}
	if _, err := Template("closed"); !errors.Is(err, ErrUnknownTemplate) || !strings.Contains(err.Error(), "hint: ") {
		t.Errorf("unknown template: %v", err)
	}
}

func TestDecideRejectsBadRequests(t *testing.T) {
	tm := terms(nil)
	cases := map[string]func(*Request){
		"licensee not a did":        func(r *Request) { r.Licensee = "alice" },
		"licensee not ed25519":      func(r *Request) { r.Licensee = "did:key:z" + strings.Repeat("2", 40) },
		"no asset":                  func(r *Request) { r.Asset = "" },
		"asset with quotes":         func(r *Request) { r.Asset = `a"); permit(principal,action,resource);//` },
		"unknown purpose":           func(r *Request) { r.Purpose = "resell" },
		"bad territory":             func(r *Request) { r.Territory = "de" },
		"organisation not a member": func(r *Request) { r.Organisation = "acme" },
		"bad organisation":          func(r *Request) { r.Organisations = []string{"a b"} },
		"duplicate organisation":    func(r *Request) { r.Organisations = []string{"acme", "acme"} },
		"no time":                   func(r *Request) { r.Time = time.Time{} },
		"time before 1970":          func(r *Request) { r.Time = time.Date(1969, 1, 1, 0, 0, 0, 0, time.UTC) },
	}
	for name, mod := range cases {
		r := baseRequest()
		mod(&r)
		if _, err := Decide(tm, r); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("%s: %v, want ErrInvalidRequest", name, err)
		}
	}
	bad := terms(func(t *Terms) { t.Purposes = nil })
	if _, err := Decide(bad, baseRequest()); !errors.Is(err, ErrInvalidTerms) {
		t.Errorf("invalid terms: %v", err)
	}
}

func TestCompileDeterministic(t *testing.T) {
	a := terms(func(t *Terms) {
		t.Who, t.Principals, t.Organisations = Listed, []string{bob, alice}, []string{"globex", "acme"}
		t.TerritoryAllow, t.Purposes = []string{"FR", "DE"}, []Purpose{Train, Infer}
	})
	b := a.Clone()
	slices.Reverse(b.Principals)
	slices.Reverse(b.Organisations)
	slices.Reverse(b.TerritoryAllow)
	slices.Reverse(b.Purposes)
	ca, err := Compile(a)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := Compile(b)
	if err != nil {
		t.Fatal(err)
	}
	if string(ca.Text) != string(cb.Text) {
		t.Fatalf("same terms, different text:\n%s\n%s", ca.Text, cb.Text)
	}
	if ca.Compiler != CompilerVersion {
		t.Errorf("compiler %d", ca.Compiler)
	}
	// Compile does not change its input's order of lists... but does not
	// depend on it either; every policy in the text is in the set.
	n := 0
	for range ca.Set.All() {
		n++
	}
	if got := strings.Count(string(ca.Text), "@id("); got != n {
		t.Errorf("%d policies in the text, %d in the set", got, n)
	}
	if _, err := CompileVersion(a, 99); !errors.Is(err, ErrUnsupportedCompiler) {
		t.Errorf("compiler 99: %v", err)
	}
}

func TestCompiledDecideMatchesCachedDecide(t *testing.T) {
	tm := mustTemplate(t, "commercial-training")
	c, err := Compile(tm)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range Purposes() {
		r := baseRequest()
		r.Purpose = p
		d1, err1 := c.Decide(r)
		d2, err2 := Decide(tm, r)
		if err1 != nil || err2 != nil || d1.Effect != d2.Effect || !slices.Equal(d1.Policies, d2.Policies) {
			t.Errorf("%s: %+v %v vs %+v %v", p, d1, err1, d2, err2)
		}
	}
}

// TestDecideCacheSeesChanges: the compiled-policy cache never serves the
// policy of terms that have since changed, even through the same pointer.
func TestDecideCacheSeesChanges(t *testing.T) {
	tm := terms(nil)
	r := baseRequest()
	r.Commercial = true
	mutations := []func(*Terms){
		func(t *Terms) { t.Commercial = false },
		func(t *Terms) { t.Commercial = true; t.Purposes = []Purpose{Infer} },
		func(t *Terms) { t.Purposes = Purposes(); t.TerritoryDeny = []string{"DE"} },
		func(t *Terms) { t.TerritoryDeny = nil; t.NotAfter = t0 },
		func(t *Terms) { t.NotAfter = time.Time{}; t.Approval = Owners },
		func(t *Terms) { t.Approval = Automatic; t.Who, t.Principals = Listed, []string{bob} },
		func(t *Terms) { t.Principals = []string{alice} },
	}
	for i, m := range mutations {
		m(tm)
		d, err := Decide(tm, r)
		if err != nil {
			t.Fatal(err)
		}
		if e, p := refDecide(tm, r); e != d.Effect || !slices.Equal(p, d.Policies) {
			t.Errorf("after mutation %d: %s %v, reference %s %v", i, d.Effect, d.Policies, e, p)
		}
	}
}

func TestFingerprintSeparatesFields(t *testing.T) {
	a := terms(func(t *Terms) { t.Principals, t.Organisations, t.Who = []string{alice}, nil, Listed })
	b := terms(func(t *Terms) { t.Principals, t.Organisations, t.Who = nil, []string{alice}, Listed })
	c := terms(func(t *Terms) { t.TerritoryAllow = []string{"DE"} })
	d := terms(func(t *Terms) { t.TerritoryDeny = []string{"DE"} })
	if fingerprint(a, 1) == fingerprint(b, 1) || fingerprint(c, 1) == fingerprint(d, 1) || fingerprint(a, 1) == fingerprint(a, 2) {
		t.Fatal("fingerprint confuses fields")
	}
	if fingerprint(a, 1) != fingerprint(a.Clone(), 1) {
		t.Fatal("fingerprint not deterministic")
	}
}

func TestDecideConcurrent(t *testing.T) {
	names := TemplateNames()
	done := make(chan error)
	for g := 0; g < 4; g++ {
		go func() {
			for i := 0; i < 200; i++ {
				tm := mustTemplate(t, names[(g+i)%len(names)])
				tm.GrantSeconds += int64(i % 7) // vary the cache key
				if _, err := Decide(tm, baseRequest()); err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for g := 0; g < 4; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
