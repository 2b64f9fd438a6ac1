package server

import (
	"bytes"
	"context"
	"database/sql"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/internal/testenv"
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
	f := newFleetTuned(b, 3, func(c *Config) { c.Crowd = noCrowdPool }) // as the single server's fixture
	aid, _ := f.publish(bytes.Repeat([]byte("bench"), 1000), "research-only")
	rr := f.roundRobin(b)
	_, hsSQ, _, aidSQ, _, _ := licensedFixture(b, 1024, "research-only")
	runGrantsClients(b, hsSQ, aidSQ, 256, *replicaClients) // warm both up
	runGrantsClients(b, rr, aid, 256, *replicaClients)
	// The fleet's fixed cost: what its stores and this process use in 5 s
	// with no requests (leases, followers, listeners, checkpoint polls).
	i0, is0, it0 := f.storesCPU(b), cpuTime(b), time.Now()
	time.Sleep(5 * time.Second)
	idle, idleSelf, idleT := f.storesCPU(b).minus(i0), cpuTime(b)-is0, time.Since(it0).Seconds()
	b.ResetTimer()
	c0 := cpuTime(b)
	_, sq := runGrantsClients(b, hsSQ, aidSQ, b.N, *replicaClients)
	single := cpuTime(b) - c0
	f.sql.take()
	q0 := mysqlStatus(b)
	s0, c0 := f.storesCPU(b), cpuTime(b)
	_, rate := runGrantsClients(b, rr, aid, b.N, *replicaClients)
	self, stores := cpuTime(b)-c0, f.storesCPU(b).minus(s0)
	q1 := mysqlStatus(b)
	b.StopTimer()
	// The MariaDB server's own counters: other users of the server add to
	// them.
	b.ReportMetric(float64(q1.questions-q0.questions)/float64(b.N), "mariadb-statements/grant")
	b.ReportMetric(float64(q1.commits-q0.commits)/float64(b.N), "mariadb-commits/grant")
	b.ReportMetric(f.sql.report(b, b.N, "grant"), "pg-round-trips/grant")
	perSQ := single.Seconds() * 1000 / float64(b.N)
	perFleet := (self + stores.sum()).Seconds() * 1000 / float64(b.N)
	b.ReportMetric(sq, "single-grants/s")
	b.ReportMetric(rate, "replicas-grants/s")
	b.ReportMetric(perSQ, "single-cpu-ms/grant")
	b.ReportMetric(perFleet, "replicas-cpu-ms/grant")
	ms := func(d time.Duration) float64 { return d.Seconds() * 1000 / float64(b.N) }
	b.ReportMetric(ms(stores.pg), "pg-cpu-ms/grant")
	b.ReportMetric(ms(stores.mysql), "mariadb-cpu-ms/grant")
	b.ReportMetric(ms(stores.s3), "s3-cpu-ms/grant")
	b.ReportMetric(perFleet/perSQ, "cost-ratio")
	b.ReportMetric(idle.pg.Seconds()*1000/idleT, "idle-pg-cpu-ms/s")
	b.ReportMetric(idle.mysql.Seconds()*1000/idleT, "idle-mariadb-cpu-ms/s")
	b.ReportMetric(idleSelf.Seconds()*1000/idleT, "idle-process-cpu-ms/s")
}

