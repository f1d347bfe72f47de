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
