package metering

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"github.com/charter-dev/charter/internal/canonjson"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/charter-dev/charter/asset"
	"github.com/charter-dev/charter/content"
	"github.com/charter-dev/charter/grant"
	"github.com/charter-dev/charter/identity"
	"github.com/charter-dev/charter/license"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json")

func TestPrice(t *testing.T) {
	usd4 := func(m license.PriceModel, a int64) license.Price {
		return license.Price{Model: m, Currency: "USD", Amount: a, Exponent: 4}
	}
	for _, c := range []struct {
		name string
		p    license.Price
		q    Quantity
		want int64
		err  error
	}{
		{"free", license.Price{Model: license.Free}, Quantity{Bytes: 1 << 40, Tokens: 5}, 0, nil},
		{"tokens exact", usd4(license.Per1kTokens, 20), Quantity{Tokens: 1000}, 20, nil},
		{"tokens round up", usd4(license.Per1kTokens, 20), Quantity{Tokens: 1_234_567}, 24692, nil},
		{"tokens one", usd4(license.Per1kTokens, 20), Quantity{Tokens: 1}, 1, nil},
		{"tokens zero", usd4(license.Per1kTokens, 20), Quantity{Bytes: 5}, 0, nil},
		{"gib exact", usd4(license.PerGiB, 500), Quantity{Bytes: 3 << 30}, 1500, nil},
		{"gib one byte", usd4(license.PerGiB, 500), Quantity{Bytes: 1}, 1, nil},
		{"gib half", usd4(license.PerGiB, 3), Quantity{Bytes: 1 << 29}, 2, nil}, // 1.5 -> 2
		{"request", usd4(license.PerRequest, 7), Quantity{Requests: 3, Tokens: 9}, 21, nil},
		{"run", usd4(license.PerTrainingRun, 500000), Quantity{Runs: 2}, 1_000_000, nil},
		{"flat", usd4(license.Flat, 999), Quantity{Grants: 1, Bytes: 9}, 999, nil},
		{"overflow", usd4(license.PerTrainingRun, math.MaxInt64), Quantity{Runs: 2}, 0, ErrOverflow},
		{"max fits", usd4(license.PerTrainingRun, math.MaxInt64), Quantity{Runs: 1}, math.MaxInt64, nil},
		{"huge tokens", usd4(license.Per1kTokens, math.MaxInt64), Quantity{Tokens: MaxQuantity}, 0, ErrOverflow},
		{"negative", usd4(license.Per1kTokens, 20), Quantity{Tokens: -1}, 0, ErrQuantity},
	} {
		got, err := Price(c.p, c.q)
		if !errors.Is(err, c.err) || got != c.want {
			t.Errorf("%s: Price = %d, %v; want %d, %v", c.name, got, err, c.want, c.err)
		}
	}
}

func TestAcceptWindow(t *testing.T) {
	k, _ := identity.Generate()
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	g := &grant.Grant{ID: grant.StatementID([]byte("g")), Licensee: k.DID(), NotBefore: asset.NewTime(start), NotAfter: asset.NewTime(start.Add(30 * 24 * time.Hour))}
	end := g.NotAfter.Time()
	u := func(at time.Time) *Usage {
		return &Usage{Grant: g.ID, ID: "x", Licensee: k.DID(), Time: asset.NewTime(at), Tokens: 1}
	}
	for _, c := range []struct {
		name    string
		at, now time.Time
		revoked bool
		err     error
	}{
		{"within", start.Add(time.Hour), start.Add(2 * time.Hour), false, nil},
		{"late, within window", end.Add(-time.Hour), end.Add(6 * 24 * time.Hour), false, nil},
		{"late, window closed", end.Add(-time.Hour), end.Add(LateWindow + time.Second), false, ErrGrantExpired},
		{"dated after expiry", end.Add(time.Hour), end.Add(2 * time.Hour), false, ErrGrantExpired},
		{"dated before grant", start.Add(-time.Hour), start.Add(time.Hour), false, ErrGrantExpired},
		{"future", start.Add(time.Hour), start, false, ErrGrantExpired},
		{"revoked", start.Add(time.Hour), start.Add(2 * time.Hour), true, ErrGrantRevoked},
	} {
		if err := Accept(u(c.at), g, c.revoked, c.now); !errors.Is(err, c.err) {
			t.Errorf("%s: %v, want %v", c.name, err, c.err)
		}
	}
	other, _ := identity.Generate()
	x := u(start.Add(time.Hour))
	x.Licensee = other.DID()
	if err := Accept(x, g, false, start.Add(2*time.Hour)); !errors.Is(err, ErrInvalid) {
		t.Errorf("another licensee: %v", err)
	}
}

