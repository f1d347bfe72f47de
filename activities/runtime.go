package activities

import (
	"context"
	"log/slog"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/log"
)

// The activities run inside Temporal's activity workers, and, unchanged, inside the
// conversation simulator (package sim), which calls them directly on its own clock. What
// they need of their runtime goes through these helpers, so the simulator can supply it.

// Clock is the activities' time source: the real one (nil Activities.Clock), or a
// simulated one.
type Clock interface {
	Now() time.Time
	// Sleep waits d, or until ctx ends (then its error).
	Sleep(ctx context.Context, d time.Duration) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (a *Activities) clock() Clock {
	if a.Clock == nil {
		return realClock{}
	}
	return a.Clock
}

func (a *Activities) now() time.Time { return a.clock().Now() }

func (a *Activities) since(t time.Time) time.Duration { return a.now().Sub(t) }

// logger is the activity's logger (Temporal's, with the activity's fields), or, outside
// Temporal, one over Activities.Log.
func (a *Activities) logger(ctx context.Context) log.Logger {
	if activity.IsActivity(ctx) {
		return activity.GetLogger(ctx)
	}
	l := a.Log
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return log.NewStructuredLogger(l)
}

type attemptKey struct{}

// WithAttempt tells activities run outside Temporal which attempt this is (1 for the
// first), as Temporal's activity info does.
func WithAttempt(ctx context.Context, attempt int32) context.Context {
	return context.WithValue(ctx, attemptKey{}, attempt)
}

// attemptOf is the attempt number of the activity running with ctx.
func attemptOf(ctx context.Context) int32 {
	if activity.IsActivity(ctx) {
		return activity.GetInfo(ctx).Attempt
	}
	if n, ok := ctx.Value(attemptKey{}).(int32); ok {
		return n
	}
	return 1
}
