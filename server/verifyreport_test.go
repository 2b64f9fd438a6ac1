package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/charter-dev/charter/content"
)

// TestVerifyReportReadsOnlyTheRange: a verify report needs no key, so it
// must not make the server read more than the range reported, nor let
// reports in parallel read at once. A clean range is answered clean even
// when another part of the blob is corrupt (the scrub finds that); a
// corrupt range is found and recorded; 40 reports at once are each
// answered 200 or 503 busy.
func TestVerifyReportReadsOnlyTheRange(t *testing.T) {
	s, hs := newTestServer(t)
	data := bytes.Repeat([]byte("charter!"), 256<<10) // 2 MiB
	resp, body := upload(t, hs, "", data)
	if resp.StatusCode != 201 {
		t.Fatal(string(body))
	}
	var info BlobInfo
	json.Unmarshal(body, &info)
	report := func(off, n int64) (int, VerifyResult) {
		resp, err := http.Post(hs.URL+"/v1/blobs/"+info.ID+"/verify", "application/json", bytes.NewReader(fmt.Appendf(nil, `{"offset":%d,"length":%d}`, off, n)))
		if err != nil {
			t.Error(err)
			return 0, VerifyResult{}
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var res VerifyResult
		json.Unmarshal(b, &res)
		return resp.StatusCode, res
	}
	var wg sync.WaitGroup
	codes := make([]int, 40)
	for i := range codes {
		wg.Add(1)
		go func() { defer wg.Done(); codes[i], _ = report(0, 1<<20) }()
	}
	wg.Wait()
	served := 0
	for i, c := range codes {
		switch c {
		case 200:
			served++
		case 503:
		default:
			t.Fatalf("report %d: %d", i, c)
		}
	}
	if served == 0 {
		t.Fatal("no report was checked")
	}
	if code, _ := report(0, 3<<20); code != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("a range past the end: %d", code)
	}

	m, _ := filepath.Glob(filepath.Join(s.cfg.DataDir, "blobs", "blobs", "*", info.ID))
	if len(m) != 1 {
		t.Fatal("blob file not found")
	}
	f, _ := os.OpenFile(m[0], os.O_RDWR, 0)
	f.WriteAt([]byte{'X'}, 1536<<10)
	f.Close()
	if code, res := report(0, 64<<10); code != 200 || !res.OK {
		t.Fatalf("a clean range reported: %d %+v (the server read beyond the range reported)", code, res)
	}
	if code, res := report(1536<<10, 64<<10); code != 200 || res.OK {
		t.Fatalf("the corrupt range reported: %d %+v", code, res)
	}
	cid, _ := content.ParseID(info.ID)
	if _, bad := s.corrupt(t.Context(), cid); !bad {
		t.Fatal("corruption found by a report was not recorded")
	}
}