func TestAmounts(t *testing.T) {
	for _, c := range []struct {
		s, cur string
		want   int64
		ok     bool
	}{
		{"10", "USD-4", 100000, true},
		{"2.4692", "USD-4", 24692, true},
		{"0.5", "USD-2", 50, true},
		{"7", "JPY", 7, true},
		{"1.5", "JPY", 0, false},
		{"1.23456", "USD-4", 0, false},
		{"-1", "USD-4", 0, false},
		{"1.", "USD-4", 0, false},
		{".5", "USD-4", 0, false},
		{"1e3", "USD", 0, false},
		{"922337203685477.5808", "USD-4", 0, false},
		{"922337203685477.5807", "USD-4", math.MaxInt64, true},
		{"1", "usd-0", 0, false},
		{"1", "USD-01", 0, false},
	} {
		got, err := ParseAmount(c.s, c.cur)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseAmount(%q, %q) = %d, %v", c.s, c.cur, got, err)
		}
		if c.ok && c.cur != "JPY" {
			if f := FormatAmount(got, c.cur); f != c.s && strings.TrimRight(f, "0") != strings.TrimRight(c.s, "0") && !strings.HasPrefix(f, c.s) {
				t.Errorf("FormatAmount(%d, %s) = %s", got, c.cur, f)
			}
		}
	}
	if f := FormatAmount(-5, "USD-4"); f != "-0.0005" {
		t.Errorf("FormatAmount(-5) = %s", f)
	}
}

