package license

import (
	"strings"
	"testing"
)

func TestDescribe(t *testing.T) {
	tm, err := Parse([]byte(validDoc()))
	if err != nil {
		t.Fatal(err)
	}
	got := tm.Describe()
	for _, want := range []string{
		"Terms full, version 1\n",
		"Purposes: research, train\n",
		"Who may license: 1 listed principal(s) and members of acme\n",
		"In force: from 2026-01-01T00:00:00Z until 2027-01-01T00:00:00Z\n",
		"Grants last at most 1 day\n",
		"Territories: only DE, FR\n",
		"Territories excluded: RU\n",
		"Approval: every grant waits for the owners\n",
		"Derivatives: allowed, under these same terms, paying 2.5% of their revenue (absolute stacking)\n",
		"Obligation: delete copies when the grant ends\n",
		"Price: 1.50 EUR per GiB\n",
		"Quota: at most 3 runs per licensee under these terms\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("Describe lacks %q:\n%s", want, got)
		}
	}
	im := mustTemplate(t, "inference-metered").Describe()
	if !strings.Contains(im, "Price: 0.0020 USD per 1,000 tokens\n") || !strings.Contains(im, "Derivatives: not allowed\n") {
		t.Errorf("inference-metered:\n%s", im)
	}
	for in, want := range map[[2]int64]string{{5, 0}: "5", {5, 2}: "0.05", {150, 2}: "1.50", {1, 18}: "0.000000000000000001"} {
		if got := decimal(in[0], int(in[1])); got != want {
			t.Errorf("decimal(%v) = %s, want %s", in, got, want)
		}
	}
	for ppm, want := range map[int64]string{1000000: "100%", 50000: "5%", 25000: "2.5%", 1: "0.0001%"} {
		if got := percent(ppm); got != want {
			t.Errorf("percent(%d) = %s, want %s", ppm, got, want)
		}
	}
}
