package main

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// goals12 is the table of issue 12's goals, as reporting: measured on the dev server (where
// issue 12 sets them) and on the cluster, each with met/missed and the distance, beside the
// figure issue 12 quotes from before its change.
func goals12(w func(string, ...any), r *Run, steady, scl trio) {
	if !steady.any() && !scl.any() {
		return
	}
	w("## Goals (issue 12)\n\n")
	w("Issue 12 sets these goals for this machine's dev server, at the bench's paced steady load unless said otherwise; *before* is the figure issue 12 quotes from runs before its change. The cluster column is the same measurement on the production topology.\n\n")
	w("| goal | before | dev server | status | cluster | status |\n|---|---:|---:|---|---:|---|\n")
	nan := math.NaN()
	phase := func(i int, name string) *PhaseResult {
		if steady[i] == nil {
			return nil
		}
		return steady[i].phase(name)
	}
	type goal struct {
		name, before string
		limit        float64
		lower        bool
		unit         string
		get          func(i int) float64
	}
	lat := func(name string, f func(Dist) float64) func(int) float64 {
		return func(i int) float64 {
			if p := phase(i, name); p != nil && p.Inbound.N > 0 {
				return f(p.Inbound)
			}
			return nan
		}
	}
	goals := []goal{
		{"history events per customer message and its reply ≤ 12", "25.6–30.8", 12, true, "", func(i int) float64 {
			if steady[i] != nil && steady[i].Breakdown != nil && steady[i].Breakdown.Messages > 0 {
				return steady[i].Breakdown.EventsPerMessage
			}
			return nan
		}},
		{"inbound end-to-end p50 ≤ 30 ms", "221 ms", 30, true, "ms", lat("paced", func(d Dist) float64 { return d.P50 })},
		{"inbound end-to-end p99 ≤ 150 ms", "418 ms", 150, true, "ms", lat("paced", func(d Dist) float64 { return d.P99 })},
		{"first message of a new conversation p50 ≤ 500 ms (warm-up: the users' first messages at once)", "6.7 s", 500, true, "ms", lat("warmup", func(d Dist) float64 { return d.P50 })},
		{"first message of a new conversation p99 ≤ 2 s (warm-up)", "12.2 s", 2000, true, "ms", lat("warmup", func(d Dist) float64 { return d.P99 })},
		{"CPU per message, all processes, ≤ 15 ms", "39.8 ms", 15, true, "ms", func(i int) float64 {
			if p := phase(i, "paced"); p != nil {
				return cpuPerMsg(steady[i], p)
			}
			return nan
		}},
		{"worker memory per idle open conversation ≤ 20 KB (Scale)", "62.9 KB", 20, true, "KB", func(i int) float64 {
			if scl[i] != nil {
				if v, ok := scl[i].Figures["worker_kb_per_conversation"]; ok {
					return v
				}
			}
			return nan
		}},
		{"saturation ≥ 150 messages/s sustained", "33.7–74 /s", 150, false, "/s", func(i int) float64 {
			if p := phase(i, "saturation"); p != nil {
				return p.InboundRate
			}
			return nan
		}},
	}
	show := func(v float64, unit string) string {
		switch {
		case math.IsNaN(v):
			return "–"
		case unit == "ms":
			return fmtLat(v)
		case unit == "":
			return fmt.Sprintf("%.1f", v)
		default:
			return fmt.Sprintf("%.1f %s", v, unit)
		}
	}
	for _, g := range goals {
		d, c := g.get(colDev), g.get(colCluster)
		w("| %s | %s | %s | %s | %s | %s |\n", g.name, g.before, show(d, g.unit), status(d, g.limit, g.lower, g.unit), show(c, g.unit), status(c, g.limit, g.lower, g.unit))
	}
	w("\n")
}

// scaleoutResults are the scale-out runs in the order of defaultScaleout.
func scaleoutResults(r *Run) []*ScenarioResult {
	var out []*ScenarioResult
	for _, res := range r.Results {
		if res.Scenario == "scaleout" && res.Error == "" && res.phase("saturation") != nil {
			out = append(out, res)
		}
	}
	order := map[string]int{}
	for i, c := range defaultScaleout {
		order[c.slug()] = i
	}
	sort.SliceStable(out, func(i, j int) bool { return order[out[i].Variant] < order[out[j].Variant] })
	return out
}