// vectorKey is the fixed key of the test vectors (identity/testdata/seed0.key's seed is all zeros).
func vectorKey(t testing.TB) *identity.Key {
	k, err := identity.NewKeyFromSeed(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

type vector struct {
	Name        string          `json:"name"`
	PayloadType string          `json:"payloadType"`
	Payload     string          `json:"payload"` // canonical JSON
	ID          string          `json:"id"`      // statement id: CIDv1 raw blake3 of the payload
	Envelope    json.RawMessage `json:"envelope"`
}

func vectorStatements(t testing.TB) []struct {
	name string
	env  func() (*identity.Envelope, error)
} {
	k := vectorKey(t)
	at := asset.NewTime(time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC))
	gid := grant.StatementID([]byte("example grant"))
	aid := grant.StatementID([]byte("example asset"))
	cid := content.IDFromDigest([32]byte{1})
	return []struct {
		name string
		env  func() (*identity.Envelope, error)
	}{
		{"usage", func() (*identity.Envelope, error) {
			return (&Usage{Calls: 3, Grant: gid, ID: "ev-1", Licensee: k.DID(), Time: at, Tokens: 1234567}).Sign(k)
		}},
		{"receipt", func() (*identity.Envelope, error) {
			return (&Receipt{Asset: aid, Bytes: 300000, Ended: at, Grant: gid, Issuer: k.DID(), Licensee: k.DID(), Part: 1, Requests: 5,
				Ranges: []Range{{Content: cid, Offset: 0, Length: 300000}}, Session: "0123456789abcdef", Started: at}).Sign(k)
		}},
		{"dispute", func() (*identity.Envelope, error) {
			return (&Dispute{Asset: aid, Created: at, Nonce: "00112233445566778899aabbccddeeff", Opener: k.DID(), Reason: "contributor missing"}).Sign(k)
		}},
		{"dispute-resolution", func() (*identity.Envelope, error) {
			return (&Resolution{Asset: aid, Created: at, Dispute: gid, Outcome: Release}).Sign(k)
		}},
	}
}

// TestVectors checks the statement vectors in testdata/vectors.json: the
// canonical payload, its id, and a verifying envelope (Ed25519 signatures
// are deterministic). Run with -update to rewrite them.
func TestVectors(t *testing.T) {
	k := vectorKey(t)
	var got []vector
	for _, s := range vectorStatements(t) {
		env, err := s.env()
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		_, payload, err := identity.Verify(env, env.PayloadType)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := env.Marshal()
		got = append(got, vector{Name: s.name, PayloadType: env.PayloadType, Payload: string(payload), ID: grant.StatementID(payload).String(), Envelope: raw})
	}
	b, _ := json.MarshalIndent(got, "", "  ")
	if *update {
		os.WriteFile("testdata/vectors.json", append(b, '\n'), 0o644)
	}
	want, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []vector
	if err := json.Unmarshal(want, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) != len(got) {
		t.Fatalf("%d vectors, want %d", len(vs), len(got))
	}
	for i, v := range vs {
		env, err := identity.ParseEnvelope(v.Envelope)
		if err != nil {
			t.Fatalf("%s: %v", v.Name, err)
		}
		var id asset.ID
		switch v.Name {
		case "usage":
			_, id, err = OpenUsage(env)
		case "receipt":
			_, id, err = OpenReceipt(env)
		case "dispute":
			_, id, err = OpenDispute(env)
		case "dispute-resolution":
			var signers []identity.DID
			_, signers, id, err = OpenResolution(env)
			if err == nil && (len(signers) != 1 || signers[0] != k.DID()) {
				t.Errorf("resolution signers %v", signers)
			}
		}
		if err != nil || id.String() != v.ID {
			t.Errorf("%s: id %s, %v; want %s", v.Name, id, err, v.ID)
		}
		var a, b bytes.Buffer
		json.Compact(&a, v.Envelope)
		json.Compact(&b, got[i].Envelope)
		if v.Payload != got[i].Payload || !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%s: encoding changed\n got %s\nwant %s", v.Name, got[i].Payload, v.Payload)
		}
	}
}

func TestStrictParsing(t *testing.T) {
	k := vectorKey(t)
	u := &Usage{Grant: grant.StatementID([]byte("g")), ID: "ev-1", Licensee: k.DID(), Time: asset.NewTime(time.Unix(1700000000, 0)), Tokens: 5}
	good, _ := canonjson.Marshal(u)
	for name, p := range map[string]string{
		"spaces":        strings.Replace(string(good), ",", ", ", 1),
		"unknown field": strings.Replace(string(good), `{"calls"`, `{"bonus":1,"calls"`, 1),
		"trailing":      string(good) + "{}",
		"float":         strings.Replace(string(good), `"tokens":5`, `"tokens":5.0`, 1),
		"bad id":        strings.Replace(string(good), `"ev-1"`, `"ev 1"`, 1),
		"all zero":      strings.Replace(string(good), `"tokens":5`, `"tokens":0`, 1),
	} {
		env, _ := identity.Sign(identity.PayloadType(KindUsage), []byte(p), k)
		if _, _, err := OpenUsage(env); err == nil {
			t.Errorf("%s: accepted %s", name, p)
		}
	}
	env, _ := identity.Sign(identity.PayloadType(KindUsage), good, k)
	if _, _, err := OpenUsage(env); err != nil {
		t.Fatalf("canonical payload refused: %v", err)
	}
	// Signed by someone else than the licensee.
	other, _ := identity.Generate()
	env, _ = identity.Sign(identity.PayloadType(KindUsage), good, other)
	if _, _, err := OpenUsage(env); !errors.Is(err, ErrInvalid) {
		t.Errorf("foreign signature: %v", err)
	}
}

