package server

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/license"
	"github.com/charter-dev/charter/metering"
)

// TestManyFilesSessionReceipts: a licensee downloading a dataset of more
// files than a receipt may list ranges gets several valid receipts whose
// bytes add up to every byte served (before, the session's one receipt was
// invalid and never logged).
func TestManyFilesSessionReceipts(t *testing.T) {
	const files = 300
	srv, hs, c, _, _, owner := licensedFixture(t, 1, "research-only")
	ctx := context.Background()
	dir := t.TempDir()
	var total int64
	for i := range files {
		b := []byte(fmt.Sprintf("file %d of the corpus\n", i))
		total += int64(len(b))
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%04d.txt", i)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	info, _, err := c.PutDir(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	did, _ := content.ParseID(info.ID)
	terms, _ := license.Template("research-only")
	tb, _ := terms.Encode()
	tinfo, err := c.Put(ctx, bytes.NewReader(tb), int64(len(tb)), client.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := &asset.Manifest{Content: did, Name: "corpus", MediaType: content.DatasetMediaType, Created: asset.NewTime(time.Now()), Threshold: 1,
		Owners: []asset.Owner{{DID: owner.DID(), Weight: 1}}, Contributors: []asset.Contributor{{DID: owner.DID(), Share: asset.Whole}}, License: tinfo.ID}
	env, _ := m.Sign(owner)
	reg, err := c.Register(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	aid, _ := asset.ParseID(reg.Asset)
	consumer, _ := identity.Generate()
	ans, err := c.RequestGrant(ctx, consumer, aid, "research", client.GrantOptions{})
	if err != nil || ans.Status != "granted" {
		t.Fatalf("grant: %v %+v", err, ans)
	}
	plain, _ := client.New(hs.URL)
	gc := plain.WithGrant(consumer, ans.Grant.ID.String())
	if _, err := gc.GetDataset(ctx, did, filepath.Join(t.TempDir(), "out"), client.DownloadOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := gc.CloseSession(ctx); err != nil {
		t.Fatal(err)
	}
	rs, err := srv.cat.Receipts(ctx, ans.Grant.ID.String(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	if sealed, err := srv.cat.SealedReceipts(ctx); err != nil || len(sealed) != 0 {
		t.Fatalf("%d receipts sealed and never logged (%v)", len(sealed), err)
	}
	if len(rs) < 2 {
		t.Fatalf("%d receipts for %d files; want the session sealed early", len(rs), files)
	}
	var got int64
	covered := map[content.ID]int64{}
	for _, r := range rs {
		e, _ := identity.ParseEnvelope(r.Envelope)
		rc, _, err := metering.OpenReceipt(e)
		if err != nil {
			t.Fatal(err)
		}
		got += rc.Bytes
		for _, x := range rc.Ranges {
			covered[x.Content] += x.Length
		}
	}
	var want int64
	for _, n := range covered {
		want += n
	}
	if got != want || got < total+info.Size {
		t.Fatalf("receipts carry %d bytes, their ranges %d; the dataset is %d bytes and its index %d", got, want, total, info.Size)
	}
	if len(covered) != files+1 {
		t.Fatalf("receipts name %d contents, want %d files and the index", len(covered), files+1)
	}
}
