package dirlock

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestSecondOwnerRefused(t *testing.T) {
	dir := t.TempDir()
	l, err := Acquire(dir, "charter serve --data x")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Acquire(dir, "charter admin rebuild")
	var he *HeldError
	if !errors.As(err, &he) || !errors.Is(err, ErrHeld) {
		t.Fatalf("second Acquire: %v, want a HeldError", err)
	}
	if he.Holder.PID != os.Getpid() || he.Holder.Command != "charter serve --data x" {
		t.Fatalf("holder %+v", he.Holder)
	}
	if !strings.Contains(err.Error(), "charter serve") || !strings.Contains(err.Error(), "hint:") {
		t.Fatalf("error does not name the holder: %v", err)
	}
	if h, ok, err := Held(dir); err != nil || !ok || h.PID != os.Getpid() {
		t.Fatalf("Held = %+v %v %v", h, ok, err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := Held(dir); err != nil || ok {
		t.Fatalf("Held after release = %v %v", ok, err)
	}
	l2, err := Acquire(dir, "charter admin rebuild")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	l2.Release()
}

// TestOtherProcess holds the lock in a child process: the parent is
// refused with the child's pid; once the child is killed (-9) the lock is
// free although the file stays.
func TestOtherProcess(t *testing.T) {
	if dir := os.Getenv("DIRLOCK_HOLD"); dir != "" {
		if _, err := Acquire(dir, "holder process"); err != nil {
			os.Stdout.WriteString("error " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("held\n")
		// Sleep, not select {}: with every goroutine blocked the runtime
		// ends the process ("all goroutines are asleep"), freeing the
		// lock before the parent looks (CI, under load).
		time.Sleep(time.Hour)
		os.Exit(0)
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestOtherProcess$")
	cmd.Env = append(os.Environ(), "DIRLOCK_HOLD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	line, _ := bufio.NewReader(out).ReadString('\n')
	if line != "held\n" {
		t.Fatalf("child: %q", line)
	}
	_, err = Acquire(dir, "parent")
	var he *HeldError
	if !errors.As(err, &he) || he.Holder.PID != cmd.Process.Pid || he.Holder.Command != "holder process" {
		t.Fatalf("Acquire while the child holds it: %v (%+v)", err, he)
	}
	cmd.Process.Kill()
	cmd.Wait()
	l, err := Acquire(dir, "parent")
	if err != nil {
		t.Fatalf("after the holder died: %v", err)
	}
	l.Release()
}
