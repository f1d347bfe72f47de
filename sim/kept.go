package sim

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Kept schedules: a failing schedule, shrunk, saved as text (testdata/kept/*.sched) and
// replayed by TestKeptSchedules for ever after, so a defect the search found stays found
// even when the generator changes. A file is comment lines (#…  with a space after #),
// "seed N", "time D", and the actions as the failure report prints them:
//
//	# unsend of a customer's file left the file in the room
//	seed 4
//	time 2h0m0s
//	#40 1h37m56.175s write file
//	#42 1h38m8.286s unsend n=2
//
// An action keeps its index in the seed's schedule: the random draws it makes (its text,
// its delays) are derived from it.

// Step is one action of an explicit schedule, with its index in the seed's schedule.
type Step struct {
	Index  int
	Action action
}

// KeptSchedule is a parsed schedule file.
type KeptSchedule struct {
	Seed   uint64
	Length time.Duration
	Steps  []Step
	About  string // its comment lines
}

// ParseKept reads a schedule file.
func ParseKept(text string) (KeptSchedule, error) {
	k := KeptSchedule{Length: DefaultLength}
	sc := bufio.NewScanner(strings.NewReader(text))
	seedSet := false
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		var err error
		switch {
		case line == "":
		case strings.HasPrefix(line, "# ") || line == "#":
			k.About += strings.TrimSpace(strings.TrimPrefix(line, "#")) + "\n"
		case strings.HasPrefix(line, "seed "):
			k.Seed, err = strconv.ParseUint(strings.TrimSpace(line[5:]), 10, 64)
			seedSet = true
		case strings.HasPrefix(line, "time "):
			k.Length, err = time.ParseDuration(strings.TrimSpace(line[5:]))
		case strings.HasPrefix(line, "#"):
			var st Step
			st, err = parseStep(line)
			k.Steps = append(k.Steps, st)
		default:
			err = fmt.Errorf("not a comment, seed, time or action")
		}
		if err != nil {
			return KeptSchedule{}, fmt.Errorf("line %d %q: %w", n, line, err)
		}
	}
	if !seedSet || len(k.Steps) == 0 {
		return KeptSchedule{}, fmt.Errorf("a kept schedule needs a seed and at least one action")
	}
	return k, nil
}

// parseStep reads "#i <at> <kind> [opt] [n=N] [for D]", action.String's form.
func parseStep(line string) (Step, error) {
	f := strings.Fields(line)
	if len(f) < 3 {
		return Step{}, fmt.Errorf("want #index time kind")
	}
	i, err := strconv.Atoi(strings.TrimPrefix(f[0], "#"))
	if err != nil {
		return Step{}, fmt.Errorf("index: %w", err)
	}
	at, err := time.ParseDuration(f[1])
	if err != nil {
		return Step{}, err
	}
	a := action{At: at, Kind: f[2]}
	for j := 3; j < len(f); j++ {
		switch w := f[j]; {
		case strings.HasPrefix(w, "n="):
			if a.N, err = strconv.Atoi(w[2:]); err != nil {
				return Step{}, err
			}
		case w == "for" && j+1 < len(f):
			j++
			if a.For, err = time.ParseDuration(f[j]); err != nil {
				return Step{}, err
			}
		case a.Opt == "" && j == 3:
			a.Opt = w
		default:
			return Step{}, fmt.Errorf("unexpected %q", w)
		}
	}
	return Step{Index: i, Action: a}, nil
}

// FormatKept writes a schedule file for a shrunk schedule of a seed.
func FormatKept(about string, seed uint64, length time.Duration, keep []int) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(about), "\n") {
		fmt.Fprintf(&b, "# %s\n", l)
	}
	fmt.Fprintf(&b, "seed %d\ntime %s\n", seed, length)
	_, acts := generate(seed, length)
	for _, i := range keep {
		fmt.Fprintf(&b, "#%d %s\n", i, acts[i].exact())
	}
	return b.String()
}

// exact is the action as String writes it, with its times to the nanosecond: the times
// printed to the millisecond would make another schedule (the order of events in the same
// millisecond, the draws that depend on it).
func (a action) exact() string {
	s := fmt.Sprintf("%s %s", a.At, a.Kind)
	if a.Opt != "" {
		s += " " + a.Opt
	}
	if a.N != 0 {
		s += fmt.Sprintf(" n=%d", a.N)
	}
	if a.For != 0 {
		s += " for " + a.For.String()
	}
	return s
}

// explicit turns steps into a schedule indexed as the seed's was, and the indexes to run.
func explicit(steps []Step) ([]action, []int) {
	size := 0
	for _, st := range steps {
		size = max(size, st.Index+1)
	}
	acts := make([]action, size)
	keep := make([]int, 0, len(steps))
	for _, st := range steps {
		acts[st.Index] = st.Action
		keep = append(keep, st.Index)
	}
	return acts, keep
}
