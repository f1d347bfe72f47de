package main

import (
	"context"
	"fmt"
	"log"
	"sort"
	"time"

	"go.temporal.io/api/workflowservice/v1"
)

// ScenarioResult is one scenario on one target.
type ScenarioResult struct {
	Scenario  string             `json:"scenario"`
	Target    string             `json:"target"` // bridge | baseline
	Variant   string             `json:"variant,omitempty"`
	Phases    []PhaseResult      `json:"phases"`
	Figures   map[string]float64 `json:"figures,omitempty"`
	Backlog   []BacklogPoint     `json:"backlog,omitempty"`
	Breakdown *Breakdown         `json:"breakdown,omitempty"`
	Notes     []string           `json:"notes,omitempty"`
	Error     string             `json:"error,omitempty"`
	Wall      float64            `json:"wall_s"`
	Messages  []*msg             `json:"-"`
}

// BacklogPoint: messages acknowledged but not yet in a room, at a time since the start.
type BacklogPoint struct {
	T       float64 `json:"t_s"`
	Backlog int     `json:"backlog"`
}

func (r *ScenarioResult) phase(name string) *PhaseResult {
	for i := range r.Phases {
		if r.Phases[i].Name == name {
			return &r.Phases[i]
		}
	}
	return nil
}

func (r *ScenarioResult) fig(name string, v float64) {
	if r.Figures == nil {
		r.Figures = map[string]float64{}
	}
	r.Figures[name] = v
}

// measure runs f between a process monitor's start and stop.
func measure(t *target, f func()) map[string]ProcFigures {
	m := newProcMon(t.pids, t.groups)
	f()
	return m.stop()
}

// idle measures the processes with no load at all: the dev server's own background work is
// subtracted from the per-message CPU figures.
func idle(t *target, d time.Duration) PhaseResult {
	start := time.Now()
	procs := measure(t, func() { time.Sleep(d) })
	return PhaseResult{Name: "idle", Start: start, End: time.Now(), Duration: time.Since(start).Seconds(), Procs: procs}
}

// warmup opens a conversation for every user (one message each) and waits until the agent's
// reply to it reached Instagram (or, without replies, until it is in the room).
func warmup(g *gen, users []int, replies bool, timeout time.Duration) PhaseResult {
	start := time.Now()
	var procs map[string]ProcFigures
	procs = measure(g.t, func() {
		g.once(users, "warmup", 50)
		if !g.waitFor([]string{"warmup"}, replies, timeout) {
			log.Printf("  %s: warm-up incomplete after %s", g.t.kind, timeout)
		}
	})
	end := time.Now()
	g.collect()
	r := phaseResult(g, "warmup", len(users), start, end)
	r.Procs = procs
	return r
}

// steady: users write and the agent answers each message; a paced phase (open loop at a
// fixed rate) for latency, then a saturation phase (closed loop: the next message as soon
// as the reply to the previous one reached Instagram) for the sustained rate.
func steady(cfg *config, t *target) *ScenarioResult {
	res := &ScenarioResult{Scenario: "steady", Target: t.kind}
	g := newGen(t)
	t.rc.SetAutoReply(true, 0)
	res.Phases = append(res.Phases, idle(t, cfg.idle))
	users := g.addUsers(0, cfg.users)
	res.Phases = append(res.Phases, warmup(g, users, true, cfg.warmupTimeout))
	// The warm-up ends when every reply reached Instagram; the replies' echoes and the last
	// workflow tasks come after. Without a pause they would fall into the paced phase and be
	// counted against its messages (history events and CPU per message).
	time.Sleep(cfg.settle)

	var pacedStart, pacedEnd time.Time
	var skipped int64
	procs := measure(t, func() {
		pacedStart = time.Now()
		skipped = g.paced(users, "paced", cfg.steadyRate, cfg.steadyPaced)
		pacedEnd = time.Now()
		g.waitFor([]string{"paced"}, true, cfg.drainTimeout)
	})
	var satStart, satEnd time.Time
	var timeouts int64
	conns := startConnSampler(t)
	satProcs := measure(t, func() {
		satStart = time.Now()
		timeouts = g.closedLoop(users, "saturation", cfg.steadySat, cfg.think, 30*time.Second)
		satEnd = time.Now()
	})
	for role, n := range conns() {
		res.fig("pg_connections_"+role, float64(n))
	}
	g.waitFor([]string{"saturation"}, true, cfg.drainTimeout)
	g.collect()
	p := phaseResult(g, "paced", len(users), pacedStart, pacedEnd)
	p.Procs, p.Skipped = procs, skipped
	s := phaseResult(g, "saturation", len(users), satStart, satEnd)
	s.Procs, s.ReplyTimeouts = satProcs, timeouts
	res.Phases = append(res.Phases, p, s)
	if t.stack != nil {
		res.Breakdown = breakdown(t, g, pacedStart, pacedEnd, firstUsers(g, 50))
	}
	return res
}