// FuzzOpenUsage feeds arbitrary payloads, signed, to every statement
// parser of the package: accepted payloads are canonical and valid.
func FuzzOpenUsage(f *testing.F) {
	k := vectorKey(f)
	for _, s := range vectorStatements(f) {
		env, _ := s.env()
		_, p, _ := identity.Verify(env, env.PayloadType)
		f.Add(p)
	}
	f.Add([]byte(`{"calls":0,"grant":"x","id":"a","licensee":"y","runs":0,"time":"2026-01-01T00:00:00Z","tokens":-1}`))
	f.Fuzz(func(t *testing.T, p []byte) {
		for _, kind := range []string{KindUsage, KindReceipt, KindDispute, KindResolution, KindFund, KindWithdrawal} {
			env, err := identity.Sign(identity.PayloadType(kind), p, k)
			if err != nil {
				return
			}
			var v interface{ Validate() error }
			switch kind {
			case KindUsage:
				var u *Usage
				if u, _, err = OpenUsage(env); err == nil {
					v = u
				}
			case KindReceipt:
				var r *Receipt
				if r, _, err = OpenReceipt(env); err == nil {
					v = r
				}
			case KindDispute:
				var d *Dispute
				if d, _, err = OpenDispute(env); err == nil {
					v = d
				}
			case KindResolution:
				var r *Resolution
				if r, _, _, err = OpenResolution(env); err == nil {
					v = r
				}
			case KindFund:
				var x *Fund
				if x, _, _, err = OpenFund(env); err == nil {
					v = x
				}
			case KindWithdrawal:
				var w *Withdrawal
				if w, _, err = OpenWithdrawal(env); err == nil {
					v = w
				}
			}
			if err != nil {
				continue
			}
			// Accepted: canonical, valid, and priced without panicking.
			c, _ := canonjson.Marshal(v)
			if !bytes.Equal(c, p) {
				t.Fatalf("accepted a non-canonical payload %q", p)
			}
			if u, ok := v.(*Usage); ok {
				if u.Tokens < 0 || u.Tokens > MaxQuantity {
					t.Fatalf("accepted tokens %d", u.Tokens)
				}
				Price(license.Price{Model: license.Per1kTokens, Amount: math.MaxInt64}, Quantity{Tokens: u.Tokens, Requests: u.Calls, Runs: u.Runs})
			}
		}
	})
}

func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"10", "2.4692", "0.0001", "-1", "1e9", "922337203685477.5807", ".", "00.10"} {
		f.Add(s, "USD-4")
	}
	f.Add("5", "JPY")
	f.Fuzz(func(t *testing.T, s, cur string) {
		v, err := ParseAmount(s, cur)
		if err != nil {
			return
		}
		if v < 0 {
			t.Fatalf("ParseAmount(%q, %q) = %d", s, cur, v)
		}
		back, err := ParseAmount(FormatAmount(v, cur), cur)
		if err != nil || back != v {
			t.Fatalf("round trip of %d in %s: %q -> %d, %v", v, cur, FormatAmount(v, cur), back, err)
		}
	})
}

// A dispute reason is read by owners and the operator: it may not carry
// bidirectional controls or invisible characters.
func TestDisputeReasonDisplaysAsItself(t *testing.T) {
	at := asset.NewTime(time.Unix(1_800_000_000, 0))
	k := vectorKey(t)
	aid := grant.StatementID([]byte("example asset"))
	for _, tc := range []struct {
		reason string
		ok     bool
	}{
		{"contributor missing", true},
		{"line one\nline two", true},
		{"paid \u202e001 EUR", false},
		{"ok\u200b", false},
	} {
		d := &Dispute{Asset: aid, Created: at, Nonce: "00112233445566778899aabbccddeeff", Opener: k.DID(), Reason: tc.reason}
		err := d.Validate()
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, ErrInvalid)) {
			t.Errorf("reason %q: %v, want ok=%v", tc.reason, err, tc.ok)
		}
	}
}
