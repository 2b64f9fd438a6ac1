package server

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/charter-dev/charter/ledger/postgres/pgtest"
	"github.com/jackc/pgx/v5"
)

// BenchmarkGrantsReplicas measures the cost of a grant (signed request,
// policy decision, decision and grant logged, answered with both inclusion
// proofs) on three replicas in this process behind a round-robin handler,
// over PostgreSQL (catalog, leases), MariaDB (the log, tessera's MySQL
// driver) and versitygw, against the embedded single server in the same
// run. The cost is CPU time per grant: this process, plus, for the fleet,
// the PostgreSQL backends serving it (found by application_name), the
// MariaDB server process and the versitygw process. It reports both
// rates, both costs and the ratio (issue 12: ≤ 1.5).
//
//	go test ./server -run '^$' -bench GrantsReplicas -benchtime 3000x
func BenchmarkGrantsReplicas(b *testing.B) {
	f := newFleet(b, 3)
	aid, _ := f.publish(bytes.Repeat([]byte("bench"), 1000), "research-only")
	var next atomic.Uint64
	rr := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hs[next.Add(1)%3].Config.Handler.ServeHTTP(w, r)
	}))
	b.Cleanup(rr.Close)
	_, hsSQ, _, aidSQ, _, _ := licensedFixture(b, 1024, "research-only")
	runGrantsClients(b, hsSQ, aidSQ, 256, benchClients) // warm both up
	runGrantsClients(b, rr, aid, 256, benchClients)
	b.ResetTimer()
	c0 := cpuTime(b)
	_, sq := runGrantsClients(b, hsSQ, aidSQ, b.N, benchClients)
	single := cpuTime(b) - c0
	s0, c0 := f.storesCPU(b), cpuTime(b)
	_, rate := runGrantsClients(b, rr, aid, b.N, benchClients)
	self, stores := cpuTime(b)-c0, f.storesCPU(b)-s0
	b.StopTimer()
	perSQ := single.Seconds() * 1000 / float64(b.N)
	perFleet := (self + stores).Seconds() * 1000 / float64(b.N)
	b.ReportMetric(sq, "single-grants/s")
	b.ReportMetric(rate, "replicas-grants/s")
	b.ReportMetric(perSQ, "single-cpu-ms/grant")
	b.ReportMetric(perFleet, "replicas-cpu-ms/grant")
	b.ReportMetric(stores.Seconds()*1000/float64(b.N), "stores-cpu-ms/grant")
	b.ReportMetric(perFleet/perSQ, "cost-ratio")
}

// benchClients is how many clients BenchmarkGrantsReplicas runs: below
// MariaDB's default 151 connections, which the replicas' log readers
// would otherwise exhaust (see docs/operations.md, "Replicas").
const benchClients = 128

// storesCPU is the CPU time used so far by the PostgreSQL backends of
// this fleet, the MariaDB server and the fleet's versitygw.
func (f *fleet) storesCPU(tb testing.TB) time.Duration {
	ctx := context.Background()
	conn := pgtest.Connect(tb)
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, f.schema)
	if err != nil {
		tb.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		tb.Fatal(err)
	}
	var total time.Duration
	for _, p := range pids {
		total += procCPU(strconv.Itoa(int(p)))
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		c := string(cmd)
		if strings.Contains(c, "mariadbd") || strings.Contains(c, "mysqld") || (strings.Contains(c, "versitygw") && strings.Contains(c, f.s3.Dir)) {
			total += procCPU(e.Name())
		}
	}
	return total
}

// procCPU reads the user and system time of process pid (0 if gone).
func procCPU(pid string) time.Duration {
	b, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	fs := strings.Fields(s[i+1:])
	if len(fs) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(fs[11], 10, 64)
	st, _ := strconv.ParseInt(fs[12], 10, 64)
	return time.Duration(ut+st) * (time.Second / 100) // USER_HZ
}