// burst: 5,000 webhook events as fast as the generator can send them, over conversations
// that are already open (agents do not answer during the burst).
func burst(cfg *config, t *target) *ScenarioResult {
	res := &ScenarioResult{Scenario: "burst", Target: t.kind}
	g := newGen(t)
	t.rc.SetAutoReply(true, 0)
	users := g.addUsers(0, cfg.users)
	res.Phases = append(res.Phases, warmup(g, users, true, cfg.warmupTimeout))
	t.rc.SetAutoReply(false, 0)

	var start, sent time.Time
	procs := measure(t, func() {
		start = time.Now()
		g.blast(users, "burst", cfg.burstEvents, cfg.burstConc)
		sent = time.Now()
		if !g.waitFor([]string{"burst"}, false, cfg.burstTimeout) {
			res.Notes = append(res.Notes, fmt.Sprintf("not all events were in Rocket.Chat after %s", cfg.burstTimeout))
		}
	})
	g.collect()
	p := phaseResult(g, "burst", len(users), start, sent)
	p.Procs = procs
	res.Phases = append(res.Phases, p)
	res.fig("send_s", sent.Sub(start).Seconds())
	res.fig("all_in_room_s", p.AllInRoom)
	return res
}

// scale: many conversations open at once. The worker's RSS before and after opening them
// gives the memory per idle open conversation; then every conversation gets one message at
// a moderate rate, and its latency is measured.
func scale(cfg *config, t *target) *ScenarioResult {
	res := &ScenarioResult{Scenario: "scale", Target: t.kind}
	g := newGen(t)
	t.rc.SetAutoReply(false, 0)
	const warm = 20
	res.Phases = append(res.Phases, warmup(g, g.addUsers(0, warm), false, cfg.warmupTimeout))
	time.Sleep(cfg.settle)
	before := map[string]float64{}
	for name, pid := range t.pids {
		before[name] = rssMB(pid)
	}
	users := g.addUsers(warm, warm+cfg.scaleConvs)
	var start, sent time.Time
	opened := true
	procs := measure(t, func() {
		start = time.Now()
		g.once(users, "open", cfg.scaleConc)
		sent = time.Now()
		opened = g.waitFor([]string{"open"}, false, cfg.scaleTimeout)
	})
	if !opened {
		res.Notes = append(res.Notes, fmt.Sprintf("not every conversation was open after %s; %d outstanding", cfg.scaleTimeout, g.outstanding([]string{"open"})))
	}
	time.Sleep(cfg.settle)
	for name, pid := range t.pids {
		after := rssMB(pid)
		res.fig(name+"_rss_before_mb", before[name])
		res.fig(name+"_rss_after_mb", after)
		res.fig(name+"_kb_per_conversation", (after-before[name])*1024/float64(cfg.scaleConvs))
	}
	if t.stack != nil {
		if n, err := countOpen(t); err == nil {
			res.fig("open_workflows", float64(n))
		}
	}
	g.collect()
	open := phaseResult(g, "open", len(users), start, sent)
	open.Procs = procs
	res.fig("open_s", open.AllInRoom)

	// A message to each conversation of a sample spread over all of them (every one with
	// -scale-sample 0), paced: their latency with that many conversations open.
	sample := users
	if n := cfg.scaleSample; n > 0 && n < len(users) {
		sample = make([]int, 0, n)
		for i := range n {
			sample = append(sample, users[i*len(users)/n])
		}
	}
	res.fig("sampled_conversations", float64(len(sample)))
	var eStart, eEnd time.Time
	eProcs := measure(t, func() {
		eStart = time.Now()
		g.paced(sample, "each", cfg.scaleRate, time.Duration(float64(len(sample))/cfg.scaleRate*float64(time.Second)))
		eEnd = time.Now()
		g.waitFor([]string{"each"}, false, cfg.drainTimeout)
	})
	g.collect()
	each := phaseResult(g, "each", len(sample), eStart, eEnd)
	each.Procs = eProcs
	if t.stack != nil {
		// Where the slowest of those messages spent their time.
		msgs := g.select_([]string{"each"})
		sort.Slice(msgs, func(i, j int) bool {
			return msgs[i].InRoom.Sub(msgs[i].Created) > msgs[j].InRoom.Sub(msgs[j].Created)
		})
		var slow []int
		for _, m := range msgs[:min(10, len(msgs))] {
			slow = append(slow, m.User)
		}
		res.Breakdown = breakdown(t, g, eStart, eEnd, slow)
	}
	res.Phases = append(res.Phases, open, each)
	return res
}

// countOpen counts the running conversation workflows.
func countOpen(t *target) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := t.stack.Temporal().CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
		Query: "WorkflowType = 'Conversation' AND ExecutionStatus = 'Running'",
	})
	if err != nil {
		return 0, err
	}
	return resp.GetCount(), nil
}

