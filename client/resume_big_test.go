package client_test

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/charter-dev/charter/client"
)

// TestPutResumesBig is TestPutResumes at the size, by hand:
// CHARTER_RESUME_GIB=8 puts an 8 GiB file in the server's default 64 MiB
// parts, cuts the connection halfway through, resumes, checks the count
// of bytes sent and the id, and reports the test process's peak RSS
// (client and server together), which must stay under 1 GiB.
//
//	CHARTER_RESUME_GIB=8 go test ./client -run TestPutResumesBig -v -timeout 60m
func TestPutResumesBig(t *testing.T) {
	v := os.Getenv("CHARTER_RESUME_GIB")
	if v == "" {
		t.Skip("set CHARTER_RESUME_GIB=8 to put an 8 GiB file, cut it halfway and resume it")
	}
	gib, err := strconv.Atoi(v)
	if err != nil || gib < 1 {
		t.Fatalf("CHARTER_RESUME_GIB=%q: want a whole number of GiB", v)
	}
	size := int64(gib) << 30
	const part = 64 << 20
	count := size / part
	pc := &partCutter{}
	pc.cut.Store(count / 2)
	c, _ := newProvenServerWrapped(t, pc.wrap)
	c.ResumeAbove = 64 << 20
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "big.bin")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	chunk := randomBytes(64<<20, 33)
	for i := range size / int64(len(chunk)) {
		chunk[0], chunk[1] = byte(i), byte(i>>8)
		if _, err := f.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()
	put := func(resumed *int64) (client.BlobInfo, error) {
		f := mustOpen(t, path)
		return c.Put(ctx, f, size, client.PutOptions{Resumed: func(held int64) { *resumed = held }})
	}
	t0 := time.Now()
	var held int64 = -1
	if _, err := put(&held); err == nil {
		t.Fatal("a put whose connection was cut succeeded")
	}
	cutAfter := time.Since(t0)
	pc.bytes.Store(0)
	t0 = time.Now()
	info, err := put(&held)
	if err != nil {
		t.Fatal(err)
	}
	resumed := time.Since(t0)
	sent := pc.bytes.Load()
	rss := peakRSS(t)
	t.Logf("%d GiB: cut after %v; resumed in %v with %d bytes held, sent %d (%.1f%% of the file); peak RSS %d MiB",
		gib, cutAfter.Round(time.Second), resumed.Round(time.Second), held, sent, 100*float64(sent)/float64(size), rss>>20)
	if held != count/2*part || sent != size-held {
		t.Fatalf("held %d, sent %d; want %d held and the rest sent", held, sent, count/2*part)
	}
	want, _, _ := client.HashReader(mustOpen(t, path))
	if info.ID != want.String() || info.Size != size {
		t.Fatalf("stored %+v, want %s", info, want)
	}
	if rss > 1<<30 {
		t.Fatalf("peak RSS %d MiB, want under 1 GiB", rss>>20)
	}
}

// peakRSS returns the process's peak resident set (VmHWM) in bytes.
func peakRSS(t *testing.T) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status to read the peak RSS from")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
