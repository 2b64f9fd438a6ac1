package canonjson_test

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/internal/canonjson/canonjsontest"
	"github.com/charter-dev/charter/metering"
)

// TestSameBytesAsBefore shows that every statement type of packages asset,
// grant and metering, filled with random content (valid or not), encodes
// to the bytes the encoder they used before canonjson wrote, except where
// canonjson refuses a value that has no exact RFC 8785 form. Licence
// documents are compared in package license (their wire types are
// unexported).
func TestSameBytesAsBefore(t *testing.T) {
	f := &canonjsontest.Filler{Rand: rand.New(rand.NewPCG(1, 2)), Pool: pool(t)}
	n := 3000
	if testing.Short() {
		n = 300
	}
	for name, cmp := range map[string]func() int{
		"asset.Manifest":      func() int { return canonjsontest.Compare[asset.Manifest](t, f, n, canonjsontest.LegacyV1) },
		"asset.Proposal":      func() int { return canonjsontest.Compare[asset.Proposal](t, f, n, canonjsontest.LegacyV1) },
		"asset.Approval":      func() int { return canonjsontest.Compare[asset.Approval](t, f, n, canonjsontest.LegacyV1) },
		"grant.Request":       func() int { return canonjsontest.Compare[grant.Request](t, f, n, canonjsontest.LegacyV1) },
		"grant.Grant":         func() int { return canonjsontest.Compare[grant.Grant](t, f, n, canonjsontest.LegacyV1) },
		"grant.Approval":      func() int { return canonjsontest.Compare[grant.Approval](t, f, n, canonjsontest.LegacyV1) },
		"grant.Revocation":    func() int { return canonjsontest.Compare[grant.Revocation](t, f, n, canonjsontest.LegacyV1) },
		"metering.Receipt":    func() int { return canonjsontest.Compare[metering.Receipt](t, f, n, canonjsontest.LegacyV1) },
		"metering.Usage":      func() int { return canonjsontest.Compare[metering.Usage](t, f, n, canonjsontest.LegacyV1) },
		"metering.Dispute":    func() int { return canonjsontest.Compare[metering.Dispute](t, f, n, canonjsontest.LegacyV1) },
		"metering.Resolution": func() int { return canonjsontest.Compare[metering.Resolution](t, f, n, canonjsontest.LegacyV1) },
		"metering.Fund":       func() int { return canonjsontest.Compare[metering.Fund](t, f, n, canonjsontest.LegacyV1) },
		"metering.Withdrawal": func() int { return canonjsontest.Compare[metering.Withdrawal](t, f, n, canonjsontest.LegacyV1) },
		"settlement entry":    func() int { return canonjsontest.Compare[settlementEntry](t, f, n, canonjsontest.LegacyV1) },
	} {
		if same := cmp(); same < n/4 {
			t.Errorf("%s: only %d of %d random values were encodable; the comparison says little", name, same, n)
		}
	}
}

// settlementEntry has the shape of the server's signed settlement entry.
type settlementEntry struct {
	Failed      []string `json:"failed"`
	JournalRoot string   `json:"journalRoot"`
	JournalSize uint64   `json:"journalSize"`
	Through     uint64   `json:"through"`
	Uses        int      `json:"uses"`
}

func pool(t *testing.T) map[reflect.Type][]any {
	var ids []any
	var cids []any
	for _, s := range []string{"a", "b", "c"} {
		c := content.IDFromDigest([32]byte{s[0]})
		cids = append(cids, c)
		id, err := asset.ParseID(c.String())
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	var dids []any
	for i := range 3 {
		seed := make([]byte, 32)
		seed[0] = byte(i)
		k, err := identity.NewKeyFromSeed(seed)
		if err != nil {
			t.Fatal(err)
		}
		dids = append(dids, k.DID())
	}
	times := []any{asset.NewTime(time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)), asset.NewTime(time.Unix(0, 0))}
	return map[reflect.Type][]any{
		reflect.TypeFor[asset.ID]():     ids,
		reflect.TypeFor[content.ID]():   cids,
		reflect.TypeFor[identity.DID](): dids,
		reflect.TypeFor[asset.Time]():   times,
	}
}
