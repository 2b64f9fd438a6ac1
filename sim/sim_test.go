package sim

import (
	"context"
	"flag"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	flagSeed     = flag.Uint64("sim.seed", 0, "run only this seed (reproduces a failure exactly)")
	flagSeeds    = flag.Int("sim.seeds", 3, "number of seeds to run, starting at sim.first")
	flagFirst    = flag.Uint64("sim.first", 1, "first seed when running sim.seeds seeds")
	flagSteps    = flag.Int("sim.steps", 40, "steps per seed")
	flagDuration = flag.Duration("sim.duration", 0, "run seeds one after another for this long (overrides sim.seeds)")
	flagKill     = flag.Int("sim.kill", 12, "steps of the kill -9 loop against a built charter binary (0 skips it)")
	flagStrict   = flag.Bool("sim.strict", false, "fail on known failures too")
	flagVerbose  = flag.Bool("sim.v", false, "log every violation as it is found")
	flagSkip     = flag.String("sim.skip", "", "comma-separated operations not to run (e.g. grant-retry,adv-dup-grant)")
)

func skipped() []string {
	if *flagSkip == "" {
		return nil
	}
	return strings.Split(*flagSkip, ",")
}

// TestSimulation runs the in-process simulation over a fixed budget of
// seeds (CI), or for -sim.duration, or one -sim.seed.
func TestSimulation(t *testing.T) {
	seeds := []uint64{}
	switch {
	case *flagSeed != 0:
		seeds = append(seeds, *flagSeed)
	case *flagDuration == 0:
		for i := range *flagSeeds {
			seeds = append(seeds, *flagFirst+uint64(i))
		}
	}
	var deadline time.Time
	if *flagDuration > 0 {
		deadline = time.Now().Add(*flagDuration)
	}
	ran, steps := 0, 0
	for i := 0; ; i++ {
		var seed uint64
		switch {
		case i < len(seeds):
			seed = seeds[i]
		case !deadline.IsZero() && time.Now().Before(deadline):
			seed = *flagFirst + uint64(i)
		default:
			t.Logf("simulation: %d seeds, %d steps in all", ran, steps)
			return
		}
		res := runSeed(t, Config{Seed: seed, Steps: *flagSteps, Deadline: deadline, Skip: skipped()}, knownInProcess)
		ran++
		steps += res.Steps
	}
}

// TestKill9 builds the charter binary and runs a short simulation against
// `charter serve`, restarting it with SIGKILL at random points.
func TestKill9(t *testing.T) {
	if *flagKill == 0 || testing.Short() {
		t.Skip("kill -9 loop disabled (-sim.kill=0 or -short)")
	}
	if runtime.GOOS == "windows" {
		t.Skip("needs SIGKILL")
	}
	bin := filepath.Join(t.TempDir(), "charter")
	build := exec.Command("go", "build", "-o", bin, "./cmd/charter")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building charter: %v\n%s", err, out)
	}
	seed := *flagFirst
	if *flagSeed != 0 {
		seed = *flagSeed
	}
	res := runSeed(t, Config{Seed: seed, Steps: *flagKill, Binary: bin, Skip: skipped()}, knownKill)
	t.Logf("kill -9 loop: seed %d, %d steps, %d kills", seed, res.Steps, res.Restarts-1)
}

// runSeed runs one seed and reports its violations: unknown ones fail the
// test, known ones are logged.
func runSeed(t *testing.T, cfg Config, known []knownFailure) *Result {
	t.Helper()
	cfg.Dir = t.TempDir()
	if *flagVerbose {
		cfg.Logf = t.Logf
	}
	res, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("seed %d: the harness failed at step %d: %v", cfg.Seed, res.Steps, err)
	}
	seen := map[Invariant]int{}
	for _, v := range res.Violations {
		seen[v.Invariant]++
		if k, ok := knownMatch(known, v); ok && !*flagStrict {
			if seen[v.Invariant] <= 3 {
				t.Logf("known failure (%s): %s", k.Why, v)
			}
			continue
		}
		t.Errorf("%s\nreproduce: go test ./sim -run '%s' -sim.seed %d -sim.steps %d", v, t.Name(), cfg.Seed, cfg.Steps)
	}
	var counts []string
	for inv, n := range seen {
		counts = append(counts, string(inv)+"="+strconv.Itoa(n))
	}
	t.Logf("seed %d: %d steps, %d restarts, violations {%s}; log entries %v, settlement roots checked %d; ops: %s",
		cfg.Seed, res.Steps, res.Restarts, strings.Join(counts, " "), res.LogEntries, res.SettlementRoots, res.Summary())
	return res
}
