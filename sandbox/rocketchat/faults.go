package rocketchat

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"
)

// Fault makes matching REST calls (/api/v1/... and /file-upload/...) fail or
// stall before they are processed (no side effects).
//
//   - Route: "*", "METHOD /api/v1/<route pattern>" (e.g. "POST /api/v1/livechat/message",
//     "GET /api/v1/livechat/visitor/:token"), "METHOD <concrete path>", or either
//     form without the method ("/api/v1/livechat/message"); "/api/v1/" may be
//     omitted ("POST livechat/message").
//   - Count: how many calls it affects; 0 = until ClearFaults.
//   - Status: > 0 answers with that status and Body (default body: the real 429
//     body for 429, else {"success":false,"error":"<status text>"}); 0 = only
//     Delay, then the call is processed normally; < 0 = close the connection
//     without answering (like SetDown).
//   - Delay: wait this long first.
//   - AfterProcess: the call IS processed (its effect happens: the message or file is
//     stored, webhooks fire), then Delay, then the answer is replaced by Status (< 0: the
//     connection is closed, 0: the real answer, late). A client then cannot know whether
//     its call took effect — what a server that is slow to answer, or a cut connection,
//     does to real clients. (Addition.)
type Fault struct {
	Route        string
	Count        int
	Status       int
	Body         string
	Delay        time.Duration
	AfterProcess bool
}

type faultRec struct {
	f    Fault
	left int
}

// InjectFault adds a fault; faults are tried in insertion order, first match wins.
func (s *Server) InjectFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultRec{f: f, left: f.Count})
}

// ClearFaults removes every fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// SetDown makes every REST and file call fail like an unreachable server: the
// connection is closed without an answer (clients see EOF / connection reset).
// The /sandbox/ control API keeps working.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = down
}

func (s *Server) isDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.down
}

func normFaultRoute(r string) string {
	r = strings.TrimSpace(r)
	method, path, ok := strings.Cut(r, " ")
	if !ok {
		path, method = r, ""
	}
	path = strings.TrimSpace(path)
	if !strings.HasPrefix(path, "/") {
		path = "/api/v1/" + path
	}
	if method == "" {
		return path
	}
	return strings.ToUpper(method) + " " + path
}

func faultMatches(route, key, concrete string) bool {
	if route == "*" {
		return true
	}
	n := normFaultRoute(route)
	for _, k := range []string{key, concrete} {
		if k == "" {
			continue
		}
		if n == k {
			return true
		}
		if _, p, _ := strings.Cut(k, " "); n == p {
			return true
		}
	}
	return false
}

// takeFault consumes one use of the first fault matching the call (before or after
// processing, as asked).
func (s *Server) takeFault(key, concrete string, after bool) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, fr := range s.faults {
		if fr.f.AfterProcess != after || !faultMatches(fr.f.Route, key, concrete) {
			continue
		}
		ff := fr.f
		if fr.f.Count > 0 {
			fr.left--
			if fr.left <= 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		return &ff
	}
	return nil
}

// afterProcess answers a call that was processed into rec as an AfterProcess fault says.
func (s *Server) afterProcess(w http.ResponseWriter, r *http.Request, f *Fault, rec *httptest.ResponseRecorder) {
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return // the client gave up: it never learns the outcome
		case <-s.ctx.Done():
			t.Stop()
		}
	}
	switch {
	case f.Status < 0:
		dropConnection(w)
	case f.Status > 0:
		writeJSON(w, f.Status, obj{{"success", false}, {"error", http.StatusText(f.Status)}})
	default:
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	}
}

