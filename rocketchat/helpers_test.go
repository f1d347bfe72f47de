package rocketchat

import (
	"fmt"
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
	testUserID    = "Bot1UserId"
	testAuthToken = "bot-pat-SECRET-0123456789"
	testToken     = "ig-17841400000000001"
	testRID       = "hG7xQp2Ws9KeLm3Zr"
)

// want is the exact request a step expects. header values must match
// exactly; "" means the header must be absent. check, when set, inspects
// the body instead of the exact-bytes comparison (multipart).
type want struct {
	method string
	path   string
	query  url.Values
	header map[string]string
	body   string
	check  func(t *testing.T, r *http.Request, body []byte)
}

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

type fakeRC struct {
	t     *testing.T
	mu    sync.Mutex
	steps []step
	n     int
	srv   *httptest.Server
}

func newFakeRC(t *testing.T, steps ...step) *fakeRC {
	t.Helper()
	f := &fakeRC{t: t, steps: steps}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		f.srv.Close()
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.n != len(f.steps) {
			t.Errorf("fake rocket.chat: %d of %d expected requests made", f.n, len(f.steps))
		}
	})
	return f
}

func (f *fakeRC) serve(w http.ResponseWriter, r *http.Request) {
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
		w.Header().Set("Content-Type", "application/json")
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
	if r.URL.EscapedPath() != w.path {
		t.Errorf("path = %s, want %s", r.URL.EscapedPath(), w.path)
	}
	if w.query == nil {
		if r.URL.RawQuery != "" {
			t.Errorf("query = %q, want none", r.URL.RawQuery)
		}
	} else if got := r.URL.Query().Encode(); got != w.query.Encode() {
		t.Errorf("query = %s, want %s", got, w.query.Encode())
	}
	for k, v := range w.header {
		if g := r.Header.Get(k); g != v {
			t.Errorf("header %s = %q, want %q", k, g, v)
		}
	}
	b, _ := io.ReadAll(r.Body)
	if w.check != nil {
		w.check(t, r, b)
	} else if string(b) != w.body {
		t.Errorf("body =\n  %s\nwant\n  %s", b, w.body)
	}
}

// Header expectations: visitor calls are anonymous, bot calls carry the
// credentials.
var (
	visitorJSON = map[string]string{"Content-Type": "application/json", "Accept": "application/json", "X-User-Id": "", "X-Auth-Token": ""}
	visitorGET  = map[string]string{"Content-Type": "", "Accept": "application/json", "X-User-Id": "", "X-Auth-Token": ""}
	botJSON     = map[string]string{"Content-Type": "application/json", "Accept": "application/json", "X-User-Id": testUserID, "X-Auth-Token": testAuthToken}
	botGET      = map[string]string{"Content-Type": "", "Accept": "application/json", "X-User-Id": testUserID, "X-Auth-Token": testAuthToken}
)

func newTestClient(f *fakeRC) *Client {
	return NewClient(f.srv.URL, testUserID, testAuthToken, f.srv.Client())
}

// noLeak fails when an error text contains a credential.
func noLeak(t *testing.T, s string) {
	t.Helper()
	for _, sec := range []string{testAuthToken, testToken} {
		if strings.Contains(s, sec) {
			t.Errorf("credential %q leaked in %q", sec, s)
		}
	}
}

func q(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }
