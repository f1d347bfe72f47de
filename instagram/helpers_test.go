package instagram

import (
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
	testAppID     = "910000000000001"
	testAppSecret = "app-secret-0123456789"
	testPageID    = "102030405060708"
	testPageToken = "EAAGpagetokenABCDEF"
	testUserToken = "EAAGusertokenXYZ123"
	testIGSID     = "6871234500000001"
	testVersion   = "v23.0"
)

// want is the exact request a step expects. A nil query means "no query
// string at all"; header entries must match exactly ("" = must be absent).
type want struct {
	method string
	path   string
	query  url.Values
	header map[string]string
	body   string // exact bytes; "" = empty body
}

// reply is what the fake Graph answers.
type reply struct {
	status int
	header map[string]string
	body   string
	delay  time.Duration
}

type step struct {
	want  want
	reply reply
}

// fakeGraph serves the steps in order and records every mismatch against
// the exact expected request.
type fakeGraph struct {
	t     *testing.T
	mu    sync.Mutex
	steps []step
	n     int
	srv   *httptest.Server
}

func newFakeGraph(t *testing.T, steps ...step) *fakeGraph {
	t.Helper()
	f := &fakeGraph{t: t, steps: steps}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		f.srv.Close()
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.n != len(f.steps) {
			t.Errorf("fake graph: %d of %d expected requests made", f.n, len(f.steps))
		}
	})
	return f
}

func (f *fakeGraph) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	if f.n >= len(f.steps) {
		f.mu.Unlock()
		f.t.Errorf("unexpected request %s %s", r.Method, r.URL)
		http.Error(w, "unexpected", http.StatusTeapot)
		return
	}
	s := f.steps[f.n]
	f.n++
	f.mu.Unlock()

	checkRequest(f.t, r, s.want)
	if s.reply.delay > 0 {
		select {
		case <-time.After(s.reply.delay):
		case <-r.Context().Done():
			return
		}
	}
	for k, v := range s.reply.header {
		w.Header().Set(k, v)
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	}
	status := s.reply.status
	if status == 0 {
		status = http.StatusOK
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, s.reply.body)
}

func checkRequest(t *testing.T, r *http.Request, w want) {
	t.Helper()
	if r.Method != w.method {
		t.Errorf("method = %s, want %s", r.Method, w.method)
	}
	if r.URL.Path != w.path {
		t.Errorf("path = %s, want %s", r.URL.Path, w.path)
	}
	got := r.URL.Query()
	if w.query == nil {
		if r.URL.RawQuery != "" {
			t.Errorf("query = %q, want none", r.URL.RawQuery)
		}
	} else if got.Encode() != w.query.Encode() {
		t.Errorf("query =\n  %s\nwant\n  %s", got.Encode(), w.query.Encode())
	}
	for k, v := range w.header {
		if g := r.Header.Get(k); g != v {
			t.Errorf("header %s = %q, want %q", k, g, v)
		}
	}
	b, _ := io.ReadAll(r.Body)
	if string(b) != w.body {
		t.Errorf("body =\n  %s\nwant\n  %s", b, w.body)
	}
}

// pageQuery is the auth query every Page-token call carries.
func pageQuery(extra ...string) url.Values {
	return tokenQuery(testPageToken, extra...)
}

func tokenQuery(token string, extra ...string) url.Values {
	q := url.Values{"access_token": {token}, "appsecret_proof": {appSecretProof(testAppSecret, token)}}
	for i := 0; i+1 < len(extra); i += 2 {
		q.Set(extra[i], extra[i+1])
	}
	return q
}

var jsonHeader = map[string]string{"Content-Type": "application/json", "Accept": "application/json"}
var noBodyHeader = map[string]string{"Content-Type": "", "Accept": "application/json"}

func newTestClient(f *fakeGraph) *Client {
	return NewClient(f.srv.URL, testVersion, testAppID, testAppSecret, f.srv.Client())
}

// noLeak fails when s contains any secret used by the tests.
func noLeak(t *testing.T, s string) {
	t.Helper()
	for _, sec := range []string{testAppSecret, testPageToken, testUserToken, appSecretProof(testAppSecret, testPageToken), appSecretProof(testAppSecret, testUserToken)} {
		if strings.Contains(s, sec) {
			t.Errorf("secret %q leaked in %q", sec, s)
		}
	}
}
