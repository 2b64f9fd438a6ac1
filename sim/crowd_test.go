package sim

import "testing"

// TestSimulationCrowd runs the simulation with the crowd of fresh keys
// (crowd.go): a small pool for keys without standing, the adversary's
// adv-crowd step, honest parties the operator gave standing. The crowd
// must get no more than the pool (crowd-bounded) and no honest step may
// fail (honest-blocked). -sim.seed, -sim.steps and -sim.seeds apply;
// by default one seed of 40 steps.
func TestSimulationCrowd(t *testing.T) {
	seeds := []uint64{*flagFirst}
	if *flagSeed != 0 {
		seeds = []uint64{*flagSeed}
	}
	for _, seed := range seeds {
		res := runSeed(t, Config{Seed: seed, Steps: *flagSteps, Crowd: true, Skip: skipped()}, knownInProcess)
		if res.Ops["adv-crowd"] == 0 && res.Steps >= 20 {
			t.Errorf("seed %d: %d steps and no adv-crowd step", seed, res.Steps)
		}
	}
}
