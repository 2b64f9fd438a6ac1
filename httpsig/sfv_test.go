package httpsig

import (
	"errors"
	"runtime"
	"strings"
	"testing"
)

func TestParseDictionary(t *testing.T) {
	good := []struct{ in, canonical string }{
		{`a=1`, `a=1`},
		{`a=1, b=2`, `a=1, b=2`},
		{`  a=1 ,	b=2  `, `a=1, b=2`},
		{`a, b;x=?0`, `a, b;x=?0`},
		{`a=?1`, `a`},
		{`a=-12;b="x\"y\\z";c=tok/en:1;d=:AQID:;e`, `a=-12;b="x\"y\\z";c=tok/en:1;d=:AQID:;e`},
		{`sig1=( "@method"  "@path" );created=1`, `sig1=("@method" "@path");created=1`},
		{`s=();k="v"`, `s=();k="v"`},
		{`*x.y_z-1=*tok`, `*x.y_z-1=*tok`},
		{`a=(1;p 2);q; r=:: `, `a=(1;p 2);q;r=::`},
		{`a=1;  p=2`, `a=1;p=2`},
		{`a=999999999999999`, `a=999999999999999`},
	}
	for _, tt := range good {
		d, err := parseDictionary(tt.in)
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if got := d.String(); got != tt.canonical {
			t.Errorf("%q serialized as %q, want %q", tt.in, got, tt.canonical)
		}
	}
	bad := []string{
		``, ` `, `A=1`, `1a=1`, `a=1,`, `a=1,,b=2`, `a=1 b=2`, `a=1,b=1,a=2`,
		`a=1.5`, `a=1234567890123456`, `a=-`, `a="unterminated`, `a="bad\n"`, `a="\x"`,
		"a=\"\x7f\"", "a=\"é\"", `a=:AQI=`, `a=:A-_=:`, `a=:AQ:`, `a=?2`, `a=(1 2`, `a=(1,2)`,
		`a=(1)(2)`, `a=1;p=1;p=2`, `a=1;P=1`, `a=@`, `a=1;`, `a=( "x")x`, "a=1\x00",
		`a=` + strings.Repeat("x", 10), // fine token; below: limits
	}
	bad = bad[:len(bad)-1]
	for _, in := range bad {
		if d, err := parseDictionary(in); err == nil {
			t.Errorf("%q parsed as %q", in, d.String())
		} else if !errors.Is(err, errSF) {
			t.Errorf("%q: error %v does not wrap errSF", in, err)
		}
	}
}

func TestParseLimits(t *testing.T) {
	var b strings.Builder
	for i := range maxDictMembers + 1 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("k" + strings.Repeat("x", i) + "=1")
	}
	limits := map[string]string{
		"members":      b.String(),
		"inner list":   "a=(" + strings.Repeat("1 ", maxInnerListLen) + "1)",
		"parameters":   "a=1" + strings.Repeat(";p", 0) + paramsN(maxParams+1),
		"key length":   strings.Repeat("k", maxKeyLen+1) + "=1",
		"field length": "a=\"" + strings.Repeat("x", maxFieldLen) + "\"",
	}
	for name, in := range limits {
		if _, err := parseDictionary(in); err == nil {
			t.Errorf("%s limit not enforced", name)
		}
	}
	// Right at the limits everything parses.
	atLimit := []string{
		"a=(" + strings.Repeat("1 ", maxInnerListLen-1) + "1)",
		"a=1" + paramsN(maxParams),
		strings.Repeat("k", maxKeyLen) + "=1",
		"a=\"" + strings.Repeat("x", maxFieldLen-4) + "\"",
	}
	for _, in := range atLimit {
		if _, err := parseDictionary(in); err != nil {
			t.Errorf("at limit: %v", err)
		}
	}
}

func paramsN(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(";p" + strings.Repeat("x", i))
	}
	return b.String()
}

// TestParseAllocationBound parses the most expensive inputs that fit in the
// field limit and checks that each costs a bounded number of bytes: a hostile
// header cannot make the server allocate much.
func TestParseAllocationBound(t *testing.T) {
	worst := map[string]string{
		"long string":  `a="` + strings.Repeat(`\"`, maxFieldLen/2-3) + `"`,
		"long bytes":   "a=:" + strings.Repeat("AAAA", maxFieldLen/4-1) + ":",
		"many items":   "a=(" + strings.Repeat(`"" `, maxInnerListLen-1) + `"")` + paramsN(maxParams),
		"many members": strings.Repeat("a=1, ", maxDictMembers-1)[:0] + membersN(maxDictMembers),
		"wide params":  "a=(" + strings.Repeat("1"+paramsN(maxParams)+" ", 3) + "1)",
	}
	const bound = 4 * maxFieldLen
	for name, in := range worst {
		if len(in) > maxFieldLen {
			t.Fatalf("%s: input of %d bytes exceeds the field limit", name, len(in))
		}
		if _, err := parseSignatureFields(in, in); err == nil {
			t.Fatalf("%s parsed as a Charter signature", name)
		}
		var before, after runtime.MemStats
		const runs = 50
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range runs {
			parseDictionary(in)
		}
		runtime.ReadMemStats(&after)
		per := (after.TotalAlloc - before.TotalAlloc) / runs
		t.Logf("%s: %d bytes per parse of %d bytes", name, per, len(in))
		if per > bound {
			t.Errorf("%s: %d bytes allocated per parse of %d bytes, bound %d", name, per, len(in), bound)
		}
	}
}

func membersN(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("m" + strings.Repeat("x", i) + "=(" + strings.Repeat(`"x" `, maxInnerListLen-1) + `"x")`)
	}
	return b.String()
}
