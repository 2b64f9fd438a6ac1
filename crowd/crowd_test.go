package crowd

import (
	"slices"
	"testing"
	"time"
)

func TestResolved(t *testing.T) {
	got := Limits{UploadBytesDay: 0, GrantRequestsDay: -1, StatementsDay: 7, Nonces: 0}.Resolved()
	want := Limits{UploadBytesDay: DefaultUploadBytesDay, GrantRequestsDay: 0, StatementsDay: 7, Nonces: DefaultNonces}
	if got != want {
		t.Fatalf("Resolved = %+v, want %+v", got, want)
	}
	for r, v := range map[Resource]int64{Uploads: DefaultUploadBytesDay, GrantRequests: 0, Statements: 7, Nonces: DefaultNonces, "other": 0} {
		if got.Limit(r) != v {
			t.Errorf("Limit(%s) = %d, want %d", r, got.Limit(r), v)
		}
	}
}

func TestCharge(t *testing.T) {
	for _, c := range []struct {
		r    Resource
		n    int64
		want int64
	}{{Uploads, 1, UploadUnit}, {Uploads, 0, UploadUnit}, {Uploads, UploadUnit + 1, UploadUnit + 1}, {GrantRequests, 1, 1}, {Statements, 1, 1}} {
		if got := Charge(c.r, c.n); got != c.want {
			t.Errorf("Charge(%s, %d) = %d, want %d", c.r, c.n, got, c.want)
		}
	}
}

func TestProvenAndVouches(t *testing.T) {
	if (Facts{}).Proven() {
		t.Fatal("a key with no facts has standing")
	}
	for _, f := range []Facts{{Operator: true}, {Listed: true}, {Account: true}, {Earned: true}, {Vouched: true}} {
		if !f.Proven() {
			t.Errorf("%+v has no standing", f)
		}
	}
	owners := []string{"o1", "o2"}
	if got := Vouches("lic", true, owners); !slices.Equal(got, owners) {
		t.Errorf("a proven licensee vouches for %v, want the owners", got)
	}
	if got := Vouches("lic", false, owners); got != nil {
		t.Errorf("an unproven licensee vouches for %v", got)
	}
	if got := Vouches("o2", true, owners); got != nil {
		t.Errorf("an owner licensing its own asset vouches for %v", got)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2027, 3, 1, 23, 59, 30, 500, time.UTC)
	if got := RetryAfter(Uploads, now); got != 30*time.Second {
		t.Errorf("RetryAfter at 23:59:30.0000005 = %s, want 30s (the next UTC day)", got)
	}
	if got := RetryAfter(Nonces, now); got != NonceLife {
		t.Errorf("RetryAfter(nonces) = %s", got)
	}
	if CounterKey(Uploads) == StandingKey("unproven-pool") || CounterKey(Uploads) == CounterKey(Statements) {
		t.Error("counter names collide")
	}
}
