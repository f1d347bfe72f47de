package meta

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	tSecret = "app-secret-123"
	tPage   = "102030405060708"
	tAcct   = "17841400000000001"
	tToken  = "EAAGpagetoken1"
	tPage2  = "102030405060709"
	tAcct2  = "17841400000000002"
	tToken2 = "EAAGpagetoken2"
	tUser   = "6871234500000001"
	tUser2  = "6871234500000002"
)

// hook is a webhook receiver recording raw requests.
type hook struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []hookReq
	status func(i int, r hookReq) int // nil = 200
}

type hookReq struct {
	body   []byte
	header http.Header
	at     time.Time
	env    envelope
}

type envelope struct {
	Object string `json:"object"`
	Entry  []struct {
		ID        string           `json:"id"`
		Time      int64            `json:"time"`
		Messaging []map[string]any `json:"messaging"`
		Standby   []map[string]any `json:"standby"`
	} `json:"entry"`
}

func newHook(t *testing.T) *hook {
	h := &hook{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hr := hookReq{body: b, header: r.Header.Clone(), at: time.Now()}
		_ = json.Unmarshal(b, &hr.env)
		h.mu.Lock()
		i := len(h.reqs)
		h.reqs = append(h.reqs, hr)
		st := h.status
		h.mu.Unlock()
		code := 200
		if st != nil {
			code = st(i, hr)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hook) setStatus(f func(i int, r hookReq) int) {
	h.mu.Lock()
	h.status = f
	h.mu.Unlock()
}

func (h *hook) requests() []hookReq {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookReq(nil), h.reqs...)
}

func (h *hook) waitN(t *testing.T, n int) []hookReq {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := h.requests()
		if len(r) >= n {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook: got %d requests, want %d", len(r), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// events flattens all messaging events of the given requests.
func events(reqs []hookReq) []map[string]any {
	var out []map[string]any
	for _, r := range reqs {
		for _, e := range r.env.Entry {
			out = append(out, e.Messaging...)
		}
	}
	return out
}

type env struct {
	s    *Server
	g    *httptest.Server
	hook *hook
}

func setup(t *testing.T, o Options) *env {
	t.Helper()
	if o.AppSecret == "" {
		o.AppSecret = tSecret
	}
	if o.RetryInitial == 0 {
		o.RetryInitial = 5 * time.Millisecond
	}
	if o.RetryMax == 0 {
		o.RetryMax = 20 * time.Millisecond
	}
	h := newHook(t)
	o.WebhookURL = h.URL
	s := New(o)
	g := httptest.NewServer(s.Handler())
	t.Cleanup(g.Close)
	t.Cleanup(s.Close)
	s.SetPublicURL(g.URL)
	s.AddPage(Page{PageID: tPage, IGAccountID: tAcct, Username: "casaazul.store", Name: "Casa Azul Store", AccessToken: tToken})
	s.AddPage(Page{PageID: tPage2, IGAccountID: tAcct2, Username: "side.store", Name: "Side Page", AccessToken: tToken2})
	s.AddUser(tAcct, User{IGSID: tUser, Name: "Ana Costa", Username: "ana.costa.pt"})
	return &env{s: s, g: g, hook: h}
}

type graphResp struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r graphResp) errField(k string) any {
	e, _ := r.body["error"].(map[string]any)
	return e[k]
}

func (r graphResp) code() int {
	f, _ := r.errField("code").(float64)
	return int(f)
}

func (r graphResp) subcode() int {
	f, _ := r.errField("error_subcode").(float64)
	return int(f)
}

func do(t *testing.T, req *http.Request) graphResp {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	gr := graphResp{status: resp.StatusCode, header: resp.Header, raw: b}
	_ = json.Unmarshal(b, &gr.body)
	return gr
}

// sendJSON POSTs a JSON body to path (default /v23.0/me/messages) with the
// token as access_token query param ("" = none).
func (e *env) sendJSON(t *testing.T, token string, body any) graphResp {
	t.Helper()
	return e.post(t, "/v23.0/me/messages", token, body)
}

func (e *env) post(t *testing.T, path, token string, body any) graphResp {
	t.Helper()
	var b []byte
	switch x := body.(type) {
	case string:
		b = []byte(x)
	default:
		b, _ = json.Marshal(x)
	}
	u := e.g.URL + path
	if token != "" {
		u += "?access_token=" + url.QueryEscape(token)
	}
	req, _ := http.NewRequest(http.MethodPost, u, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	return do(t, req)
}

func (e *env) postForm(t *testing.T, path, form string) graphResp {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.g.URL+path, strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return do(t, req)
}

func (e *env) get(t *testing.T, pathAndQuery string) graphResp {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.g.URL+pathAndQuery, nil)
	return do(t, req)
}

func textMsg(to, text string) map[string]any {
	return map[string]any{"recipient": map[string]any{"id": to}, "messaging_type": "RESPONSE", "message": map[string]any{"text": text}}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return c
}

// openWindow has the default user message the default account (and waits for
// the webhook so later assertions see a quiet queue).
func (e *env) openWindow(t *testing.T) {
	t.Helper()
	e.s.UserSendsText(tAcct, tUser, "hi")
	if err := e.s.WaitDelivered(ctx(t)); err != nil {
		t.Fatal(err)
	}
}