func findScaleout(r *Run, slug string) *ScenarioResult {
	for _, res := range scaleoutResults(r) {
		if res.Variant == slug {
			return res
		}
	}
	return nil
}

// cores is a process group's CPU over a phase in cores (CPU seconds per wall second).
func cores(p *PhaseResult, prefix string) float64 {
	f, ok := groupFig(p, prefix)
	wall := p.Procs["wall"].CPUSeconds
	if !ok || wall <= 0 {
		return math.NaN()
	}
	return f.CPUSeconds / wall
}

// clusterProcs are the cluster's process groups in the order of the scale-out table.
var clusterProcs = []struct{ title, prefix string }{
	{"worker", "worker"}, {"ingress", "ingress"}, {"frontend", "temporal-frontend"}, {"history", "temporal-history"},
	{"matching", "temporal-matching"}, {"internal worker", "temporal-worker"}, {"PostgreSQL", "postgres"},
}

func scaleoutSection(w func(string, ...any), r *Run) {
	rs := scaleoutResults(r)
	if len(rs) == 0 {
		return
	}
	w("## Scale-out\n\n")
	w("The saturation load of Steady (%s users, closed loop: each writes again as soon as the agent's reply to its previous message reached Instagram, for %s) on the cluster, once per deployment, each on a fresh cluster. CPU is in cores (CPU seconds per second) over the phase, per process group; the machine has %d cores, shared with the generator and the emulators (*bench*) and with other people's work (*others*).\n\n",
		r.Settings["users"], r.Settings["scaleout_duration"], r.Machine.CPUs)
	w("| deployment | messages/s into rooms | inbound p50 / p99 (ms) | CPU ms per message |")
	for _, c := range clusterProcs {
		w(" %s |", c.title)
	}
	w(" bench | others | machine busy |\n|---|---:|---:|---:|")
	for range clusterProcs {
		w("---:|")
	}
	w("---:|---:|---:|\n")
	for _, res := range rs {
		p := res.phase("saturation")
		wall := p.Procs["wall"].CPUSeconds
		w("| %s | %.1f | %s / %s | %.1f |", describeScaleout(res), p.InboundRate, fmtMS(p.Inbound.P50), fmtMS(p.Inbound.P99), cpuPerMsg(res, p))
		for _, c := range clusterProcs {
			w(" %.2f |", cores(p, c.prefix))
		}
		busy := math.NaN()
		if m, ok := p.Procs[machineName]; ok && wall > 0 {
			busy = m.CPUSeconds / wall
		}
		w(" %.2f | %.2f | %.2f |\n", cores(p, benchProc), cores(p, othersName), busy)
	}
	w("\n")
	base := findScaleout(r, scaleoutConfig{1, 1, 0}.slug())
	if base == nil {
		return
	}
	bp := base.phase("saturation")
	var lines []string
	for _, c := range []scaleoutConfig{{2, 1, 0}, {1, 2, 0}, {2, 2, 0}, {1, 1, 4}} {
		res := findScaleout(r, c.slug())
		if res == nil || bp.InboundRate == 0 {
			continue
		}
		p := res.phase("saturation")
		lines = append(lines, fmt.Sprintf("%s: %.1f messages/s (%+.0f%%), %.1f ms CPU per message", c, p.InboundRate, (p.InboundRate/bp.InboundRate-1)*100, cpuPerMsg(res, p)))
	}
	w("Against one worker and one ingress (%.1f messages/s, %.1f ms CPU per message): %s.\n\n", bp.InboundRate, cpuPerMsg(base, bp), strings.Join(lines, "; "))
	if m, ok := bp.Procs[machineName]; ok && bp.Procs["wall"].CPUSeconds > 0 {
		busy := m.CPUSeconds / bp.Procs["wall"].CPUSeconds
		w("With one replica of each, the machine is %.0f%% busy (%.2f of %d cores) at saturation: the rate is bounded by the cores, not by one process, so a replica on the same cores adds processes competing for the same CPU and buys what the table shows — about nothing, or a loss to the extra process's own overhead. A replica pays off on cores of its own; what each needs per message is in *Sizing*.\n\n",
			busy*100, busy, r.Machine.CPUs)
	}
}

