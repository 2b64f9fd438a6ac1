package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/client"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/crowd"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/httpsig"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/license"
	"github.com/charter-dev/charter/metering"
)

// noCrowdPool switches the pool of keys without standing off: benchmarks
// measure keys with standing, whose requests never touch the pool.
var noCrowdPool = crowd.Limits{UploadBytesDay: -1, GrantRequestsDay: -1, StatementsDay: -1, Nonces: -1}

// crowdFixture is a server with the given crowd pool, reached over HTTP.
type crowdFixture struct {
	*regFixture
	cfg Config
	c   *client.Client
}

func newCrowdFixture(t *testing.T, lim crowd.Limits, listed ...identity.DID) *crowdFixture {
	f := &crowdFixture{regFixture: &regFixture{t: t, dir: t.TempDir()}}
	f.cfg = Config{DataDir: f.dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), ScrubInterval: -1, SettleInterval: -1, Crowd: lim, ProvenKeys: listed}
	f.startCrowd()
	t.Cleanup(f.shutdown)
	return f
}

func (f *crowdFixture) startCrowd() {
	s, err := Open(context.Background(), f.cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	f.s, f.hs = s, httptest.NewServer(s.Handler())
	f.down = false
	f.c, _ = client.New(f.hs.URL)
}

func (f *crowdFixture) restart() {
	f.down = true
	f.hs.Close()
	if err := f.s.Close(); err != nil {
		f.t.Fatal(err)
	}
	f.startCrowd()
}

// putAs uploads b signed by k and returns the status and problem type.
func (f *crowdFixture) putAs(k *identity.Key, b []byte) (int, string, content.ID) {
	resp, body := uploadAs(f.t, f.hs, k, "", b)
	if resp.StatusCode != http.StatusCreated {
		return resp.StatusCode, problemKind(body), content.ID{}
	}
	var info BlobInfo
	json.Unmarshal(body, &info)
	id, _ := content.ParseID(info.ID)
	return resp.StatusCode, "", id
}

// mustPut uploads b as k.
func (f *crowdFixture) mustPut(k *identity.Key, b []byte) content.ID {
	code, kind, id := f.putAs(k, b)
	if code != http.StatusCreated {
		f.t.Fatalf("upload by %s: %d %s", k.DID(), code, kind)
	}
	return id
}

// registerAs registers content c owned by k under terms, answering the
// status and problem type.
func (f *crowdFixture) registerAs(k *identity.Key, c content.ID, name, terms string) (int, string, asset.ID) {
	m := f.manifest(c, name, []*identity.Key{k})
	m.License = terms
	env, err := m.Sign(k)
	if err != nil {
		f.t.Fatal(err)
	}
	code, a, body := f.post("/v1/assets", env)
	if code != http.StatusCreated && code != http.StatusOK {
		return code, problemKind(body), asset.ID{}
	}
	id, _ := asset.ParseID(a.Asset)
	return code, "", id
}

// grantAs asks for a research grant on a as k.
func (f *crowdFixture) grantAs(k *identity.Key, a asset.ID) (string, error) {
	ans, err := f.c.RequestGrant(context.Background(), k, a, "research", client.GrantOptions{})
	if err != nil {
		return "", err
	}
	if ans.Status != "granted" {
		return "", fmt.Errorf("grant %s", ans.Status)
	}
	return ans.Grant.ID.String(), nil
}

// moneyRead reads k's own earnings with a signed request (every signed
// request holds a nonce).
func (f *crowdFixture) moneyRead(k *identity.Key) (int, string, http.Header) {
	req, _ := http.NewRequest(http.MethodGet, f.hs.URL+"/v1/earnings?did="+k.DID().String(), nil)
	if err := httpsig.Sign(req, k, time.Now()); err != nil {
		f.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return resp.StatusCode, problemKind(b), resp.Header
	}
	return resp.StatusCode, "", resp.Header
}

// fund opens an account for did (the operator's approval), with amount.
func (f *crowdFixture) fund(did identity.DID, amount int64) {
	fd := &metering.Fund{Amount: amount, Created: asset.NewTime(time.Now()), Currency: "USD-4", From: "bank", Licensee: did, Nonce: grant.NewNonce()}
	env, err := fd.Sign(f.s.key)
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.c.Fund(context.Background(), env); err != nil {
		f.t.Fatal(err)
	}
}

// pooled is what the pool of r has handed out today.
func (f *crowdFixture) pooled(r crowd.Resource) int64 {
	n, err := f.s.cat.Counted(context.Background(), crowd.CounterKey(r), time.Now().UTC().Format(time.DateOnly))
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

func newKeys(t testing.TB, n int) []*identity.Key {
	ks := make([]*identity.Key, n)
	for i := range ks {
		k, err := identity.Generate()
		if err != nil {
			t.Fatal(err)
		}
		ks[i] = k
	}
	return ks
}

// TestCrowdOfFreshKeysBounded: 2,000 keys made on the spot hammer
// uploads, registrations, grant requests and signed reads. Together they
// get exactly what the pool of keys without standing allows, the refused
// ones leave no per-key rows, and meanwhile an honest owner (vouched for
// by a paying licensee's grant) and the licensee (whose account the
// operator funded) keep publishing, licensing and downloading without one
// failure. A restart does not refill the pool.
func TestCrowdOfFreshKeysBounded(t *testing.T) {
	const units = 30
	lim := crowd.Limits{UploadBytesDay: units * crowd.UploadUnit, GrantRequestsDay: units, StatementsDay: units, Nonces: 100_000}
	f := newCrowdFixture(t, lim)
	ctx := context.Background()
	owner, lic := newKeys(t, 1)[0], newKeys(t, 1)[0]
	f.fund(lic.DID(), 1_000_000)

	// The owner starts out without standing: its first upload and
	// registration come from the pool, and a grant to a licensee with
	// standing vouches for it.
	research := f.mustPut(owner, mustTerms(t, "research-only"))
	first := f.mustPut(owner, []byte("the owner's first corpus"))
	if code, kind, _ := f.registerAs(owner, first, "first", research.String()); code != http.StatusCreated {
		t.Fatalf("owner's first registration: %d %s", code, kind)
	}
	_, _, a := f.registerAs(owner, first, "first", research.String()) // answered again, not charged
	if a.String() == "" {
		t.Fatal("registration answered again with no asset")
	}
	if _, err := f.grantAs(lic, a); err != nil {
		t.Fatalf("licensee's grant: %v", err)
	}
	if ok, err := f.s.proven(ctx, owner.DID()); err != nil || !ok {
		t.Fatalf("owner not vouched for by a funded licensee's grant: %v %v", ok, err)
	}
	before := map[crowd.Resource]int64{}
	for _, r := range []crowd.Resource{crowd.Uploads, crowd.GrantRequests, crowd.Statements} {
		before[r] = f.pooled(r)
	}
	if before[crowd.Uploads] != 2*crowd.UploadUnit || before[crowd.Statements] != 1 || before[crowd.GrantRequests] != 0 {
		t.Fatalf("pool before the crowd: %v (want 2 uploads, 1 statement, no grant request)", before)
	}
	rowsBefore := operationalCount(t, f.s.cat, "upload_usage ")

	keys := newKeys(t, 2000)
	var ok, refused [4]atomic.Int64 // upload, register, grant, read
	other := map[string]int{}
	var omu sync.Mutex
	note := func(i int, code int, kind string) {
		switch {
		case code < 300:
			ok[i].Add(1)
		case code == http.StatusTooManyRequests && kind == "unproven-pool":
			refused[i].Add(1)
		default:
			omu.Lock()
			other[fmt.Sprintf("%d %d %s", i, code, kind)]++
			omu.Unlock()
		}
	}
	crowdDone := make(chan struct{})
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(keys) {
					return
				}
				k := keys[i]
				code, kind, id := f.putAs(k, []byte(fmt.Sprintf("crowd blob %d", i)))
				note(0, code, kind)
				if code == http.StatusCreated {
					code, kind, _ = f.registerAs(k, id, "crowd", "")
					note(1, code, kind)
				} else {
					// Register content already stored by someone else.
					code, kind, _ = f.registerAs(k, first, fmt.Sprintf("crowd %d", i), "")
					note(1, code, kind)
				}
				_, err := f.c.RequestGrant(ctx, k, a, "research", client.GrantOptions{})
				switch {
				case err == nil:
					ok[2].Add(1)
				case client.StatusCode(err) == http.StatusTooManyRequests && strings.Contains(err.Error(), "standing"):
					refused[2].Add(1)
				default:
					note(2, client.StatusCode(err), err.Error())
				}
				code, kind, _ = f.moneyRead(k)
				note(3, code, kind)
			}
		}()
	}
	// The honest parties work while the crowd runs.
	var honest []string
	go func() { wg.Wait(); close(crowdDone) }()
	for round := 0; ; round++ {
		c := f.mustPut(owner, []byte(fmt.Sprintf("honest corpus %d", round)))
		code, kind, na := f.registerAs(owner, c, fmt.Sprintf("corpus %d", round), research.String())
		if code != http.StatusCreated {
			honest = append(honest, fmt.Sprintf("owner's registration %d: %d %s", round, code, kind))
		} else if gid, err := f.grantAs(lic, na); err != nil {
			honest = append(honest, fmt.Sprintf("licensee's grant %d: %v", round, err))
		} else {
			var buf bytes.Buffer
			if _, err := f.c.WithGrant(lic, gid).Stream(ctx, c, &buf, nil); err != nil || buf.String() != fmt.Sprintf("honest corpus %d", round) {
				honest = append(honest, fmt.Sprintf("licensee's download %d: %v", round, err))
			}
		}
		if code, kind, _ := f.moneyRead(lic); code != http.StatusOK {
			honest = append(honest, fmt.Sprintf("licensee's money read %d: %d %s", round, code, kind))
		}
		select {
		case <-crowdDone:
		default:
			continue
		}
		if round < 3 {
			continue
		}
		break
	}
	if len(honest) > 0 {
		t.Fatalf("honest operations failed during the crowd: %v", honest)
	}
	if len(other) > 0 {
		t.Fatalf("crowd requests answered otherwise than served or 429 unproven-pool: %v", other)
	}
	t.Logf("crowd of %d keys: served uploads %d, registrations %d, grant requests %d, reads %d; refused %d %d %d %d",
		len(keys), ok[0].Load(), ok[1].Load(), ok[2].Load(), ok[3].Load(), refused[0].Load(), refused[1].Load(), refused[2].Load(), refused[3].Load())
	if got, want := ok[0].Load(), units-before[crowd.Uploads]/crowd.UploadUnit; got != want {
		t.Errorf("crowd uploads served: %d, want the pool's remaining %d", got, want)
	}
	if got, want := ok[1].Load(), units-before[crowd.Statements]; got != want {
		t.Errorf("crowd registrations served: %d, want the pool's remaining %d", got, want)
	}
	if got, want := ok[2].Load(), int64(units); got != want {
		t.Errorf("crowd grant requests served: %d, want %d", got, want)
	}
	if got := ok[3].Load(); got != int64(len(keys)) {
		t.Errorf("crowd signed reads served: %d, want all %d (the nonce pool is large here)", got, len(keys))
	}
	// Refused keys made no per-key rows: the counters grew by the served
	// uploads and grant requests only (a day row and a total row each).
	if rows := operationalCount(t, f.s.cat, "upload_usage "); rows-rowsBefore > 2*int(ok[0].Load()+ok[2].Load())+4 {
		t.Errorf("upload_usage grew by %d rows for %d served crowd requests", rows-rowsBefore, ok[0].Load()+ok[2].Load())
	}

	// The pool is kept across a restart.
	f.restart()
	late := newKeys(t, 1)[0]
	resp, body := uploadAs(t, f.hs, late, "", []byte("after the restart"))
	if resp.StatusCode != http.StatusTooManyRequests || problemKind(body) != "unproven-pool" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("fresh key's upload after a restart: %d %s Retry-After %q", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	f.mustPut(owner, []byte("the owner after the restart"))
}

