package sim

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSimulation runs the conversation through many seeded schedules and fails on any
// broken promise, with the command that replays the failing seed and its schedule shrunk
// to the actions it needs.
//
//	SIM_SEEDS   how many seeds (default 300; make test-sim runs 5000)
//	SIM_FIRST   the first seed (default 1)
//	SIM_TIME    how long each schedule runs before the world settles (default 2h)
//	SIM_SEED    run only this seed, with its trace (and SIM_KEEP: only these actions)
//	SIM_SAVE    a folder (e.g. sim/testdata/kept) to save each failing schedule in, shrunk
//	SIM_KEPT    replay this kept schedule file with its trace
//	SIM_SAVE_AS with SIM_SEED: save the replayed schedule as this kept file (SIM_ABOUT its comment)
func TestSimulation(t *testing.T) {
	length := DefaultLength
	if v := os.Getenv("SIM_TIME"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("SIM_TIME: %v", err)
		}
		length = d
	}
	if v := os.Getenv("SIM_SEED"); v != "" {
		replayOne(t, v, length)
		return
	}
	if v := os.Getenv("SIM_KEPT"); v != "" {
		k := readKept(t, v)
		t.Logf("%s\nschedule:\n%s", k.About, describeSteps(k.Steps))
		r := Run(Options{Seed: k.Seed, Length: k.Length, Actions: k.Steps, Trace: os.Stdout})
		for _, v := range r.Violations {
			t.Error(v)
		}
		return
	}
	seeds := envInt(t, "SIM_SEEDS", 300)
	if testing.Short() && os.Getenv("SIM_SEEDS") == "" {
		seeds = 60
	}
	first := envInt(t, "SIM_FIRST", 1)
	start := time.Now()
	reports := make([]*Report, seeds)
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				reports[i] = Run(Options{Seed: uint64(first + i), Length: length})
			}
		}()
	}
	for i := range seeds {
		next <- i
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(start)
	var simulated time.Duration
	failing := map[string][]*Report{}
	for _, r := range reports {
		simulated += r.Stats.SimulatedTime
		seen := map[string]bool{}
		for _, v := range r.Violations {
			if !seen[v.Invariant] {
				seen[v.Invariant] = true
				failing[v.Invariant] = append(failing[v.Invariant], r)
			}
		}
	}
	t.Logf("%d seeds of %s in %s: %.1f seeds/s (%.0f simulated hours per second)", seeds, length, elapsed.Round(time.Millisecond),
		float64(seeds)/elapsed.Seconds(), simulated.Hours()/elapsed.Seconds())
	if len(failing) == 0 {
		return
	}
	var invariants []string
	for k := range failing {
		invariants = append(invariants, k)
	}
	sort.Strings(invariants)
	for _, inv := range invariants {
		rs := failing[inv]
		r := rs[0]
		keep, last := Shrink(r.Seed, length, inv, 150)
		var b strings.Builder
		fmt.Fprintf(&b, "promise %q broken in %d of %d seeds; first: seed %d, shrunk from %d to %d actions:\n",
			inv, len(rs), seeds, r.Seed, r.Actions, len(keep))
		for _, v := range last.Violations {
			if v.Invariant == inv {
				fmt.Fprintf(&b, "  %s\n", v)
			}
		}
		b.WriteString(Schedule(r.Seed, length, keep))
		fmt.Fprintf(&b, "replay: SIM_SEED=%d SIM_KEEP=%s SIM_TIME=%s go test ./sim -run 'TestSimulation$' -v\n", r.Seed, FormatKeep(keep), length)
		if dir := os.Getenv("SIM_SAVE"); dir != "" {
			name := filepath.Join(dir, fmt.Sprintf("%s-seed%d.sched", inv, r.Seed))
			about := fmt.Sprintf("found by the simulator: promise %q (seed %d)\n%s", inv, r.Seed, firstViolation(last, inv))
			if err := os.WriteFile(name, []byte(FormatKept(about, r.Seed, length, keep)), 0o644); err != nil {
				t.Error(err)
			}
			fmt.Fprintf(&b, "saved as %s (TestKeptSchedules replays it)\n", name)
		}
		t.Error(b.String())
	}
}

// replayOne runs one seed with its trace.
func replayOne(t *testing.T, seedText string, length time.Duration) {
	seed, err := strconv.ParseUint(seedText, 10, 64)
	if err != nil {
		t.Fatalf("SIM_SEED: %v", err)
	}
	var keep []int
	if v := os.Getenv("SIM_KEEP"); v != "" {
		if keep, err = ParseKeep(v); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("schedule of seed %d:\n%s", seed, Schedule(seed, length, keep))
	if name := os.Getenv("SIM_SAVE_AS"); name != "" {
		// A kept schedule of this replay, its times to the nanosecond (SIM_ABOUT: its comment).
		if err := os.WriteFile(name, []byte(FormatKept(os.Getenv("SIM_ABOUT"), seed, length, keep)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := Run(Options{Seed: seed, Length: length, Keep: keep, Trace: os.Stdout})
	t.Logf("%d runs, %d attempts (%d workers died), %d calls, %d customer and %d agent messages, %d webhooks lost, largest carry %d bytes",
		r.Runs, r.Stats.Attempts, r.Stats.Crashes, r.Stats.Calls, r.Stats.CustomerMessages, r.Stats.AgentMessages, r.Stats.LostWebhooks, r.Stats.MaxCarryBytes)
	for _, v := range r.Violations {
		t.Error(v)
	}
}

// TestKeptSchedules replays every schedule the search once found failing (testdata/kept):
// each broke a promise before its fix, and none may again.
func TestKeptSchedules(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "kept", "*.sched"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no kept schedules in testdata/kept")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".sched"), func(t *testing.T) {
			t.Parallel()
			k := readKept(t, f)
			r := Run(Options{Seed: k.Seed, Length: k.Length, Actions: k.Steps})
			for _, v := range r.Violations {
				t.Errorf("%s\n(%s; trace: SIM_KEPT=%s go test ./sim -run 'TestSimulation$' -v)", v, strings.TrimSpace(k.About), f)
			}
		})
	}
}

func readKept(t *testing.T, path string) KeptSchedule {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseKept(string(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return k
}

func describeSteps(steps []Step) string {
	var b strings.Builder
	for _, st := range steps {
		fmt.Fprintf(&b, "  #%d %s\n", st.Index, st.Action)
	}
	return b.String()
}

func firstViolation(r *Report, inv string) string {
	for _, v := range r.Violations {
		if v.Invariant == inv {
			return v.String()
		}
	}
	return ""
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		t.Fatalf("%s: %q is not a count", name, v)
	}
	return n
}
