package main

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

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

	w("# Benchmarks\n\n")
	if r.Quick {
		w("> **Quick variant** (`-quick`, as run in CI): small numbers that only show the benchmark works. Do not read them as performance figures.\n\n")
	}
	w("Written by `make bench` (`go run ./bench`) on %s in %.1f minutes. Every figure comes from the real stack — a fresh PostgreSQL database, the Temporal dev server of the pinned CLI (%s), the real `worker` and `ingress` processes — with `sandbox/meta` as Meta and `sandbox/rocketchat` as Rocket.Chat, in the benchmark's process. ", r.Machine.Date, r.Wall/60, orDash(r.Machine.TemporalCLI))
	w("Each scenario gets a fresh stack. The same load, through the same generator, also runs against a **baseline**: a minimal relay with no durability (`bench/baseline.go`: verify the signature, parse, call the Rocket.Chat Livechat REST API — visitor, room, message — and answer; agent messages go straight to the Send API), in its own process. The ratio column is bridge ÷ baseline: what durability costs.\n\n")
	w("How it measures:\n\n")
	w("- **acknowledgement**: the generator signs a webhook with `sandbox/meta` (one event per POST) and times the POST until its 200. A non-200 or transport error counts as an error and is retried like Meta (up to 6 attempts over ~8 s); a message never acknowledged is lost at the sender.\n")
	w("- **inbound end-to-end**: Meta's event timestamp (the event is created the moment the webhook is sent) → the message's `ts` in `sandbox/rocketchat`.\n")
	w("- **outbound**: the agent's message `ts` in `sandbox/rocketchat` (the sandbox agent answers every message at once: `SetAutoReply(true, 0)`) → `SentMessage.At` of the Send API call in `sandbox/meta`.\n")
	w("- percentiles are nearest-rank over **all** samples of the phase; *n* is stated. Rates count what reached its destination inside the phase's window. Rocket.Chat and Meta timestamps have millisecond resolution, so latency ratios use at least 1 ms for the baseline.\n")
	w("- **CPU** is utime+stime from `/proc/<pid>/stat` over the phase; **peak memory** is VmHWM from `/proc/<pid>/status` (reset at the phase start). The bridge is worker + ingress + Temporal dev server + PostgreSQL (backends of the product; CPU only); the baseline is the relay process. The generator and both emulators share the same 2 cores, in the benchmark's process.\n\n")

	w("## Machine\n\n| | |\n|---|---|\n")
	w("| CPUs | %d × %s |\n| memory | %.1f GiB |\n| kernel | %s |\n| Go | %s |\n| Temporal | %s |\n| PostgreSQL | %s |\n| product | %s |\n| load average at start / end | %s / %s |\n\n",
		r.Machine.CPUs, orDash(r.Machine.CPUModel), r.Machine.MemoryGiB, orDash(r.Machine.Kernel), r.Machine.GoVersion,
		orDash(r.Machine.TemporalCLI), orDash(r.Machine.PostgreSQL), orDash(r.Machine.Product), r.Machine.LoadStart, r.Machine.LoadEnd)
	w("The machine is shared with other work (tests of other changes ran at the same time): absolute numbers carry that noise; the ratios to the baseline, measured minutes apart, less so.\n\n")

	w("## How to reproduce\n\n```sh\nmake bench                      # = bash scripts/bench.sh: throwaway PostgreSQL on :55434, pinned Temporal CLI, full run\n")
	if len(r.Args) > 0 {
		w("bash scripts/bench.sh %s   # this run\n", strings.Join(r.Args, " "))
	}
	w("go run ./bench -quick -out /dev/null   # the CI variant (< 60 s)\n")
	w("go run ./bench -scenarios steady,baseline -users 50 -rate 25   # one scenario, smaller\n```\n\n")
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

	steadyB, steadyL := find("steady", "bridge", ""), find("steady", "baseline", "")
	burstB, burstL := find("burst", "bridge", ""), find("burst", "baseline", "")
	scaleB, scaleL := find("scale", "bridge", ""), find("scale", "baseline", "")
	recB, recL := find("recovery", "bridge", ""), find("recovery", "baseline", "")

	goals(w, r, steadyB, scaleB)

	if steadyB != nil {
		w("## Steady\n\n")
		paced, sat, warm := steadyB.phase("paced"), steadyB.phase("saturation"), steadyB.phase("warmup")
		w("%d users. **Paced**: every user writes every %.0f s (%.0f messages/s offered) for %s, open loop; the agent answers each message. **Saturation**: closed loop — each user writes again as soon as the agent's reply to its previous message reached Instagram (think time %s), for %s: the sustained rate of the whole pipeline. **Warm-up**: each user's first message, which starts the conversation (workflow start, visitor registration, room).\n\n",
			paced.Users, float64(paced.Users)/r.settingF("paced_rate"), r.settingF("paced_rate"), r.Settings["paced"], r.Settings["think"], r.Settings["saturation"])
		var pl, sl, wl *PhaseResult
		if steadyL != nil {
			pl, sl, wl = steadyL.phase("paced"), steadyL.phase("saturation"), steadyL.phase("warmup")
		}
		table(w, []row{
			latRow("paced: acknowledgement", paced, pl, func(p *PhaseResult) Dist { return p.Ack }),
			latRow("paced: inbound end-to-end", paced, pl, func(p *PhaseResult) Dist { return p.Inbound }),
			latRow("paced: outbound (agent → Send API)", paced, pl, func(p *PhaseResult) Dist { return p.Outbound }),
			rateRow("paced: messages/s into rooms (offered)", paced, pl, func(p *PhaseResult) float64 { return p.InboundRate }, fmt.Sprintf(" (%.0f)", paced.OfferedRate)),
			cpuRow("paced: CPU ms per message (all processes, net of idle)", steadyB, paced, steadyL, pl),
			latRow("warm-up: first message of a conversation, inbound", warm, wl, func(p *PhaseResult) Dist { return p.Inbound }),
			rateRow("**saturation: sustained messages/s into rooms**", sat, sl, func(p *PhaseResult) float64 { return p.InboundRate }, ""),
			rateRow("saturation: agent replies/s to Instagram", sat, sl, func(p *PhaseResult) float64 { return p.OutboundRate }, ""),
			latRow("saturation: acknowledgement", sat, sl, func(p *PhaseResult) Dist { return p.Ack }),
			latRow("saturation: inbound end-to-end", sat, sl, func(p *PhaseResult) Dist { return p.Inbound }),
			latRow("saturation: outbound", sat, sl, func(p *PhaseResult) Dist { return p.Outbound }),
			cpuRow("saturation: CPU ms per message (all processes, net of idle)", steadyB, sat, steadyL, sl),
			countRow("errors (non-200 answers, all phases)", steadyB, steadyL, func(p *PhaseResult) int { return p.Errors }),
			countRow("lost (never acknowledged, or acknowledged and never in a room)", steadyB, steadyL, func(p *PhaseResult) int { return p.Lost + p.NotAcked }),
			countRow("duplicates in rooms / on Instagram", steadyB, steadyL, func(p *PhaseResult) int { return p.Duplicates + p.ReplyDups }),
		})
		procTable(w, "Resources per process", []*PhaseResult{paced, sat}, []*PhaseResult{pl, sl})
	}

	if burstB != nil {
		w("## Burst\n\n")
		p := burstB.phase("burst")
		var pl *PhaseResult
		if burstL != nil {
			pl = burstL.phase("burst")
		}
		w("%d webhook events, one per POST, from %s concurrent senders as fast as they are acknowledged, spread over the %d open conversations of the warm-up (%d messages each); agents do not answer during the burst.\n\n",
			p.Sent, r.Settings["burst_concurrency"], p.Users, p.Sent/max(1, p.Users))
		table(w, []row{
			latRow("acknowledgement", p, pl, func(p *PhaseResult) Dist { return p.Ack }),
			figRow("time to send all (s)", burstB, burstL, "send_s", "%.1f"),
			rateRow("acknowledged/s", p, pl, func(p *PhaseResult) float64 { return p.AckedRate }, ""),
			figRow("**time until all are in Rocket.Chat (s)**", burstB, burstL, "all_in_room_s", "%.1f"),
			latRow("inbound end-to-end", p, pl, func(p *PhaseResult) Dist { return p.Inbound }),
			countRowP("errors", p, pl, func(p *PhaseResult) int { return p.Errors }),
			countRowP("lost", p, pl, func(p *PhaseResult) int { return p.Lost + p.NotAcked }),
			countRowP("duplicates", p, pl, func(p *PhaseResult) int { return p.Duplicates }),
			cpuRow("CPU ms per message (all processes)", burstB, p, burstL, pl),
		})
		procTable(w, "Resources per process", []*PhaseResult{p}, []*PhaseResult{pl})
		notes(w, burstB)
	}

	if scaleB != nil {
		w("## Scale\n\n")
		open, each := scaleB.phase("open"), scaleB.phase("each")
		var ol, el *PhaseResult
		if scaleL != nil {
			ol, el = scaleL.phase("open"), scaleL.phase("each")
		}
		w("%d conversations opened at once (%s concurrent senders, one message each; agents do not answer, so every conversation stays open and idle). Memory is the RSS of each process %s after the last conversation was open minus its RSS before (after a 20-conversation warm-up), divided by the number of conversations; RSS includes what the Go runtime has not returned to the system, so it is an upper bound. Then %.0f of the open conversations, spread over all of them, get one message each, paced at %s messages/s.\n\n",
			open.Sent, r.Settings["scale_concurrency"], r.Settings["settle"], scaleB.Figures["sampled_conversations"], r.Settings["scale_rate"])
		table(w, []row{
			figRow("running conversation workflows", scaleB, scaleL, "open_workflows", "%.0f"),
			figRow("time to open them all (s)", scaleB, scaleL, "open_s", "%.1f"),
			latRow("opening: acknowledgement", open, ol, func(p *PhaseResult) Dist { return p.Ack }),
			latRow("opening: first message inbound", open, ol, func(p *PhaseResult) Dist { return p.Inbound }),
			figRowCmp("worker (baseline: relay) RSS before (MB)", scaleB, scaleL, "worker_rss_before_mb", "relay_rss_before_mb", "%.0f"),
			figRowCmp("worker (baseline: relay) RSS after (MB)", scaleB, scaleL, "worker_rss_after_mb", "relay_rss_after_mb", "%.0f"),
			figRowCmp("**worker memory per open conversation (KB)**", scaleB, scaleL, "worker_kb_per_conversation", "relay_kb_per_conversation", "%.1f"),
			figRow("Temporal dev server memory per conversation (KB)", scaleB, nil, "temporal_kb_per_conversation", "%.1f"),
			latRow("a message to each sampled conversation: acknowledgement", each, el, func(p *PhaseResult) Dist { return p.Ack }),
			latRow("**a message to each sampled conversation: inbound end-to-end**", each, el, func(p *PhaseResult) Dist { return p.Inbound }),
			countRowP("lost", each, el, func(p *PhaseResult) int { return p.Lost + p.NotAcked }),
		})
		if bd := scaleB.Breakdown; bd != nil && len(bd.Inbound) >= 6 {
			w("The %d slowest of those messages, hop by hop (their conversations' histories; `REORDER_WINDOW=%s`):\n\n", bd.Messages, bd.ReorderWindow)
			hops(w, "inbound hop", bd.Inbound)
		}
		procTable(w, "Resources per process", []*PhaseResult{open, each}, []*PhaseResult{ol, el})
		notes(w, scaleB)
	}

	if recB != nil {
		w("## Recovery\n\n")
		p := recB.phase("recovery")
		var pl *PhaseResult
		if recL != nil {
			pl = recL.phase("recovery")
		}
		w("%d users write at %s messages/s for %s, Rocket.Chat down (`SetDown`: every REST call has its connection closed) for %s of it, starting after %s; agents answer. The backlog is what was acknowledged but is not in a room yet, sampled every second.\n\n",
			p.Users, r.Settings["recovery_rate"], fmtS(p.Duration), r.Settings["outage"], r.Settings["recovery_pre"])
		table(w, []row{
			figRowNR("messages written during the outage", recB, recL, "written_during_outage", "%.0f"),
			figRowNR("backlog (acknowledged, not in a room) when Rocket.Chat came back", recB, recL, "backlog_at_up", "%.0f"),
			figRowNR("largest backlog", recB, recL, "max_backlog", "%.0f"),
			figRowNR("**time to drain**: from Rocket.Chat back until everything acknowledged before is in a room (s)", recB, recL, "drain_s", "%.1f"),
			figRowNR("**lost** (of all messages of the scenario)", recB, recL, "lost_total", "%.0f"),
			figRowNR("lost of those written during the outage", recB, recL, "lost_of_those", "%.0f"),
			countRowP("duplicates", p, pl, func(p *PhaseResult) int { return p.Duplicates + p.ReplyDups }),
			countRowP("errors (non-200 answers, retried)", p, pl, func(p *PhaseResult) int { return p.Errors }),
			latRow("acknowledgement", p, pl, func(p *PhaseResult) Dist { return p.Ack }),
			latRow("inbound end-to-end (all messages)", p, pl, func(p *PhaseResult) Dist { return p.Inbound }),
		})
		if len(recB.Backlog) > 0 {
			w("Backlog of the bridge over time (seconds since the load started: messages): %s\n\n", backlogLine(recB.Backlog))
		}
		notes(w, recB)
	}

	whereTheTimeGoes(w, r, steadyB, find)
	sizing(w, r, steadyB, scaleB, burstB)
	return b.String()
}

