package asset

import (
	"strconv"
	"testing"
	"time"

	"github.com/charter-dev/charter/identity"
)

// BenchmarkApply measures Apply on a proposal with n approvals against the
// baseline of bare identity.Verify calls on the same n+1 envelopes (the
// signature checks Apply cannot avoid), alternating in one loop. It reports
// "x-verify", the ratio: what parsing, binding and the rules add.
func BenchmarkApply(b *testing.B) {
	for _, n := range []int{1, 3, 7} {
		b.Run(strconv.Itoa(n)+"-approvals", func(b *testing.B) {
			var keys []*identity.Key
			m := manifest(b, "bench")
			m.Owners = nil
			for i := range n + 1 {
				k := key(b, byte(i))
				keys = append(keys, k)
				m.Owners = append(m.Owners, Owner{k.DID(), 1})
			}
			m.Threshold = int64(n + 1)
			s, err := NewState(m)
			if err != nil {
				b.Fatal(err)
			}
			p := &Proposal{Asset: s.Asset, Change: Change{Kind: Delist}, Expires: NewTime(t0.Add(time.Hour)), Nonce: "b", Proposer: keys[0].DID(), Version: 1}
			penv, _ := p.Sign(keys[0])
			var apps []*identity.Envelope
			for _, k := range keys[1:] {
				a, _ := NewApproval(p, k.DID())
				env, _ := a.Sign(k)
				apps = append(apps, env)
			}
			now := t0.Add(time.Minute)
			var base, ours time.Duration
			for b.Loop() {
				t1 := time.Now()
				identity.Verify(penv, penv.PayloadType)
				for _, e := range apps {
					identity.Verify(e, e.PayloadType)
				}
				t2 := time.Now()
				if _, st, err := Apply(s, penv, apps, now); err != nil || st != Applied {
					b.Fatal(st, err)
				}
				t3 := time.Now()
				base += t2.Sub(t1)
				ours += t3.Sub(t2)
			}
			b.ReportMetric(float64(ours.Nanoseconds())/float64(b.N), "apply-ns/op")
			b.ReportMetric(float64(base.Nanoseconds())/float64(b.N), "baseline-ns/op")
			b.ReportMetric(float64(ours)/float64(base), "x-verify")
		})
	}
}

// BenchmarkCheckRegistration measures a registration whose parent has a
// lineage of MaxAncestors-1 ancestors (the worst case the limit allows)
// against the baseline of walking the same map without the rules.
func BenchmarkCheckRegistration(b *testing.B) {
	reg := registry{}
	var prev *State
	for i := range MaxAncestors {
		m := manifest(b, "c"+strconv.Itoa(i))
		if prev != nil {
			m.Parents = []Parent{{Asset: prev.Asset}}
		}
		prev = reg.add(b, m)
	}
	m := manifest(b, "child")
	m.Parents = []Parent{{Asset: prev.Asset}}
	signers := []identity.DID{key(b, 0).DID(), key(b, 1).DID()}
	var base, ours time.Duration
	for b.Loop() {
		t1 := time.Now()
		n := 0
		for id := prev.Asset; ; n++ {
			s := reg[id]
			if len(s.Manifest.Parents) == 0 {
				break
			}
			id = s.Manifest.Parents[0].Asset
		}
		t2 := time.Now()
		if err := CheckRegistration(m, signers, reg.lookup); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		base += t2.Sub(t1)
		ours += t3.Sub(t2)
	}
	b.ReportMetric(float64(ours.Nanoseconds())/float64(b.N), "check-ns/op")
	b.ReportMetric(float64(base.Nanoseconds())/float64(b.N), "baseline-ns/op")
	b.ReportMetric(float64(ours)/float64(base), "x-walk")
}
