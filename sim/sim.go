// Package sim is a deterministic simulator of a conversation: the real Conversation
// workflow code (on a simulated Temporal: tasks, timers, signals, local and regular
// activities with their retries and timeouts, continue-as-new, the server's limits), the
// real activities, the real clients and ingress's own reductions, against Rocket.Chat and
// Meta emulated by the sandbox in its deterministic mode and PostgreSQL in memory — driven
// by a schedule drawn from a seed: a customer, agents, admins and a world that fails
// (outages, lost and reordered webhooks, dead tokens, workers dying mid-call).
//
// After each schedule, with the faults off and time to settle, it checks what the product
// promises (check.go): every customer message in Rocket.Chat exactly once and in order (or
// removed as the unsend setting says), every agent message on Instagram exactly once and
// in order (or the agent told why not), nothing stalled, no busy loop, bounded state. One
// seed replays exactly; a failing one is shrunk to the few actions it needs.
package sim

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/log"

	"github.com/igdirect/bridge/activities"
	metasb "github.com/igdirect/bridge/sandbox/meta"
	rcsb "github.com/igdirect/bridge/sandbox/rocketchat"
)

// Options of one simulation.
type Options struct {
	Seed uint64
	// Length is how long the schedule runs before the world settles (SIM_TIME).
	Length time.Duration
	// Keep runs only these actions of the seed's schedule (nil: all): a shrunk schedule.
	Keep []int
	// Trace gets a line per action, run and notable event (nil: none).
	Trace io.Writer
	// Actions, when set, are the schedule instead of the seed's (a kept schedule, see
	// kept.go); the world's configuration and its random draws still come from Seed.
	Actions []Step
}

// DefaultLength is the default schedule length.
const DefaultLength = 2 * time.Hour

// settleTime is how long the world runs calm after the schedule: longer than every wait
// of the conversation (24 h of thread control, back-offs, lingering).
const settleTime = 30 * time.Hour

// Report is the outcome of one simulation.
type Report struct {
	Seed       uint64
	Violations []Violation
	// Actions is the schedule's length; Kept the actions run.
	Actions int
	Kept    []int
	Runs    int
	Stats   Stats
}

// Violation is a broken promise: which (Invariant) and how.
type Violation struct {
	Invariant string
	Detail    string
}

func (v Violation) String() string { return v.Invariant + ": " + v.Detail }

// Stats are counts of what happened.
type Stats struct {
	Attempts, Crashes, Calls, LostWebhooks int
	CustomerMessages, AgentMessages        int
	MaxCarryBytes                          int
	SimulatedTime                          time.Duration
}

// Failed reports whether a promise was broken.
func (r *Report) Failed() bool { return len(r.Violations) > 0 }

// Sim is one simulation.
type Sim struct {
	seed   uint64
	opts   Options
	cfg    config
	length time.Duration
	start  time.Time
	end    time.Time
	loop   loop
	calm   bool

	server    server
	exec      *executor
	faults    *faults
	store     *memStore
	transport *transport
	rc        *rcsb.Server
	meta      *metasb.Server
	acts      *activities.Activities
	rcOutbox  []rcsb.WebhookDelivery
	truth     truth
	// searchAttributes are the workflow ID's search attributes (ConversationState).
	searchAttributes map[string]string

	seq, picks, tokens, repairs int
	aborted                     bool
	// The monitor's view (monitor.go).
	active                        map[string]int
	lastFaultEnd, onlineSince     time.Time
	stalledCustomer, stalledAgent bool
	deptBefore                    string // the page's department before it went missing
	agentDone                     map[string]bool
	violations                    []Violation
	stats                         struct {
		attempts, crashes, calls, lostWebhooks, maxCarry, agentMessages, activityStarts int
	}
	wfLog log.Logger
}

