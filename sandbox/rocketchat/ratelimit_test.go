package rocketchat

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// §2.4 + trap 7.
func TestRateLimiter(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.RateLimit = true }).withAgent()
	postVisitor := func(tok string) resp {
		return e.do("POST", "/api/v1/livechat/visitor", map[string]any{"visitor": map[string]any{"token": tok}}, nil)
	}
	for i := 1; i <= 5; i++ {
		r := postVisitor("t" + strconv.Itoa(i))
		require.Equal(t, 200, r.status, r.raw)
		require.Equal(t, "5", r.header.Get("X-RateLimit-Limit"))
		require.Equal(t, strconv.Itoa(5-i), r.header.Get("X-RateLimit-Remaining"))
		reset, err := strconv.ParseInt(r.header.Get("X-RateLimit-Reset"), 10, 64)
		require.NoError(t, err)
		require.Greater(t, reset, time.Now().UnixMilli(), "reset is epoch milliseconds in the future")
	}
	r := postVisitor("t6")
	require.Equal(t, 429, r.status)
	require.Regexp(t, `^Error, too many requests\. Please slow down\. You must wait \d+ seconds before trying this endpoint again\. \[error-too-many-requests\]$`, r.body["error"])
	require.Equal(t, false, r.body["success"])
	require.NotContains(t, r.body, "errorType")
	require.Equal(t, "0", r.header.Get("X-RateLimit-Remaining"))
	_, ok := e.s.Visitor("t6")
	require.False(t, ok, "rejected calls have no side effects")

	// other routes have their own budget; credentials do not bypass anonymous routes
	r = e.do("GET", "/api/v1/livechat/visitor/t1", nil, botHdr)
	require.Equal(t, 200, r.status)
	require.Equal(t, "10", r.header.Get("X-RateLimit-Limit"))
	for i := 0; i < 5; i++ {
		require.Equal(t, 200, e.do("GET", "/api/v1/livechat/room?token=t1", nil, nil).status)
	}
	require.Equal(t, 429, e.do("GET", "/api/v1/livechat/room?token=t1", nil, botHdr).status)

	// configurable budget/window, window reset
	e.s.SetRateLimit("POST livechat/message", 2, 150*time.Millisecond)
	rid := e.s.Rooms("t1")[0].ID
	require.Equal(t, 200, e.send("t1", rid, "1").status)
	require.Equal(t, 200, e.send("t1", rid, "2").status)
	require.Equal(t, 429, e.send("t1", rid, "3").status)
	time.Sleep(200 * time.Millisecond)
	require.Equal(t, 200, e.send("t1", rid, "4").status)
}

func TestRateLimiterOffByDefault(t *testing.T) {
	e := newEnv(t, nil)
	for i := 0; i < 8; i++ {
		r := e.do("POST", "/api/v1/livechat/visitor", map[string]any{"visitor": map[string]any{"token": "x"}}, nil)
		require.Equal(t, 200, r.status)
		require.Empty(t, r.header.Get("X-RateLimit-Limit"))
	}
}

func TestFaultsAndDown(t *testing.T) {
	e := newEnv(t, nil).withAgent()
	rid := e.chat("tok")
	e.s.InjectFault(Fault{Route: "POST /api/v1/livechat/message", Count: 2, Status: 503, Body: "upstream down"})
	r := e.send("tok", rid, "a")
	require.Equal(t, 503, r.status)
	require.Equal(t, "upstream down", r.raw)
	require.Equal(t, 503, e.send("tok", rid, "b").status)
	require.Equal(t, 200, e.send("tok", rid, "c").status, "count exhausted")
	require.Len(t, e.s.Messages(rid), 1, "faulted calls have no side effects")

	e.s.InjectFault(Fault{Route: "GET livechat/visitor/:token", Status: 429})
	r = e.do("GET", "/api/v1/livechat/visitor/tok", nil, nil)
	require.Equal(t, 429, r.status)
	require.Contains(t, r.body["error"], "[error-too-many-requests]")
	e.s.ClearFaults()

	e.s.InjectFault(Fault{Route: "*", Count: 1, Delay: 60 * time.Millisecond})
	start := time.Now()
	require.Equal(t, 200, e.do("GET", "/api/v1/livechat/visitor/tok", nil, nil).status)
	require.GreaterOrEqual(t, time.Since(start), 60*time.Millisecond)

	e.s.SetDown(true)
	req, _ := http.NewRequest("GET", e.ts.URL+"/api/v1/livechat/visitor/tok", nil)
	_, err := e.ts.Client().Do(req)
	require.Error(t, err, "connection closed without an answer")
	// control API still works while down
	cr := e.do("GET", "/sandbox/state", nil, nil)
	require.Equal(t, 200, cr.status)
	require.Equal(t, true, cr.body["down"])
	e.s.SetDown(false)
	require.Equal(t, 200, e.do("GET", "/api/v1/livechat/visitor/tok", nil, nil).status)
}

func TestControlAPI(t *testing.T) {
	e := newEnv(t, nil).withAgent()
	rid := e.chat("tok")
	post := func(path string, body any) (int, map[string]any) {
		raw, _ := json.Marshal(body)
		res, err := e.ts.Client().Post(e.ts.URL+path, "application/json", bytes.NewReader(raw))
		require.NoError(t, err)
		defer res.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(res.Body).Decode(&m)
		return res.StatusCode, m
	}
	r := e.do("GET", "/sandbox/rooms?token=tok", nil, nil)
	require.Equal(t, 200, r.status)
	require.Contains(t, r.raw, rid)

	st, m := post("/sandbox/rooms/"+rid+"/messages", map[string]any{"agent": "ana", "text": "from control"})
	require.Equal(t, 200, st)
	require.Equal(t, "from control", m["msg"])
	r = e.do("GET", "/sandbox/rooms/"+rid+"/messages", nil, nil)
	require.Contains(t, r.raw, "from control")

	st, _ = post("/sandbox/agents/ana/availability", map[string]any{"available": false})
	require.Equal(t, 200, st)
	cfg := e.do("GET", "/api/v1/livechat/config", nil, nil).body["config"].(map[string]any)
	require.Equal(t, false, cfg["online"])
	st, _ = post("/sandbox/agents/nobody/availability", map[string]any{"available": true})
	require.Equal(t, 404, st)

	st, _ = post("/sandbox/rooms/"+rid+"/close", map[string]any{"agent": "ana", "comment": "bye"})
	require.Equal(t, 200, st)
	room, _ := e.s.Room(rid)
	require.False(t, room.Open)
	require.Equal(t, "user", room.Closer)
	st, _ = post("/sandbox/rooms/"+rid+"/close", map[string]any{"agent": "ana", "comment": "bye"})
	require.Equal(t, 400, st)

	r = e.do("GET", "/sandbox/state", nil, nil)
	require.Equal(t, 200, r.status)
	require.Len(t, r.body["rooms"].([]any), 1)
	require.Len(t, r.body["visitors"].([]any), 1)
}
