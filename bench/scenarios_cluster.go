package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
)

// giveaway: a giveaway post brings cfg.giveawayN new customers who all write within
// cfg.giveawayWindow (evenly spread, open loop): every message is the first of a new
// conversation (workflow start, visitor registration, room). Agents do not answer, so what
// is measured is the first-message path alone: its latency, and the time until every
// customer is in a room.
func giveaway(cfg *config, t *target) *ScenarioResult {
	res := &ScenarioResult{Scenario: "giveaway", Target: t.kind}
	g := newGen(t)
	t.rc.SetAutoReply(false, 0)
	res.Phases = append(res.Phases, idle(t, cfg.idle))
	// A few conversations first: connections and caches warm, as on a live system.
	res.Phases = append(res.Phases, warmup(g, g.addUsers(0, 20), false, cfg.warmupTimeout))
	users := g.addUsers(20, 20+cfg.giveawayN)
	rate := float64(len(users)) / cfg.giveawayWindow.Seconds()
	var start, sent time.Time
	procs := measure(t, func() {
		start = time.Now()
		g.arrivals(users, "giveaway", rate)
		sent = time.Now()
		if !g.waitFor([]string{"giveaway"}, false, cfg.scaleTimeout) {
			res.Notes = append(res.Notes, fmt.Sprintf("not every customer was in a room after %s; %d outstanding", cfg.scaleTimeout, g.outstanding([]string{"giveaway"})))
		}
	})
	g.collect()
	p := phaseResult(g, "giveaway", len(users), start, sent)
	p.Procs = procs
	res.Phases = append(res.Phases, p)
	res.fig("window_s", sent.Sub(start).Seconds())
	res.fig("offered_per_s", rate)
	res.fig("all_in_room_s", p.AllInRoom)
	return res
}

// scaleoutConfig is one deployment of the scale-out scenario.
type scaleoutConfig struct {
	Workers, Ingresses int
	Shards             int // 0: -shards
}

// defaultScaleout: one more worker, one more ingress replica, both; and the same load on a
// cluster with 4 history shards instead of 512.
var defaultScaleout = []scaleoutConfig{{1, 1, 0}, {2, 1, 0}, {1, 2, 0}, {2, 2, 0}, {1, 1, 4}}

func (c scaleoutConfig) String() string {
	s := fmt.Sprintf("%d worker%s, %d ingress", c.Workers, plural(c.Workers), c.Ingresses)
	if c.Shards > 0 {
		s += fmt.Sprintf(", %d shards", c.Shards)
	}
	return s
}

