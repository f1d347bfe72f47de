package main

import (
	"fmt"
	"math"
	"strings"
)

// perMsg is the CPU per acknowledged message of a phase in ms, by process, net of what the
// processes burn when idle (the idle phase of the same scenario, when there is one).
func perMsg(res *ScenarioResult, p *PhaseResult) map[string]float64 {
	out := map[string]float64{}
	if p == nil || p.Acked == 0 {
		return out
	}
	var idle *PhaseResult
	if res != nil {
		idle = res.phase("idle")
	}
	wall := p.Procs["wall"].CPUSeconds
	for name, f := range p.Procs {
		switch name {
		case machineName, othersName, "wall", benchProc:
			continue
		}
		cpu := f.CPUSeconds
		if idle != nil && idle.Duration > 0 && wall > 0 {
			cpu -= idle.Procs[name].CPUSeconds / idle.Duration * wall
		}
		out[name] = math.Max(0, cpu) * 1000 / float64(p.Acked)
	}
	total := 0.0
	for _, v := range out {
		total += v
	}
	out["total"] = total
	return out
}

// whereTheTimeGoes renders the latency breakdown, the CPU split, the experiments and the
// proposals.
func whereTheTimeGoes(w func(string, ...any), r *Run, steady *ScenarioResult, find func(string, string, string) *ScenarioResult) {
	w("## Where the time goes\n\n")
	var exps []*ScenarioResult
	byVariant := map[string]*ScenarioResult{}
	for _, res := range r.Results {
		if res.Scenario == "experiment" && res.Error == "" {
			exps = append(exps, res)
			byVariant[res.Variant] = res
		}
	}
	if steady != nil && steady.Breakdown != nil {
		bd := steady.Breakdown
		w("### Latency, hop by hop\n\n")
		w("From the histories of %d conversations of the paced steady phase (Temporal's server timestamps) joined with the emulators' records, per message (n=%d; `REORDER_WINDOW=%s`; %.1f history events per customer message and its reply):\n\n",
			bd.Workflows, bd.Messages, bd.ReorderWindow, bd.EventsPerMessage)
		hops(w, "inbound hop", bd.Inbound)
		if len(bd.Inbound) >= 6 {
			total, wait, beyond := bd.Inbound[5].Dist.P50, bd.Inbound[1].Dist.P50, bd.Inbound[2].Dist.P50
			if total > 0 {
				why := "the timer fires on time"
				if beyond > 50 {
					why = "the timer fires late: Temporal fires no timer earlier than `history.timerProcessorMaxTimeShift` after it is set (default 1 s) and reads its timer queue at most `history.timerProcessorMaxPollRPS` times a second (default 20)"
				}
				w("**%.0f%% of the inbound median is the wait between the signal and the post** (%s ms of %s ms): the workflow holds every message until Meta's timestamp + `REORDER_WINDOW` (%s) with a durable timer, and schedules the post %s ms after that at the median — %s. Ingress, the workflow tasks and the Rocket.Chat call are the other hops.\n\n",
					wait/total*100, fmtMS(wait), fmtMS(total), bd.ReorderWindow, fmtMS(beyond), why)
			}
		}
		hops(w, "outbound hop", bd.Outbound)
		hops(w, "task", bd.Tasks)
	}

	if steady != nil {
		if p := steady.phase("paced"); p != nil {
			c := perMsg(steady, p)
			w("### CPU\n\n")
			w("CPU per message of the paced steady phase, net of what each process burns idle (measured for %s before the warm-up), in ms: ", r.Settings["idle"])
			var parts []string
			for _, n := range []string{"temporal", "worker", "ingress", "postgres"} {
				if v, ok := c[n]; ok {
					parts = append(parts, fmt.Sprintf("Temporal dev server %.1f", v))
					parts[len(parts)-1] = fmt.Sprintf("%s %.1f", procLabel(n), v)
				}
			}
			w("%s; **total %.1f ms per message** (customer message, its reply, and the echo of the reply). ", strings.Join(parts, ", "), c["total"])
			if c["total"] > 0 {
				w("The Temporal dev server is %.0f%% of it: one history shard on SQLite, every signal, task and timer a write transaction. At that cost %d cores carry about %.0f messages/s; under saturation the cost per message falls (a workflow task takes several signals, a `PostToRoom` several messages: %.1f ms per message in the saturation phase), which is how the saturation phase reaches its rate — and why the dev server, not the worker or ingress, sets this box's ceiling.\n\n",
					c["temporal"]/c["total"]*100, r.Machine.CPUs, float64(r.Machine.CPUs)*1000/c["total"], perMsg(steady, steady.phase("saturation"))["total"])
			}
			if idle := steady.phase("idle"); idle != nil && idle.Duration > 0 {
				w("Idle, with no message at all, the processes burn: ")
				var ip []string
				for _, n := range []string{"temporal", "worker", "ingress"} {
					if f, ok := idle.Procs[n]; ok {
						ip = append(ip, fmt.Sprintf("%s %.3f cores", procLabel(n), f.CPUSeconds/idle.Duration))
					}
				}
				w("%s.\n\n", strings.Join(ip, ", "))
			}
		}
	}

	if len(exps) > 0 {
		w("### Experiments\n\n")
		w("The paced steady load (%s users, %s messages/s, %s after a warm-up; agents answer at once) on bridge variants that need no code change — environment variables, dev-server dynamic config, and (noecho) a Meta that keeps echo webhooks to itself, which is what ingress acknowledging echoes without signalling would do. Each runs on its own fresh stack, so the rows are minutes apart on a shared machine: CPU per message varies by ±20%% between runs of the same configuration here (the `default` row measured 42–60 ms over the day), so smaller CPU differences are noise; the latency differences below are not.\n\n",
			r.Settings["experiment_users"], r.Settings["paced_rate"], r.Settings["experiment_duration"])
		w("| variant | ack p50 / p99 (ms) | inbound p50 / p95 / p99 (ms) | outbound p50 / p95 / p99 (ms) | CPU ms per message: all / Temporal | history events per message | others' load (cores) |\n|---|---:|---:|---:|---:|---:|---:|\n")
		for _, e := range exps {
			p := e.phase("paced")
			if p == nil {
				continue
			}
			c := perMsg(e, p)
			ev := "–"
			if e.Breakdown != nil {
				ev = fmt.Sprintf("%.1f", e.Breakdown.EventsPerMessage)
			}
			w("| %s | %s / %s | %s / %s / %s | %s / %s / %s | %.1f / %.1f | %s | %s |\n", describeVariant(e.Variant),
				fmtMS(p.Ack.P50), fmtMS(p.Ack.P99), fmtMS(p.Inbound.P50), fmtMS(p.Inbound.P95), fmtMS(p.Inbound.P99),
				fmtMS(p.Outbound.P50), fmtMS(p.Outbound.P95), fmtMS(p.Outbound.P99), c["total"], c["temporal"], ev, othersLoad(p))
		}
		w("\n")
	}
	proposals(w, r, steady, byVariant, find)
}

