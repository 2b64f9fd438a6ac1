// Package testenv starts real servers for tests: an S3 endpoint
// (versitygw with its posix backend on loopback), and fresh databases on
// the MySQL/MariaDB server for transparency logs.
//
// Outside CI a missing server binary skips the test with a message saying
// how to install it; under CI=true it fails the test, so a CI run never
// passes by skipping.
package testenv

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// VersitygwInstall is the command that installs the S3 server the tests use.
const VersitygwInstall = "go install github.com/versity/versitygw/cmd/versitygw@v1.8.0"

// S3 is a running S3-compatible server.
type S3 struct {
	Endpoint  string // http://127.0.0.1:PORT
	AccessKey string
	SecretKey string
	Region    string
	Dir       string // the posix backend's root: one directory per bucket
	Pid       int    // versitygw's process id
}

// CPU returns the CPU time (user and system) the S3 server has used, or 0
// where /proc cannot tell.
func (e *S3) CPU() time.Duration { return procCPU(strconv.Itoa(e.Pid)) }

// SelfCPU returns the CPU time (user and system) this process has used,
// or 0 where /proc cannot tell.
func SelfCPU() time.Duration { return procCPU("self") }

// procCPU reads utime and stime from /proc/PID/stat (clock ticks, 100 a
// second on Linux).
func procCPU(pid string) time.Duration {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: fields count
	// from the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * 10 * time.Millisecond
}

// Missing skips t, or fails it under CI=true, because what names is not
// installed.
func Missing(t testing.TB, what, install string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is not installed and CI=true: .ci/run must install it (%s)", what, install)
	}
	t.Skipf("%s is not installed: skipping (install it with %s, or put it on PATH; under CI=true this fails)", what, install)
}

// versitygw finds the binary: $VERSITYGW, then PATH, then $GOBIN or
// $GOPATH/bin, where go install puts it.
func versitygw() string {
	if p := os.Getenv("VERSITYGW"); p != "" {
		return p
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	var dirs []string
	if d := os.Getenv("GOBIN"); d != "" {
		dirs = append(dirs, d)
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, d := range filepath.SplitList(strings.TrimSpace(string(out))) {
			dirs = append(dirs, filepath.Join(d, "bin"))
		}
	}
	for _, d := range dirs {
		p := filepath.Join(d, "versitygw")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

// Versitygw returns the path of the versitygw binary, or skips t (fails
// it under CI=true) when it is not installed.
func Versitygw(t testing.TB) string {
	t.Helper()
	p := versitygw()
	if p == "" {
		Missing(t, "versitygw (an S3 server)", VersitygwInstall)
	}
	return p
}

// ErrNoVersitygw reports that the versitygw binary was not found.
var ErrNoVersitygw = errors.New("versitygw (an S3 server) is not installed")

// StartS3 starts versitygw (posix backend, a temp directory, a free
// loopback port, random root keys) for the life of t. A missing binary
// skips t, or fails it under CI=true.
func StartS3(t testing.TB) *S3 {
	t.Helper()
	e, stop, err := LaunchS3()
	if errors.Is(err, ErrNoVersitygw) {
		Missing(t, "versitygw (an S3 server)", VersitygwInstall)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return e
}

// S3For is StartS3 for a server launched once, in TestMain, with
// LaunchS3: it returns e, or skips or fails t as StartS3 would on err.
func S3For(t testing.TB, e *S3, err error) *S3 {
	t.Helper()
	if errors.Is(err, ErrNoVersitygw) {
		Missing(t, "versitygw (an S3 server)", VersitygwInstall)
	}
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// LaunchS3 starts versitygw as StartS3 does, for callers without a
// testing.TB (TestMain). stop kills it and removes its directories.
func LaunchS3() (e *S3, stop func(), err error) {
	bin := versitygw()
	if bin == "" {
		return nil, nil, ErrNoVersitygw
	}
	root, err := os.MkdirTemp("", "charter-versitygw-")
	if err != nil {
		return nil, nil, err
	}
	e = &S3{AccessKey: "charter" + token(4), SecretKey: token(16), Region: "us-east-1", Dir: filepath.Join(root, "data")}
	// Extended attributes hold object metadata; a sidecar directory does
	// where the file system has none (tmpfs on older kernels).
	meta := filepath.Join(root, "meta")
	for _, d := range []string{e.Dir, meta} {
		if err := os.Mkdir(d, 0o700); err != nil {
			os.RemoveAll(root)
			return nil, nil, err
		}
	}
	var lastErr error
	for range 5 {
		addr, err := freePort()
		if err != nil {
			os.RemoveAll(root)
			return nil, nil, err
		}
		cmd := exec.Command(bin, "--access", e.AccessKey, "--secret", e.SecretKey, "--region", e.Region,
			"--port", addr, "--quiet", "--keep-alive", "posix", "--sidecar", meta, e.Dir)
		var logs strings.Builder
		stderr, _ := cmd.StderrPipe()
		if err := cmd.Start(); err != nil {
			os.RemoveAll(root)
			return nil, nil, fmt.Errorf("start versitygw: %w", err)
		}
		exited := make(chan struct{})
		go func() {
			sc := bufio.NewScanner(stderr)
			for sc.Scan() {
				if logs.Len() < 8<<10 {
					logs.WriteString(sc.Text() + "\n")
				}
			}
			cmd.Wait()
			close(exited)
		}()
		e.Endpoint = "http://" + addr
		e.Pid = cmd.Process.Pid
		if lastErr = waitReady(e.Endpoint, exited); lastErr == nil {
			return e, func() {
				cmd.Process.Kill()
				<-exited
				os.RemoveAll(root)
			}, nil
		}
		cmd.Process.Kill()
		<-exited
		lastErr = fmt.Errorf("%v; its output: %s", lastErr, logs.String())
	}
	os.RemoveAll(root)
	return nil, nil, fmt.Errorf("versitygw did not start: %v", lastErr)
}

func token(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitReady polls the endpoint until it answers HTTP at all.
func waitReady(endpoint string, exited <-chan struct{}) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("versitygw exited")
		default:
		}
		resp, err := http.Get(endpoint + "/")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no answer at %s within 30s", endpoint)
}

// Client returns an S3 client for the server, path-style, with the root
// keys.
func (e *S3) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:                     e.Region,
		BaseEndpoint:               aws.String(e.Endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(e.AccessKey, e.SecretKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

var buckets atomic.Int64

// Bucket creates a new, empty bucket and returns its name.
func (e *S3) Bucket(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("charter-test-%d-%s", buckets.Add(1), token(3))
	if _, err := e.Client().CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &name}); err != nil {
		t.Fatalf("create bucket %s: %v", name, err)
	}
	return name
}

// Env sets the standard AWS variables for the server's root keys, for code
// that loads the default AWS configuration (t.Setenv: not in parallel tests).
func (e *S3) Env(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", e.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", e.SecretKey)
	t.Setenv("AWS_REGION", e.Region)
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
}

// URL returns the blob store URL of bucket/prefix on this server.
func (e *S3) URL(bucket, prefix string) string {
	u := "s3://" + bucket
	if prefix != "" {
		u += "/" + prefix
	}
	return u + "?endpoint=" + e.Endpoint + "&region=" + e.Region
}
