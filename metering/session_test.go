package metering

import (
	"bytes"
	"testing"
	"time"

	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
)

// TestSessionReceipt: a session's receipt carries what the catalog
// metered, and stays within MaxRanges: a content whose ranges would pass
// the limit is listed as its hull.
func TestSessionReceipt(t *testing.T) {
	k, err := identity.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	a, b := content.IDFromDigest([32]byte{1}), content.IDFromDigest([32]byte{2})
	var rs []catalog.MeterRange
	for i := range int64(MaxRanges - 1) {
		rs = append(rs, catalog.MeterRange{Content: a.String(), Start: 10 * i, End: 10*i + 5})
	}
	rs = append(rs, catalog.MeterRange{Content: b.String(), Start: 0, End: 1}, catalog.MeterRange{Content: b.String(), Start: 100, End: 200})
	start := time.Date(2026, 12, 5, 20, 0, 0, 0, time.UTC)
	x := &catalog.OpenSession{MeterKey: catalog.MeterKey{Grant: a.String(), Session: "s1", Licensee: k.DID().String(), Asset: b.String()},
		Bytes: 3000, Requests: 7, Started: start, Last: start.Add(time.Minute), Part: 2, Ranges: rs}
	rc, err := SessionReceipt(x, k.DID())
	if err != nil {
		t.Fatal(err)
	}
	if rc.Bytes != 3000 || rc.Requests != 7 || rc.Part != 2 || rc.Session != "s1" || rc.Issuer != k.DID() || rc.Licensee != k.DID() || !rc.Ended.Time().Equal(start.Add(time.Minute)) {
		t.Errorf("receipt %+v does not carry the session's figures", rc)
	}
	if len(rc.Ranges) != MaxRanges {
		t.Fatalf("%d ranges, want %d (the first content's %d, then the second's hull)", len(rc.Ranges), MaxRanges, MaxRanges-1)
	}
	if last := rc.Ranges[MaxRanges-1]; last.Content != b || last.Offset != 0 || last.Length != 200 {
		t.Errorf("last range %+v, want the hull of %s: 0+200", last, b)
	}
	if _, err := rc.Sign(k); err != nil {
		t.Errorf("the receipt does not sign: %v", err)
	}
	x.Licensee = "not a DID"
	if _, err := SessionReceipt(x, k.DID()); err == nil {
		t.Error("a session with a malformed licensee gave a receipt")
	}
}