func describeScaleout(res *ScenarioResult) string {
	c := scaleoutConfig{Workers: int(res.Figures["workers"]), Ingresses: int(res.Figures["ingresses"])}
	s := c.String()
	if sh := res.Figures["shards"]; sh > 0 {
		s += fmt.Sprintf(", %.0f shards", sh)
	}
	return s
}

func memorySection(w func(string, ...any), r *Run) {
	var res *ScenarioResult
	for _, x := range r.Results {
		if x.Scenario == "memory" && x.Error == "" {
			res = x
		}
	}
	if res == nil {
		return
	}
	f := res.Figures
	ev, ca := res.phase("evicted"), res.phase("cached")
	w("## Memory bound\n\n")
	w("The worker on the cluster with `WORKFLOW_CACHE_SIZE=%.0f` (its sticky cache: how many conversations it keeps in memory), and %.0f open conversations. %.0f of them first get a history (ten exchanges with the agent each, %.0f history events) and are then pushed out of the cache by the others, opened after them; then each of those %.0f and each of the %.0f conversations opened last (still cached) get one message, interleaved, 10 per second. The difference between the two is what an evicted conversation pays: its history is fetched from Temporal and replayed before the workflow can handle the message.\n\n",
		f["cache"], f["conversations"], f["sample"], f["evicted_history_events"], f["sample"], f["sample"])
	rows := [][2]string{
		{"running conversation workflows", fmt.Sprintf("%.0f", f["open_workflows"])},
		{"worker RSS before / after opening them / at the end (MB)", fmt.Sprintf("%.0f / %.0f / %.0f", f["worker_rss_before_mb"], f["worker_rss_after_mb"], f["worker_rss_end_mb"])},
		{"worker RSS growth while opening them (MB)", fmt.Sprintf("%.0f", f["worker_rss_after_mb"]-f["worker_rss_before_mb"])},
	}
	for _, x := range r.Results {
		if x.Scenario == "scale" && x.Target == "cluster" && x.Error == "" {
			if kb, ok := x.Figures["worker_kb_per_conversation"]; ok {
				rows = append(rows, [2]string{"the same growth without a bound: Scale's worker memory per open conversation × open conversations (MB)",
					fmt.Sprintf("%.0f (%.1f KB × %.0f)", kb*f["conversations"]/1024, kb, f["conversations"])})
			}
		}
	}
	if ev != nil && ca != nil {
		rows = append(rows,
			[2]string{"**next message of an evicted conversation**, inbound p50 / p95 / p99 (ms)", fmt.Sprintf("%s / %s / %s (n=%d)", fmtMS(ev.Inbound.P50), fmtMS(ev.Inbound.P95), fmtMS(ev.Inbound.P99), ev.Inbound.N)},
			[2]string{"next message of a cached conversation, inbound p50 / p95 / p99 (ms)", fmt.Sprintf("%s / %s / %s (n=%d)", fmtMS(ca.Inbound.P50), fmtMS(ca.Inbound.P95), fmtMS(ca.Inbound.P99), ca.Inbound.N)},
			[2]string{"**replay cost** (evicted − cached), p50 / p99 (ms)", fmt.Sprintf("%s / %s", fmtMS(ev.Inbound.P50-ca.Inbound.P50), fmtMS(ev.Inbound.P99-ca.Inbound.P99))},
			[2]string{"lost / duplicates", fmt.Sprintf("%d / %d", ev.Lost+ca.Lost+ev.NotAcked+ca.NotAcked, ev.Duplicates+ca.Duplicates)},
		)
	}
	w("| figure | value |\n|---|---:|\n")
	for _, row := range rows {
		w("| %s | %s |\n", row[0], row[1])
	}
	w("\n")
	notes(w, res)
}

