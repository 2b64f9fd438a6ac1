package catalogtest

import (
	"bytes"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/charter-dev/charter/catalog"
)

// testParts checks what the log carries for apply: a part is recorded
// once, read back byte for byte by (kind, content, part), counted, and
// dumped; a second copy changes nothing.
func testParts(t *testing.T, open Opener) {
	c := open(t)
	doc := cid("index").String()
	body := func(n int) []byte { return bytes.Repeat([]byte{byte(n), 0, 0xff}, 100+n) }
	have, parts, err := c.PartCount(ctx, "dataset.files", doc)
	if err != nil || have != 0 || parts != 0 {
		t.Fatalf("PartCount of nothing: %d, %d, %v", have, parts, err)
	}
	apply(t, c, 1, func(tx catalog.Tx) error {
		return tx.PutPart(catalog.Part{Kind: "dataset.files", Content: doc, Part: 1, Parts: 2, Body: body(1), LogIndex: 1})
	})
	if have, parts, err := c.PartCount(ctx, "dataset.files", doc); err != nil || have != 1 || parts != 2 {
		t.Fatalf("PartCount of one part of two: %d, %d, %v", have, parts, err)
	}
	err = c.Update(ctx, 2, func(tx catalog.Tx) error {
		if _, err := tx.Part("dataset.files", doc, 0); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("Part of a part not recorded: %v", err)
		}
		if _, err := tx.Part("license", doc, 1); !errors.Is(err, catalog.ErrNotFound) {
			t.Errorf("Part of another kind: %v", err)
		}
		if err := tx.PutPart(catalog.Part{Kind: "dataset.files", Content: doc, Part: 0, Parts: 2, Body: body(0), LogIndex: 2}); err != nil {
			return err
		}
		err := tx.PutPart(catalog.Part{Kind: "dataset.files", Content: doc, Part: 1, Parts: 2, Body: []byte("other"), LogIndex: 2})
		if !errors.Is(err, catalog.ErrPartLogged) {
			t.Errorf("PutPart of a recorded part: %v, want ErrPartLogged", err)
		}
		for n := range 2 {
			p, err := tx.Part("dataset.files", doc, n)
			if err != nil || p.Parts != 2 || p.Part != n || !bytes.Equal(p.Body, body(n)) || p.LogIndex != uint64(2-n) || p.Kind != "dataset.files" || p.Content != doc {
				t.Errorf("Part %d: %+v, %v", n, p, err)
			}
		}
		if have, parts, err := tx.PartCount("dataset.files", doc); err != nil || have != 2 || parts != 2 {
			t.Errorf("Tx.PartCount of a whole document: %d, %d, %v", have, parts, err)
		}
		return tx.PutPart(catalog.Part{Kind: "license", Content: doc, Part: 0, Parts: 1, Body: []byte(`{"terms":1}`), LogIndex: 2})
	})
	must(t, err)
	if have, parts, err := c.PartCount(ctx, "dataset.files", doc); err != nil || have != 2 || parts != 2 {
		t.Fatalf("PartCount of a whole document: %d, %d, %v", have, parts, err)
	}
	if have, parts, err := c.PartCount(ctx, "license", doc); err != nil || have != 1 || parts != 1 {
		t.Fatalf("PartCount of another kind: %d, %d, %v", have, parts, err)
	}
	dump, err := c.Dump(ctx)
	must(t, err)
	var lines []string
	for _, l := range dump {
		if strings.HasPrefix(l, "part ") {
			lines = append(lines, l)
		}
	}
	want := []string{
		"part dataset.files " + doc + " 0 2 2 " + strings.ToUpper(hex.EncodeToString(body(0))),
		"part dataset.files " + doc + " 1 2 1 " + strings.ToUpper(hex.EncodeToString(body(1))),
		"part license " + doc + " 0 1 2 7B227465726D73223A317D",
	}
	if !slices.Equal(lines, want) {
		t.Fatalf("Dump of parts:\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
