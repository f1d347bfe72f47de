package sim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Shrink reduces a failing seed's schedule to a short one that still breaks the same
// promise (delta debugging over the schedule's actions, at most budget runs). It returns
// the actions kept and the report of the last failing run.
func Shrink(seed uint64, length time.Duration, invariant string, budget int) ([]int, *Report) {
	full := Run(Options{Seed: seed, Length: length})
	fails := func(keep []int) *Report {
		r := Run(Options{Seed: seed, Length: length, Keep: keep})
		for _, v := range r.Violations {
			if v.Invariant == invariant {
				return r
			}
		}
		return nil
	}
	keep := full.Kept
	last := fails(keep)
	if last == nil {
		return keep, full // not reproducible with Keep (cannot happen: a seed replays exactly)
	}
	runs := 1
	for n := 2; len(keep) >= 2 && runs < budget; {
		chunk := (len(keep) + n - 1) / n
		reduced := false
		for start := 0; start < len(keep) && runs < budget; start += chunk {
			candidate := slices.Concat(keep[:start], keep[min(start+chunk, len(keep)):])
			runs++
			if r := fails(candidate); r != nil {
				keep, last, reduced = candidate, r, true
				n = max(n-1, 2)
				break
			}
		}
		if !reduced {
			if n >= len(keep) {
				break
			}
			n = min(n*2, len(keep))
		}
	}
	return keep, last
}

// FormatKeep writes a list of action indices compactly (1,4,7-9).
func FormatKeep(keep []int) string {
	var parts []string
	for i := 0; i < len(keep); {
		j := i
		for j+1 < len(keep) && keep[j+1] == keep[j]+1 {
			j++
		}
		if j > i {
			parts = append(parts, fmt.Sprintf("%d-%d", keep[i], keep[j]))
		} else {
			parts = append(parts, strconv.Itoa(keep[i]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// ParseKeep reads what FormatKeep writes.
func ParseKeep(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("SIM_KEEP: %q is not an action number", part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("SIM_KEEP: %q is not a range", part)
			}
		}
		for i := a; i <= b; i++ {
			out = append(out, i)
		}
	}
	return out, nil
}

// Schedule describes the actions of a seed's schedule that keep names (nil: all).
func Schedule(seed uint64, length time.Duration, keep []int) string {
	_, acts := generate(seed, length)
	if keep == nil {
		keep = make([]int, len(acts))
		for i := range keep {
			keep[i] = i
		}
	}
	return describe(acts, keep)
}