// BenchmarkDownloadReplicas measures the cost of a verified GiB: a
// licensed 64 MiB asset streamed and verified (Bao) by the client under a
// grant, every request signed, metered and receipted, through the three
// replicas behind a round-robin handler (blobs on versitygw) against the
// embedded single server (blobs in files) in the same run. CPU is counted
// as in BenchmarkGrantsReplicas (this process, clients included, plus the
// fleet's stores). It reports both costs in CPU-seconds per GiB, both
// rates and the ratio (issue 12: ≤ 1.5).
//
//	go test ./server -run '^$' -bench DownloadReplicas -benchtime 8x
func BenchmarkDownloadReplicas(b *testing.B) {
	const size = 64 << 20
	ctx := context.Background()
	f := newFleetTuned(b, 3, func(c *Config) {
		c.Crowd, c.UploadQuotaTotal = noCrowdPool, 0
		c.S3DirectReads = *replicaDirectReads
	})
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	aid, cid := f.publish(data, "research-only")
	rr := f.roundRobin(b)
	stream := func(hs *httptest.Server, aid asset.ID) func() {
		c, err := client.New(hs.URL)
		if err != nil {
			b.Fatal(err)
		}
		consumer, _ := identity.Generate()
		ans, err := c.RequestGrant(ctx, consumer, aid, "research", client.GrantOptions{})
		if err != nil || ans.Status != "granted" {
			b.Fatalf("grant: %v %+v", err, ans)
		}
		gc := c.WithGrant(consumer, ans.Grant.ID.String())
		return func() {
			n, err := gc.Stream(ctx, cid, io.Discard, nil)
			if err != nil || n != size {
				b.Fatalf("verified download: %d bytes, %v", n, err)
			}
		}
	}
	fleetGet := stream(rr, aid)
	_, hsSQ, _, aidSQ, cidSQ, _ := licensedFixture(b, size, "research-only")
	if cidSQ != cid {
		b.Fatal("the single server holds other bytes")
	}
	singleGet := stream(hsSQ, aidSQ)
	singleGet() // warm both up
	fleetGet()
	b.ResetTimer()
	c0, t0 := cpuTime(b), time.Now()
	for range b.N {
		singleGet()
	}
	single, singleEl := cpuTime(b)-c0, time.Since(t0)
	f.sql.take()
	s0 := f.storesCPU(b)
	c0, t0 = cpuTime(b), time.Now()
	for range b.N {
		fleetGet()
	}
	self, fleetEl := cpuTime(b)-c0, time.Since(t0)
	stores := f.storesCPU(b).minus(s0)
	b.StopTimer()
	gib := float64(size) * float64(b.N) / (1 << 30)
	b.ReportMetric(f.sql.report(b, b.N*size>>20, "MiB"), "pg-round-trips/MiB")
	perGiB := func(d time.Duration) float64 { return d.Seconds() / gib }
	b.ReportMetric(perGiB(single), "single-cpu-s/GiB")
	b.ReportMetric(perGiB(self+stores.sum()), "replicas-cpu-s/GiB")
	b.ReportMetric(perGiB(stores.pg), "pg-cpu-s/GiB")
	b.ReportMetric(perGiB(stores.mysql), "mariadb-cpu-s/GiB")
	b.ReportMetric(perGiB(stores.s3), "s3-cpu-s/GiB")
	b.ReportMetric(gib*(1<<30)/1e6/singleEl.Seconds(), "single-MB/s")
	b.ReportMetric(gib*(1<<30)/1e6/fleetEl.Seconds(), "replicas-MB/s")
	b.ReportMetric((self+stores.sum()).Seconds()/single.Seconds(), "cost-ratio")
}

// roundRobin is a handler passing requests to the replicas in turn, as a
// load balancer would.
func (f *fleet) roundRobin(tb testing.TB) *httptest.Server {
	var next atomic.Uint64
	rr := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hs[next.Add(1)%uint64(len(f.hs))].Config.Handler.ServeHTTP(w, r)
	}))
	tb.Cleanup(rr.Close)
	return rr
}

// replicaClients is how many clients BenchmarkGrantsReplicas runs against
// each side (the replicas' log connections are bounded, so any number fits
// MariaDB's 151); more clients make larger log batches and apply
// transactions on both sides.
// replicaDirectReads runs BenchmarkDownloadReplicas with the replicas
// handing out presigned S3 ranges (Config.S3DirectReads): the data then
// goes from versitygw to the client without passing through a replica.
var replicaDirectReads = flag.Bool("replica-direct-reads", false, "BenchmarkDownloadReplicas: replicas serve verified ranges' data by presigned S3 URLs")