func (c scaleoutConfig) slug() string {
	s := fmt.Sprintf("w%d-i%d", c.Workers, c.Ingresses)
	if c.Shards > 0 {
		s += fmt.Sprintf("-s%d", c.Shards)
	}
	return s
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// scaleout: the closed-loop saturation of steady (every user writes again as soon as the
// reply to its previous message reached Instagram) on one deployment of the cluster, with
// each process's CPU: what one more replica buys on this machine.
func scaleout(cfg *config, t *target, sc scaleoutConfig) *ScenarioResult {
	res := &ScenarioResult{Scenario: "scaleout", Target: t.kind, Variant: sc.slug()}
	g := newGen(t)
	t.rc.SetAutoReply(true, 0)
	res.Phases = append(res.Phases, idle(t, cfg.idle))
	users := g.addUsers(0, cfg.users)
	res.Phases = append(res.Phases, warmup(g, users, true, cfg.warmupTimeout))
	var start, end time.Time
	var timeouts int64
	conns := startConnSampler(t)
	procs := measure(t, func() {
		start = time.Now()
		timeouts = g.closedLoop(users, "saturation", cfg.scaleoutDur, cfg.think, 30*time.Second)
		end = time.Now()
	})
	for role, n := range conns() {
		res.fig("pg_connections_"+role, float64(n))
	}
	g.waitFor([]string{"saturation"}, true, cfg.drainTimeout)
	g.collect()
	p := phaseResult(g, "saturation", len(users), start, end)
	p.Procs, p.ReplyTimeouts = procs, timeouts
	res.Phases = append(res.Phases, p)
	res.fig("workers", float64(sc.Workers))
	res.fig("ingresses", float64(sc.Ingresses))
	shards := sc.Shards
	if shards == 0 {
		shards = cfg.shards
	}
	res.fig("shards", float64(shards))
	return res
}

// memoryBound: a worker whose sticky cache (WORKFLOW_CACHE_SIZE) holds fewer conversations
// than are open. A sample of conversations gets a history first (ten exchanges each) and is
// then pushed out of the cache by many new conversations; the worker's memory stays bounded
// by the cache, and the next message of an evicted conversation pays a replay of its
// history, measured against conversations still in the cache.
func memoryBound(cfg *config, t *target) *ScenarioResult {
	res := &ScenarioResult{Scenario: "memory", Target: t.kind}
	g := newGen(t)
	n, sample := cfg.memoryConvs, min(cfg.memorySample, cfg.memoryCache/2)
	res.fig("cache", float64(cfg.memoryCache))
	res.fig("conversations", float64(n))
	res.fig("sample", float64(sample))
	worker := t.pids["worker"]
	before := rssMB(worker)
	res.fig("worker_rss_before_mb", before)

	// The conversations that will be evicted: ten exchanges each (the agent answers).
	t.rc.SetAutoReply(true, 0)
	evicted := g.addUsers(0, sample)
	res.Phases = append(res.Phases, warmup(g, evicted, true, cfg.warmupTimeout))
	g.paced(evicted, "history", 50, time.Duration(float64(9*sample)/50*float64(time.Second)))
	g.waitFor([]string{"history"}, true, cfg.drainTimeout)
	t.rc.SetAutoReply(false, 0)

	// Many more conversations than the cache holds: the sample is evicted.
	others := g.addUsers(sample, n)
	var start, sent time.Time
	procs := measure(t, func() {
		start = time.Now()
		g.once(others, "open", cfg.scaleConc)
		sent = time.Now()
		if !g.waitFor([]string{"open"}, false, cfg.scaleTimeout) {
			res.Notes = append(res.Notes, fmt.Sprintf("not every conversation was open after %s", cfg.scaleTimeout))
		}
	})
	time.Sleep(cfg.settle)
	after := rssMB(worker)
	res.fig("worker_rss_after_mb", after)
	if h, err := historyLength(t, evicted[0]); err == nil {
		res.fig("evicted_history_events", float64(h))
	}
	if c, err := countOpen(t); err == nil {
		res.fig("open_workflows", float64(c))
	}

	// One message to each evicted conversation and to each of the last ones opened (still
	// cached), interleaved, 10 per second.
	cached := others[len(others)-sample:]
	var mix []int
	phaseOf := map[int]string{}
	for i := range sample {
		mix = append(mix, evicted[i], cached[i])
		phaseOf[evicted[i]], phaseOf[cached[i]] = "evicted", "cached"
	}
	var eStart, eEnd time.Time
	eProcs := measure(t, func() {
		eStart = time.Now()
		var wg sync.WaitGroup
		for i, u := range mix {
			time.Sleep(time.Until(eStart.Add(time.Duration(i) * 100 * time.Millisecond)))
			wg.Add(1)
			go func() { defer wg.Done(); g.send(u, phaseOf[u]) }()
		}
		wg.Wait()
		eEnd = time.Now()
		g.waitFor([]string{"evicted", "cached"}, false, cfg.drainTimeout)
	})
	res.fig("worker_rss_end_mb", rssMB(worker))
	g.collect()
	open := phaseResult(g, "open", len(others), start, sent)
	open.Procs = procs
	ev, ca := phaseResult(g, "evicted", sample, eStart, eEnd), phaseResult(g, "cached", sample, eStart, eEnd)
	ev.Procs = eProcs
	res.Phases = append(res.Phases, open, ev, ca)
	return res
}

// historyLength is the number of events in the current run of a user's conversation.
func historyLength(t *target, user int) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := t.stack.Temporal().DescribeWorkflowExecution(ctx, t.stack.WorkflowID(igsidOf(user)), "")
	if err != nil {
		return 0, err
	}
	return resp.GetWorkflowExecutionInfo().GetHistoryLength(), nil
}

// startConnSampler samples the cluster's PostgreSQL sessions by role every second until
// the returned function is called, which returns the largest count seen per role.
func startConnSampler(t *target) func() map[string]int {
	if t.stack == nil || t.stack.Cluster() == nil {
		return func() map[string]int { return nil }
	}
	db, err := sqlx.Open("postgres", t.stack.Cluster().Postgres().SuperuserDSN("postgres"))
	if err != nil {
		return func() map[string]int { return nil }
	}
	peak := map[string]int{}
	var mu sync.Mutex
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			var rows []struct {
				Role string `db:"role"`
				N    int    `db:"n"`
			}
			if err := db.Select(&rows, `SELECT coalesce(usename, '') AS role, count(*) AS n FROM pg_stat_activity
				WHERE backend_type = 'client backend' GROUP BY 1`); err == nil {
				mu.Lock()
				for _, r := range rows {
					peak[r.Role] = max(peak[r.Role], r.N)
				}
				mu.Unlock()
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() map[string]int {
		close(done)
		<-stopped
		db.Close()
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}
