package license

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cedar-policy/cedar-go"
)

// CompilerVersion is the version of the terms-to-Cedar compiler that
// Compile uses. Every version ever released stays in this package, so that
// decision records made by it can be re-checked (see Recheck).
const CompilerVersion = 1

// ErrUnsupportedCompiler reports a compiler version this package does not
// have.
var ErrUnsupportedCompiler = errors.New("license: unsupported compiler version")

// Policy ids of compiler v1. Each forbid policy is one restriction of the
// terms; the permit "grant" lets everything through that no forbid stops.
const (
	PolicyGrant          = "grant"
	PolicyPurpose        = "purpose"
	PolicyLicensee       = "licensee"
	PolicyNotBefore      = "not-before"
	PolicyNotAfter       = "not-after"
	PolicyTerritoryAllow = "territory-allow"
	PolicyTerritoryDeny  = "territory-deny"
	PolicyCommercial     = "commercial"
	PolicyDerivatives    = "derivatives"
)

// Compiled is terms compiled to a Cedar policy set.
type Compiled struct {
	Compiler int              // compiler version that produced Text
	Text     []byte           // the Cedar policy text; byte-identical for equal terms
	Set      *cedar.PolicySet // Text parsed by cedar-go, policies named by their @id
	Terms    *Terms           // canonical copy of the terms compiled

	termsHash, policyHash Digests // of the canonical terms and of Text
}

// Compile compiles valid terms with the current compiler.
func Compile(t *Terms) (*Compiled, error) { return CompileVersion(t, CompilerVersion) }

// CompileVersion compiles valid terms with compiler version v.
func CompileVersion(t *Terms, v int) (*Compiled, error) {
	c := t.Clone()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var text []byte
	switch v {
	case 1:
		text = compileV1(c)
	default:
		return nil, fmt.Errorf("%w: %d (this build has 1 to %d)\nhint: re-check this record with a newer charter", ErrUnsupportedCompiler, v, CompilerVersion)
	}
	set, err := parsePolicies(text)
	if err != nil {
		// The compiler only writes what cedar-go reads; this is a bug.
		return nil, fmt.Errorf("license: compiled policy does not parse: %w", err)
	}
	canon, err := c.Encode()
	if err != nil {
		return nil, err
	}
	return &Compiled{Compiler: v, Text: text, Set: set, Terms: c, termsHash: Sum(canon), policyHash: Sum(text)}, nil
}

// parsePolicies parses Cedar text and names each policy by its @id.
func parsePolicies(text []byte) (*cedar.PolicySet, error) {
	list, err := cedar.NewPolicyListFromBytes("terms.cedar", text)
	if err != nil {
		return nil, err
	}
	set := cedar.NewPolicySet()
	for i, p := range list {
		id, ok := p.Annotations()["id"]
		if !ok {
			return nil, fmt.Errorf("policy %d has no @id", i)
		}
		if !set.Add(cedar.PolicyID(id), p) {
			return nil, fmt.Errorf("policy id %q used twice", id)
		}
	}
	return set, nil
}

// quote writes a Cedar string literal. Every string the compiler emits has
// been validated to the characters [A-Za-z0-9._:@/+-], which need no
// escaping in Cedar; anything else is a bug and panics.
func quote(s string) string {
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("._:@/+-", c) >= 0) {
			panic(fmt.Sprintf("license: unsafe string reached the Cedar compiler: %q", s))
		}
	}
	return `"` + s + `"`
}

// compileV1 is compiler version 1. Its output is specified byte for byte in
// docs/spec/decision-record.md; never change it, add a version instead.
func compileV1(t *Terms) []byte {
	var b bytes.Buffer
	policy := func(id, effect, cond string) {
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "@id(%q)\n%s (principal, action, resource)\n%s;\n", id, effect, cond)
	}
	b.WriteString("@id(\"grant\")\npermit (principal is Licensee, action, resource is Asset);\n")

	actions := make([]string, len(t.Purposes))
	for i, p := range t.Purposes {
		actions[i] = "Action::" + quote(string(p))
	}
	policy(PolicyPurpose, "forbid", "unless { action in ["+strings.Join(actions, ", ")+"] }")

	if t.Who == Listed {
		// One set per entity type: Cedar's strict validation wants
		// homogeneous sets.
		var sets []string
		for _, l := range []struct {
			typ string
			ids []string
		}{{typeLicensee, t.Principals}, {typeOrganisation, t.Organisations}} {
			if len(l.ids) == 0 {
				continue
			}
			q := make([]string, len(l.ids))
			for i, id := range l.ids {
				q[i] = l.typ + "::" + quote(id)
			}
			sets = append(sets, "principal in ["+strings.Join(q, ", ")+"]")
		}
		policy(PolicyLicensee, "forbid", "unless { "+strings.Join(sets, " || ")+" }")
	}
	if !t.NotBefore.IsZero() {
		policy(PolicyNotBefore, "forbid", "when { context.time < "+strconv.FormatInt(t.NotBefore.Unix(), 10)+" }")
	}
	if !t.NotAfter.IsZero() {
		policy(PolicyNotAfter, "forbid", "when { context.time >= "+strconv.FormatInt(t.NotAfter.Unix(), 10)+" }")
	}
	codes := func(cs []string) string {
		q := make([]string, len(cs))
		for i, c := range cs {
			q[i] = quote(c)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	if len(t.TerritoryAllow) > 0 {
		policy(PolicyTerritoryAllow, "forbid", "unless { "+codes(t.TerritoryAllow)+".contains(context.territory) }")
	}
	if len(t.TerritoryDeny) > 0 {
		policy(PolicyTerritoryDeny, "forbid", "when { "+codes(t.TerritoryDeny)+".contains(context.territory) }")
	}
	if !t.Commercial {
		policy(PolicyCommercial, "forbid", "when { context.commercial }")
	}
	if !t.Derivatives.Allowed {
		policy(PolicyDerivatives, "forbid", "when { context.derivative }")
	}
	return b.Bytes()
}
