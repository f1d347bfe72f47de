package main

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/igdirect/bridge/internal/devstack"
)

// The columns of a report's tables: the bridge on the Temporal dev server ("bridge"), the
// bridge on the production topology ("cluster"), the non-durable relay ("baseline").
const (
	colDev = iota
	colCluster
	colBase
)

// trio is one scenario's results on the three targets (nil where it did not run).
type trio [3]*ScenarioResult

func (t trio) phase(name string) [3]*PhaseResult {
	var out [3]*PhaseResult
	for i, r := range t {
		if r != nil {
			out[i] = r.phase(name)
		}
	}
	return out
}

// report renders docs/benchmarks.md.
func report(r *Run) string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	find := func(scenario, target, variant string) *ScenarioResult {
		for _, res := range r.Results {
			if res.Scenario == scenario && res.Target == target && res.Variant == variant && res.Error == "" {
				return res
			}
		}
		return nil
	}
	get := func(scenario string) trio {
		return trio{find(scenario, "bridge", ""), find(scenario, "cluster", ""), find(scenario, "baseline", "")}
	}

	w("# Benchmarks\n\n")
	if r.Quick {
		w("> **Quick variant** (`-quick`, as run in CI): small numbers that only show the benchmark works. Do not read them as performance figures.\n\n")
	}
	w("Written by `make bench` (`go run ./bench`) on %s in %.1f minutes. Every figure comes from real stacks started by `internal/devstack` — a fresh PostgreSQL, Temporal, the real `worker` and `ingress` processes — with `sandbox/meta` as Meta and `sandbox/rocketchat` as Rocket.Chat, in the benchmark's process. Each scenario runs, side by side, on\n\n", r.Machine.Date, r.Wall/60)
	w("- **dev server**: the Temporal dev server of the pinned CLI (%s): one process, one history shard, SQLite — what `make run` and `make test` use;\n", orDash(r.Machine.TemporalCLI))
	w("- **cluster**: the production topology of `docker-compose.yml` as `make run-cluster` runs it — Temporal server 1.29.1 on PostgreSQL (fsync on) with SQL visibility, frontend, history, matching and internal worker as separate processes, %s history shards, `deploy/temporal/dynamicconfig/production.yaml` — with one worker and one ingress (Scale-out adds replicas);\n", orDash(r.Settings["cluster_shards"]))
	w("- **baseline**: a minimal relay with no durability (`bench/baseline.go`: verify the signature, parse, call the Rocket.Chat Livechat REST API — visitor, room, message — and answer; agent messages go straight to the Send API), in its own process. The ratio columns divide by it: what durability costs.\n\n")
	w("Each scenario gets fresh stacks. How it measures:\n\n")
	w("- **acknowledgement**: the generator signs a webhook with `sandbox/meta` (one event per POST) and times the POST until its 200. A non-200 or transport error counts as an error and is retried like Meta (up to 6 attempts over ~8 s); a message never acknowledged is lost at the sender.\n")
	w("- **inbound end-to-end**: Meta's event timestamp (the event is created the moment the webhook is sent) → the message's `ts` in `sandbox/rocketchat`.\n")
	w("- **outbound**: the agent's message `ts` in `sandbox/rocketchat` (the sandbox agent answers every message at once: `SetAutoReply(true, 0)`) → `SentMessage.At` of the Send API call in `sandbox/meta`.\n")
	w("- percentiles are nearest-rank over **all** samples of the phase; *n* is stated. Rates count what reached its destination inside the phase's window. Rocket.Chat and Meta timestamps have millisecond resolution, so latency ratios use at least 1 ms for the baseline.\n")
	w("- **CPU** is utime+stime from `/proc/<pid>/stat` over the phase; **peak memory** is VmHWM from `/proc/<pid>/status` (reset at the phase start). The bridge is worker + ingress + Temporal (the dev server, or the cluster's four server processes) + PostgreSQL (the postmaster and its backends; CPU only); the baseline is the relay process. The generator and both emulators share the same cores, in the benchmark's process.\n\n")

	w("## Machine\n\n| | |\n|---|---|\n")
	w("| CPUs | %d × %s |\n| memory | %.1f GiB |\n| kernel | %s |\n| Go | %s |\n| Temporal | %s; cluster: server %s, UI %s |\n| PostgreSQL | %s |\n| product | %s |\n| load average at start / end | %s / %s |\n\n",
		r.Machine.CPUs, orDash(r.Machine.CPUModel), r.Machine.MemoryGiB, orDash(r.Machine.Kernel), r.Machine.GoVersion,
		orDash(r.Machine.TemporalCLI), devstack.TemporalServerVersion, devstack.TemporalUIVersion, orDash(r.Machine.PostgreSQL), orDash(r.Machine.Product), r.Machine.LoadStart, r.Machine.LoadEnd)
	w("The machine is shared with other work (other engineers' tests ran on the same cores at the same time; the *others* column of the resource tables shows how much): absolute numbers carry that noise; the ratios, measured minutes apart, less so.\n\n")

	w("## How to reproduce\n\n```sh\nmake bench                      # = bash scripts/bench.sh: pinned Temporal binaries, a throwaway PostgreSQL per stack, full run\n")
	if len(r.Args) > 0 {
		w("bash scripts/bench.sh %s   # this run\n", strings.Join(r.Args, " "))
	}
	w("go run ./bench -quick -out /dev/null   # the CI variant\n")
	w("go run ./bench -scenarios steady,baseline -targets cluster -users 50 -rate 25   # one scenario, smaller\n```\n\n")
	w("Settings of this run: ")
	var keys []string
	for k := range r.Settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i > 0 {
			w(", ")
		}
		w("`%s=%s`", k, r.Settings[k])
	}
	w(". Raw samples (every message) are written to `docs/bench-raw/` (git-ignored); process logs to `.data/bench-logs/`.\n\n")

	steady, burst, scl, rec, give := get("steady"), get("burst"), get("scale"), get("recovery"), get("giveaway")

	goals12(w, r, steady, scl)
	goals(w, r, steady[colDev], scl[colDev])

	if steady.any() {
		w("## Steady\n\n")
		paced, sat, warm := steady.phase("paced"), steady.phase("saturation"), steady.phase("warmup")
		if p := first(paced); p != nil {
			w("%d users. **Paced**: every user writes every %.0f s (%.0f messages/s offered) for %s, open loop; the agent answers each message. **Saturation**: closed loop — each user writes again as soon as the agent's reply to its previous message reached Instagram (think time %s), for %s: the sustained rate of the whole pipeline. **Warm-up**: each user's first message, all users at once (50 concurrent senders), which starts the conversation (workflow start, visitor registration, room).\n\n",
				p.Users, float64(p.Users)/r.settingF("paced_rate"), r.settingF("paced_rate"), r.Settings["paced"], r.Settings["think"], r.Settings["saturation"])
		}
		table(w, []row{
			latRow("paced: acknowledgement", paced, func(p *PhaseResult) Dist { return p.Ack }),
			latRow("paced: inbound end-to-end", paced, func(p *PhaseResult) Dist { return p.Inbound }),
			latRow("paced: outbound (agent → Send API)", paced, func(p *PhaseResult) Dist { return p.Outbound }),
			rateRow("paced: messages/s into rooms (offered)", paced, func(p *PhaseResult) float64 { return p.InboundRate }, func(p *PhaseResult) string { return fmt.Sprintf(" (%.0f)", p.OfferedRate) }),
			cpuRow("paced: CPU ms per message (all processes, net of idle)", steady, paced),
			latRow("warm-up: first message of a conversation, inbound", warm, func(p *PhaseResult) Dist { return p.Inbound }),
			rateRow("**saturation: sustained messages/s into rooms**", sat, func(p *PhaseResult) float64 { return p.InboundRate }, nil),
			rateRow("saturation: agent replies/s to Instagram", sat, func(p *PhaseResult) float64 { return p.OutboundRate }, nil),
			latRow("saturation: acknowledgement", sat, func(p *PhaseResult) Dist { return p.Ack }),
			latRow("saturation: inbound end-to-end", sat, func(p *PhaseResult) Dist { return p.Inbound }),
			latRow("saturation: outbound", sat, func(p *PhaseResult) Dist { return p.Outbound }),
			cpuRow("saturation: CPU ms per message (all processes, net of idle)", steady, sat),
			eventsRow("history events per customer message and its reply (sampled conversations, paced)", steady),
			figRow("PostgreSQL sessions at saturation, role temporal / igdirect (peak)", steady, "", "%.0f", "pg_connections_temporal", "pg_connections_igdirect"),
			countRow("errors (non-200 answers, all phases)", steady, func(p *PhaseResult) int { return p.Errors }),
			countRow("lost (never acknowledged, or acknowledged and never in a room)", steady, func(p *PhaseResult) int { return p.Lost + p.NotAcked }),
			countRow("duplicates in rooms / on Instagram", steady, func(p *PhaseResult) int { return p.Duplicates + p.ReplyDups }),
		})
		procTable(w, "Resources per process", [][3]*PhaseResult{paced, sat})
	}

	if burst.any() {
		w("## Burst\n\n")
		p := burst.phase("burst")
		if x := first(p); x != nil {
			w("%d webhook events, one per POST, from %s concurrent senders as fast as they are acknowledged, spread over the %d open conversations of the warm-up (%d messages each); agents do not answer during the burst.\n\n",
				x.Sent, r.Settings["burst_concurrency"], x.Users, x.Sent/max(1, x.Users))
		}
		table(w, []row{
			latRow("acknowledgement", p, func(p *PhaseResult) Dist { return p.Ack }),
			figRow("time to send all (s)", burst, "send_s", "%.1f"),
			rateRow("acknowledged/s", p, func(p *PhaseResult) float64 { return p.AckedRate }, nil),
			figRow("**time until all are in Rocket.Chat (s)**", burst, "all_in_room_s", "%.1f"),
			latRow("inbound end-to-end", p, func(p *PhaseResult) Dist { return p.Inbound }),
			countRowP("errors", p, func(p *PhaseResult) int { return p.Errors }),
			countRowP("lost", p, func(p *PhaseResult) int { return p.Lost + p.NotAcked }),
			countRowP("duplicates", p, func(p *PhaseResult) int { return p.Duplicates }),
			cpuRow("CPU ms per message (all processes)", burst, p),
		})
		procTable(w, "Resources per process", [][3]*PhaseResult{p})
		notes(w, burst[:]...)
	}

	if give.any() {
		w("## Giveaway\n\n")
		p := give.phase("giveaway")
		if x := first(p); x != nil {
			w("A giveaway post: %d **new** customers write within %s (%.0f per second, evenly spread, open loop), each a first message that starts a conversation — workflow start, visitor registration, room — after 20 conversations that warm the stack up. Agents do not answer: this is the first-message path alone. Goal (issue 15): first-message p99 ≤ 2 s on the cluster.\n\n",
				x.Sent, r.Settings["giveaway_window"], firstFig(give, "offered_per_s"))
		}
		table(w, []row{
			latRow("**first message, inbound end-to-end**", p, func(p *PhaseResult) Dist { return p.Inbound }),
			latRow("acknowledgement", p, func(p *PhaseResult) Dist { return p.Ack }),
			figRow("time to send all (s)", give, "window_s", "%.1f"),
			figRow("**time until every customer is in a room (s)**, from the first message", give, "all_in_room_s", "%.1f"),
			countRowP("errors (retried)", p, func(p *PhaseResult) int { return p.Errors }),
			countRowP("lost", p, func(p *PhaseResult) int { return p.Lost + p.NotAcked }),
			countRowP("duplicates", p, func(p *PhaseResult) int { return p.Duplicates }),
			cpuRow("CPU ms per new conversation (all processes, net of idle)", give, p),
		})
		if c := give[colCluster]; c != nil {
			if x := c.phase("giveaway"); x != nil && x.Inbound.N > 0 {
				w("On the cluster the first-message p99 is %s: the goal of 2 s is %s.\n\n", fmtLat(x.Inbound.P99), status(x.Inbound.P99, 2000, true, "ms"))
			}
		}
		procTable(w, "Resources per process", [][3]*PhaseResult{p})
		notes(w, give[:]...)
	}

	if scl.any() {
		w("## Scale\n\n")
		open, each := scl.phase("open"), scl.phase("each")
		if x := first(open); x != nil {
			w("%d conversations opened at once (%s concurrent senders, one message each; agents do not answer, so every conversation stays open and idle). Memory is the RSS of each process %s after the last conversation was open minus its RSS before (after a 20-conversation warm-up), divided by the number of conversations; RSS includes what the Go runtime has not returned to the system, so it is an upper bound. Then %.0f of the open conversations, spread over all of them, get one message each, paced at %s messages/s.\n\n",
				x.Sent, r.Settings["scale_concurrency"], r.Settings["settle"], firstFig(scl, "sampled_conversations"), r.Settings["scale_rate"])
		}
		table(w, []row{
			figRow("running conversation workflows", scl, "open_workflows", "%.0f"),
			figRow("time to open them all (s)", scl, "open_s", "%.1f"),
			latRow("opening: acknowledgement", open, func(p *PhaseResult) Dist { return p.Ack }),
			latRow("opening: first message inbound", open, func(p *PhaseResult) Dist { return p.Inbound }),
			figRow("worker (baseline: relay) RSS before (MB)", scl, "worker_rss_before_mb", "%.0f", "", "relay_rss_before_mb"),
			figRow("worker (baseline: relay) RSS after (MB)", scl, "worker_rss_after_mb", "%.0f", "", "relay_rss_after_mb"),
			figRow("**worker memory per open conversation (KB)**", scl, "worker_kb_per_conversation", "%.1f", "", "relay_kb_per_conversation"),
			figRow("Temporal memory per conversation (KB): dev server / history service", scl, "temporal_kb_per_conversation", "%.1f", "temporal-history_kb_per_conversation", "-"),
			latRow("a message to each sampled conversation: acknowledgement", each, func(p *PhaseResult) Dist { return p.Ack }),
			latRow("**a message to each sampled conversation: inbound end-to-end**", each, func(p *PhaseResult) Dist { return p.Inbound }),
			countRowP("lost", each, func(p *PhaseResult) int { return p.Lost + p.NotAcked }),
		})
		for i, name := range []string{"dev server", "cluster"} {
			if res := scl[i]; res != nil && res.Breakdown != nil && len(res.Breakdown.Inbound) >= 6 {
				w("The %d slowest of those messages on the %s, hop by hop (their conversations' histories; `REORDER_WINDOW=%s`):\n\n", res.Breakdown.Messages, name, res.Breakdown.ReorderWindow)
				hops(w, "inbound hop", res.Breakdown.Inbound)
			}
		}
		procTable(w, "Resources per process", [][3]*PhaseResult{open, each})
		notes(w, scl[:]...)
	}

	if rec.any() {
		w("## Recovery\n\n")
		p := rec.phase("recovery")
		if x := first(p); x != nil {
			w("%d users write at %s messages/s for %s, Rocket.Chat down (`SetDown`: every REST call has its connection closed) for %s of it, starting after %s; agents answer. The backlog is what was acknowledged but is not in a room yet, sampled every second.\n\n",
				x.Users, r.Settings["recovery_rate"], fmtS(x.Duration), r.Settings["outage"], r.Settings["recovery_pre"])
		}
		table(w, []row{
			noRatio(figRow("messages written during the outage", rec, "written_during_outage", "%.0f")),
			noRatio(figRow("backlog (acknowledged, not in a room) when Rocket.Chat came back", rec, "backlog_at_up", "%.0f")),
			noRatio(figRow("largest backlog", rec, "max_backlog", "%.0f")),
			noRatio(figRow("**time to drain**: from Rocket.Chat back until everything acknowledged before is in a room (s)", rec, "drain_s", "%.1f")),
			noRatio(figRow("**lost** (of all messages of the scenario)", rec, "lost_total", "%.0f")),
			noRatio(figRow("lost of those written during the outage", rec, "lost_of_those", "%.0f")),
			countRowP("duplicates", p, func(p *PhaseResult) int { return p.Duplicates + p.ReplyDups }),
			countRowP("errors (non-200 answers, retried)", p, func(p *PhaseResult) int { return p.Errors }),
			latRow("acknowledgement", p, func(p *PhaseResult) Dist { return p.Ack }),
			latRow("inbound end-to-end (all messages)", p, func(p *PhaseResult) Dist { return p.Inbound }),
		})
		for i, name := range []string{"dev server", "cluster"} {
			if res := rec[i]; res != nil && len(res.Backlog) > 0 {
				w("Backlog on the %s over time (seconds since the load started: messages): %s\n\n", name, backlogLine(res.Backlog))
			}
		}
		notes(w, rec[:]...)
	}

	scaleoutSection(w, r)
	memorySection(w, r)
	whereTheTimeGoes(w, r, steady[colDev], find)
	sizing(w, r, steady, scl, burst, give)
	return b.String()
}

