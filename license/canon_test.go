package license

import (
	"math/rand/v2"
	"testing"

	"github.com/charter-dev/charter/internal/canonjson/canonjsontest"
)

// TestSameBytesAsBefore shows that the wire forms of terms, policy
// requests and decision records, filled with random content, encode to
// the bytes this package's encoder wrote before canonjson
// (go-json-experiment + RFC 8785), except where canonjson refuses a value
// without an exact RFC 8785 form. Lists and maps are never nil here: the
// Encode methods never hand a nil list to the encoder (Validate requires a
// purpose, Request and DecisionRecord fill empty lists), and the two JSON
// libraries write nil differently.
func TestSameBytesAsBefore(t *testing.T) {
	f := &canonjsontest.Filler{Rand: rand.New(rand.NewPCG(3, 4)), NoNil: true}
	n := 3000
	if testing.Short() {
		n = 300
	}
	for name, cmp := range map[string]func() int{
		"terms":    func() int { return canonjsontest.Compare[wireTerms](t, f, n, canonjsontest.LegacyV2) },
		"request":  func() int { return canonjsontest.Compare[wireRequest](t, f, n, canonjsontest.LegacyV2) },
		"record":   func() int { return canonjsontest.Compare[DecisionRecord](t, f, n, canonjsontest.LegacyV2) },
		"entities": func() int { return canonjsontest.Compare[[]entityJSON](t, f, n, canonjsontest.LegacyV2) },
	} {
		if same := cmp(); same < n/4 {
			t.Errorf("%s: only %d of %d random values were encodable; the comparison says little", name, same, n)
		}
	}
}
