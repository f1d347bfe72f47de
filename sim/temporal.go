package sim

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/log"

	"github.com/igdirect/bridge/workflows"
)

// The part of Temporal the simulator models: the server's side of one workflow ID (its
// open run, the signals sent to it, its limits, continue-as-new) and the SDK's side of a
// run (host: the clock, tasks, timers, activities, signal channels). The conversation
// code itself is the real one (workflows.ConversationRun).

// Temporal's limits and latencies that matter to a conversation (specs/temporal-go.md §7.2).
const (
	historyEventsLimit = 51_200      // limit.historyCount.error: the run is terminated
	signalsPerRunLimit = 10_000      // history.maximumSignalsPerExecution: further signals refused
	blobLimit          = 2 << 20     // limit.blobSize.error: a larger payload fails the run
	suggestAtEvents    = 4096        // limit.historyCount.suggestContinueAsNew
	canSpacing         = time.Second // history.workflowIdReuseMinimalInterval
	taskTimeout        = 10 * time.Second
)

// signal is a signal the server has recorded for the workflow ID.
type signal struct {
	name    string
	payload []byte // as the data converter encodes it (JSON)
	at      time.Time
}

// server is the workflow ID's state on the Temporal server.
type server struct {
	sim *Sim
	// open is the open run (nil: the last one completed, or none started yet).
	open *run
	// queue holds the signals recorded and not yet taken by a run, in arrival order.
	queue []signal
	runs  []*run
	// next is the input of a run to start (continue-as-new, or a signal-with-start while
	// no run was open) at nextAt.
	next   *workflows.ConversationInput
	nextAt time.Time
}

// run is one run of the workflow.
type run struct {
	n       int
	id      string
	started time.Time
	input   []byte
	host    *host
	conv    *workflows.ConversationRun
	stats   runStats
	ended   bool
	// suggestAt: events after which continue-as-new is suggested (small at random, so
	// runs continue as new at arbitrary points).
	suggestAt int
	end       string // "continued", "completed", "terminated: …"
}

// runStats counts what a run put in its history and did.
type runStats struct {
	events, tasks, signals, upserts int
	timerStarts                     []time.Time
	activityStarts                  []time.Time
	signalTimes                     []time.Time
	lostSignals                     int
}

// signalStart records a signal. start: ingress's SignalWithStart (a closed workflow ID
// gets a new run); otherwise a plain Signal, which a closed ID refuses (NotFound: ingress
// drops the event). It reports whether the signal was recorded or will start a run, and
// refused when the open run has taken the most signals a run may (the sender retries).
func (srv *server) signalStart(name string, arg any, start bool) (recorded, refused bool) {
	payload, err := json.Marshal(arg)
	if err != nil {
		panic(err)
	}
	s := srv.sim
	if len(payload) > blobLimit {
		s.violate("blob", "a %s signal of %d bytes is over Temporal's 2 MB blob limit", name, len(payload))
	}
	switch {
	case srv.open != nil:
		if srv.open.stats.signals >= signalsPerRunLimit {
			s.violate("signal-limit", "%s took %d signals without continuing as new: Temporal refuses more", srv.open.id, signalsPerRunLimit)
			return false, true
		}
		srv.open.stats.signals++
		srv.open.stats.events++
		srv.open.stats.signalTimes = append(srv.open.stats.signalTimes, s.loop.now)
	case srv.next != nil:
		// A run is about to start: the signal waits for it.
	case start:
		srv.next = &workflows.ConversationInput{PageID: s.cfg.Account, IGSID: s.cfg.IGSID}
		srv.nextAt = s.loop.now.Add(s.taskLatency())
	default:
		return false, false
	}
	srv.queue = append(srv.queue, signal{name: name, payload: payload, at: s.loop.now})
	return true, false
}

