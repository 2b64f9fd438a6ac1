package client_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
)

var (
	smallN    = flag.Int("smallfiles.n", 1000, "BenchmarkSmallFiles: files in the dataset (issue 14: 1000, 10000, 100000)")
	smallSize = flag.Int("smallfiles.size", 10<<10, "BenchmarkSmallFiles: bytes per file")
)

// kuboBinary is the Kubo `ipfs` command the small-files benchmark
// compares with: $CHARTER_KUBO, else `ipfs` on PATH (bench/kubo builds it:
// see bench/kubo/README.md).
func kuboBinary() string {
	if p := os.Getenv("CHARTER_KUBO"); p != "" {
		return p
	}
	p, _ := exec.LookPath("ipfs")
	return p
}

// writeSmallFiles makes n files of size random bytes under dir, 100 to a
// folder.
func writeSmallFiles(b *testing.B, dir string, n, size int) {
	b.Helper()
	buf := randomBytes(size, 42)
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("d%04d", i/100), fmt.Sprintf("f%06d.bin", i))
		if i%100 == 0 {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				b.Fatal(err)
			}
		}
		buf[0], buf[1], buf[2], buf[3] = byte(i), byte(i>>8), byte(i>>16), byte(i>>24)
		if err := os.WriteFile(p, buf, 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

func run(b *testing.B, env []string, name string, args ...string) string {
	out, _ := runCPU(b, env, name, args...)
	return out
}

// runCPU runs a command and returns its output and the CPU time (user +
// system) it used.
func runCPU(b *testing.B, env []string, name string, args ...string) (string, time.Duration) {
	b.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

// selfCPU is the CPU time (user + system) this process used so far: the
// client and the server of the benchmark both run in it.
func selfCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSmallFiles puts and gets a dataset of -smallfiles.n files of
// 10 KB (`PutDir`, `GetDataset`: a fresh server each time, on the local
// file system store, page cache warm), and in the same run `cp -r` +
// `sync` of the same folder and, when the Kubo binary is found
// (CHARTER_KUBO or `ipfs` on PATH; it skips Kubo with a message
// otherwise), `ipfs add -r` and `ipfs get` in a fresh offline repo.
// Reported: seconds of each, the ratios issue 14 sets (put/kubo-add and
// get/kubo-get at most 1.0, put/cp at most 3), and the CPU seconds (user +
// system) of each: Charter's client and server both run in the benchmark's
// process, the peers' are their processes' own.
//
//	go test ./client -run '^$' -bench SmallFiles -benchtime 3x -smallfiles.n 10000
func BenchmarkSmallFiles(b *testing.B) {
	ctx := context.Background()
	src := filepath.Join(b.TempDir(), "src")
	writeSmallFiles(b, src, *smallN, *smallSize)
	kubo := kuboBinary()
	if kubo == "" {
		b.Log("Kubo not found (set CHARTER_KUBO or put `ipfs` on PATH; bench/kubo builds it): Kubo's figures are skipped")
	}
	var put, get, cp, kadd, kget time.Duration
	var putCPU, getCPU, cpCPU, kaddCPU, kgetCPU time.Duration // user + system
	b.SetBytes(int64(*smallN) * int64(*smallSize))
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		c := newServer(b, nil)
		out := filepath.Join(b.TempDir(), "out")
		b.StartTimer()
		t0, c0 := time.Now(), selfCPU(b)
		info, _, err := c.PutDir(ctx, src, nil)
		if err != nil {
			b.Fatal(err)
		}
		put += time.Since(t0)
		putCPU += selfCPU(b) - c0
		id, _ := content.ParseID(info.ID)
		t0, c0 = time.Now(), selfCPU(b)
		if _, err := c.GetDataset(ctx, id, out, client.DownloadOptions{}); err != nil {
			b.Fatal(err)
		}
		get += time.Since(t0)
		getCPU += selfCPU(b) - c0

		dst := filepath.Join(b.TempDir(), "copy")
		t0 = time.Now()
		_, u1 := runCPU(b, nil, "cp", "-r", src, dst)
		_, u2 := runCPU(b, nil, "sync")
		cp += time.Since(t0)
		cpCPU += u1 + u2

		if kubo != "" {
			b.StopTimer()
			env := []string{"IPFS_PATH=" + filepath.Join(b.TempDir(), "ipfs")}
			run(b, env, kubo, "init", "--profile=test", "-e")
			b.StartTimer()
			t0 = time.Now()
			cid, u := runCPU(b, env, kubo, "add", "-r", "-Q", src)
			kadd += time.Since(t0)
			kaddCPU += u
			t0 = time.Now()
			_, u = runCPU(b, env, kubo, "get", "-o", filepath.Join(b.TempDir(), "kubo-out"), cid)
			kget += time.Since(t0)
			kgetCPU += u
		}
	}
	n := float64(b.N)
	b.ReportMetric(put.Seconds()/n, "put-s")
	b.ReportMetric(get.Seconds()/n, "get-s")
	b.ReportMetric(cp.Seconds()/n, "cp+sync-s")
	b.ReportMetric(put.Seconds()/cp.Seconds(), "put/cp")
	b.ReportMetric(get.Seconds()/cp.Seconds(), "get/cp")
	b.ReportMetric(putCPU.Seconds()/n, "put-cpu-s")
	b.ReportMetric(getCPU.Seconds()/n, "get-cpu-s")
	b.ReportMetric(cpCPU.Seconds()/n, "cp+sync-cpu-s")
	if kubo != "" {
		b.ReportMetric(kadd.Seconds()/n, "kubo-add-s")
		b.ReportMetric(kget.Seconds()/n, "kubo-get-s")
		b.ReportMetric(put.Seconds()/kadd.Seconds(), "put/kubo-add")
		b.ReportMetric(get.Seconds()/kget.Seconds(), "get/kubo-get")
		b.ReportMetric(kaddCPU.Seconds()/n, "kubo-add-cpu-s")
		b.ReportMetric(kgetCPU.Seconds()/n, "kubo-get-cpu-s")
	}
}
