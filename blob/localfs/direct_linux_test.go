package localfs

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestStageUsesDirect: where the file system takes O_DIRECT, a staged
// write of several blocks is written with it (a silent fallback to the
// page cache would cost a first put of 1 GiB 1.4 CPU-s), and the flag is
// cleared again before the last, unaligned block.
func TestStageUsesDirect(t *testing.T) {
	dir := t.TempDir()
	probe, err := os.Create(filepath.Join(dir, "probe"))
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	if err := setDirect(probe, true); err != nil {
		t.Skipf("the file system of %s refuses O_DIRECT (%v): staged writes go through the page cache", dir, err)
	}
	s, err := Open(context.Background(), filepath.Join(dir, "store"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := s.Stage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Abort()
	if _, err := st.Write(make([]byte, 3*directBlock+100)); err != nil {
		t.Fatal(err)
	}
	f := st.(*staged).f
	flags := func() int {
		fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
		if err != nil {
			t.Fatal(err)
		}
		return fl
	}
	if flags()&unix.O_DIRECT == 0 {
		t.Fatal("staged write of 3 blocks is not written with O_DIRECT")
	}
	if err := st.(*staged).w.Flush(); err != nil {
		t.Fatal(err)
	}
	if flags()&unix.O_DIRECT != 0 {
		t.Fatal("O_DIRECT still set after the last block")
	}
	if fi, err := f.Stat(); err != nil || fi.Size() != 3*directBlock+100 {
		t.Fatalf("staged file: %v, %v", fi, err)
	}
}
