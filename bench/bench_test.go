package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/igdirect/bridge/internal/devstack"
	"github.com/igdirect/bridge/sandbox/meta"
	"github.com/igdirect/bridge/sandbox/rocketchat"
)

func TestDistIsNearestRankOverAllSamples(t *testing.T) {
	var s []time.Duration
	for i := 100; i >= 1; i-- {
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	d := distOf(s)
	require.Equal(t, 100, d.N)
	require.Equal(t, 50.0, d.P50)
	require.Equal(t, 95.0, d.P95)
	require.Equal(t, 99.0, d.P99)
	require.Equal(t, 100.0, d.Max)
	require.Equal(t, 50.5, d.Mean)
	require.Equal(t, Dist{}, distOf(nil))
	one := distOf([]time.Duration{7 * time.Millisecond})
	require.Equal(t, 7.0, one.P50)
	require.Equal(t, 7.0, one.P99)
}

func TestParseTag(t *testing.T) {
	id, ok := parseTag("Ana Agent: Hi! You wrote: bm:12345 hello")
	require.True(t, ok)
	require.Equal(t, uint64(12345), id)
	_, ok = parseTag("no tag here")
	require.False(t, ok)
}

func TestVariantsCombine(t *testing.T) {
	v, err := parseVariant("timer20ms+reorder100+noecho")
	require.NoError(t, err)
	require.Contains(t, v.Env, "REORDER_WINDOW=100ms")
	require.True(t, v.DropEchoes)
	require.Contains(t, strings.Join(v.TemporalFlags, " "), "history.timerProcessorMaxTimeShift")
	_, err = parseVariant("timer20ms+bogus")
	require.Error(t, err)
	_, err = parseVariant(proposed)
	require.NoError(t, err)
}

func TestQuickFlagsStaySmall(t *testing.T) {
	cfg, err := parseFlags([]string{"-quick", "-database-url", "postgres://x@127.0.0.1:1/postgres"})
	require.NoError(t, err)
	require.Equal(t, 20, cfg.users)
	require.LessOrEqual(t, cfg.burstEvents, 500)
	require.LessOrEqual(t, cfg.scaleConvs, 100)
	require.Empty(t, cfg.experiments)
	require.True(t, cfg.baseline)
	require.Equal(t, "docs/bench-raw/benchmarks-quick.md", cfg.out)

	cfg, err = parseFlags([]string{"-database-url", "postgres://x@127.0.0.1:1/postgres", "-scenarios", "steady", "-users", "7"})
	require.NoError(t, err)
	require.Equal(t, []string{"steady"}, cfg.scenarios)
	require.False(t, cfg.baseline)
	require.Equal(t, 7, cfg.users)
	require.NotEmpty(t, cfg.experiments)

	_, err = parseFlags([]string{"-database-url", "x", "-scenarios", "nope"})
	require.Error(t, err)

	cfg, err = parseFlags(nil)
	require.NoError(t, err)
	require.Equal(t, []string{"dev", "cluster"}, cfg.targets)
	require.Equal(t, 512, cfg.shards, "the cluster runs compose's shard count")
	require.Contains(t, cfg.scenarios, "scaleout")
	require.Contains(t, cfg.scenarios, "memory")
	require.Equal(t, 2000, cfg.giveawayN)
	_, err = parseFlags([]string{"-targets", "k8s"})
	require.Error(t, err)
}

// fakePhase is a phase with the figures the report reads.
func fakePhase(name string, rate, cpu float64, procs map[string]float64) PhaseResult {
	p := PhaseResult{Name: name, Users: 200, Sent: 1000, Acked: 1000, InRoom: 1000, Replied: 1000, Duration: 25,
		Ack: Dist{N: 1000, P50: 5, P95: 9, P99: 12}, Inbound: Dist{N: 1000, P50: 40, P95: 90, P99: 140},
		Outbound: Dist{N: 1000, P50: 30, P95: 60, P99: 80}, InboundRate: rate, OutboundRate: rate, OfferedRate: 20,
		Procs: map[string]ProcFigures{"wall": {CPUSeconds: 25}, machineName: {CPUSeconds: 48}, othersName: {CPUSeconds: 2}, benchProc: {CPUSeconds: 5}}}
	for n, c := range procs {
		p.Procs[n] = ProcFigures{CPUSeconds: c * cpu, PeakRSSMB: 100}
	}
	return p
}

// TestReportRendersEverySection renders a report of a run with every scenario on every
// target: the full run's report must not fail after half an hour of measuring, and every
// section and the goals of issue 12 must be in it.
func TestReportRendersEverySection(t *testing.T) {
	dev := map[string]float64{"worker": 0.2, "ingress": 0.1, "temporal": 0.6, "postgres": 0.1}
	clu := map[string]float64{"worker": 0.2, "ingress": 0.1, "temporal-frontend": 0.1, "temporal-history": 0.3,
		"temporal-matching": 0.1, "temporal-worker": 0.02, "postgres": 0.2}
	base := map[string]float64{"relay": 1}
	bd := &Breakdown{Workflows: 50, Messages: 150, EventsPerMessage: 21.5, ReorderWindow: "100ms",
		Inbound: make([]Hop, 6), Outbound: make([]Hop, 5)}
	r := &Run{Machine: Machine{CPUs: 2}, Settings: settings(&config{users: 200, shards: 512, giveawayWindow: time.Minute})}
	for _, tgt := range []struct {
		kind  string
		procs map[string]float64
	}{{"bridge", dev}, {"cluster", clu}, {"baseline", base}} {
		ph := func(name string, rate float64) PhaseResult { return fakePhase(name, rate, 10, tgt.procs) }
		steady := &ScenarioResult{Scenario: "steady", Target: tgt.kind, Phases: []PhaseResult{ph("idle", 0), ph("warmup", 10), ph("paced", 20), ph("saturation", 80)},
			Figures: map[string]float64{"pg_connections_temporal": 56, "pg_connections_igdirect": 6}}
		if tgt.kind != "baseline" {
			steady.Breakdown = bd
		}
		r.Results = append(r.Results, steady,
			&ScenarioResult{Scenario: "burst", Target: tgt.kind, Phases: []PhaseResult{ph("burst", 500)}, Figures: map[string]float64{"send_s": 9, "all_in_room_s": 11}},
			&ScenarioResult{Scenario: "giveaway", Target: tgt.kind, Phases: []PhaseResult{ph("idle", 0), ph("giveaway", 33)}, Figures: map[string]float64{"all_in_room_s": 61, "window_s": 60, "offered_per_s": 33}},
			&ScenarioResult{Scenario: "scale", Target: tgt.kind, Phases: []PhaseResult{ph("open", 30), ph("each", 20)},
				Figures: map[string]float64{"worker_kb_per_conversation": 40, "temporal-history_kb_per_conversation": 30, "open_workflows": 2020, "sampled_conversations": 500}},
			&ScenarioResult{Scenario: "recovery", Target: tgt.kind, Phases: []PhaseResult{ph("recovery", 20)}, Figures: map[string]float64{"drain_s": 16}},
		)
	}
	for _, c := range defaultScaleout {
		r.Results = append(r.Results, &ScenarioResult{Scenario: "scaleout", Target: "cluster", Variant: c.slug(),
			Phases:  []PhaseResult{fakePhase("idle", 0, 0.1, clu), fakePhase("saturation", 60, 10, clu)},
			Figures: map[string]float64{"workers": float64(c.Workers), "ingresses": float64(c.Ingresses), "shards": 512}})
	}
	r.Results = append(r.Results, &ScenarioResult{Scenario: "memory", Target: "cluster",
		Phases:  []PhaseResult{fakePhase("open", 30, 10, clu), fakePhase("evicted", 10, 10, clu), fakePhase("cached", 10, 10, clu)},
		Figures: map[string]float64{"cache": 200, "conversations": 1000, "sample": 100, "worker_rss_before_mb": 40, "worker_rss_after_mb": 60}})
	out := report(r)
	for _, want := range []string{"## Goals (issue 12)", "history events per customer message and its reply ≤ 12", "| 21.5 |",
		"## Steady", "| figure | dev server | cluster | baseline |", "## Giveaway", "## Scale-out", "## Memory bound",
		"**replay cost**", "## Sizing a deployment", "A business with 100,000 open conversations", "history events/s per history core"} {
		require.Contains(t, out, want)
	}
	require.NotContains(t, out, "NaN")
}

// TestBaselineRelay drives the relay in-process with the sandbox emulators: a signed webhook
// becomes a message in a room, a bad signature is refused, and an agent's answer reaches the
// Send API.
func TestBaselineRelay(t *testing.T) {
	appSecret, webhookToken := "relay-test-secret", "relay-test-token"
	relayHTTP := httptest.NewUnstartedServer(nil)
	relayURL := "http://" + relayHTTP.Listener.Addr().String()

	m := meta.New(meta.Options{AppSecret: appSecret, WebhookURL: relayURL + "/webhooks/instagram"})
	t.Cleanup(m.Close)
	m.AddPage(meta.Page{PageID: devstack.PageID, IGAccountID: devstack.Account, Username: devstack.PageUsername,
		Name: devstack.PageName, AccessToken: devstack.PageToken})
	metaHTTP := httptest.NewServer(m.Handler())
	t.Cleanup(metaHTTP.Close)

	ro := rocketchat.DefaultOptions()
	ro.WebhookURL, ro.WebhookSecret = relayURL+"/webhooks/rocketchat", webhookToken
	rc := rocketchat.New(ro)
	t.Cleanup(rc.Close)
	addAgents(rc)
	rcHTTP := httptest.NewServer(rc.Handler())
	t.Cleanup(rcHTTP.Close)

	relayHTTP.Config.Handler = newRelay(relayConfig{AppSecret: appSecret, WebhookToken: webhookToken, RCURL: rcHTTP.URL,
		MetaURL: metaHTTP.URL, PageID: devstack.PageID, PageToken: devstack.PageToken, Department: devstack.DepartmentID}).handler()
	relayHTTP.Start()
	t.Cleanup(relayHTTP.Close)

	igsid := "6900000000000042"
	m.AddUser(devstack.Account, meta.User{IGSID: igsid, Name: "Relay Test"})
	ev := m.NewTextEvent(devstack.Account, igsid, "bm:1 hello relay", time.Now())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	status, body, err := m.DeliverOnce(ctx, meta.Entry{ID: devstack.Account, Time: time.Now().UnixMilli(), Messaging: []meta.Event{ev}})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, body)
	rooms := rc.Rooms(baselineVisitorToken(igsid))
	require.Len(t, rooms, 1)
	msgs := rc.Messages(rooms[0].ID)
	require.NotEmpty(t, msgs)
	require.Equal(t, "bm:1 hello relay", msgs[len(msgs)-1].Msg)

	req, _ := http.NewRequest(http.MethodPost, relayURL+"/webhooks/instagram", strings.NewReader(`{"object":"instagram","entry":[]}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", "sha256=00")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)

	_, err = rc.AgentSend(rooms[0].ID, devstack.AgentName, "bm:1 answered")
	require.NoError(t, err)
	sent, err := m.WaitForSent(ctx, devstack.Account, igsid, 1)
	require.NoError(t, err)
	require.Equal(t, "Ana Agent: bm:1 answered", sent[0].Text)
}
