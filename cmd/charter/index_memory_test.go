package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/charter-dev/charter/content"
)

// BenchmarkServeIndexMemory measures the peak resident memory of a real
// `charter serve` that stores, checks and registers a dataset whose index
// lists CHARTER_BENCH_INDEX_FILES files (default 1,048,576, the limit:
// about 114 MB of index), against a baseline server in the same run that
// does the same with a one-file index. Indexes are read one file at a time
// (content.IndexReader), so the ratio stays near 1; before, the server
// read the whole index into memory and decoded it (hundreds of MB).
func BenchmarkServeIndexMemory(b *testing.B) {
	n := 1 << 20
	if v := os.Getenv("CHARTER_BENCH_INDEX_FILES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil {
			b.Fatal(err)
		}
	}
	dir := b.TempDir()
	bin := filepath.Join(dir, "charter")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	for b.Loop() {
		base := serveIndex(b, bin, filepath.Join(dir, "base"), 1)
		big := serveIndex(b, bin, filepath.Join(dir, "big"), n)
		b.ReportMetric(base, "base_serve_maxrss_MB")
		b.ReportMetric(big, "index_serve_maxrss_MB")
		b.ReportMetric(big/base, "ratio")
	}
}

// serveIndex runs a server that stores one file and registers a dataset
// whose index lists it n times, and returns the server's max RSS in MB.
func serveIndex(b *testing.B, bin, dir string, n int) float64 {
	os.MkdirAll(dir, 0o700)
	srv := exec.Command(bin, "serve", "--data", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0", "--scrub-interval", "0")
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
	run := func(args ...string) string {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "CHARTER_SERVER="+url, "CHARTER_KEY="+filepath.Join(dir, "key"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("charter %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run("key", "new")
	file := filepath.Join(dir, "file.txt")
	os.WriteFile(file, []byte("one file"), 0o644)
	id, err := content.ParseID(run("put", file))
	if err != nil {
		b.Fatal(err)
	}
	idx := filepath.Join(dir, "index.json")
	f, err := os.Create(idx)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, `{"mediaType":"%s","version":1,"files":[`, content.DatasetMediaType)
	for i := 0; i < n; i++ {
		if i > 0 {
			w.WriteByte(',')
		}
		fmt.Fprintf(w, `{"path":"d/f%09d","size":8,"id":"%s"}`, i, id)
	}
	w.WriteString("]}")
	w.Flush()
	f.Close()
	run("publish", idx, "--media-type", content.DatasetMediaType, "--name", "big")
	srv.Process.Signal(os.Interrupt)
	srv.Wait()
	return float64(srv.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) / 1024
}