// startNext runs the run that is due, to its end: on the simulated clock, driven by the
// conversation's own calls to its host.
func (srv *server) startNext() {
	s := srv.sim
	in := *srv.next
	srv.next = nil
	for t, ok := s.loop.next(); ok && !t.After(srv.nextAt); t, ok = s.loop.next() {
		s.loop.step()
	}
	if s.loop.now.Before(srv.nextAt) {
		s.loop.now = srv.nextAt
	}
	raw, _ := json.Marshal(in)
	r := &run{n: len(srv.runs) + 1, started: s.loop.now, input: raw}
	r.id = fmt.Sprintf("run-%d", r.n)
	r.suggestAt = suggestAtEvents
	if g := newRNG(s.seed, "can/"+r.id); g.chance(0.6) {
		r.suggestAt = 30 + g.IntN(400)
	}
	if len(raw) > blobLimit {
		s.violate("blob", "the input of %s is %d bytes, over Temporal's 2 MB blob limit: the run would fail", r.id, len(raw))
	}
	srv.runs = append(srv.runs, r)
	srv.open = r
	r.host = &host{sim: s, run: r, now: s.loop.now}
	r.stats.events += 2 // started, and the first task's scheduled event
	r.host.beginTask()
	// The run's input goes through the data converter, as Temporal's would.
	var decoded workflows.ConversationInput
	if err := json.Unmarshal(raw, &decoded); err != nil {
		panic(err)
	}
	r.conv = workflows.NewConversationRun(r.host, decoded)
	next, err := r.conv.Run()
	r.ended = true
	srv.open = nil
	r.stats.events++
	// Signals the run received but never read are lost: Temporal drops them with the run
	// (specs/temporal-go.md §1.6).
	for _, sig := range srv.queue {
		if !sig.at.After(r.host.now) {
			r.stats.lostSignals++
			s.violate("lost-signal", "%s ended with a %s signal it never read", r.id, sig.name)
		}
	}
	srv.queue = slices.DeleteFunc(srv.queue, func(sig signal) bool { return !sig.at.After(r.host.now) })
	switch {
	case err != nil:
		r.end = "failed: " + err.Error()
		s.violate("run-failed", "%s failed: %v", r.id, err)
	case next != nil:
		r.end = "continued"
		raw, _ := json.Marshal(next)
		s.noteCarry(r, len(raw))
		srv.next = next
		srv.nextAt = maxTime(s.loop.now.Add(s.taskLatency()), r.started.Add(canSpacing))
	default:
		r.end = "completed"
		if len(srv.queue) > 0 {
			// Recorded after the run's last task: a new run takes them.
			srv.next = &workflows.ConversationInput{PageID: s.cfg.Account, IGSID: s.cfg.IGSID}
			srv.nextAt = s.loop.now.Add(s.taskLatency())
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// host is what the conversation code of one run sees of Temporal (workflows.Host).
type host struct {
	sim *Sim
	run *run
	// now is the workflow clock: the start of the current workflow task.
	now time.Time
	// inTask: the run's code is running (between the start of a task and its Wait).
	inTask bool
	// localOnly: the current task was resumed by local activities only (no new task in
	// history: the SDK runs them within the task).
	taskStart time.Time
}

var _ workflows.Host = (*host)(nil)

func (h *host) Now() time.Time     { return h.now }
func (h *host) RunID() string      { return h.run.id }
func (h *host) Logger() log.Logger { return h.sim.wfLog }

func (h *host) ContinueAsNewSuggested() bool { return h.run.stats.events >= h.run.suggestAt }

func (h *host) event(n int) {
	h.run.stats.events += n
	if h.run.stats.events > historyEventsLimit {
		h.sim.violate("history-limit", "%s has %d history events, over Temporal's limit of %d: the run is terminated",
			h.run.id, h.run.stats.events, historyEventsLimit)
		panic(simAbort{})
	}
}

func (h *host) Start(name string, input any, local bool) workflows.Outcome {
	h.run.stats.activityStarts = append(h.run.stats.activityStarts, h.now)
	if h.sim.stats.activityStarts++; h.sim.stats.activityStarts > activitiesLimit {
		// A spin of local activities makes few history events: its runs continue as new
		// one after another and it would run for ever (found so).
		h.sim.violate("busy-loop", "%d activities started (%s the last, in %s at +%s): the conversation spins",
			h.sim.stats.activityStarts, name, h.run.id, fmtDuration(h.now.Sub(simStart)))
		panic(simAbort{})
	}
	if !local {
		h.event(1) // scheduled
	}
	return h.sim.exec.start(h, name, input, local)
}

// timer is a durable timer of the run.
type timer struct {
	h                *host
	at               time.Time
	fired, cancelled bool
}

func (t *timer) Cancel() {
	if t.fired || t.cancelled {
		return
	}
	t.cancelled = true
	t.h.event(1)
}

func (h *host) NewTimer(d time.Duration) workflows.Timer {
	t := &timer{h: h, at: h.now.Add(d)}
	if d <= 0 {
		t.fired = true // the SDK resolves it at once, without a command
		return t
	}
	h.event(1)
	h.run.stats.timerStarts = append(h.run.stats.timerStarts, h.now)
	h.sim.loop.at(t.at, "timer", func() {
		if t.cancelled || h.run.ended {
			return
		}
		t.fired = true
		h.event(1)
	})
	return t
}

func (h *host) Receive(name string, out any) bool {
	q := h.sim.server.queue
	for i, sig := range q {
		if sig.name != name || sig.at.After(h.now) {
			continue
		}
		h.sim.server.queue = append(q[:i:i], q[i+1:]...)
		if err := json.Unmarshal(sig.payload, out); err != nil {
			panic(err)
		}
		return true
	}
	return false
}

// readyAt reports whether a source has something for the workflow at t.
func (h *host) readyAt(s workflows.Source, t time.Time) bool {
	switch {
	case s.Signal != "":
		for _, sig := range h.sim.server.queue {
			if sig.name == s.Signal && !sig.at.After(t) {
				return true
			}
		}
		return false
	case s.Outcome != nil:
		o := s.Outcome.(*outcome)
		return o.done && !o.doneAt.After(t)
	case s.Timer != nil:
		return s.Timer.(*timer).fired
	}
	return false
}

func (h *host) Wait(sources ...workflows.Source) int {
	for {
		for i, s := range sources {
			if h.readyAt(s, h.now) {
				return i
			}
		}
		h.nextTask(sources)
	}
}

// nextTask ends the current workflow task and runs the world until one of the sources
// has something, then starts the next task (after the server's dispatch latency, in which
// more may arrive: it all comes in the same task).
func (h *host) nextTask(sources []workflows.Source) {
	s := h.sim
	for {
		if !s.stepWorld() {
			panic(simAbort{})
		}
		ready := false
		localOnly := true
		for _, src := range sources {
			if h.readyAt(src, s.loop.now) {
				ready = true
				if src.Outcome == nil || !src.Outcome.(*outcome).local {
					localOnly = false
				}
			}
		}
		if !ready {
			continue
		}
		if localOnly {
			h.now = s.loop.now // the SDK goes on within the same task
			return
		}
		start := s.loop.now.Add(s.taskLatency())
		for t, ok := s.loop.next(); ok && !t.After(start); t, ok = s.loop.next() {
			s.stepWorld()
		}
		if s.loop.now.Before(start) {
			s.loop.now = start
		}
		h.now = s.loop.now
		h.beginTask()
		return
	}
}

func (h *host) beginTask() {
	h.run.stats.tasks++
	h.event(3)
	h.taskStart = h.now
}

func (h *host) SearchAttributes() map[string]string {
	// A run starts with what the previous run (continue-as-new) or the starter set.
	out := map[string]string{}
	for k, v := range h.sim.searchAttributes {
		out[k] = v
	}
	return out
}

func (h *host) Upsert(updates []workflows.KeywordUpdate) {
	h.run.stats.upserts++
	h.event(1)
	for _, u := range updates {
		if u.Value == "" {
			delete(h.sim.searchAttributes, u.Key.GetName())
		} else {
			h.sim.searchAttributes[u.Key.GetName()] = u.Value
		}
	}
}

func (h *host) SetDetails(string) {}

// activitiesLimit: far more than any schedule needs (a flood of a thousand messages takes
// under a thousand activities); beyond it the conversation spins.
const activitiesLimit = 20000

// simAbort unwinds a run when the simulation ends (or a run is terminated).
type simAbort struct{}
