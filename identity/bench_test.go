package identity

import (
	"crypto/ed25519"
	"testing"
	"time"
)

// BenchmarkVerify measures parsing and verifying a one-signature envelope
// (what an offline receipt check does) against the baseline of a bare
// ed25519.Verify of the same message, run in the same process. It reports
// the ratio as "x-ed25519" (1.0 would mean DSSE costs nothing extra).
func BenchmarkVerify(b *testing.B) {
	for _, size := range []int{256, 4 << 10} {
		b.Run(byteSize(size), func(b *testing.B) {
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
			base := testing.Benchmark(func(b *testing.B) {
				for b.Loop() {
					if !ed25519.Verify(pub, msg, sig) {
						b.Fatal("baseline failed")
					}
				}
			})
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			n := 0
			for b.Loop() {
				e, err := ParseEnvelope(js)
				if err != nil {
					b.Fatal(err)
				}
				if _, _, err := Verify(e, testType); err != nil {
					b.Fatal(err)
				}
				n++
			}
			ours := float64(time.Since(start).Nanoseconds()) / float64(n)
			b.ReportMetric(float64(base.NsPerOp()), "baseline-ns/op")
			b.ReportMetric(ours/float64(base.NsPerOp()), "x-ed25519")
		})
	}
}

func byteSize(n int) string {
	if n >= 1<<10 {
		return itoa(n>>10) + "KiB"
	}
	return itoa(n) + "B"
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
