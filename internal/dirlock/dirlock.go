// Package dirlock gives a data folder one owner at a time: `charter serve`,
// `charter demo` and the `charter admin` commands hold an exclusive lock on
// the folder's lock file while they run, and a second one is refused with
// an error naming the process that holds it.
//
// The lock is flock(2) on <dir>/charter.lock: the kernel drops it when the
// holder exits, however it exits (kill -9 included), so a stale file never
// blocks anyone. The file's text says who holds it (pid, command, start
// time) for the error message; only the flock decides.
package dirlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// FileName is the lock file inside the data folder.
const FileName = "charter.lock"

// ErrHeld is wrapped by the error Acquire returns when another process
// holds the folder.
var ErrHeld = errors.New("data folder in use")

// Holder is who holds a folder, as its lock file says.
type Holder struct {
	PID     int
	Command string
	Since   time.Time
}

// HeldError is returned by Acquire when the folder is held.
type HeldError struct {
	Dir    string
	Holder Holder // zero when the holder has not written its name yet
}

func (e *HeldError) Error() string {
	h := e.Holder
	if h.PID == 0 {
		return fmt.Sprintf("data folder %s is in use by another process\nhint: stop it first: a data folder has one owner at a time", e.Dir)
	}
	return fmt.Sprintf("data folder %s is in use by process %d (%s, since %s)\nhint: stop process %d first: a data folder has one owner at a time",
		e.Dir, h.PID, h.Command, h.Since.UTC().Format(time.RFC3339), h.PID)
}

func (e *HeldError) Unwrap() error { return ErrHeld }

// Lock is a held folder lock.
type Lock struct {
	f *os.File
}

// Acquire takes the exclusive lock of dir (creating dir if needed) for
// command, a short description such as "charter serve". It does not wait:
// a held folder is an error wrapping ErrHeld (a *HeldError).
func Acquire(dir, command string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data folder %s: %w", dir, err)
	}
	p := filepath.Join(dir, FileName)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data folder %s: lock file: %w", dir, err)
	}
	ok, err := tryLock(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("data folder %s: locking %s: %w", dir, p, err)
	}
	if !ok {
		h, _ := readHolder(f)
		f.Close()
		return nil, &HeldError{Dir: dir, Holder: h}
	}
	text := fmt.Sprintf("pid %d\ncommand %s\nsince %s\n", os.Getpid(), oneLine(command), time.Now().UTC().Format(time.RFC3339Nano))
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(text), 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("data folder %s: writing %s: %w", dir, p, err)
	}
	return &Lock{f: f}, nil
}

// Release drops the lock. The file stays; its text is stale once unlocked.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// Held reports who holds dir, without taking the lock: ok is false when
// the folder is free.
func Held(dir string) (h Holder, ok bool, err error) {
	f, err := os.OpenFile(filepath.Join(dir, FileName), os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return Holder{}, false, nil
	}
	if err != nil {
		return Holder{}, false, err
	}
	defer f.Close()
	free, err := tryLock(f)
	if err != nil || free {
		return Holder{}, false, err
	}
	h, _ = readHolder(f)
	return h, true, nil
}

func readHolder(f *os.File) (Holder, error) {
	buf := make([]byte, 4096)
	n, err := f.ReadAt(buf, 0)
	if n == 0 {
		return Holder{}, err
	}
	var h Holder
	for _, line := range strings.Split(string(buf[:n]), "\n") {
		k, v, _ := strings.Cut(line, " ")
		switch k {
		case "pid":
			h.PID, _ = strconv.Atoi(v)
		case "command":
			h.Command = v
		case "since":
			h.Since, _ = time.Parse(time.RFC3339Nano, v)
		}
	}
	return h, nil
}

func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