// applyFault applies the first matching fault; true when the response was written.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, key, concrete string) bool {
	s.mu.Lock()
	var f *Fault
	for i, fr := range s.faults {
		if fr.f.AfterProcess || !faultMatches(fr.f.Route, key, concrete) {
			continue
		}
		ff := fr.f
		f = &ff
		if fr.f.Count > 0 {
			fr.left--
			if fr.left <= 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		break
	}
	s.mu.Unlock()
	if f == nil {
		return false
	}
	if f.Delay > 0 {
		t := time.NewTimer(f.Delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return true
		case <-s.ctx.Done():
			t.Stop()
		}
	}
	switch {
	case f.Status == 0:
		return false
	case f.Status < 0:
		dropConnection(w)
		return true
	}
	body := f.Body
	if body == "" {
		if f.Status == http.StatusTooManyRequests {
			tm := &meteorError{code: "error-too-many-requests", reason: tooManyMsg(60 * time.Second)}
			body = string(mustMarshal(obj{{"success", false}, {"error", tm.Error()}}))
		} else {
			body = string(mustMarshal(obj{{"success", false}, {"error", http.StatusText(f.Status)}}))
		}
	}
	ct := "text/plain; charset=utf-8"
	if t := strings.TrimSpace(body); strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
		ct = "application/json"
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(f.Status)
	_, _ = w.Write([]byte(body))
	return true
}

// ---------------------------------------------------------------------------
// Rate limiter (ApiClass.ts enforceRateLimit + ddp-rate-limiter semantics).

type rlSpec struct {
	calls  int
	window time.Duration
}

// rlRule is one route's DDPRateLimiter rule: a single window for the rule
// (reset when it expires, clearing every key) with per-IP counters.
type rlRule struct {
	spec      rlSpec
	lastReset time.Time
	counts    map[string]int
}

const (
	defaultRateCalls  = 10
	defaultRateWindow = 60 * time.Second
)

// SetRateLimit overrides the budget of one route ("POST /api/v1/livechat/visitor",
// "POST livechat/visitor" or "*" for the default of every route without its own
// budget). Counters of that route are reset. It does not turn the limiter on:
// use Options.RateLimit or SetRateLimiting.
func (s *Server) SetRateLimit(route string, calls int, window time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := "*"
	if route != "*" {
		key = normFaultRoute(route)
	}
	s.limitSpecs[key] = rlSpec{calls: calls, window: window}
	if key == "*" {
		s.limits = map[string]*rlRule{}
		return
	}
	delete(s.limits, key)
}

func (s *Server) specFor(rt *route) rlSpec {
	if sp, ok := s.limitSpecs[rt.key()]; ok {
		return sp
	}
	if rt.limit > 0 {
		return rlSpec{calls: rt.limit, window: defaultRateWindow}
	}
	if sp, ok := s.limitSpecs["*"]; ok {
		return sp
	}
	return rlSpec{calls: defaultRateCalls, window: defaultRateWindow}
}

func tooManyMsg(timeToReset time.Duration) string {
	secs := int(math.Ceil(float64(timeToReset.Milliseconds()) / 1000))
	return fmt.Sprintf("Error, too many requests. Please slow down. You must wait %d seconds before trying this endpoint again.", secs)
}

// enforceRateLimit increments then checks, sets X-RateLimit-* headers and
// returns the 429 error. Anonymous livechat routes can never bypass it.
func (s *Server) enforceRateLimit(w http.ResponseWriter, r *http.Request, rt *route) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.set.rateLimit {
		return nil
	}
	key := rt.key()
	rule := s.limits[key]
	if rule == nil {
		// The real rule is created at server start-up.
		rule = &rlRule{spec: s.specFor(rt), lastReset: s.started, counts: map[string]int{}}
		s.limits[key] = rule
	}
	now := time.Now()
	if now.Sub(rule.lastReset) > rule.spec.window {
		rule.counts = map[string]int{}
		rule.lastReset = now
	}
	ip := clientIP(r)
	rule.counts[ip]++
	n := rule.counts[ip]
	timeToReset := rule.spec.window - now.Sub(rule.lastReset)
	allowed := n <= rule.spec.calls
	remaining := rule.spec.calls - n
	if remaining < 0 || !allowed {
		remaining = 0
	}
	w.Header().Set("X-RateLimit-Limit", strconv.Itoa(rule.spec.calls))
	w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(remaining))
	w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(now.Add(timeToReset).UnixMilli(), 10))
	if allowed {
		return nil
	}
	return &meteorError{code: "error-too-many-requests", reason: tooManyMsg(timeToReset)}
}