func (t trio) any() bool { return t[0] != nil || t[1] != nil || t[2] != nil }

// first is the first phase present (for the settings a scenario's text quotes).
func first(ps [3]*PhaseResult) *PhaseResult {
	for _, p := range ps {
		if p != nil {
			return p
		}
	}
	return nil
}

func firstFig(t trio, key string) float64 {
	for _, r := range t {
		if r != nil {
			if v, ok := r.Figures[key]; ok {
				return v
			}
		}
	}
	return math.NaN()
}

func (r *Run) settingF(k string) float64 {
	var f float64
	fmt.Sscan(r.Settings[k], &f)
	return f
}

// row is one line of a report table: a value per target and the ratios of the two bridge
// targets to the baseline.
type row struct {
	name   string
	vals   [3]string
	ratios [2]string
}

func newRow(name string) row {
	return row{name: name, vals: [3]string{"–", "–", "–"}, ratios: [2]string{"–", "–"}}
}

// table renders rows, leaving out the columns no row has a value in.
func table(w func(string, ...any), rows []row) {
	heads := []string{"dev server", "cluster", "baseline", "dev server ÷ baseline", "cluster ÷ baseline"}
	has := make([]bool, 5)
	for _, r := range rows {
		if r.name == "" {
			continue
		}
		for i, v := range r.vals {
			has[i] = has[i] || v != "–"
		}
		for i, v := range r.ratios {
			has[3+i] = has[3+i] || v != "–"
		}
	}
	w("| figure |")
	for i, h := range heads {
		if has[i] {
			w(" %s |", h)
		}
	}
	w("\n|---|")
	for i := range heads {
		if has[i] {
			w("---:|")
		}
	}
	w("\n")
	for _, r := range rows {
		if r.name == "" {
			continue
		}
		w("| %s |", r.name)
		cells := append(r.vals[:], r.ratios[:]...)
		for i, c := range cells {
			if has[i] {
				w(" %s |", c)
			}
		}
		w("\n")
	}
	w("\n")
}

