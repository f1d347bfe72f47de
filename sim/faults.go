package sim

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// faults decides the fate of each call to the outside: the outages of the schedule
// (windows), and a background of transient failures, lost answers, slow answers and
// workers dying, at rates that differ from seed to seed (calm seeds find logic errors in
// the common paths, stormy ones in the rare ones).
type faults struct {
	sim     *Sim
	windows []window
	profile profile
	rngs    map[string]*rng
	// forced are faults a test puts on the next call whose "METHOD path" starts with the
	// key (each used once).
	forced map[string][]faultKind
}

// forcedFor takes the fault forced on req, if any.
func (f *faults) forcedFor(method, path string) (faultKind, bool) {
	for _, key := range slices.Sorted(maps.Keys(f.forced)) { // sorted: the run stays deterministic
		kinds := f.forced[key]
		if len(kinds) > 0 && strings.HasPrefix(method+" "+path, key) {
			f.forced[key] = kinds[1:]
			return kinds[0], true
		}
	}
	return faultNone, false
}

// window is an outage of a service in [from, to).
type window struct {
	svc      string
	from, to time.Time
	mode     string // "down": refused, timeouts and 5xx; "slow": seconds per call; "flaky": a share of calls fail
}

// profile is the background rates per call (per store operation for the database).
type profile struct {
	transient  float64 // a 5xx (or refused connection) before the call took effect
	unknown    float64 // the call took effect and its answer was lost (timeout, 5xx)
	lostBefore float64 // a timeout before the call reached the service
	crash      float64 // the worker dies around the call
	slow       float64 // the answer takes seconds
}

func (f *faults) rng(svc string) *rng {
	g := f.rngs[svc]
	if g == nil {
		g = newRNG(f.sim.seed, "faults/"+svc)
		f.rngs[svc] = g
	}
	return g
}

// active is the window of svc open now, if any.
func (f *faults) active(svc string) *window {
	now := f.sim.worldNow()
	for i := range f.windows {
		w := &f.windows[i]
		if w.svc == svc && !now.Before(w.from) && now.Before(w.to) {
			return w
		}
	}
	return nil
}

// call is the fate of a call to svc by attempt a (nil: not an activity's call, e.g. Meta
// fetching an agent's file: no crash, no lost answer).
func (f *faults) call(svc string, a *attempt) callFault {
	g := f.rng(svc)
	c := callFault{latency: g.between(3*time.Millisecond, 40*time.Millisecond)}
	if f.sim.calm || svc == svcBridge {
		return c
	}
	p := f.profile
	if w := f.active(svc); w != nil {
		switch w.mode {
		case "down":
			switch g.pick(3) {
			case 0:
				c.kind = faultRefused
			case 1:
				c.kind, c.latency = faultTimeoutBefore, clientTimeout
			default:
				c.kind = faultStatusBefore
			}
			return c
		case "slow":
			c.latency = g.between(2*time.Second, 25*time.Second)
		case "flaky":
			p.transient, p.unknown = p.transient+0.3, p.unknown+0.1
		}
	}
	if g.chance(p.slow) {
		c.latency = g.between(time.Second, 12*time.Second)
	}
	switch r := g.Float64(); {
	case r < p.transient:
		c.kind = faultStatusBefore
		if g.chance(0.3) {
			c.kind = faultRefused
		}
	case a != nil && r < p.transient+p.unknown:
		c.kind = faultStatusAfter
		if g.chance(0.5) {
			c.kind = faultTimeoutAfter
		}
	case r < p.transient+p.unknown+p.lostBefore:
		c.kind = faultTimeoutBefore
	case a != nil && r < p.transient+p.unknown+p.lostBefore+p.crash:
		c.kind = faultCrashBefore
		if g.chance(0.6) {
			c.kind = faultCrashAfter
		}
	}
	return c
}

// store is the fate of a database operation: its latency, and the error PostgreSQL
// answers instead (nil: none), and whether the worker dies around it.
func (f *faults) store(a *attempt) (time.Duration, error, faultKind) {
	g := f.rng(svcDB)
	d := g.between(200*time.Microsecond, 3*time.Millisecond)
	if f.sim.calm {
		return d, nil, faultNone
	}
	if w := f.active(svcDB); w != nil && w.mode == "down" {
		return d, pgUnavailable(g), faultNone
	}
	p := f.profile
	switch r := g.Float64(); {
	case r < p.transient/3:
		return d, pgUnavailable(g), faultNone
	case a != nil && r < p.transient/3+p.crash/2:
		if g.chance(0.5) {
			return d, nil, faultCrashAfter
		}
		return d, nil, faultCrashBefore
	}
	return d, nil, faultNone
}

// pgUnavailable is one of the errors PostgreSQL answers while it restarts or is full.
func pgUnavailable(g *rng) error {
	switch g.pick(3) {
	case 0:
		return pgError("57P03", "the database system is shutting down")
	case 1:
		return pgError("53300", "sorry, too many clients already")
	}
	return pgError("57P01", "terminating connection due to administrator command")
}

func (p profile) String() string {
	return fmt.Sprintf("transient %.3f, unknown %.3f, lost %.3f, crash %.3f, slow %.3f", p.transient, p.unknown, p.lostBefore, p.crash, p.slow)
}
