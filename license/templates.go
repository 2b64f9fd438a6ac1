package license

import (
	"fmt"
	"slices"
	"strings"
)

const day = 24 * 3600

// templates builds the shipped templates. Each is documented in
// docs/spec/license-terms.md and checked against testdata/terms/.
func templates() map[string]*Terms {
	return map[string]*Terms{
		// open: anyone, any purpose, commercial or not, derivatives allowed,
		// free, attribution not required.
		"open": {
			Name: "open", Version: 1,
			Purposes:     Purposes(),
			Commercial:   true,
			Who:          Anyone,
			GrantSeconds: 365 * day,
			Approval:     Automatic,
			Derivatives:  Derivatives{Allowed: true},
			Price:        Price{Model: Free},
		},
		// research-only: research and evaluation, never commercial, no
		// derived assets; results are published and the data deleted when
		// the grant ends.
		"research-only": {
			Name: "research-only", Version: 1,
			Purposes:        []Purpose{Evaluate, Research},
			Commercial:      false,
			Who:             Anyone,
			GrantSeconds:    90 * day,
			Approval:        Automatic,
			Attribution:     true,
			AttributionText: "Used under Charter research-only terms",
			Derivatives:     Derivatives{Allowed: false},
			Obligations:     Obligations{PublishResults: true, DeleteAfterExpiry: true},
			Price:           Price{Model: Free},
		},
		// commercial-training: train, fine-tune and evaluate commercially;
		// derivatives pay 5% of their revenue back (relative stacking);
		// 500.00 USD per training run, at most 10 runs per grant.
		"commercial-training": {
			Name: "commercial-training", Version: 1,
			Purposes:        []Purpose{Evaluate, FineTune, Train},
			Commercial:      true,
			Who:             Anyone,
			GrantSeconds:    365 * day,
			Approval:        Automatic,
			Attribution:     true,
			AttributionText: "Trained on data licensed through Charter",
			Derivatives:     Derivatives{Allowed: true, Royalty: 50_000, Stacking: Relative},
			Price:           Price{Model: PerTrainingRun, Currency: "USD", Amount: 50000, Exponent: 2},
			Quotas:          Quotas{MaxRuns: 10},
		},
		// inference-metered: inference, embedding and evaluation, metered
		// at 0.0020 USD per 1,000 tokens (amount 20 at exponent 4), up to
		// 100 million tokens and one million requests per 30-day grant.
		"inference-metered": {
			Name: "inference-metered", Version: 1,
			Purposes:     []Purpose{Embed, Evaluate, Infer},
			Commercial:   true,
			Who:          Anyone,
			GrantSeconds: 30 * day,
			Approval:     Automatic,
			Derivatives:  Derivatives{Allowed: false},
			Price:        Price{Model: Per1kTokens, Currency: "USD", Amount: 20, Exponent: 4},
			Quotas:       Quotas{MaxTokens: 100_000_000, MaxRequests: 1_000_000},
		},
		// approval-required: any purpose, but every grant waits for the
		// owners; derivatives pay 10% absolute and must be reciprocal;
		// derived data is returned and the asset deleted after expiry.
		"approval-required": {
			Name: "approval-required", Version: 1,
			Purposes:     Purposes(),
			Commercial:   true,
			Who:          Anyone,
			GrantSeconds: 30 * day,
			Approval:     Owners,
			Derivatives:  Derivatives{Allowed: true, Reciprocal: true, Royalty: 100_000, Stacking: Absolute},
			Obligations:  Obligations{ReturnDerivedData: true, DeleteAfterExpiry: true},
			Price:        Price{Model: Free},
		},
	}
}

// Templates returns fresh copies of the shipped templates by name: open,
// research-only, commercial-training, inference-metered,
// approval-required.
func Templates() map[string]*Terms {
	m := templates()
	for _, t := range m {
		if err := t.Validate(); err != nil {
			panic(err) // the templates are tested
		}
	}
	return m
}

// TemplateNames returns the template names, sorted.
func TemplateNames() []string {
	var names []string
	for n := range templates() {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Template returns a fresh copy of the named template. Errors wrap
// ErrUnknownTemplate.
func Template(name string) (*Terms, error) {
	t, ok := Templates()[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q\nhint: the templates are %s", ErrUnknownTemplate, name, strings.Join(TemplateNames(), ", "))
	}
	return t, nil
}
