package s3_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"lukechampine.com/blake3/bao"

	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/blob/s3"
	"github.com/charter-dev/charter/blob/storagetest"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/internal/testenv"
)

// The crash tests re-run this test binary as a child that writes to a
// store until the parent kills it with SIGKILL.
const childEnv = "CHARTER_S3_CRASH_CHILD"

type childConfig struct {
	Server testenv.S3
	Bucket string
	Mode   string
}

// crashChildMain runs the child if this process is one, and reports
// whether it was.
func crashChildMain() bool {
	raw := os.Getenv(childEnv)
	if raw == "" {
		return false
	}
	var c childConfig
	if err := json.Unmarshal([]byte(raw), &c); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	if err := crashChild(c); err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	os.Exit(0)
	return true
}

// endless yields pseudo-random bytes forever, announcing on stdout once
// announceAt bytes have been handed out.
type endless struct {
	n, announceAt int64
}

func (e *endless) Read(p []byte) (int, error) {
	copy(p, storagetest.Bytes(uint64(e.n), len(p)))
	if e.n < e.announceAt && e.n+int64(len(p)) >= e.announceAt {
		fmt.Println("streaming")
	}
	e.n += int64(len(p))
	return len(p), nil
}

func crashChild(c childConfig) error {
	ctx := context.Background()
	s, err := s3.New(c.Server.Client(), c.Bucket, s3.Options{PartSize: s3.MinPartSize})
	if err != nil {
		return err
	}
	switch c.Mode {
	case "stream": // one Put without a declared id that never ends
		_, err := blob.Put(ctx, s, &endless{announceAt: 12 << 20}, nil)
		return err
	case "stream-declared": // the same, straight to a final key
		want := storagetest.IDOf([]byte("never matches"))
		_, err := blob.Put(ctx, s, &endless{announceAt: 12 << 20}, &want)
		return err
	case "many": // Put after Put, large and small, printing each committed id
		for i := uint64(0); ; i++ {
			n := int(i%5)*(3<<20) + int(i%13)
			b := storagetest.Bytes(i, n)
			var want *content.ID
			if i%2 == 1 {
				id := storagetest.IDOf(b)
				want = &id
			}
			info, err := blob.Put(ctx, s, bytes.NewReader(b), want)
			if err != nil {
				return err
			}
			fmt.Println(info.ID)
		}
	}
	return fmt.Errorf("unknown mode %q", c.Mode)
}

func startChild(t *testing.T, e *testenv.S3, bucket, mode string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cfg, _ := json.Marshal(childConfig{Server: *e, Bucket: bucket, Mode: mode})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(cfg))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, bufio.NewScanner(out)
}

func kill(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Kill(); err != nil { // SIGKILL on Unix
		t.Fatal(err)
	}
	cmd.Wait()
}

// quiesce waits until the bucket's keys and open multipart uploads stop
// changing: requests the killed writer had already sent (creating an
// upload, putting an object) are still carried out by the S3 server after
// the writer died, and Sweep cannot remove what does not exist yet.
func quiesce(t *testing.T, s *s3.Store) {
	t.Helper()
	state := func() string { return fmt.Sprint(keys(t, s), uploads(t, s)) }
	last := state()
	for range 50 {
		time.Sleep(100 * time.Millisecond)
		now := state()
		if now == last {
			return
		}
		last = now
	}
	t.Fatal("the bucket kept changing for 5 s after the writer was killed")
}

