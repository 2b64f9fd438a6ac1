package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc/PID/stat.
const clockTicks = 100

// procCPU is the CPU time (user + system) process pid has used, from
// /proc/PID/stat.
func procCPU(t *testing.T, pid int) time.Duration {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		t.Fatal(err)
	}
	// Fields after the command name, which is in parentheses: state is
	// field 3, utime 14, stime 15.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / clockTicks
}

// TestIdleServeCPU starts a real `charter serve` with its defaults and reads
// the CPU time it uses over CHARTER_IDLE_SECONDS (60 for the issue's
// figure) while nothing happens. It is skipped unless that variable is set:
// /proc counts in 10 ms ticks, too coarse for a short window (the short
// check is server's TestIdleCPU). Target: below 0.1% of a core.
func TestIdleServeCPU(t *testing.T) {
	v := os.Getenv("CHARTER_IDLE_SECONDS")
	if v == "" {
		t.Skip("set CHARTER_IDLE_SECONDS=60 to measure an idle charter serve")
	}
	secs, err := strconv.Atoi(v)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "charter")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	srv := exec.Command(bin, "serve", "--data", filepath.Join(dir, "data"), "--listen", "127.0.0.1:0")
	stdout, _ := srv.StdoutPipe()
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Process.Kill()
	if _, err := bufio.NewReader(stdout).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second) // start-up work, and the log's appender going idle
	c0, t0 := procCPU(t, srv.Process.Pid), time.Now()
	time.Sleep(time.Duration(secs) * time.Second)
	used, wall := procCPU(t, srv.Process.Pid)-c0, time.Since(t0)
	pct := 100 * used.Seconds() / wall.Seconds()
	t.Logf("idle charter serve: %v CPU in %v: %.3f%% of a core", used, wall.Round(time.Second), pct)
	if pct >= 0.1 {
		t.Errorf("an idle charter serve used %.3f%% of a core (target < 0.1%%)", pct)
	}
}