// simStart is the simulated clock's start (a Monday morning).
var simStart = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// Run runs one simulation.
func Run(o Options) *Report {
	if o.Length <= 0 {
		o.Length = DefaultLength
	}
	cfg, acts := generate(o.Seed, o.Length)
	if o.Actions != nil {
		acts, o.Keep = explicit(o.Actions)
	}
	s := &Sim{seed: o.Seed, opts: o, cfg: cfg, length: o.Length, start: simStart, truth: newTruth(),
		searchAttributes: map[string]string{}, active: map[string]int{}, agentDone: map[string]bool{}}
	s.loop.now = simStart
	s.end = simStart.Add(o.Length + settleTime)
	s.faults = &faults{sim: s, profile: cfg.profile, rngs: map[string]*rng{}}
	s.server.sim = s
	s.wfLog = traceLogger{s}
	if err := s.buildWorld(); err != nil {
		panic(err)
	}
	keep := o.Keep
	if keep == nil {
		keep = make([]int, len(acts))
		for i := range keep {
			keep[i] = i
		}
	}
	for _, i := range keep {
		if i < 0 || i >= len(acts) {
			continue
		}
		a := acts[i]
		s.loop.at(simStart.Add(a.At), "action", func() { s.apply(i, a) })
	}
	s.loop.at(simStart.Add(o.Length), "settle", s.settle)
	s.startMonitor()
	s.drive()
	s.check()
	return &Report{Seed: o.Seed, Violations: s.violations, Actions: len(acts), Kept: keep, Runs: len(s.server.runs),
		Stats: Stats{Attempts: s.stats.attempts, Crashes: s.stats.crashes, Calls: s.stats.calls,
			LostWebhooks: s.stats.lostWebhooks, CustomerMessages: len(s.truth.messages), AgentMessages: s.stats.agentMessages, MaxCarryBytes: s.stats.maxCarry,
			SimulatedTime: s.loop.now.Sub(simStart)}}
}

// drive runs the world, and each run of the conversation when one is due, to the end.
func (s *Sim) drive() {
	for !s.aborted {
		if s.server.next != nil && s.server.open == nil {
			s.runProtected(s.server.startNext)
			continue
		}
		if !s.stepWorld() {
			return
		}
	}
}

// runProtected runs f; a simAbort (the simulated time is over, or a run was terminated)
// ends the simulation.
func (s *Sim) runProtected(f func()) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(simAbort); !ok {
				panic(r)
			}
			s.aborted = true
		}
	}()
	f()
}

// stepWorld runs the next event (false: none is left before the end), and takes what the
// emulators sent meanwhile.
func (s *Sim) stepWorld() bool {
	if t, ok := s.loop.next(); !ok || t.After(s.end) {
		return false
	}
	s.loop.step()
	s.collectOutboxes()
	return true
}

// violate records a broken promise (once per invariant and detail).
func (s *Sim) violate(invariant, format string, args ...any) {
	v := Violation{Invariant: invariant, Detail: fmt.Sprintf(format, args...)}
	if slices.Contains(s.violations, v) {
		return
	}
	s.violations = append(s.violations, v)
	s.trace("VIOLATION %s", v)
}

func (s *Sim) trace(format string, args ...any) {
	if s.opts.Trace == nil {
		return
	}
	fmt.Fprintf(s.opts.Trace, "[+%s] %s\n", fmtDuration(s.loop.now.Sub(simStart)), fmt.Sprintf(format, args...))
}

// noteCarry records the size of a continue-as-new input.
func (s *Sim) noteCarry(r *run, n int) {
	s.stats.maxCarry = max(s.stats.maxCarry, n)
	s.trace("%s continues as new (%d events, input %d bytes)", r.id, r.stats.events, n)
}

// taskLatency is the server's dispatch of a workflow task; dispatchLatency of an activity.
func (s *Sim) taskLatency() time.Duration {
	g := s.faults.rng("temporal")
	if g.chance(0.02) {
		return g.between(100*time.Millisecond, 800*time.Millisecond)
	}
	return g.between(2*time.Millisecond, 15*time.Millisecond)
}

func (s *Sim) dispatchLatency() time.Duration {
	return s.faults.rng("temporal").between(2*time.Millisecond, 20*time.Millisecond)
}

// traceLogger is the workflow's logger: its lines go to the trace.
type traceLogger struct{ s *Sim }

func (l traceLogger) line(level, msg string, kv []any) {
	if l.s.opts.Trace == nil {
		return
	}
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, " %v=%v", kv[i], kv[i+1])
	}
	l.s.trace("wf %s: %s%s", level, msg, b.String())
}

func (l traceLogger) Debug(msg string, kv ...any) {}
func (l traceLogger) Info(msg string, kv ...any)  { l.line("info", msg, kv) }
func (l traceLogger) Warn(msg string, kv ...any)  { l.line("warn", msg, kv) }
func (l traceLogger) Error(msg string, kv ...any) { l.line("error", msg, kv) }
