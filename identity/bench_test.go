package identity

import (
	"crypto/ed25519"
	"strconv"
	"testing"
	"time"
)

// BenchmarkVerify measures parsing and verifying a one-signature envelope
// (what an offline receipt check does) against the baseline of a bare
// ed25519.Verify of the same message. Baseline and envelope verification
// alternate in the same loop, so machine noise hits both alike; ns/op is
// their sum. It reports "verify-ns/op", "baseline-ns/op" and their ratio
// "x-ed25519" (1.0 would mean DSSE costs nothing beyond the signature check).
func BenchmarkVerify(b *testing.B) {
	for _, size := range []int{256, 4 << 10, 64 << 10} {
		b.Run(strconv.Itoa(size)+"B", func(b *testing.B) {
			k := testKey(b, 0)
			payload := make([]byte, size)
			for i := range payload {
				payload[i] = 'a' + byte(i%26)
			}
			env, err := Sign(testType, payload, k)
			if err != nil {
				b.Fatal(err)
			}
			js, _ := env.Marshal()
			msg := pae(testType, payload)
			sig := k.sign(msg)
			pub := k.Public()
			b.ReportAllocs()
			var base, ours time.Duration
			for b.Loop() {
				t0 := time.Now()
				if !ed25519.Verify(pub, msg, sig) {
					b.Fatal("baseline failed")
				}
				t1 := time.Now()
				e, err := ParseEnvelope(js)
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := Verify(e, testType); err != nil {
					b.Fatal(err)
				}
				t2 := time.Now()
				base += t1.Sub(t0)
				ours += t2.Sub(t1)
			}
			b.ReportMetric(float64(ours.Nanoseconds())/float64(b.N), "verify-ns/op")
			b.ReportMetric(float64(base.Nanoseconds())/float64(b.N), "baseline-ns/op")
			b.ReportMetric(float64(ours)/float64(base), "x-ed25519")
		})
	}
}
