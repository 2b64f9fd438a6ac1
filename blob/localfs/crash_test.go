package localfs_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lukechampine.com/blake3/bao"

	"github.com/charter-dev/charter/blob"
	"github.com/charter-dev/charter/blob/localfs"
	"github.com/charter-dev/charter/blob/storagetest"
	"github.com/charter-dev/charter/content"
)

// The crash tests re-run this test binary as a child that writes to a store
// until the parent kills it with SIGKILL.
const (
	childDirEnv  = "CHARTER_LOCALFS_CRASH_DIR"
	childModeEnv = "CHARTER_LOCALFS_CRASH_MODE"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(childDirEnv); dir != "" {
		if err := crashChild(dir, os.Getenv(childModeEnv)); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// endless yields pseudo-random bytes forever, announcing on stdout once
// announceAt bytes have been handed out.
type endless struct {
	n, announceAt int64
}

func (e *endless) Read(p []byte) (int, error) {
	b := storagetest.Bytes(uint64(e.n), len(p))
	copy(p, b)
	if e.n < e.announceAt && e.n+int64(len(p)) >= e.announceAt {
		fmt.Println("streaming")
	}
	e.n += int64(len(p))
	return len(p), nil
}

func crashChild(dir, mode string) error {
	ctx := context.Background()
	s, err := localfs.Open(ctx, dir)
	if err != nil {
		return err
	}
	switch mode {
	case "stream": // one Put that never ends
		_, err := blob.Put(ctx, s, &endless{announceAt: 4 << 20}, nil)
		return err
	case "many": // Put after Put, printing each committed id
		for i := uint64(0); ; i++ {
			info, err := blob.Put(ctx, s, bytes.NewReader(storagetest.Bytes(i, int(i%7)*20000+int(i%13))), nil)
			if err != nil {
				return err
			}
			fmt.Println(info.ID)
		}
	}
	return fmt.Errorf("unknown mode %q", mode)
}

func startChild(t *testing.T, dir, mode string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childDirEnv+"="+dir, childModeEnv+"="+mode)
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

func tmpFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// checkAll verifies every visible blob against its id and outboard with the
// reference Bao implementation, and returns the ids.
func checkAll(t *testing.T, s *localfs.Store) map[content.ID]bool {
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

func read(t *testing.T, s *localfs.Store, k blob.Key) []byte {
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

func stillWorks(t *testing.T, s *localfs.Store) {
	t.Helper()
	b := storagetest.Bytes(999, 12345)
	info, err := blob.Put(context.Background(), s, bytes.NewReader(b), nil)
	if err != nil {
		t.Fatalf("Put after crash: %v", err)
	}
	if got := read(t, s, blob.Key{ID: info.ID, Part: blob.Data}); !bytes.Equal(got, b) {
		t.Fatal("Put after crash reads back differently")
	}
}

// TestKilledMidStream kills a writer in the middle of a large Put: nothing
// may become visible, the staged file is removed by the next Open, and the
// store keeps working.
func TestKilledMidStream(t *testing.T) {
	dir := t.TempDir()
	cmd, out := startChild(t, dir, "stream")
	if !out.Scan() || out.Text() != "streaming" {
		t.Fatalf("child did not start streaming: %q %v", out.Text(), out.Err())
	}
	if n := len(tmpFiles(t, dir)); n != 2 {
		t.Fatalf("while streaming tmp holds %d files, want 2 (data and outboard)", n)
	}
	kill(t, cmd)
	if n := len(tmpFiles(t, dir)); n != 2 {
		t.Fatalf("after the kill tmp holds %d files, want the 2 stale ones", n)
	}
	s, err := localfs.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if names := tmpFiles(t, dir); len(names) != 0 {
		t.Fatalf("Open left stale temp files %v", names)
	}
	if ids := checkAll(t, s); len(ids) != 0 {
		t.Fatalf("a killed Put left visible blobs %v", ids)
	}
	stillWorks(t, s)
}

// TestKilledAnywhere kills a writer doing Put after Put at varying moments:
// every id it reported is complete, every visible blob verifies, and the
// store keeps working.
func TestKilledAnywhere(t *testing.T) {
	rounds := 4
	if testing.Short() {
		rounds = 1
	}
	dir := t.TempDir()
	reported := map[content.ID]bool{}
	for round := range rounds {
		cmd, out := startChild(t, dir, "many")
		want := 5 + 11*round
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
		time.Sleep(time.Duration(round) * 3 * time.Millisecond)
		kill(t, cmd)

		s, err := localfs.Open(context.Background(), dir)
		if err != nil {
			t.Fatal(err)
		}
		if names := tmpFiles(t, dir); len(names) != 0 {
			t.Fatalf("round %d: Open left stale temp files %v", round, names)
		}
		visible := checkAll(t, s)
		for id := range reported {
			if !visible[id] {
				t.Fatalf("round %d: committed %v is not visible after the kill", round, id)
			}
		}
		stillWorks(t, s)
	}
}

// TestOpenKeepsLiveStaging checks that opening a store does not delete the
// temp files of a writer that is still alive.
func TestOpenKeepsLiveStaging(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := localfs.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Stage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "live")
	if _, err := localfs.Open(ctx, dir); err != nil {
		t.Fatal(err)
	}
	k := blob.Key{ID: storagetest.IDOf([]byte("live")), Part: blob.Data}
	if err := w.Commit(ctx, k); err != nil {
		t.Fatalf("Commit after another Open: %v", err)
	}
	if got := read(t, s, k); string(got) != "live" {
		t.Fatalf("read %q", got)
	}
}