var replicaClients = flag.Int("replica-clients", 128, "concurrent clients of BenchmarkGrantsReplicas")

// storeCPU is the CPU time the stores of a fleet used so far, by store.
type storeCPU struct{ pg, mysql, s3 time.Duration }

func (c storeCPU) sum() time.Duration { return c.pg + c.mysql + c.s3 }

func (c storeCPU) minus(o storeCPU) storeCPU {
	return storeCPU{c.pg - o.pg, c.mysql - o.mysql, c.s3 - o.s3}
}

// storesCPU is the CPU time used so far by the stores serving this fleet:
// the PostgreSQL backends of its connections (by application_name); the
// MariaDB threads serving connections to its log database plus every
// MariaDB thread serving no connection (InnoDB's log writer, purge and
// flushing, shared with whatever else uses the server: counted against
// the fleet); and the fleet's versitygw. PostgreSQL's own background
// processes (WAL writer, checkpointer) serve every database of the
// server and are not counted.
func (f *fleet) storesCPU(tb testing.TB) storeCPU {
	ctx := context.Background()
	conn := pgtest.Connect(tb)
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT pid, left(regexp_replace(query, '\s+', ' ', 'g'), 80) FROM pg_stat_activity WHERE application_name = $1`, f.schema)
	if err != nil {
		tb.Fatal(err)
	}
	type pq struct {
		Pid int32
		Q   string
	}
	pids, err := pgx.CollectRows(rows, pgx.RowToStructByPos[pq])
	if err != nil {
		tb.Fatal(err)
	}
	var c storeCPU
	if f.pgBase == nil {
		f.pgBase = map[int32]time.Duration{}
	} else if os.Getenv("CHARTER_PGCPU_DEBUG") != "" {
		for _, p := range pids {
			tb.Logf("pg backend %d: %v  %s", p.Pid, procCPU(strconv.Itoa(int(p.Pid)))-f.pgBase[p.Pid], p.Q)
		}
	}
	for _, p := range pids {
		t := procCPU(strconv.Itoa(int(p.Pid)))
		c.pg += t
		f.pgBase[p.Pid] = t
	}
	c.mysql = f.mysqlCPU(tb)
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if c0 := string(cmd); strings.Contains(c0, "versitygw") && strings.Contains(c0, f.s3.Dir) {
			c.s3 += procCPU(e.Name())
		}
	}
	return c
}

// mysqlCPU is the CPU time of the MariaDB threads serving the fleet's log
// database and of those serving no connection. A thread that served
// another database's connection earlier keeps that CPU: the threads'
// times are kept at the first call and only what they used since counts.
func (f *fleet) mysqlCPU(tb testing.TB) time.Duration {
	dsn := os.Getenv("CHARTER_TEST_MYSQL")
	if dsn == "" {
		dsn = testenv.DefaultMySQL
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT TID, COALESCE(DB, '') FROM information_schema.PROCESSLIST`)
	if err != nil {
		tb.Fatal(err)
	}
	conn := map[int64]string{}
	for rows.Next() {
		var tid int64
		var name string
		if err := rows.Scan(&tid, &name); err != nil {
			tb.Fatal(err)
		}
		conn[tid] = name
	}
	rows.Close()
	logDB := f.logLoc[strings.LastIndexByte(f.logLoc, '/')+1:]
	if i := strings.IndexByte(logDB, '?'); i >= 0 {
		logDB = logDB[:i]
	}
	pid := mariadbPID()
	if pid == "" {
		return 0
	}
	tasks, _ := os.ReadDir(filepath.Join("/proc", pid, "task"))
	if f.mysqlBase == nil {
		f.mysqlBase = map[string]time.Duration{}
	}
	var total time.Duration
	for _, t := range tasks {
		tid, _ := strconv.ParseInt(t.Name(), 10, 64)
		cpu := procCPU(pid + "/task/" + t.Name())
		base, seen := f.mysqlBase[t.Name()]
		if !seen {
			f.mysqlBase[t.Name()] = cpu
			base = cpu
		}
		if name, ok := conn[tid]; !ok || name == logDB {
			total += cpu - base
		}
	}
	return total
}