func noRatio(r row) row {
	r.ratios = [2]string{"–", "–"}
	return r
}

func ratio(a, b float64) string {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return "–"
	}
	x := a / b
	switch {
	case x >= 10:
		return fmt.Sprintf("×%.0f", x)
	default:
		return fmt.Sprintf("×%.2g", x)
	}
}

func fmtMS(v float64) string {
	switch {
	case v >= 10000:
		return fmt.Sprintf("%.1f s", v/1000)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// fmtLat is a latency with its unit ("42.0 ms", "10.1 s").
func fmtLat(v float64) string {
	if v >= 10000 {
		return fmtMS(v)
	}
	return fmtMS(v) + " ms"
}

func fmtS(s float64) string { return fmt.Sprintf("%.0f s", s) }

// latRatio divides latencies with the baseline floored at 1 ms, the resolution of the
// emulators' timestamps: a sub-millisecond baseline is "about 1 ms", not a divisor near 0.
func latRatio(a, b float64) string { return ratio(a, math.Max(b, 1)) }

func latRow(name string, ps [3]*PhaseResult, f func(*PhaseResult) Dist) row {
	r := newRow(name + " p50 / p95 / p99 (ms)")
	if ps[colDev] == nil && ps[colCluster] == nil {
		return row{}
	}
	for i, p := range ps {
		if p != nil {
			d := f(p)
			r.vals[i] = fmt.Sprintf("%s / %s / %s (n=%d)", fmtMS(d.P50), fmtMS(d.P95), fmtMS(d.P99), d.N)
		}
	}
	if l := ps[colBase]; l != nil {
		dl := f(l)
		for i := range 2 {
			if ps[i] != nil {
				d := f(ps[i])
				r.ratios[i] = fmt.Sprintf("%s / %s / %s", latRatio(d.P50, dl.P50), latRatio(d.P95, dl.P95), latRatio(d.P99, dl.P99))
			}
		}
	}
	return r
}

func rateRow(name string, ps [3]*PhaseResult, f func(*PhaseResult) float64, extra func(*PhaseResult) string) row {
	if ps[colDev] == nil && ps[colCluster] == nil {
		return row{}
	}
	r := newRow(name)
	for i, p := range ps {
		if p != nil {
			r.vals[i] = fmt.Sprintf("%.1f", f(p))
			if extra != nil && i != colBase {
				r.vals[i] += extra(p)
			}
		}
	}
	if l := ps[colBase]; l != nil {
		for i := range 2 {
			if ps[i] != nil {
				r.ratios[i] = ratio(f(ps[i]), f(l))
			}
		}
	}
	return r
}

// cpuPerMsg is the CPU per acknowledged message in ms (all processes of the target, net of
// their idle consumption where the scenario measured it).
func cpuPerMsg(res *ScenarioResult, p *PhaseResult) float64 {
	if p == nil || p.Acked == 0 {
		return math.NaN()
	}
	return perMsg(res, p)["total"]
}

func cpuRow(name string, rs trio, ps [3]*PhaseResult) row {
	if ps[colDev] == nil && ps[colCluster] == nil {
		return row{}
	}
	r := newRow(name)
	for i, p := range ps {
		if p != nil {
			r.vals[i] = fmt.Sprintf("%.2f", cpuPerMsg(rs[i], p))
		}
	}
	if l := ps[colBase]; l != nil {
		for i := range 2 {
			if ps[i] != nil {
				r.ratios[i] = ratio(cpuPerMsg(rs[i], ps[i]), cpuPerMsg(rs[colBase], l))
			}
		}
	}
	return r
}

// eventsRow: history events per customer message and its reply, from the breakdown's
// sampled conversations.
func eventsRow(name string, rs trio) row {
	r := newRow(name)
	any := false
	for i := range 2 {
		if rs[i] != nil && rs[i].Breakdown != nil && rs[i].Breakdown.Messages > 0 {
			r.vals[i] = fmt.Sprintf("%.1f", rs[i].Breakdown.EventsPerMessage)
			any = true
		}
	}
	if !any {
		return row{}
	}
	return r
}

func sumPhases(res *ScenarioResult, f func(*PhaseResult) int) int {
	n := 0
	for i := range res.Phases {
		n += f(&res.Phases[i])
	}
	return n
}

func countRow(name string, rs trio, f func(*PhaseResult) int) row {
	if rs[colDev] == nil && rs[colCluster] == nil {
		return row{}
	}
	r := newRow(name)
	for i, res := range rs {
		if res != nil {
			r.vals[i] = fmt.Sprint(sumPhases(res, f))
		}
	}
	return r
}

func countRowP(name string, ps [3]*PhaseResult, f func(*PhaseResult) int) row {
	if ps[colDev] == nil && ps[colCluster] == nil {
		return row{}
	}
	r := newRow(name)
	for i, p := range ps {
		if p != nil {
			r.vals[i] = fmt.Sprint(f(p))
		}
	}
	return r
}

// figRow shows a scenario figure per target. keys optionally names another figure for the
// cluster and the baseline (in that order; "-" leaves the column empty).
func figRow(name string, rs trio, key, format string, keys ...string) row {
	if rs[colDev] == nil && rs[colCluster] == nil {
		return row{}
	}
	k := [3]string{key, key, key}
	for i, o := range keys {
		if o != "" {
			k[1+i] = o
		}
	}
	// Two figures shown as "a / b" for one target (PostgreSQL sessions by role).
	if len(keys) == 2 && key == "" {
		k = [3]string{"", "", ""}
	}
	r := newRow(name)
	var v [3]float64
	var ok [3]bool
	for i, res := range rs {
		if res == nil || k[i] == "-" {
			continue
		}
		if key == "" && len(keys) == 2 {
			a, okA := res.Figures[keys[0]]
			b, okB := res.Figures[keys[1]]
			if okA || okB {
				r.vals[i] = fmt.Sprintf(format+" / "+format, a, b)
			}
			continue
		}
		if v[i], ok[i] = res.Figures[k[i]]; ok[i] {
			r.vals[i] = fmt.Sprintf(format, v[i])
		}
	}
	for i := range 2 {
		if ok[i] && ok[colBase] {
			r.ratios[i] = ratio(v[i], v[colBase])
		}
	}
	if r.vals == [3]string{"–", "–", "–"} {
		return row{}
	}
	return r
}

// procGroups are the columns of a resource table: a column sums the processes whose name
// starts with its prefix (the cluster's four Temporal services in "Temporal", replicas in
// "worker" and "ingress").
var procGroups = []struct{ title, prefix string }{
	{"worker", "worker"}, {"ingress", "ingress"}, {"Temporal", "temporal"}, {"PostgreSQL", "postgres"},
}

func groupFig(p *PhaseResult, prefix string) (ProcFigures, bool) {
	var out ProcFigures
	found := false
	for name, f := range p.Procs {
		if strings.HasPrefix(name, prefix) {
			out.CPUSeconds += f.CPUSeconds
			out.PeakRSSMB += f.PeakRSSMB
			found = true
		}
	}
	return out, found
}

func procTable(w func(string, ...any), title string, phases [][3]*PhaseResult) {
	w("%s (CPU seconds over the phase / peak RSS in MB, summed over a group's processes; *bench* is the generator and both emulators; *others* is the rest of the machine's busy time — other people's work on the shared machine — in cores on average):\n\n| phase | worker | ingress | Temporal | PostgreSQL | bridge total CPU s | bench | others | baseline relay | ratio of CPU |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n", title)
	for _, ps := range phases {
		for i, label := range []string{"dev server", "cluster"} {
			b := ps[i]
			if b == nil {
				continue
			}
			pf := func(prefix string) string {
				p, ok := groupFig(b, prefix)
				if !ok {
					return "–"
				}
				if p.PeakRSSMB == 0 {
					return fmt.Sprintf("%.1f s", p.CPUSeconds)
				}
				return fmt.Sprintf("%.1f s / %.0f MB", p.CPUSeconds, p.PeakRSSMB)
			}
			base, rat := "–", "–"
			if l := ps[colBase]; l != nil {
				if p, ok := l.Procs["relay"]; ok {
					base = fmt.Sprintf("%.1f s / %.0f MB", p.CPUSeconds, p.PeakRSSMB)
					rat = ratio(cpuTotal(b.Procs), p.CPUSeconds)
				}
			}
			others := "–"
			if o, ok := b.Procs[othersName]; ok && b.Procs["wall"].CPUSeconds > 0 {
				others = fmt.Sprintf("%.2f cores", o.CPUSeconds/b.Procs["wall"].CPUSeconds)
			}
			bench := "–"
			if p, ok := b.Procs[benchProc]; ok {
				bench = fmt.Sprintf("%.1f s / %.0f MB", p.CPUSeconds, p.PeakRSSMB)
			}
			w("| %s (%s) | %s | %s | %s | %s | %.1f s | %s | %s | %s | %s |\n", b.Name, label, pf("worker"), pf("ingress"), pf("temporal"), pf("postgres"), cpuTotal(b.Procs), bench, others, base, rat)
		}
	}
	w("\n")
}

func notes(w func(string, ...any), rs ...*ScenarioResult) {
	for _, r := range rs {
		if r == nil {
			continue
		}
		for _, n := range r.Notes {
			w("> Note (%s): %s\n\n", targetLabel(r.Target), n)
		}
	}
}

func targetLabel(kind string) string {
	switch kind {
	case "bridge":
		return "dev server"
	}
	return kind
}

func backlogLine(ps []BacklogPoint) string {
	var parts []string
	step := max(1, len(ps)/30)
	for i := 0; i < len(ps); i += step {
		parts = append(parts, fmt.Sprintf("%.0f: %d", ps[i].T, ps[i].Backlog))
	}
	if last := ps[len(ps)-1]; (len(ps)-1)%step != 0 {
		parts = append(parts, fmt.Sprintf("%.0f: %d", last.T, last.Backlog))
	}
	return strings.Join(parts, ", ")
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// status says whether a measured value meets a limit, and by how much it misses.
func status(v, limit float64, lowerIsBetter bool, unit string) string {
	if math.IsNaN(v) {
		return "not measured"
	}
	if lowerIsBetter {
		if v <= limit {
			return fmt.Sprintf("met (%.0f%% of the limit)", v/limit*100)
		}
		d := strings.TrimSpace(fmt.Sprintf("%.1f %s", v-limit, unit))
		if unit == "ms" {
			d = fmtDelta(v-limit) + " ms"
			if v-limit >= 1000 {
				d = fmtDelta(v - limit)
			}
		}
		return fmt.Sprintf("**missed** by %s (×%.1f)", d, v/limit)
	}
	if v >= limit {
		return fmt.Sprintf("met (×%.1f)", v/limit)
	}
	return fmt.Sprintf("**missed** by %s: %.0f%% of the goal", strings.TrimSpace(fmt.Sprintf("%.1f %s", limit-v, unit)), v/limit*100)
}

// goals states the distance to each goal of issue 4, as the product runs now and, for the
// latency goals, with the proposed changes (the experiment of that name, when it ran).
func goals(w func(string, ...any), r *Run, steady, scale *ScenarioResult) {
	var prop *PhaseResult
	for _, res := range r.Results {
		if res.Scenario == "experiment" && res.Variant == proposed && res.Error == "" {
			prop = res.phase("paced")
		}
	}
	w("### Earlier goals (issue 4, dev server)\n\n| goal | measured | status |")
	if prop != nil {
		w(" with the proposals (`%s`, experiment) | status |", proposed)
	}
	w("\n|---|---:|---|")
	if prop != nil {
		w("---:|---|")
	}
	w("\n")
	nan := math.NaN()
	ackP99, inP50, inP99, rate, satAck := nan, nan, nan, nan, nan
	if steady != nil {
		if p := steady.phase("paced"); p != nil {
			ackP99, inP50, inP99 = p.Ack.P99, p.Inbound.P50, p.Inbound.P99
		}
		if p := steady.phase("saturation"); p != nil {
			rate, satAck = p.InboundRate, p.Ack.P99
		}
	}
	mem := nan
	if scale != nil {
		if v, ok := scale.Figures["worker_kb_per_conversation"]; ok {
			mem = v
		}
	}
	line := func(goal string, v, limit float64, lower bool, unit, shown string, pv float64) {
		w("| %s | %s | %s |", goal, shown, status(v, limit, lower, unit))
		if prop != nil {
			if math.IsNaN(pv) {
				w(" – | – |")
			} else {
				w(" %s %s | %s |", fmtMS(pv), unit, status(pv, limit, lower, unit))
			}
		}
		w("\n")
	}
	p := func(f func(*PhaseResult) float64) float64 {
		if prop == nil {
			return nan
		}
		return f(prop)
	}
	line("acknowledgement p99 < 20 ms while sustaining the load (paced steady)", ackP99, 20, true, "ms", fmtLat(ackP99), p(func(x *PhaseResult) float64 { return x.Ack.P99 }))
	line("acknowledgement p99 < 20 ms at saturation", satAck, 20, true, "ms", fmtLat(satAck), nan)
	line("inbound end-to-end p50 < 150 ms (paced steady)", inP50, 150, true, "ms", fmtLat(inP50), p(func(x *PhaseResult) float64 { return x.Inbound.P50 }))
	line("inbound end-to-end p99 < 1 s (paced steady)", inP99, 1000, true, "ms", fmtLat(inP99), p(func(x *PhaseResult) float64 { return x.Inbound.P99 }))
	line("sustained ≥ 300 messages/s through the whole pipeline (saturation)", rate, 300, false, "/s", fmt.Sprintf("%.1f /s", rate), nan)
	line("worker memory per idle open conversation < 20 KB (scale)", mem, 20, true, "KB", fmt.Sprintf("%.1f KB", mem), nan)
	w("\n")
	if prop != nil {
		w("The proposals column is the experiment of that name (%s users, %s messages/s, the same generator), measured minutes apart from the scenarios; see *What to change*.\n\n", r.Settings["experiment_users"], r.Settings["paced_rate"])
	}
}

func fmtDelta(ms float64) string {
	if ms >= 1000 {
		return fmt.Sprintf("%.1f s", ms/1000)
	}
	if ms < 1 && ms > 0 {
		return fmt.Sprintf("%.2f", ms)
	}
	return fmt.Sprintf("%.0f", ms)
}