// problemKind is the kind of a problem document (its type's last part).
func problemKind(b []byte) string { return strings.TrimPrefix(problemType(b), ProblemTypeBase) }

func mustTerms(t testing.TB, name string) []byte {
	tm, err := license.Template(name)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := tm.Encode()
	return b
}

// TestCrowdPoolEachBound holds every pooled resource both ways: keys
// without standing are served until the pool is drawn down and then get
// 429 unproven-pool with Retry-After, while a key the operator listed, a
// key whose account the operator opened (a deposit of 0) and the
// operator's own key are served as before; with the pool switched off
// (negative), keys without standing have their per-key bounds only.
func TestCrowdPoolEachBound(t *testing.T) {
	off := crowd.Limits{UploadBytesDay: -1, GrantRequestsDay: -1, StatementsDay: -1, Nonces: -1}
	n := 0
	uniq := func() []byte { n++; return []byte(fmt.Sprintf("bytes %d", n)) }
	type setup struct {
		a    asset.ID   // a research-only asset of a listed owner
		c    content.ID // its content
		f    *crowdFixture
		open bool
	}
	rows := []struct {
		r   crowd.Resource
		set func(*crowd.Limits, int64)
		act func(s *setup, k *identity.Key) (int, string, http.Header)
	}{
		{crowd.Uploads, func(l *crowd.Limits, v int64) { l.UploadBytesDay = v * crowd.UploadUnit }, func(s *setup, k *identity.Key) (int, string, http.Header) {
			resp, body := uploadAs(t, s.f.hs, k, "", uniq())
			return resp.StatusCode, problemKind(body), resp.Header
		}},
		{crowd.GrantRequests, func(l *crowd.Limits, v int64) { l.GrantRequestsDay = v }, func(s *setup, k *identity.Key) (int, string, http.Header) {
			req := &grant.Request{Asset: s.a, Created: asset.NewTime(time.Now()), Licensee: k.DID(), Nonce: grant.NewNonce(), Purpose: "research"}
			env, err := req.Sign(k)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := env.Marshal()
			return postRaw(t, s.f.hs.URL+"/v1/assets/"+s.a.String()+"/grants", raw)
		}},
		{crowd.Statements, func(l *crowd.Limits, v int64) { l.StatementsDay = v }, func(s *setup, k *identity.Key) (int, string, http.Header) {
			m := s.f.manifest(s.c, string(uniq()), []*identity.Key{k})
			env, err := m.Sign(k)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := env.Marshal()
			return postRaw(t, s.f.hs.URL+"/v1/assets", raw)
		}},
		{crowd.Nonces, func(l *crowd.Limits, v int64) { l.Nonces = v }, func(s *setup, k *identity.Key) (int, string, http.Header) {
			return s.f.moneyRead(k)
		}},
	}
	for _, row := range rows {
		for _, open := range []bool{false, true} {
			name := string(row.r)
			if open {
				name += "/off"
			}
			t.Run(name, func(t *testing.T) {
				lim := off
				if !open {
					row.set(&lim, 3)
				}
				listed := newKeys(t, 1)[0]
				f := newCrowdFixture(t, lim, listed.DID())
				s := &setup{f: f, open: open}
				s.c = f.mustPut(listed, []byte("listed owner's corpus"))
				terms := f.mustPut(listed, mustTerms(t, "research-only"))
				if code, kind, a := f.registerAs(listed, s.c, "corpus", terms.String()); code != http.StatusCreated {
					t.Fatalf("listed owner's registration: %d %s", code, kind)
				} else {
					s.a = a
				}
				funded := newKeys(t, 1)[0]
				f.fund(funded.DID(), 1)
				for i, k := range newKeys(t, 3) {
					if code, kind, _ := row.act(s, k); code >= 300 {
						t.Fatalf("fresh key %d within the pool: %d %s", i, code, kind)
					}
				}
				crowdKeys := newKeys(t, 5)
				for i, k := range crowdKeys {
					code, kind, h := row.act(s, k)
					switch {
					case open && code >= 300:
						t.Fatalf("pool off: fresh key %d refused: %d %s", i, code, kind)
					case !open && (code != http.StatusTooManyRequests || kind != "unproven-pool" || h.Get("Retry-After") == ""):
						t.Fatalf("fresh key %d past the pool: %d %s Retry-After %q, want 429 unproven-pool", i, code, kind, h.Get("Retry-After"))
					}
				}
				for who, k := range map[string]*identity.Key{"listed": listed, "funded": funded, "operator": f.s.key} {
					if row.r == crowd.GrantRequests && who == "listed" {
						continue // the owner itself (research-only grants to anyone else)
					}
					if code, kind, _ := row.act(s, k); code >= 300 && !(code == http.StatusForbidden && row.r == crowd.GrantRequests) {
						t.Fatalf("%s key past the pool: %d %s", who, code, kind)
					}
				}
			})
		}
	}
}

// postRaw posts a JSON body and answers the status, problem kind and
// headers.
func postRaw(t testing.TB, url string, raw []byte) (int, string, http.Header) {
	resp, err := http.Post(url, "application/json", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return resp.StatusCode, problemKind(b), resp.Header
	}
	return resp.StatusCode, "", resp.Header
}