// mysqlCounters are MariaDB's server-wide statement and commit counters.
type mysqlCounters struct{ questions, commits int64 }

func mysqlStatus(tb testing.TB) mysqlCounters {
	dsn := os.Getenv("CHARTER_TEST_MYSQL")
	if dsn == "" {
		dsn = testenv.DefaultMySQL
	}
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	var c mysqlCounters
	rows, err := db.Query(`SHOW GLOBAL STATUS WHERE Variable_name IN ('Questions', 'Com_commit')`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var v int64
		if err := rows.Scan(&name, &v); err != nil {
			tb.Fatal(err)
		}
		if name == "Questions" {
			c.questions = v
		} else {
			c.commits = v
		}
	}
	return c
}

// mariadbPID finds the MariaDB server process.
func mariadbPID() string {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if c := string(cmd); strings.Contains(c, "mariadbd") || strings.Contains(c, "mysqld") {
			return e.Name()
		}
	}
	return ""
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

// sqlCount counts the statements sent on the connections it traces, by
// their text (a pgx.QueryTracer). It runs on the replicas' connections,
// in the CPU counted against them, so it only counts by the text as sent
// (the same string each time: no copy); report tidies the text.
type sqlCount struct {
	mu    sync.Mutex
	n     map[string]int // statements outside batches
	batch map[string]int // statements in batches
	trips int            // batches
}

func (c *sqlCount) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	c.mu.Lock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[d.SQL]++
	c.mu.Unlock()
	return ctx
}

func (c *sqlCount) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// A batch is one round trip: its statements are counted under "batch:".
func (c *sqlCount) TraceBatchStart(ctx context.Context, conn *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	c.mu.Lock()
	c.trips++
	c.mu.Unlock()
	return ctx
}

func (c *sqlCount) TraceBatchQuery(ctx context.Context, conn *pgx.Conn, d pgx.TraceBatchQueryData) {
	c.mu.Lock()
	if c.batch == nil {
		c.batch = map[string]int{}
	}
	c.batch[d.SQL]++
	c.mu.Unlock()
}

func (c *sqlCount) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// take returns the counts so far, by tidied text (batches as "(batch
// round trip)", statements in them under "batch: "), and starts again.
func (c *sqlCount) take() map[string]int {
	c.mu.Lock()
	n, batch, trips := c.n, c.batch, c.trips
	c.n, c.batch, c.trips = nil, nil, 0
	c.mu.Unlock()
	tidy := func(q string) string {
		q = strings.Join(strings.Fields(q), " ")
		if len(q) > 90 {
			q = q[:90]
		}
		return q
	}
	out := map[string]int{}
	for q, k := range n {
		out[tidy(q)] += k
	}
	for q, k := range batch {
		out[tidy("batch: "+q)] += k
	}
	if trips > 0 {
		out["(batch round trip)"] = trips
	}
	return out
}

// report logs the statements per grant, most frequent first, and returns
// the round trips per grant (statements outside batches, and batches).
func (c *sqlCount) report(b *testing.B, grants int, unit string) float64 {
	n := c.take()
	type kv struct {
		q string
		n int
	}
	var all []kv
	total := 0
	for q, k := range n {
		all = append(all, kv{q, k})
		if !strings.HasPrefix(q, "batch: ") {
			total += k
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n })
	for _, x := range all {
		b.Logf("%8.2f per %s  %s", float64(x.n)/float64(grants), unit, x.q)
	}
	return float64(total) / float64(grants)
}
