package license

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Describe returns the terms in plain words, one statement per line, for
// people (charter license show). It is not a format: do not parse it.
func (t *Terms) Describe() string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	name := t.Name
	if name == "" {
		name = "(unnamed)"
	}
	line("Terms %s, version %d", name, t.Version)
	if t.Supersedes != "" {
		line("Replaces terms %s", t.Supersedes)
	}
	line("Purposes: %s", joinStrings(t.Purposes))
	if t.Commercial {
		line("Commercial use: allowed")
	} else {
		line("Commercial use: not allowed")
	}
	switch t.Who {
	case Anyone:
		line("Who may license: anyone")
	case Listed:
		var who []string
		if len(t.Principals) > 0 {
			who = append(who, strconv.Itoa(len(t.Principals))+" listed principal(s)")
		}
		if len(t.Organisations) > 0 {
			who = append(who, "members of "+strings.Join(t.Organisations, ", "))
		}
		line("Who may license: %s", strings.Join(who, " and "))
	}
	switch {
	case !t.NotBefore.IsZero() && !t.NotAfter.IsZero():
		line("In force: from %s until %s", formatTime(t.NotBefore), formatTime(t.NotAfter))
	case !t.NotBefore.IsZero():
		line("In force: from %s", formatTime(t.NotBefore))
	case !t.NotAfter.IsZero():
		line("In force: until %s", formatTime(t.NotAfter))
	}
	line("Grants last at most %s", duration(t.GrantSeconds))
	if len(t.TerritoryAllow) > 0 {
		line("Territories: only %s", strings.Join(t.TerritoryAllow, ", "))
	}
	if len(t.TerritoryDeny) > 0 {
		line("Territories excluded: %s", strings.Join(t.TerritoryDeny, ", "))
	}
	if t.Approval == Owners {
		line("Approval: every grant waits for the owners")
	} else {
		line("Approval: automatic")
	}
	if t.Attribution {
		line("Attribution required: %q", t.AttributionText)
	}
	d := t.Derivatives
	switch {
	case !d.Allowed:
		line("Derivatives: not allowed")
	default:
		s := "Derivatives: allowed"
		if d.Reciprocal {
			s += ", under these same terms"
		}
		if d.Royalty > 0 {
			s += fmt.Sprintf(", paying %s of their revenue (%s stacking)", percent(d.Royalty), d.Stacking)
		}
		line("%s", s)
	}
	o := t.Obligations
	for _, ob := range []struct {
		on   bool
		text string
	}{{o.PublishResults, "publish results"}, {o.ReturnDerivedData, "return derived data"}, {o.DeleteAfterExpiry, "delete copies when the grant ends"}} {
		if ob.on {
			line("Obligation: %s", ob.text)
		}
	}
	if t.Price.Model == Free {
		line("Price: free")
	} else {
		per := map[PriceModel]string{Flat: "per grant", PerGiB: "per GiB", PerRequest: "per request",
			Per1kTokens: "per 1,000 tokens", PerTrainingRun: "per training run"}[t.Price.Model]
		line("Price: %s %s %s", decimal(t.Price.Amount, t.Price.Exponent), t.Price.Currency, per)
	}
	q := t.Quotas
	for _, qu := range []struct {
		v    int64
		unit string
	}{{q.MaxBytes, "bytes"}, {q.MaxRequests, "requests"}, {q.MaxTokens, "tokens"}, {q.MaxRuns, "runs"}} {
		if qu.v > 0 {
			line("Quota: at most %d %s per licensee under these terms", qu.v, qu.unit)
		}
	}
	return b.String()
}

// decimal writes amount × 10^-exp exactly, without floats.
func decimal(amount int64, exp int) string {
	s := strconv.FormatInt(amount, 10)
	if exp == 0 {
		return s
	}
	if len(s) <= exp {
		s = strings.Repeat("0", exp-len(s)+1) + s
	}
	return s[:len(s)-exp] + "." + s[len(s)-exp:]
}

// percent writes a ppm share as a percentage, exactly.
func percent(ppm int64) string {
	s := strings.TrimRight(strings.TrimRight(decimal(ppm, 4), "0"), ".")
	return s + "%"
}

func duration(sec int64) string {
	d := time.Duration(sec) * time.Second
	switch {
	case sec == 24*3600:
		return "1 day"
	case sec%(24*3600) == 0:
		return strconv.FormatInt(sec/(24*3600), 10) + " days"
	}
	return d.String()
}
