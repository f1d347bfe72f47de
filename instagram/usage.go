package instagram

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// Usage is Meta's own view of how close an id is to being throttled
// (spec §5). The three counters are percentages of the limit; Meta throttles
// at 100.
type Usage struct {
	CallCount    int
	TotalCPUTime int
	TotalTime    int
	// RegainAccessIn is the remaining wait Meta announced in
	// estimated_time_to_regain_access, counted down from when it was seen.
	RegainAccessIn time.Duration
}

// usageWindow is how long an observation counts as "recent". Headers are
// rolling-window percentages that move slowly, so the highest value of the
// last minute is a conservative throttle signal.
const usageWindow = time.Minute

// maxUsageIDs bounds the tracker; ids are our own Pages/IG accounts, so the
// bound is only a guard against unexpected keys in BUC headers.
const maxUsageIDs = 4096

type usageEntry struct {
	usage    Usage // RegainAccessIn unused here; see regainAt
	regainAt time.Time
	seen     time.Time
}

type usageTracker struct {
	mu sync.Mutex
	m  map[string]usageEntry
}

func newUsageTracker() *usageTracker { return &usageTracker{m: make(map[string]usageEntry)} }

// usageHeader is one usage object; X-App-Usage and X-Page-Usage carry one,
// X-Business-Use-Case-Usage carries a list per business object id.
type usageHeader struct {
	CallCount    flexInt `json:"call_count"`
	TotalCPUTime flexInt `json:"total_cputime"`
	TotalTime    flexInt `json:"total_time"`
	Regain       flexInt `json:"estimated_time_to_regain_access"` // minutes
}

// observe records the usage headers of one response and returns the longest
// regain-access wait they announce. callID is the Page/IG id the call was
// made for (may be ""), appID keys the app-wide X-App-Usage.
func (t *usageTracker) observe(h http.Header, now time.Time, callID, appID string) time.Duration {
	var longest time.Duration
	note := func(id string, u usageHeader) {
		wait := time.Duration(u.Regain) * time.Minute
		if wait > longest {
			longest = wait
		}
		if id != "" {
			t.record(id, u, wait, now)
		}
	}
	if v := h.Get("X-App-Usage"); v != "" {
		var u usageHeader
		if json.Unmarshal([]byte(v), &u) == nil {
			note(appID, u)
			// App-wide throttling blocks this Page's calls too.
			note(callID, u)
		}
	}
	if v := h.Get("X-Page-Usage"); v != "" {
		var u usageHeader
		if json.Unmarshal([]byte(v), &u) == nil {
			note(callID, u)
		}
	}
	if v := h.Get("X-Business-Use-Case-Usage"); v != "" {
		var buc map[string][]usageHeader
		if json.Unmarshal([]byte(v), &buc) == nil {
			for id, list := range buc {
				for _, u := range list {
					note(id, u)
				}
			}
		}
	}
	return longest
}

func (t *usageTracker) record(id string, u usageHeader, wait time.Duration, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[id]
	if !ok || now.Sub(e.seen) > usageWindow {
		e.usage = Usage{}
	}
	e.usage.CallCount = max(e.usage.CallCount, int(u.CallCount))
	e.usage.TotalCPUTime = max(e.usage.TotalCPUTime, int(u.TotalCPUTime))
	e.usage.TotalTime = max(e.usage.TotalTime, int(u.TotalTime))
	if at := now.Add(wait); wait > 0 && at.After(e.regainAt) {
		e.regainAt = at
	}
	e.seen = now
	if !ok && len(t.m) >= maxUsageIDs {
		t.pruneLocked(now)
	}
	t.m[id] = e
}

func (t *usageTracker) pruneLocked(now time.Time) {
	for id, e := range t.m {
		if now.Sub(e.seen) > usageWindow && !e.regainAt.After(now) {
			delete(t.m, id)
		}
	}
}

func (t *usageTracker) get(id string, now time.Time) (Usage, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.m[id]
	if !ok {
		return Usage{}, false
	}
	throttled := e.regainAt.After(now)
	if now.Sub(e.seen) > usageWindow && !throttled {
		return Usage{}, false
	}
	u := e.usage
	if throttled {
		u.RegainAccessIn = e.regainAt.Sub(now)
	}
	return u, true
}

// LastUsage returns the highest usage Meta reported for a Page, IG account
// or app id during the last minute (or while an announced regain-access
// wait is still running). ok is false when nothing recent is known. Safe
// for concurrent use.
func (c *Client) LastUsage(igAccountOrPageID string) (Usage, bool) {
	return c.usage.get(igAccountOrPageID, c.now())
}
