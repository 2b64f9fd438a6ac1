package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the CPU time (user + system) this process has used.
func cpuTime(t testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestIdleCPU starts a server with the default background work (settlement,
// scrub, idle sessions, the log's checkpointing) in a child process of its
// own (this test binary, run again), so that no other test's goroutines are
// counted, and measures the CPU time that process uses while nothing
// happens. The window is 3 s with a bound of 0.5% of a core (generous
// against noise; a 10 ms checkpoint poll used 3.4%, tessera's own 100 ms
// timers 1%), or CHARTER_IDLE_SECONDS seconds with the bound of
// 0.1%. docs/performance.md has the 60 s figure of a real `charter serve`
// (cmd/charter TestIdleServeCPU).
func TestIdleCPU(t *testing.T) {
	if os.Getenv("CHARTER_IDLE_CHILD") != "" {
		idleChild(t)
		return
	}
	window, bound := 3*time.Second, 0.5
	if v := os.Getenv("CHARTER_IDLE_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatal(err)
		}
		window, bound = time.Duration(n)*time.Second, 0.1
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleCPU$", "-test.v")
	cmd.Env = append(os.Environ(), "CHARTER_IDLE_CHILD="+window.String())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	_, res, ok := strings.Cut(string(out), "IDLE ")
	if !ok {
		t.Fatalf("child printed no figure:\n%s", out)
	}
	var used, wall time.Duration
	if _, err := fmt.Sscanf(res, "%d %d", &used, &wall); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	pct := 100 * used.Seconds() / wall.Seconds()
	t.Logf("idle server: %v CPU in %v: %.3f%% of a core", used, wall.Round(time.Millisecond), pct)
	if pct > bound {
		t.Errorf("an idle server used %.3f%% of a core (bound %.1f%%)", pct, bound)
	}
}

// idleChild is TestIdleCPU's child: it prints "IDLE <cpu ns> <wall ns>".
func idleChild(t *testing.T) {
	window, err := time.ParseDuration(os.Getenv("CHARTER_IDLE_CHILD"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), Config{DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Let start-up work finish: the log stops its appender IdleAfter (1 s)
	// after opening.
	time.Sleep(2 * time.Second)
	c0, t0 := cpuTime(t), time.Now()
	time.Sleep(window)
	used, wall := cpuTime(t)-c0, time.Since(t0)
	fmt.Printf("IDLE %d %d\n", used, wall)
}