// sizing turns the measurements into deployment figures: per-core throughput of each
// process from the cluster's saturation run with one replica each, PostgreSQL sessions,
// shards, memory, and what a business with 100,000 open conversations and 1,000 messages/s
// at peak would run, computed from those figures.
func sizing(w func(string, ...any), r *Run, steady, scl, burst, give trio) {
	w("## Sizing a deployment\n\n")
	base := findScaleout(r, scaleoutConfig{1, 1, 0}.slug())
	var events float64
	if c := steady[colCluster]; c != nil && c.Breakdown != nil && c.Breakdown.Messages > 0 {
		events = c.Breakdown.EventsPerMessage
	}
	if base == nil {
		if c := steady[colCluster]; c != nil {
			base = c
		}
	}
	if base == nil {
		w("No cluster measurement in this run.\n\n")
		return
	}
	p := base.phase("saturation")
	pm := perMsg(base, p)
	sum := func(prefix string) float64 {
		t := 0.0
		for k, v := range pm {
			if strings.HasPrefix(k, prefix) {
				t += v
			}
		}
		return t
	}
	w("From the cluster at saturation with one worker and one ingress (%s: %.1f messages/s into rooms and as many replies out; CPU per message net of each process's idle use; a *message* is a customer message, the agent's reply and the reply's echo):\n\n", describeScaleout(base), p.InboundRate)
	w("| process | CPU ms per message | messages/s per core | peak RSS (MB) |\n|---|---:|---:|---:|\n")
	for _, c := range clusterProcs {
		v := sum(c.prefix)
		f, _ := groupFig(p, c.prefix)
		perCore := "–"
		if v > 0 {
			perCore = fmt.Sprintf("%.0f", 1000/v)
		}
		rss := "–"
		if f.PeakRSSMB > 0 {
			rss = fmt.Sprintf("%.0f", f.PeakRSSMB)
		}
		w("| %s | %.2f | %s | %s |\n", c.title, v, perCore, rss)
	}
	total := pm["total"]
	w("| **all** | **%.2f** | %.0f | |\n\n", total, 1000/math.Max(total, 0.001))
	if events > 0 {
		hist := sum("temporal-history")
		w("- **History**: %.1f history events per customer message and its reply (sampled conversations of the cluster's paced phase), so %.1f messages/s are %.0f history events/s; the history service spent %.2f ms per message, **%.0f history events/s per history core**.\n",
			events, p.InboundRate, events*p.InboundRate, hist, events*1000/math.Max(hist, 0.001))
	}
	if v := sum("worker"); v > 0 {
		w("- **Worker**: **%.0f messages/s per worker core** (%.2f ms per message).\n", 1000/v, v)
	}
	if v := sum("ingress"); v > 0 {
		w("- **Ingress**: **%.0f messages/s per ingress core** (%.2f ms per message).\n", 1000/v, v)
	}
	if c := steady[colCluster]; c != nil {
		if t, ok := c.Figures["pg_connections_temporal"]; ok {
			w("- **PostgreSQL sessions** at saturation (peak of `pg_stat_activity`): %.0f of role `temporal` for four server processes (%.0f per process; each process pools up to `SQL_MAX_CONNS` 20 for its store and `SQL_VIS_MAX_CONNS` 10 for visibility), %.0f of role `igdirect` for one worker and one ingress. `POSTGRES_MAX_CONNECTIONS` (300) covers about %.0f such server processes plus the bridge.\n",
				t, t/4, c.Figures["pg_connections_igdirect"], 280/math.Max(1, t/4))
		}
	}
	if s4 := findScaleout(r, scaleoutConfig{1, 1, 4}.slug()); s4 != nil {
		p4 := s4.phase("saturation")
		i512, i4 := base.phase("idle"), s4.phase("idle")
		idle := func(ph *PhaseResult) float64 {
			if ph == nil || ph.Duration <= 0 {
				return math.NaN()
			}
			f, _ := groupFig(ph, "temporal-history")
			return f.CPUSeconds / ph.Duration
		}
		rss := func(ph *PhaseResult) float64 { f, _ := groupFig(ph, "temporal-history"); return f.PeakRSSMB }
		h512, h4 := sum("temporal-history"), perMsg(s4, p4)["temporal-history"]
		verdict := "the shard count made no difference beyond the noise here"
		if p4.InboundRate < p.InboundRate*0.9 {
			verdict = fmt.Sprintf("fewer shards cost throughput and tail latency even on one history process (%.0f%% fewer messages/s; inbound p99 %s against %s)",
				(1-p4.InboundRate/p.InboundRate)*100, fmtLat(p4.Inbound.P99), fmtLat(p.Inbound.P99))
		}
		w("- **Shards**: with %.0f shards the saturation load ran at %.1f messages/s (history %.2f ms per message, peak RSS %.0f MB, idle %.3f cores); with 4 shards at %.1f messages/s (history %.2f ms per message, %.0f MB, idle %.3f cores): %s. Shards are also the unit Temporal spreads over history processes and are fixed for the life of the cluster: keep compose's 512, whose idle cost is the figure above.\n",
			base.Figures["shards"], p.InboundRate, h512, rss(p), idle(i512), p4.InboundRate, h4, rss(p4), idle(i4), verdict)
	}
	var kb, histKB float64
	if c := scl[colCluster]; c != nil {
		kb, histKB = c.Figures["worker_kb_per_conversation"], c.Figures["temporal-history_kb_per_conversation"]
		w("- **Memory per open conversation** (cluster, Scale): worker %.1f KB, history service %.1f KB (RSS growth per conversation, upper bounds).\n", kb, histKB)
	}
	for _, x := range r.Results {
		if x.Scenario == "memory" && x.Error == "" {
			if ev, ca := x.phase("evicted"), x.phase("cached"); ev != nil && ca != nil {
				w("- **Sticky cache**: a worker holding %.0f of %.0f open conversations grew %.0f MB; a conversation evicted from it paid %s ms (p50) / %s ms (p99) more on its next message (Memory bound).\n",
					x.Figures["cache"], x.Figures["conversations"], x.Figures["worker_rss_after_mb"]-x.Figures["worker_rss_before_mb"],
					fmtMS(ev.Inbound.P50-ca.Inbound.P50), fmtMS(ev.Inbound.P99-ca.Inbound.P99))
			}
		}
	}
	if g := give[colCluster]; g != nil {
		if x := g.phase("giveaway"); x != nil {
			w("- **Giveaway** (cluster): %d new customers in %s, first message p50 %s / p99 %s, all in rooms %.1f s after the first wrote; %.0f ms CPU per new conversation.\n", x.Sent, r.Settings["giveaway_window"], fmtLat(x.Inbound.P50), fmtLat(x.Inbound.P99), g.Figures["all_in_room_s"], cpuPerMsg(g, x))
		}
	}
	w("\n")

	// The example business.
	const rate, open = 1000.0, 100000.0
	need := func(prefix string) float64 { return rate * sum(prefix) / 1000 }
	w("**A business with 100,000 open conversations and 1,000 messages/s at peak**, computed from the per-message CPU above (cores at 100%% busy; plan about 1.5× that, so a replica can fail and bursts have room):\n\n")
	w("| component | cores at 1,000 messages/s | at 1.5× | memory |\n|---|---:|---:|---|\n")
	for _, c := range clusterProcs {
		mem := ""
		switch c.prefix {
		case "worker":
			if kb > 0 {
				mem = fmt.Sprintf("%.0f KB × cached conversations: %.1f GB for all 100,000 (`WORKFLOW_CACHE_SIZE=100000`), %.1f GB with the default 10,000 (the rest replayed on their next message)", kb, kb*open/1024/1024, kb*10000/1024/1024)
			}
		case "temporal-history":
			if histKB > 0 {
				mem = fmt.Sprintf("%.0f KB × open conversations in its caches: up to %.1f GB", histKB, histKB*open/1024/1024)
			}
			if events > 0 {
				mem += fmt.Sprintf("; %.0f history events/s", events*rate)
			}
		}
		w("| %s | %.1f | %.1f | %s |\n", c.title, need(c.prefix), need(c.prefix)*1.5, mem)
	}
	w("| **all** | **%.1f** | **%.1f** | |\n\n", rate*total/1000, rate*total/1000*1.5)
}
