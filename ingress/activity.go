package ingress

import (
	"context"
	"sync"
	"time"

	"github.com/igdirect/bridge/store"
)

// activityRecorder remembers when each kind of call last reached this ingress (per source
// and Instagram account) and writes the counts to PostgreSQL every few seconds, for
// `instagram doctor` and the setup guide ("has the Omnichannel webhook ever called us?").
// Counting in memory keeps a database write off every webhook's path; losing the last few
// seconds of counts in a crash costs nothing but a slightly older "last seen".
type activityRecorder struct {
	mu      sync.Mutex
	pending map[activityKey]*store.Activity
}

type activityKey struct{ source, account, kind string }

// activityFlushEvery is how often counts are written.
const activityFlushEvery = 5 * time.Second

// maxActivityKinds bounds what one flush holds: kinds come from Meta's payloads (signed),
// so they are few, but a bound keeps memory flat whatever arrives.
const maxActivityKinds = 2000

func newActivityRecorder() *activityRecorder {
	return &activityRecorder{pending: map[activityKey]*store.Activity{}}
}

// note counts one call now.
func (r *activityRecorder) note(source, account, kind string) {
	if r == nil {
		return
	}
	now := time.Now().UTC()
	k := activityKey{source, account, kind}
	r.mu.Lock()
	defer r.mu.Unlock()
	a := r.pending[k]
	if a == nil {
		if len(r.pending) >= maxActivityKinds {
			return
		}
		a = &store.Activity{Source: source, Account: account, Kind: kind, FirstAt: now}
		r.pending[k] = a
	}
	a.LastAt = now
	a.Count++
}

// take empties the pending counts.
func (r *activityRecorder) take() []store.Activity {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]store.Activity, 0, len(r.pending))
	for _, a := range r.pending {
		out = append(out, *a)
	}
	r.pending = map[activityKey]*store.Activity{}
	return out
}

// RecordActivity counts webhook and command calls and writes them to the database until
// ctx ends (one last write then).
func (s *Server) RecordActivity(ctx context.Context) {
	if s.store == nil {
		return
	}
	t := time.NewTicker(activityFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			s.flushActivity(context.Background())
			return
		case <-t.C:
			s.flushActivity(ctx)
		}
	}
}

// flushActivity writes what was counted; counts that could not be written are kept for
// the next flush.
func (s *Server) flushActivity(ctx context.Context) {
	rows := s.activity.take()
	if len(rows) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := s.store.RecordActivity(ctx, rows); err != nil {
		s.log.Warn("Webhook activity not recorded; kept for the next try", "error", err)
		s.activity.mu.Lock()
		for _, a := range rows {
			k := activityKey{a.Source, a.Account, a.Kind}
			if p := s.activity.pending[k]; p != nil {
				p.FirstAt, p.Count = a.FirstAt, p.Count+a.Count
			} else if len(s.activity.pending) < maxActivityKinds {
				cp := a
				s.activity.pending[k] = &cp
			}
		}
		s.activity.mu.Unlock()
	}
}
