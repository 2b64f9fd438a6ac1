package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	osuser "os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
)

// BenchmarkReadPath compares Charter's verified read path with nginx
// serving the same files on loopback, in the same run (issue 14). nginx is
// started with its own configuration in a temporary folder (no root, no
// daemon); the benchmark skips when it is not installed.
//
//   - get1GiB: `charter get ID -o FILE` (verified, fsynced) against
//     `curl -o FILE` of the same file from nginx, with and without an fsync
//     of the file curl wrote. Metric x_nginx_sync: nginx+curl+fsync time ÷
//     charter time (a throughput ratio; target ≥ 0.85); x_nginx: the same
//     without the fsync.
//   - concurrent16: 16 clients at once, each reading a different 256 MiB
//     blob to /dev/null: `charter cat` (verified) against `curl`. Metric
//     x_nginx: charter's aggregate throughput ÷ nginx's (target ≥ 0.8).
//   - range1MiB: random 1 MiB ranges of the 1 GiB file, one at a time,
//     through the Go client (verified, client.FetchRange) and through a
//     Go http.Client with a Range header to nginx (unverified), alternating.
//     Metrics p50_x and p99_x: charter's percentile ÷ nginx's (targets
//     ≤ 1.2 and ≤ 2); charter_srv_cpu_ms/op and nginx_cpu_ms/op: the CPU
//     each server spent per range (clock ticks: a mean over many ranges);
//     charter_ttfb_p50_ms and nginx_ttfb_p50_ms: the median time to the
//     first response byte.
//
// CHARTER_BENCH_READ_MIB sets the size of the big file (default 1024),
// CHARTER_BENCH_CONC_MIB the size of each concurrent blob (default 256);
// CHARTER_BENCH_BIN runs another charter binary (e.g. one built from an
// earlier commit) instead of building this one. Every sub-benchmark also
// reports the CPU both sides used per GiB (charter: client processes and
// server; nginx: curl and nginx's workers), which load does not change.
func BenchmarkReadPath(b *testing.B) {
	ngx := nginxBinary()
	if ngx == "" {
		b.Skip("nginx is not installed (apt-get install nginx): the read path is measured against it in the same run")
	}
	curl, err := exec.LookPath("curl")
	if err != nil {
		b.Skip("curl is not installed: the nginx peer is read with it")
	}
	dir := b.TempDir()
	files := filepath.Join(dir, "files")
	os.Mkdir(files, 0o755)
	bin := os.Getenv("CHARTER_BENCH_BIN") // another build, to compare versions
	if bin == "" {
		bin = filepath.Join(dir, "charter")
		if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
			b.Fatalf("build: %v\n%s", err, out)
		}
	}
	// The key is made first and given standing: the blobs put here
	// (1 GiB + 16 × 256 MiB) pass the shared allowance of keys without.
	keyOut, err := exec.Command(bin, "key", "new", "--out", filepath.Join(dir, "key")).Output()
	if err != nil {
		b.Fatalf("key new: %v", err)
	}
	did := strings.Fields(string(keyOut))
	data := filepath.Join(dir, "data")
	srv, srvPID := startCharter(b, bin, data, "--proven-keys", did[len(did)-1])
	ngxURL, ngxPID := startNginx(b, ngx, filepath.Join(dir, "nginx"), files)
	env := append(os.Environ(), "CHARTER_SERVER="+srv, "CHARTER_KEY="+filepath.Join(dir, "key"))
	var clientCPU, curlCPU atomic.Int64 // CPU of the client processes run so far
	curlRun := func(args ...string) error {
		cmd := exec.Command(curl, args...)
		o, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("curl: %v\n%s", err, o)
		}
		curlCPU.Add(int64(cmdCPU(cmd)))
		return nil
	}
	// cpu returns the CPU both sides have used so far: charter client
	// processes and server, curl processes and nginx.
	cpu := func() (time.Duration, time.Duration) {
		return time.Duration(clientCPU.Load()) + treeCPU(srvPID), time.Duration(curlCPU.Load()) + treeCPU(ngxPID)
	}
	reportCPU := func(b *testing.B, c0, n0 time.Duration, gib float64) {
		c1, n1 := cpu()
		b.ReportMetric((c1-c0).Seconds()/gib, "charter_cpu_s/GiB")
		b.ReportMetric((n1-n0).Seconds()/gib, "nginx_cpu_s/GiB")
	}
	charter := func(stdout io.Writer, args ...string) string {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		var out strings.Builder
		cmd.Stdout = &out
		if stdout != nil {
			cmd.Stdout = stdout
		}
		var errb strings.Builder
		cmd.Stderr = &errb
		if err := cmd.Run(); err != nil {
			b.Fatalf("charter %v: %v\n%s", args, err, errb.String())
		}
		clientCPU.Add(int64(cmdCPU(cmd)))
		return strings.TrimSpace(out.String())
	}
	// put makes a file of mib MiB of random content under files/ and stores
	// it; the page cache holds both copies afterwards (warm, as the issue's
	// figures were taken).
	put := func(name string, mib int64, seed byte) string {
		p := filepath.Join(files, name)
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.CopyN(f, rand.NewChaCha8([32]byte{seed}), mib<<20); err != nil {
			b.Fatal(err)
		}
		f.Close()
		return charter(nil, "put", p)
	}
	envMiB := func(k string, def int64) int64 {
		if v, err := strconv.ParseInt(os.Getenv(k), 10, 64); err == nil && v > 0 {
			return v
		}
		return def
	}
	bigMiB := envMiB("CHARTER_BENCH_READ_MIB", 1024)
	var bigID string
	big := func() string {
		if bigID == "" {
			bigID = put("big.bin", bigMiB, 1)
		}
		return bigID
	}
	load := func(b *testing.B) {
		if v, err := os.ReadFile("/proc/loadavg"); err == nil {
			b.Logf("load %s", strings.Join(strings.Fields(string(v))[:3], " "))
		}
	}

	b.Run("get1GiB", func(b *testing.B) {
		id := big()
		out := filepath.Join(dir, "out.bin")
		warm(b, filepath.Join(files, "big.bin"))
		warmDir(b, data)
		load(b)
		c0, n0 := cpu()
		var tc, tn, tns time.Duration
		for b.Loop() {
			exec.Command("sync").Run() // no earlier run's dirty pages in this one's time
			t0 := time.Now()
			charter(nil, "get", id, "-o", out)
			tc += time.Since(t0)
			os.Remove(out)
			exec.Command("sync").Run()
			t0 = time.Now()
			if err := curlRun("-sSf", "-o", out, ngxURL+"/big.bin"); err != nil {
				b.Fatal(err)
			}
			tn += time.Since(t0)
			f, err := os.OpenFile(out, os.O_RDWR, 0)
			if err != nil {
				b.Fatal(err)
			}
			f.Sync()
			f.Close()
			tns += time.Since(t0)
			os.Remove(out)
		}
		n := float64(b.N)
		b.ReportMetric(tc.Seconds()/n, "charter_s")
		b.ReportMetric(tn.Seconds()/n, "nginx_curl_s")
		b.ReportMetric(tns.Seconds()/n, "nginx_curl_fsync_s")
		b.ReportMetric(tns.Seconds()/tc.Seconds(), "x_nginx_sync")
		b.ReportMetric(tn.Seconds()/tc.Seconds(), "x_nginx")
		reportCPU(b, c0, n0, float64(b.N)*float64(bigMiB)/1024)
		load(b)
	})

	b.Run("concurrent16", func(b *testing.B) {
		const clients = 16
		mib := envMiB("CHARTER_BENCH_CONC_MIB", 256)
		ids := make([]string, clients)
		for i := range ids {
			ids[i] = put(fmt.Sprintf("c%02d.bin", i), mib, byte(10+i))
		}
		for i := range ids {
			warm(b, filepath.Join(files, fmt.Sprintf("c%02d.bin", i)))
		}
		warmDir(b, data)
		null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			b.Fatal(err)
		}
		defer null.Close()
		all := func(run func(i int)) time.Duration {
			var wg sync.WaitGroup
			t0 := time.Now()
			for i := range clients {
				wg.Go(func() { run(i) })
			}
			wg.Wait()
			return time.Since(t0)
		}
		load(b)
		c0, n0 := cpu()
		var tc, tn time.Duration
		for b.Loop() {
			tc += all(func(i int) { charter(null, "cat", ids[i]) })
			tn += all(func(i int) {
				if err := curlRun("-sSf", "-o", os.DevNull, fmt.Sprintf("%s/c%02d.bin", ngxURL, i)); err != nil {
					b.Error(err)
				}
			})
		}
		total := float64(b.N) * clients * float64(mib<<20) / 1e6
		b.ReportMetric(total/tc.Seconds(), "charter_MB/s")
		b.ReportMetric(total/tn.Seconds(), "nginx_MB/s")
		b.ReportMetric(tn.Seconds()/tc.Seconds(), "x_nginx")
		reportCPU(b, c0, n0, float64(b.N)*clients*float64(mib)/1024)
		load(b)
	})

	b.Run("range1MiB", func(b *testing.B) {
		id, err := content.ParseID(big())
		if err != nil {
			b.Fatal(err)
		}
		warm(b, filepath.Join(files, "big.bin"))
		warmDir(b, data)
		c, err := client.New(srv)
		if err != nil {
			b.Fatal(err)
		}
		hc := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 4}}
		size := bigMiB << 20
		const n = 1 << 20
		rng := rand.New(rand.NewPCG(1, 2))
		ctx := context.Background()
		// One of each first: connections open, nothing cold in the figures.
		c.FetchRange(ctx, id, 0, n, io.Discard)
		var dc, dn []time.Duration
		// Time to the first response byte, of both: what a server does
		// before it sends (look-ups, opens, the tree) apart from what the
		// transfer and the client's hashing take after.
		var fc, fn []time.Duration
		var tfb time.Time
		tctx := httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{GotFirstResponseByte: func() { tfb = time.Now() }})
		var sc, sn time.Duration // server CPU (charter serve; nginx)
		load(b)
		for b.Loop() {
			off := rng.Int64N(size - n)
			s0 := treeCPU(srvPID)
			t0 := time.Now()
			if err := c.FetchRange(tctx, id, off, n, io.Discard); err != nil {
				b.Fatal(err)
			}
			dc = append(dc, time.Since(t0))
			fc = append(fc, tfb.Sub(t0))
			sc += treeCPU(srvPID) - s0
			s0 = treeCPU(ngxPID)
			req, _ := http.NewRequestWithContext(tctx, "GET", ngxURL+"/big.bin", nil)
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+n-1))
			t0 = time.Now()
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			k, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || k != n || resp.StatusCode != http.StatusPartialContent {
				b.Fatalf("nginx range: %d bytes, status %d, %v", k, resp.StatusCode, err)
			}
			dn = append(dn, time.Since(t0))
			fn = append(fn, tfb.Sub(t0))
			sn += treeCPU(ngxPID) - s0
		}
		pc50, pc99 := percentile(dc, 50), percentile(dc, 99)
		pn50, pn99 := percentile(dn, 50), percentile(dn, 99)
		ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
		b.ReportMetric(ms(percentile(fc, 50)), "charter_ttfb_p50_ms")
		b.ReportMetric(ms(percentile(fn, 50)), "nginx_ttfb_p50_ms")
		b.ReportMetric(ms(pc50), "charter_p50_ms")
		b.ReportMetric(ms(pc99), "charter_p99_ms")
		b.ReportMetric(ms(pn50), "nginx_p50_ms")
		b.ReportMetric(ms(pn99), "nginx_p99_ms")
		b.ReportMetric(ms(pc50)/ms(pn50), "p50_x")
		b.ReportMetric(ms(pc99)/ms(pn99), "p99_x")
		b.ReportMetric(ms(sc)/float64(len(dc)), "charter_srv_cpu_ms/op")
		b.ReportMetric(ms(sn)/float64(len(dn)), "nginx_cpu_ms/op")
		load(b)
	})
}

