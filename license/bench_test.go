package license

import (
	"slices"
	"testing"
	"time"
)

// benchRequests are varied requests under the "full" terms (every kind of
// restriction compiled), allowed and denied.
func benchRequests(b *testing.B) (*Terms, []Request) {
	tm, err := Parse([]byte(validDoc()))
	if err != nil {
		b.Fatal(err)
	}
	var rs []Request
	for i, lic := range []string{alice, bob, didKey("carol")} {
		for j, p := range Purposes() {
			r := baseRequest()
			r.Licensee, r.Purpose = lic, p
			r.Commercial, r.Derivative = j%2 == 0, j%3 == 0
			r.Territory = poolTerritory[(i+j)%len(poolTerritory)]
			if i == 1 {
				r.Organisations, r.Organisation = []string{"acme", "globex"}, "acme"
			}
			r.Time = t0.Add(time.Duration(i*j) * 24 * time.Hour)
			rs = append(rs, r)
		}
	}
	return tm, rs
}

func percentile(d []time.Duration, p float64) float64 {
	s := slices.Clone(d)
	slices.Sort(s)
	return float64(s[int(float64(len(s)-1)*p)].Nanoseconds())
}

// BenchmarkDecide measures one policy decision (Decide: cache lookup by
// terms hash, request validation, Cedar evaluation, reasons) and, in the
// same run, the plain Go reference evaluator (request validation plus
// refDecideValid) as the baseline. It reports p50/p99 of both and the
// ratios; the target is p99 <= 1 ms.
func BenchmarkDecide(b *testing.B) {
	tm, rs := benchRequests(b)
	valid := tm.Clone()
	if err := valid.Validate(); err != nil {
		b.Fatal(err)
	}
	if _, err := Decide(tm, rs[0]); err != nil { // warm the cache
		b.Fatal(err)
	}
	cedarT := make([]time.Duration, 0, b.N)
	refT := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := rs[i%len(rs)]
		start := time.Now()
		d, err := Decide(tm, r)
		cedarT = append(cedarT, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}

		start = time.Now()
		rr := r
		if err := rr.normalize(); err != nil {
			b.Fatal(err)
		}
		e, _ := refDecideValid(valid, rr)
		refT = append(refT, time.Since(start))
		if e != d.Effect {
			b.Fatalf("cedar %s, reference %s", d.Effect, e)
		}
	}
	b.StopTimer()
	p50, p99 := percentile(cedarT, 0.50), percentile(cedarT, 0.99)
	r50, r99 := percentile(refT, 0.50), percentile(refT, 0.99)
	b.ReportMetric(p50, "p50-ns")
	b.ReportMetric(p99, "p99-ns")
	b.ReportMetric(r50, "ref-p50-ns")
	b.ReportMetric(r99, "ref-p99-ns")
	b.ReportMetric(p50/r50, "p50-x-ref")
	b.ReportMetric(p99/r99, "p99-x-ref")
}

// pair times f and g alternately b.N times each and reports the p50 and
// p99 of both (as <fname>-p50-ns ...) and the ratio of the medians. Medians
// are reported rather than means because on a shared 2-core machine the
// mean follows the load of other processes, the median does not.
func pair(b *testing.B, fname string, f func(i int), gname string, g func(i int)) {
	ft := make([]time.Duration, 0, b.N)
	gt := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		f(i)
		mid := time.Now()
		g(i)
		gt = append(gt, time.Since(mid))
		ft = append(ft, mid.Sub(start))
	}
	b.StopTimer()
	f50, g50 := percentile(ft, 0.5), percentile(gt, 0.5)
	b.ReportMetric(f50, fname+"-p50-ns")
	b.ReportMetric(percentile(ft, 0.99), fname+"-p99-ns")
	b.ReportMetric(g50, gname+"-p50-ns")
	b.ReportMetric(percentile(gt, 0.99), gname+"-p99-ns")
	b.ReportMetric(f50/g50, fname+"-x-"+gname)
}

// BenchmarkDecideCompiled is Decide on an already compiled policy set (no
// cache lookup, no terms encoding), against the reference evaluator.
func BenchmarkDecideCompiled(b *testing.B) {
	tm, rs := benchRequests(b)
	c, err := Compile(tm)
	if err != nil {
		b.Fatal(err)
	}
	pair(b, "cedar", func(i int) {
		if _, err := c.Decide(rs[i%len(rs)]); err != nil {
			b.Fatal(err)
		}
	}, "ref", func(i int) {
		r := rs[i%len(rs)]
		_ = r.normalize()
		refDecideValid(c.Terms, r)
	})
}

// BenchmarkCompile is the cost the cache saves: compiling and parsing the
// policy text of the full terms, against a cached Decide in the same run.
func BenchmarkCompile(b *testing.B) {
	tm, rs := benchRequests(b)
	pair(b, "compile", func(int) {
		if _, err := Compile(tm); err != nil {
			b.Fatal(err)
		}
	}, "decide", func(i int) {
		if _, err := Decide(tm, rs[i%len(rs)]); err != nil {
			b.Fatal(err)
		}
	})
}

// BenchmarkRecord is a decision with its verifiable record (canonical
// encodings, four SHA-256 and BLAKE3 pairs, entities parsed from JSON),
// against a bare Decide in the same run.
func BenchmarkRecord(b *testing.B) {
	tm, rs := benchRequests(b)
	pair(b, "record", func(i int) {
		if _, _, err := Record(tm, rs[i%len(rs)]); err != nil {
			b.Fatal(err)
		}
	}, "decide", func(i int) {
		if _, err := Decide(tm, rs[i%len(rs)]); err != nil {
			b.Fatal(err)
		}
	})
}