// recovery: Rocket.Chat goes down for the outage while users keep writing; the backlog
// (acknowledged, not yet in a room) is sampled every second until it is drained.
func recovery(cfg *config, t *target) *ScenarioResult {
	res := &ScenarioResult{Scenario: "recovery", Target: t.kind}
	g := newGen(t)
	t.rc.SetAutoReply(true, 0)
	users := g.addUsers(0, cfg.users)
	res.Phases = append(res.Phases, warmup(g, users, true, cfg.warmupTimeout))

	pre, post := cfg.recoveryPre, cfg.recoveryPre
	loadFor := pre + cfg.outage + post
	start := time.Now()
	var downAt, upAt, loadEnd time.Time
	var drained bool
	var maxBacklog, backlogAtUp int
	procs := measure(t, func() {
		loadDone := make(chan struct{})
		go func() {
			g.paced(users, "recovery", cfg.recoveryRate, loadFor)
			loadEnd = time.Now()
			close(loadDone)
		}()
		sample := func() int {
			n := g.outstanding([]string{"recovery"})
			res.Backlog = append(res.Backlog, BacklogPoint{T: time.Since(start).Seconds(), Backlog: n})
			maxBacklog = max(maxBacklog, n)
			return n
		}
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		downTimer := time.After(pre)
		var upTimer <-chan time.Time
		deadline := time.After(loadFor + cfg.recoveryTimeout)
		for {
			select {
			case <-downTimer:
				downAt = time.Now()
				t.rc.SetDown(true)
				upTimer = time.After(cfg.outage)
			case <-upTimer:
				upAt = time.Now()
				t.rc.SetDown(false)
				backlogAtUp = sample()
			case <-tick.C:
				n := sample()
				select {
				case <-loadDone:
					if n == 0 && !upAt.IsZero() {
						drained = true
						return
					}
				default:
				}
			case <-deadline:
				return
			}
		}
	})
	if !drained {
		res.Notes = append(res.Notes, fmt.Sprintf("backlog not drained %s after the load ended", cfg.recoveryTimeout))
	}
	g.waitFor([]string{"recovery"}, true, 15*time.Second) // replies of the last messages
	g.collect()
	p := phaseResult(g, "recovery", len(users), start, loadEnd)
	p.Procs = procs
	res.Phases = append(res.Phases, p)
	res.fig("outage_s", upAt.Sub(downAt).Seconds())
	res.fig("backlog_at_up", float64(backlogAtUp))
	res.fig("max_backlog", float64(maxBacklog))
	// Messages written during the outage: how many, and how long after Rocket.Chat came
	// back the last of them (and of everything) was in the room.
	during, lostDuring := 0, 0
	for _, m := range g.select_([]string{"recovery"}) {
		if m.Created.Before(downAt) || m.Created.After(upAt) {
			continue
		}
		during++
		if m.InRoom.IsZero() {
			lostDuring++
		}
	}
	res.fig("written_during_outage", float64(during))
	res.fig("lost_of_those", float64(lostDuring))
	// Drained: everything acknowledged before Rocket.Chat came back is in a room.
	var drainedAt time.Time
	for _, m := range g.select_([]string{"recovery"}) {
		if m.Acked && m.Created.Before(upAt) && m.InRoom.After(drainedAt) {
			drainedAt = m.InRoom
		}
	}
	if !drainedAt.IsZero() && !upAt.IsZero() {
		res.fig("drain_s", max(0, drainedAt.Sub(upAt).Seconds()))
	}
	res.fig("lost_total", float64(p.Lost+p.NotAcked))
	return res
}

// experiment: a paced steady phase on a bridge variant (reorder window, dev-server flags).
func experiment(cfg *config, t *target, v variant) *ScenarioResult {
	res := &ScenarioResult{Scenario: "experiment", Target: t.kind, Variant: v.Name}
	g := newGen(t)
	t.rc.SetAutoReply(true, 0)
	res.Phases = append(res.Phases, idle(t, cfg.idle))
	users := g.addUsers(0, cfg.expUsers)
	res.Phases = append(res.Phases, warmup(g, users, true, cfg.warmupTimeout))
	time.Sleep(cfg.settle) // as in steady: the warm-up's echoes are not the paced phase's
	var start, end time.Time
	procs := measure(t, func() {
		start = time.Now()
		g.paced(users, "paced", cfg.steadyRate, cfg.expDuration)
		end = time.Now()
		g.waitFor([]string{"paced"}, true, cfg.drainTimeout)
	})
	g.collect()
	p := phaseResult(g, "paced", len(users), start, end)
	p.Procs = procs
	res.Phases = append(res.Phases, p)
	if t.stack != nil {
		res.Breakdown = breakdown(t, g, start, end, firstUsers(g, 10))
	}
	return res
}