func othersLoad(p *PhaseResult) string {
	o, ok := p.Procs[othersName]
	wall := p.Procs["wall"].CPUSeconds
	if !ok || wall <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", o.CPUSeconds/wall)
}

func procLabel(n string) string {
	switch n {
	case "temporal":
		return "Temporal dev server"
	case "postgres":
		return "PostgreSQL"
	}
	return n
}

func describeVariant(name string) string {
	v, err := parseVariant(name)
	if err != nil {
		return name
	}
	d := "`" + name + "`"
	for _, e := range v.Env {
		d += " `" + e + "`"
	}
	for i := 0; i+1 < len(v.TemporalFlags); i += 2 {
		d += " `" + v.TemporalFlags[i+1] + "`"
	}
	if v.DropEchoes {
		d += " (echo webhooks not signalled)"
	}
	return d
}

func hops(w func(string, ...any), title string, hs []Hop) {
	seen := false
	for _, h := range hs {
		seen = seen || h.Dist.N > 0
	}
	if !seen {
		w("(No %s measured: the hops are found through activity tasks in the histories, and the conversation runs these calls as local activities, which leave only a marker.)\n\n", strings.TrimSuffix(title, " hop")+" hops")
		return
	}
	w("| %s | p50 | p95 | p99 | n |\n|---|---:|---:|---:|---:|\n", title)
	for _, h := range hs {
		w("| %s | %s | %s | %s | %d |\n", h.Name, fmtMS(h.Dist.P50), fmtMS(h.Dist.P95), fmtMS(h.Dist.P99), h.Dist.N)
	}
	w("\n")
}

