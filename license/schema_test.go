package license

import (
	"testing"

	xast "github.com/cedar-policy/cedar-go/x/exp/ast"
	"github.com/cedar-policy/cedar-go/x/exp/schema"
	"github.com/cedar-policy/cedar-go/x/exp/schema/validate"
	"pgregory.net/rapid"
)

func validator(t testing.TB) *validate.Validator {
	t.Helper()
	var s schema.Schema
	if err := s.UnmarshalCedar(CedarSchema); err != nil {
		t.Fatal(err)
	}
	r, err := s.Resolve()
	if err != nil {
		t.Fatal(err)
	}
	return validate.New(r, validate.WithStrict())
}

type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

func validateCompiled(t fataler, v *validate.Validator, c *Compiled) {
	t.Helper()
	for id, p := range c.Set.All() {
		if err := v.Policy(string(id), (*xast.Policy)(p.AST())); err != nil {
			t.Fatalf("policy %s does not validate: %v\n%s", id, err, c.Text)
		}
	}
}

// TestCompiledPoliciesValidate: the policy text of every vector terms
// document type-checks against the published schema in strict mode.
func TestCompiledPoliciesValidate(t *testing.T) {
	v := validator(t)
	for name, tm := range vectorTerms(t) {
		c, err := Compile(tm)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		validateCompiled(t, v, c)
	}
}

// TestSchemaProperty: random terms compile to policies, and random requests
// map to entities and Cedar requests, that all validate.
func TestSchemaProperty(t *testing.T) {
	v := validator(t)
	rapid.Check(t, func(rt *rapid.T) {
		c, err := Compile(genTerms(rt))
		if err != nil {
			rt.Fatal(err)
		}
		validateCompiled(rt, v, c)
		r := genRequest(rt)
		if err := r.normalize(); err != nil {
			rt.Fatal(err)
		}
		if err := v.Entities(entities(&r)); err != nil {
			rt.Fatalf("entities: %v", err)
		}
		if err := v.Request(cedarRequest(&r)); err != nil {
			rt.Fatalf("request: %v", err)
		}
	})
}

// TestSchemaRejectsWrongShapes makes sure the validator is not vacuous.
func TestSchemaRejectsWrongShapes(t *testing.T) {
	v := validator(t)
	bad, err := parsePolicies([]byte(`@id("x")
forbid (principal, action, resource)
when { context.territory > 3 };
`))
	if err != nil {
		t.Fatal(err)
	}
	for id, p := range bad.All() {
		if v.Policy(string(id), (*xast.Policy)(p.AST())) == nil {
			t.Fatal("a policy comparing a String with a Long validated")
		}
	}
	r := baseRequest()
	_ = r.normalize()
	cr := cedarRequest(&r)
	cr.Action.ID = "resell"
	if v.Request(cr) == nil {
		t.Fatal("an unknown action validated")
	}
}
