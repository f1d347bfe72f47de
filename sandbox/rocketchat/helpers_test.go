package rocketchat

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// hookReq is one webhook request seen by the receiver.
type hookReq struct {
	Header http.Header
	Body   map[string]any
	Raw    []byte
}

// hookRecv is an httptest webhook receiver answering with queued statuses (default 200).
type hookRecv struct {
	srv      *httptest.Server
	mu       sync.Mutex
	reqs     []hookReq
	statuses []int
	respBody func(n int, body map[string]any) string
}

func newHookRecv(t *testing.T) *hookRecv {
	h := &hookRecv{}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(raw, &body)
		h.mu.Lock()
		h.reqs = append(h.reqs, hookReq{Header: r.Header.Clone(), Body: body, Raw: raw})
		n := len(h.reqs)
		status := http.StatusOK
		if len(h.statuses) > 0 {
			status = h.statuses[0]
			h.statuses = h.statuses[1:]
		}
		rb := "{}"
		if h.respBody != nil {
			rb = h.respBody(n, body)
		}
		h.mu.Unlock()
		w.WriteHeader(status)
		_, _ = w.Write([]byte(rb))
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookRecv) setStatuses(st ...int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.statuses = st
}

func (h *hookRecv) all() []hookReq {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookReq(nil), h.reqs...)
}

func (h *hookRecv) ofType(typ string) []hookReq {
	var out []hookReq
	for _, r := range h.all() {
		if r.Body["type"] == typ {
			out = append(out, r)
		}
	}
	return out
}

// waitType waits until n requests of that type arrived and returns them.
func (h *hookRecv) waitType(t *testing.T, typ string, n int) []hookReq {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if got := h.ofType(typ); len(got) >= n {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %d %s webhooks; got %d of %d total", n, typ, len(h.ofType(typ)), len(h.all()))
	return nil
}

type env struct {
	t    *testing.T
	s    *Server
	ts   *httptest.Server
	hook *hookRecv
}

// newEnv starts an emulator (with agent "ana" in department D1 available) and a webhook receiver.
func newEnv(t *testing.T, mutate func(*Options)) *env {
	t.Helper()
	hook := newHookRecv(t)
	o := DefaultOptions()
	o.WebhookURL = hook.srv.URL
	o.WebhookTimeout = 200 * time.Millisecond
	o.WebhookRetryDelay = 20 * time.Millisecond
	if mutate != nil {
		mutate(&o)
	}
	s := New(o)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		ts.Close()
		s.Close()
	})
	return &env{t: t, s: s, ts: ts, hook: hook}
}

func (e *env) withAgent() *env {
	e.s.AddDepartment("D1", "Instagram", "")
	e.s.AddAgent(Agent{ID: "agent-ana", Username: "ana", Name: "Ana Souza", Departments: []string{"D1"}, Available: true})
	return e
}

type resp struct {
	status int
	body   map[string]any
	raw    string
	header http.Header
}

// do sends body as JSON (Content-Type application/json) unless body is a
// string (sent raw, no content type) or nil.
func (e *env) do(method, path string, body any, hdr map[string]string) resp {
	e.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(e.t, err)
		rd = bytes.NewReader(raw)
		ct = "application/json"
	}
	req, err := http.NewRequest(method, e.ts.URL+path, rd)
	require.NoError(e.t, err)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := e.ts.Client().Do(req)
	require.NoError(e.t, err)
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp{status: res.StatusCode, body: m, raw: string(raw), header: res.Header}
}

var botHdr = map[string]string{"X-User-Id": "bot-user-id", "X-Auth-Token": "bot-auth-token"}

// visitor registers a visitor and returns the response visitor object.
func (e *env) visitor(token string, extra map[string]any) map[string]any {
	e.t.Helper()
	v := map[string]any{"token": token}
	for k, x := range extra {
		v[k] = x
	}
	r := e.do("POST", "/api/v1/livechat/visitor", map[string]any{"visitor": v}, nil)
	require.Equal(e.t, 200, r.status, r.raw)
	return r.body["visitor"].(map[string]any)
}

// room gets/creates the visitor's room and returns it.
func (e *env) room(token string) map[string]any {
	e.t.Helper()
	r := e.do("GET", "/api/v1/livechat/room?token="+token, nil, nil)
	require.Equal(e.t, 200, r.status, r.raw)
	return r.body["room"].(map[string]any)
}

// chat registers a visitor and opens a room; returns rid.
func (e *env) chat(token string) string {
	e.t.Helper()
	e.visitor(token, map[string]any{"name": "Maria " + token, "email": token + "@example.com", "phone": "+55" + token})
	return e.room(token)["_id"].(string)
}

func (e *env) send(token, rid, msg string) resp {
	e.t.Helper()
	return e.do("POST", "/api/v1/livechat/message", map[string]any{"token": token, "rid": rid, "msg": msg}, nil)
}

// expectErr asserts a 400-style error body.
func expectErr(t *testing.T, r resp, status int, errStr string, errType any) {
	t.Helper()
	require.Equal(t, status, r.status, r.raw)
	require.Equal(t, false, r.body["success"], r.raw)
	if errStr != "" {
		require.Equal(t, errStr, r.body["error"], r.raw)
	}
	et, has := r.body["errorType"]
	if errType == nil {
		require.False(t, has, "unexpected errorType in %s", r.raw)
	} else {
		require.Equal(t, errType, et, r.raw)
	}
}