func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, len(s)*p/100)]
}

// warm reads a file once so that the page cache holds it.
func warm(b *testing.B, path string) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	io.Copy(io.Discard, f)
}

// warmDir reads every file under dir once: the server's blob files are
// in the page cache like nginx's (a put may write them past it, with
// direct I/O).
func warmDir(b *testing.B, dir string) {
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			warm(b, p)
		}
		return nil
	})
}

// nginxBinary returns the path of nginx, or "" when it is not installed
// (Debian puts it in /usr/sbin, which is not on every user's PATH).
func nginxBinary() string {
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// startCharter runs `charter serve` on a free loopback port and returns its
// URL; it is stopped when the benchmark ends.
func startCharter(b *testing.B, bin, data string, flags ...string) (string, int) {
	srv := exec.Command(bin, append([]string{"serve", "--data", data, "--listen", "127.0.0.1:0", "--scrub-interval", "0"}, flags...)...)
	stdout, _ := srv.StdoutPipe()
	srv.Stderr = io.Discard
	if err := srv.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Process.Signal(os.Interrupt); srv.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	go io.Copy(io.Discard, stdout)
	return line[strings.LastIndex(line, " ")+1 : len(line)-1], srv.Process.Pid
}

// startNginx runs nginx in the foreground (no daemon, no root) with its own
// configuration under dir, serving root on a free loopback port with the
// settings a file server is tuned with (sendfile, tcp_nopush, no access
// log, two workers), and returns its URL.
func startNginx(b *testing.B, bin, dir, root string) (string, int) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		b.Fatal(err)
	}
	// Workers run as the user who started nginx when that is not root; as
	// root they would switch to nobody, who cannot read the test's files.
	userLine := ""
	if u, err := osuser.Current(); err == nil && os.Geteuid() == 0 {
		userLine = "user " + u.Username + ";"
	}
	conf := fmt.Sprintf(`daemon off;
%[4]s
worker_processes 2;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 1024; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	keepalive_requests 1000000;
	default_type application/octet-stream;
	client_body_temp_path %[1]s/tmp/body;
	proxy_temp_path %[1]s/tmp/proxy;
	fastcgi_temp_path %[1]s/tmp/fastcgi;
	uwsgi_temp_path %[1]s/tmp/uwsgi;
	scgi_temp_path %[1]s/tmp/scgi;
	server {
		listen %[2]s;
		root %[3]s;
	}
}
`, dir, addr, root, userLine)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o644); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	b.Cleanup(func() { cmd.Process.Signal(os.Interrupt); <-exited })
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			b.Fatalf("nginx did not start: %s\n%s", out.String(), log)
		default:
		}
		if time.Now().After(deadline) {
			b.Fatal("nginx did not start listening in 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "http://" + addr, cmd.Process.Pid
}

// treeCPU is the CPU time (user + system) process pid and its children
// alive now have used, from /proc (nginx's master and its workers).
func treeCPU(pid int) time.Duration {
	var total time.Duration
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	total += time.Duration(utime+stime) * time.Second / clockTicks
	kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	for _, k := range strings.Fields(string(kids)) {
		if c, err := strconv.Atoi(k); err == nil {
			total += treeCPU(c)
		}
	}
	return total
}

// cmdCPU is the CPU time a finished command used.
func cmdCPU(c *exec.Cmd) time.Duration {
	return c.ProcessState.UserTime() + c.ProcessState.SystemTime()
}