// checkAll verifies every visible blob against its id and outboard with
// the reference Bao implementation, and returns the ids.
func checkAll(t *testing.T, s *s3.Store) map[content.ID]bool {
	t.Helper()
	ctx := context.Background()
	seen := map[content.ID]bool{}
	err := s.Enumerate(ctx, content.ID{}, func(id content.ID, size int64) error {
		data := read(t, s, blob.Key{ID: id, Part: blob.Data})
		ob := read(t, s, blob.Key{ID: id, Part: blob.Outboard})
		if int64(len(data)) != size {
			t.Errorf("%v: listed size %d, read %d", id, size, len(data))
		}
		if storagetest.IDOf(data) != id {
			t.Errorf("%v: visible data does not hash to its id (%d bytes)", id, len(data))
		}
		if !bao.VerifyBuf(data, ob, 4, id.Digest()) {
			t.Errorf("%v: outboard does not verify", id)
		}
		seen[id] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return seen
}

func read(t *testing.T, s *s3.Store, k blob.Key) []byte {
	t.Helper()
	r, err := s.Open(context.Background(), k)
	if err != nil {
		t.Fatalf("open %v: %v", k, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// garbage is what a dead writer can leave: open multipart uploads and
// uploads/ objects that no index object names (each names its own).
func garbage(t *testing.T, s *s3.Store) (openUploads, unreferenced int) {
	t.Helper()
	for _, k := range keys(t, s) {
		switch {
		case strings.HasPrefix(k, "uploads/"):
			unreferenced++
		case strings.HasSuffix(k, ".ref"):
			unreferenced--
		}
	}
	return uploads(t, s), unreferenced
}

// sweep removes the dead writer's leftovers: Sweep with no grace, as an
// operator would once the writer is known dead.
func sweep(t *testing.T, s *s3.Store) {
	t.Helper()
	if _, err := s.Sweep(context.Background(), -time.Second); err != nil {
		t.Fatal(err)
	}
	if u, o := garbage(t, s); u != 0 || o != 0 {
		t.Fatalf("after Sweep: %d open uploads, %d unreferenced uploads/ objects", u, o)
	}
}

func stillWorks(t *testing.T, s *s3.Store) {
	t.Helper()
	b := storagetest.Bytes(999, 6<<20+1)
	info, err := blob.Put(context.Background(), s, bytes.NewReader(b), nil)
	if err != nil {
		t.Fatalf("Put after crash: %v", err)
	}
	if got := read(t, s, blob.Key{ID: info.ID, Part: blob.Data}); !bytes.Equal(got, b) {
		t.Fatal("Put after crash reads back differently")
	}
}

// TestKilledMidStream kills a writer in the middle of a large Put, with and
// without a declared id: nothing becomes visible, the open multipart
// upload it leaves is removed by Sweep, and the store keeps working.
func TestKilledMidStream(t *testing.T) {
	e := server(t)
	for _, mode := range []string{"stream", "stream-declared"} {
		t.Run(mode, func(t *testing.T) {
			s := newStore(t, e, s3.Options{PartSize: s3.MinPartSize})
			cmd, out := startChild(t, e, s.Bucket(), mode)
			if !out.Scan() || out.Text() != "streaming" {
				t.Fatalf("child did not start streaming: %q %v", out.Text(), out.Err())
			}
			kill(t, cmd)
			quiesce(t, s)
			if u, _ := garbage(t, s); u != 1 {
				t.Fatalf("after the kill %d multipart uploads are open, want the data's 1", u)
			}
			if ids := checkAll(t, s); len(ids) != 0 {
				t.Fatalf("a killed Put left visible blobs %v", ids)
			}
			// A sweep with a grace period keeps a young upload: it may be
			// a live writer's.
			if sw, err := s.Sweep(context.Background(), time.Hour); err != nil || sw.Uploads != 0 {
				t.Fatalf("Sweep(1h) = %+v, %v; want nothing swept", sw, err)
			}
			sweep(t, s)
			if ks := keys(t, s); len(ks) != 0 {
				t.Fatalf("after Sweep the bucket holds %v", ks)
			}
			stillWorks(t, s)
		})
	}
}

// settled returns checkAll once two listings a moment apart agree. A
// request the killed writer had already sent (its last index object PUT,
// say) is still carried out by the S3 server after the writer dies, so what
// is visible can grow once more right after the kill; that is the server
// finishing the dead client's request, not Sweep publishing anything.
func settled(t *testing.T, s *s3.Store) map[content.ID]bool {
	t.Helper()
	last := checkAll(t, s)
	for range 50 {
		time.Sleep(100 * time.Millisecond)
		now := checkAll(t, s)
		if len(now) == len(last) {
			return now
		}
		last = now
	}
	t.Fatal("the visible blobs kept changing for 5 s after the writer was killed")
	return nil
}

// TestKilledAnywhere kills a writer doing Put after Put (multipart and
// single, declared and not) at varying moments: every id it reported is
// complete, every visible blob verifies, Sweep leaves no garbage, and the
// store keeps working.
func TestKilledAnywhere(t *testing.T) {
	e := server(t)
	rounds := 4
	if testing.Short() {
		rounds = 1
	}
	s := newStore(t, e, s3.Options{PartSize: s3.MinPartSize})
	reported := map[content.ID]bool{}
	for round := range rounds {
		cmd, out := startChild(t, e, s.Bucket(), "many")
		want := 3 + 2*round
		for range want {
			if !out.Scan() {
				t.Fatalf("child stopped early: %v", out.Err())
			}
			id, err := content.ParseID(strings.TrimSpace(out.Text()))
			if err != nil {
				t.Fatal(err)
			}
			reported[id] = true
		}
		time.Sleep(time.Duration(round) * 40 * time.Millisecond)
		kill(t, cmd)
		quiesce(t, s)

		visible := settled(t, s)
		for id := range reported {
			if !visible[id] {
				t.Fatalf("round %d: committed %v is not visible after the kill", round, id)
			}
		}
		sweep(t, s)
		if got := checkAll(t, s); len(got) != len(visible) {
			t.Fatalf("round %d: Sweep changed the visible blobs: %d, was %d", round, len(got), len(visible))
		}
		stillWorks(t, s)
	}
}
