package metering

import (
	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/catalog"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
)

// SessionReceipt returns the receipt issuer signs for what a download
// session served under one grant (x, as the catalog metered it): its
// bytes, requests and time span, and the ranges served, sorted by content
// and offset. Past MaxRanges, each further content's ranges collapse to
// their hull, so a receipt stays bounded however scattered the reads.
func SessionReceipt(x *catalog.OpenSession, issuer identity.DID) (*Receipt, error) {
	gid, err := asset.ParseID(x.Grant)
	if err != nil {
		return nil, err
	}
	aid, err := asset.ParseID(x.Asset)
	if err != nil {
		return nil, err
	}
	lic, err := identity.ParseDID(x.Licensee)
	if err != nil {
		return nil, err
	}
	rc := &Receipt{Asset: aid, Bytes: x.Bytes, Ended: asset.NewTime(x.Last), Grant: gid, Issuer: issuer,
		Licensee: lic, Part: x.Part, Requests: x.Requests, Session: x.Session, Started: asset.NewTime(x.Started), Ranges: []Range{}}
	for i := 0; i < len(x.Ranges); {
		j := i
		for j < len(x.Ranges) && x.Ranges[j].Content == x.Ranges[i].Content {
			j++
		}
		cid, err := content.ParseID(x.Ranges[i].Content)
		if err != nil {
			return nil, err
		}
		rs := x.Ranges[i:j]
		if len(rc.Ranges)+len(rs) > MaxRanges {
			rs = []catalog.MeterRange{{Start: rs[0].Start, End: rs[len(rs)-1].End}}
		}
		for _, r := range rs {
			rc.Ranges = append(rc.Ranges, Range{Content: cid, Offset: r.Start, Length: r.End - r.Start})
		}
		i = j
	}
	return rc, nil
}
