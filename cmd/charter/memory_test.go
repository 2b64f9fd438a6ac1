package main

import (
	"bufio"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkPeakMemory measures the peak resident memory (max RSS) of the
// real charter binary putting and getting a large file through a real
// server. The size defaults to 1 GiB; CHARTER_BENCH_SIZE_GIB=8 gives the
// issue's 8 GiB figure. Target: below 150 MB for put and for get.
func BenchmarkPeakMemory(b *testing.B) {
	gib := int64(1)
	if v := os.Getenv("CHARTER_BENCH_SIZE_GIB"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		gib = n
	}
	size := gib << 30
	dir := b.TempDir()
	bin := filepath.Join(dir, "charter")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	src := filepath.Join(dir, "big.bin")
	f, err := os.Create(src)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.NewChaCha8([32]byte{7}), size); err != nil {
		b.Fatal(err)
	}
	f.Close()

	// The key is made first and given standing: an 8 GiB put passes the
	// shared upload allowance of keys without it.
	keyOut, err := exec.Command(bin, "key", "new", "--out", filepath.Join(dir, "key")).Output()
	if err != nil {
		b.Fatalf("key new: %v", err)
	}
	did := strings.Fields(string(keyOut))
	srv := exec.Command(bin, "serve", "--data", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0", "--scrub-interval", "0",
		"--proven-keys", did[len(did)-1])
	stdout, _ := srv.StdoutPipe()
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	defer srv.Process.Kill()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	url := line[strings.LastIndex(line, " ")+1 : len(line)-1]

	rss := func(args ...string) (float64, time.Duration, string) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "CHARTER_SERVER="+url, "CHARTER_KEY="+filepath.Join(dir, "key"))
		t0 := time.Now()
		out, err := cmd.Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				b.Fatalf("charter %v: %v\n%s", args, err, ee.Stderr)
			}
			b.Fatalf("charter %v: %v", args, err)
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		return float64(ru.Maxrss) / 1024, time.Since(t0), strings.TrimSpace(string(out))
	}
	for b.Loop() {
		putMB, putT, id := rss("put", src)
		getMB, getT, _ := rss("get", id, "-o", filepath.Join(dir, "out.bin"))
		os.Remove(filepath.Join(dir, "out.bin"))
		b.ReportMetric(putMB, "put_maxrss_MB")
		b.ReportMetric(getMB, "get_maxrss_MB")
		b.ReportMetric(float64(size)/1e6/putT.Seconds(), "put_MB/s")
		b.ReportMetric(float64(size)/1e6/getT.Seconds(), "get_MB/s")
	}
	srv.Process.Signal(os.Interrupt)
	srv.Wait()
	b.ReportMetric(float64(srv.ProcessState.SysUsage().(*syscall.Rusage).Maxrss)/1024, "serve_maxrss_MB")
}