// proposals lists what to change in the product, with the measured effect where an
// experiment measured it.
func proposals(w func(string, ...any), r *Run, steady *ScenarioResult, exps map[string]*ScenarioResult, find func(string, string, string) *ScenarioResult) {
	w("### What to change\n\n")
	get := func(v string) *PhaseResult {
		if e := exps[v]; e != nil {
			return e.phase("paced")
		}
		return nil
	}
	cmp := func(v string, f func(*PhaseResult) float64) string {
		a, b := get("default"), get(v)
		if a == nil || b == nil {
			return "(not measured in this run)"
		}
		return fmt.Sprintf("%s → %s ms", fmtMS(f(a)), fmtMS(f(b)))
	}
	cpu := func(v string) string {
		a, b := get("default"), get(v)
		if a == nil || b == nil {
			return "CPU (not measured in this run)"
		}
		ca, cb := perMsg(exps["default"], a), perMsg(exps[v], b)
		return fmt.Sprintf("CPU per message %.1f → %.1f ms (Temporal %.1f → %.1f)", ca["total"], cb["total"], ca["temporal"], cb["temporal"])
	}
	events := func(v string) string {
		a, b := exps["default"], exps[v]
		if a == nil || b == nil || a.Breakdown == nil || b.Breakdown == nil {
			return ""
		}
		return fmt.Sprintf("; history events per message %.1f → %.1f", a.Breakdown.EventsPerMessage, b.Breakdown.EventsPerMessage)
	}
	in50 := func(p *PhaseResult) float64 { return p.Inbound.P50 }
	in99 := func(p *PhaseResult) float64 { return p.Inbound.P99 }
	_ = find

	w("**Applied by issue 12** (the conversation rewrite, commit 07c956f), each proposed by an earlier run of this report: `REORDER_WINDOW` defaults to `0s` and is measured from arrival (no durable timer per message); ingress drops the echoes of the bridge's own sends (recorded delivery intents) instead of signalling them; the per-message calls run as local activities (a regular activity only when Rocket.Chat or Meta is slow); one signal per conversation per Meta delivery; one coroutine per conversation (no `sendLoop`). The experiments' `default` and `reorder0` rows therefore measure the same product now (their difference is this shared machine's run-to-run noise); `noecho` measures what echo webhooks still cost (item 2). Earlier (issue 4): the dev server runs with `history.timerProcessorMaxTimeShift=\"20ms\"` and eager activity execution (production.yaml: 50 ms and eager); the worker polls with 8 pollers per task type and pools its HTTP connections.\n\n")
	w("Still open, most effect first (expected, not measured, unless said):\n\n")
	n := 0
	item := func() int { n++; return n }
	if steady != nil {
		if p := steady.phase("paced"); p != nil {
			c := perMsg(steady, p)
			w("%d. **Temporal's own CPU** is %.1f of the %.1f ms per message on the dev server (paced steady): every exchange is at least two workflow tasks (the customer's signal, the agent's wake-up) and their history writes, which the dev server persists to SQLite in one history shard. Fewer workflow tasks per exchange is what is left on the bridge's side — e.g. reading the agent's reply in the same task as the post it answers when both arrive together — and the cluster columns show what the production server costs per event on the same cores.\n", item(), c["temporal"], c["total"])
		}
	}
	w("%d. **Echoes**: ingress drops the echoes of our sends, also one that overtakes its send's answer (it waits up to 500 ms for the answer when the conversation has a send in flight); what echoes still cost is what the `noecho` row saves: %s%s. Other tools' echoes must reach the conversation, which shows them to the agent.\n", item(), cpu("noecho"), events("noecho"))
	w("%d. **The first message of a new conversation** costs a workflow start, its visibility rows and the first workflow task's calls (conversation memory, visitor, room, welcome): when 200 customers write at once on 2 cores they queue for CPU (Steady's warm-up and Giveaway). The calls are local activities already; what remains is mostly the server's work per workflow start, which more history cores (cluster) or fewer search-attribute upserts at start would reduce.\n", item())
	w("%d. **If a reorder window is set, read the timer queue as often as the transfer queue**: `history.timerProcessorMaxPollRPS=1000` next to the timer shift. Measured (`timerpoll`, with the default window of 0 it changes little): inbound p50 %s, p99 %s.\n", item(), cmp("timerpoll", in50), cmp("timerpoll", in99))
	w("%d. **Pollers that follow the load** (`worker/main.go`): 8 fixed pollers per task type now; `worker.NewPollerBehaviorAutoscaling` would add pollers under saturation (where the `workflow task schedule → start` hop grows) and drop them when idle.\n", item())
	w("%d. **Memory per conversation** (see Scale and Memory bound): `WORKFLOW_CACHE_SIZE` bounds the worker's memory; a smaller cache trades memory for a replay of the history when an evicted conversation gets its next message, measured in Memory bound. In containers set `GOMEMLIMIT` so the runtime collects before the limit.\n", item())
	w("%d. **Production Temporal**: the dev server's single history shard on SQLite is one ceiling measured here; the cluster columns measure the production topology on the same cores, and *Scale-out* and *Sizing* below what each of its processes needs per message.\n\n", item())
}