func (r *Run) settingF(k string) float64 {
	var f float64
	fmt.Sscan(r.Settings[k], &f)
	return f
}

type row struct{ name, bridge, baseline, ratio string }

func table(w func(string, ...any), rows []row) {
	w("| figure | bridge | baseline | bridge ÷ baseline |\n|---|---:|---:|---:|\n")
	for _, r := range rows {
		if r.name == "" {
			continue
		}
		w("| %s | %s | %s | %s |\n", r.name, r.bridge, r.baseline, r.ratio)
	}
	w("\n")
}

func ratio(a, b float64) string {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return "–"
	}
	x := a / b
	switch {
	case x >= 100:
		return fmt.Sprintf("×%.0f", x)
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

func fmtS(s float64) string { return fmt.Sprintf("%.0f s", s) }

// latRatio divides latencies with the baseline floored at 1 ms, the resolution of the
// emulators' timestamps: a sub-millisecond baseline is "about 1 ms", not a divisor near 0.
func latRatio(a, b float64) string { return ratio(a, math.Max(b, 1)) }

func latRow(name string, b, l *PhaseResult, f func(*PhaseResult) Dist) row {
	if b == nil {
		return row{}
	}
	db := f(b)
	r := row{name: name + " p50 / p95 / p99 (ms)", bridge: fmt.Sprintf("%s / %s / %s (n=%d)", fmtMS(db.P50), fmtMS(db.P95), fmtMS(db.P99), db.N), baseline: "–", ratio: "–"}
	if l != nil {
		dl := f(l)
		r.baseline = fmt.Sprintf("%s / %s / %s (n=%d)", fmtMS(dl.P50), fmtMS(dl.P95), fmtMS(dl.P99), dl.N)
		r.ratio = fmt.Sprintf("%s / %s / %s", latRatio(db.P50, dl.P50), latRatio(db.P95, dl.P95), latRatio(db.P99, dl.P99))
	}
	return r
}

func rateRow(name string, b, l *PhaseResult, f func(*PhaseResult) float64, extra string) row {
	if b == nil {
		return row{}
	}
	r := row{name: name, bridge: fmt.Sprintf("%.1f%s", f(b), extra), baseline: "–", ratio: "–"}
	if l != nil {
		r.baseline = fmt.Sprintf("%.1f", f(l))
		r.ratio = ratio(f(b), f(l))
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

func cpuRow(name string, bres *ScenarioResult, b *PhaseResult, lres *ScenarioResult, l *PhaseResult) row {
	if b == nil {
		return row{}
	}
	r := row{name: name, bridge: fmt.Sprintf("%.2f", cpuPerMsg(bres, b)), baseline: "–", ratio: "–"}
	if l != nil {
		r.baseline = fmt.Sprintf("%.2f", cpuPerMsg(lres, l))
		r.ratio = ratio(cpuPerMsg(bres, b), cpuPerMsg(lres, l))
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

func countRow(name string, b, l *ScenarioResult, f func(*PhaseResult) int) row {
	if b == nil {
		return row{}
	}
	r := row{name: name, bridge: fmt.Sprint(sumPhases(b, f)), baseline: "–", ratio: "–"}
	if l != nil {
		r.baseline = fmt.Sprint(sumPhases(l, f))
	}
	return r
}

func countRowP(name string, b, l *PhaseResult, f func(*PhaseResult) int) row {
	if b == nil {
		return row{}
	}
	r := row{name: name, bridge: fmt.Sprint(f(b)), baseline: "–", ratio: "–"}
	if l != nil {
		r.baseline = fmt.Sprint(f(l))
	}
	return r
}

func figRow(name string, b, l *ScenarioResult, key, format string) row {
	return figRowCmp(name, b, l, key, key, format)
}

// figRowNR is figRow without a ratio (counts where a ratio means nothing).
func figRowNR(name string, b, l *ScenarioResult, key, format string) row {
	r := figRow(name, b, l, key, format)
	r.ratio = "–"
	return r
}

func figRowCmp(name string, b, l *ScenarioResult, key, lkey, format string) row {
	if b == nil {
		return row{}
	}
	v, ok := b.Figures[key]
	if !ok {
		return row{}
	}
	r := row{name: name, bridge: fmt.Sprintf(format, v), baseline: "–", ratio: "–"}
	if l != nil {
		if lv, ok := l.Figures[lkey]; ok {
			r.baseline = fmt.Sprintf(format, lv)
			r.ratio = ratio(v, lv)
		}
	}
	return r
}

func procTable(w func(string, ...any), title string, bs, ls []*PhaseResult) {
	w("%s (CPU seconds over the phase / peak RSS in MB; *bench* is the generator and both emulators; *others* is the rest of the machine's busy time — other people's work on the shared machine — in cores on average):\n\n| phase | worker | ingress | Temporal | PostgreSQL | bridge total CPU s | bench | others | baseline relay | ratio of CPU |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n", title)
	for i, b := range bs {
		if b == nil {
			continue
		}
		pf := func(name string) string {
			p, ok := b.Procs[name]
			if !ok {
				return "–"
			}
			if p.PeakRSSMB == 0 {
				return fmt.Sprintf("%.1f s", p.CPUSeconds)
			}
			return fmt.Sprintf("%.1f s / %.0f MB", p.CPUSeconds, p.PeakRSSMB)
		}
		base, rat := "–", "–"
		if i < len(ls) && ls[i] != nil {
			if p, ok := ls[i].Procs["relay"]; ok {
				base = fmt.Sprintf("%.1f s / %.0f MB", p.CPUSeconds, p.PeakRSSMB)
				rat = ratio(cpuTotal(b.Procs), p.CPUSeconds)
			}
		}
		others := "–"
		if o, ok := b.Procs[othersName]; ok && b.Procs["wall"].CPUSeconds > 0 {
			others = fmt.Sprintf("%.2f cores", o.CPUSeconds/b.Procs["wall"].CPUSeconds)
		}
		w("| %s | %s | %s | %s | %s | %.1f s | %s | %s | %s | %s |\n", b.Name, pf("worker"), pf("ingress"), pf("temporal"), pf("postgres"), cpuTotal(b.Procs), pf(benchProc), others, base, rat)
	}
	w("\n")
}

func notes(w func(string, ...any), r *ScenarioResult) {
	for _, n := range r.Notes {
		w("> Note: %s\n\n", n)
	}
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

// goals states the distance to each goal of issue 4, as the product runs now and, for the
// latency goals, with the proposed changes (the experiment of that name, when it ran).
func goals(w func(string, ...any), r *Run, steady, scale *ScenarioResult) {
	var prop *PhaseResult
	for _, res := range r.Results {
		if res.Scenario == "experiment" && res.Variant == proposed && res.Error == "" {
			prop = res.phase("paced")
		}
	}
	w("## Goals\n\n| goal | measured | status |")
	if prop != nil {
		w(" with the proposals (`%s`, experiment) | status |", proposed)
	}
	w("\n|---|---:|---|")
	if prop != nil {
		w("---:|---|")
	}
	w("\n")
	status := func(v, limit float64, lowerIsBetter bool, unit string) string {
		if math.IsNaN(v) {
			return "not measured"
		}
		if lowerIsBetter {
			if v <= limit {
				return fmt.Sprintf("met (%.0f%% of the limit)", v/limit*100)
			}
			d := fmt.Sprintf("%.0f %s", v-limit, unit)
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
		return fmt.Sprintf("**missed**: %.0f%% of the goal", v/limit*100)
	}
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
	line("acknowledgement p99 < 20 ms while sustaining the load (paced steady)", ackP99, 20, true, "ms", fmtMS(ackP99)+" ms", p(func(x *PhaseResult) float64 { return x.Ack.P99 }))
	line("acknowledgement p99 < 20 ms at saturation", satAck, 20, true, "ms", fmtMS(satAck)+" ms", nan)
	line("inbound end-to-end p50 < 150 ms (paced steady)", inP50, 150, true, "ms", fmtMS(inP50)+" ms", p(func(x *PhaseResult) float64 { return x.Inbound.P50 }))
	line("inbound end-to-end p99 < 1 s (paced steady)", inP99, 1000, true, "ms", fmtMS(inP99)+" ms", p(func(x *PhaseResult) float64 { return x.Inbound.P99 }))
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
