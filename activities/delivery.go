package activities

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/igdirect/bridge/store"
	"github.com/igdirect/bridge/workflows"
)

// Exactly once by construction. A call whose effect the other side cannot deduplicate (a
// Send API call; an upload into Rocket.Chat) is made under a durable delivery intent,
// written before the call and settled after it. Whoever finds an intent still "calling" —
// a Temporal retry after a worker died, an activity that timed out, the same call in a
// later run — knows the earlier call's outcome is unknown, and settles it from evidence
// (Meta's echo, the room's history) instead of calling again blindly.

// errOutcomeUnknown wraps a call failure after which the call may have taken effect (a
// timeout or 5xx after the request was sent).
var errOutcomeUnknown = errors.New("outcome unknown")

// delivery is the outcome of once.
type delivery struct {
	id      string // what the other side answered (the Instagram mid, the room message id)
	unknown bool   // an earlier (or this) call's outcome is unknown: settle it first
	before  bool   // delivered by an earlier attempt (nothing was called now)
}

// settle records how earlier unknown outcomes turned out, before anything else is done: a
// delivery proved by Meta's echo (MID set) is done; one that no echo confirmed (MID "") was
// not delivered, so its next attempt calls again.
func (a *Activities) settle(ctx context.Context, resolved []workflows.Resolution) error {
	for _, r := range resolved {
		how := "resent"
		if r.MID != "" {
			how = "echo"
		}
		if a.Metrics != nil {
			a.Metrics.UnknownOutcomes.WithLabelValues(how).Inc()
		}
		if err := a.Store.FinishIntent(ctx, r.Key, r.MID != "", r.MID); err != nil {
			return err
		}
	}
	return nil
}

// once makes call at most once for key.
func (a *Activities) once(ctx context.Context, key, account, igsid string, call func() (string, error)) (delivery, error) {
	intent, err := a.Store.BeginIntent(ctx, key, account, igsid)
	if err != nil {
		return delivery{}, err
	}
	switch intent.State {
	case store.IntentDone:
		return delivery{id: intent.MessageID, before: true}, nil
	case store.IntentCalling:
		return delivery{unknown: true}, nil
	}
	id, err := call()
	// The outcome is recorded even if the activity's own deadline has just passed: a result
	// Meta gave must not be lost to a timeout.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	switch {
	case err == nil:
		return delivery{id: id}, a.Store.FinishIntent(rctx, key, true, id)
	case errors.Is(err, errOutcomeUnknown):
		return delivery{unknown: true}, nil // the intent stays "calling"
	default:
		if ferr := a.Store.FinishIntent(rctx, key, false, ""); ferr != nil {
			return delivery{}, errors.Join(err, ferr)
		}
		return delivery{}, err
	}
}

// keepAlive heartbeats a regular activity every few seconds until stop is called, so that a
// worker that dies mid-call is noticed within the heartbeat timeout (seconds) instead of the
// start-to-close timeout (minutes) — a call waiting on Meta or Rocket.Chat records no
// progress of its own. Local activities need none (they live and die with their task).
func keepAlive(ctx context.Context) (stop func()) {
	if !activity.IsActivity(ctx) || activity.GetInfo(ctx).IsLocalActivity {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				activity.RecordHeartbeat(ctx)
			}
		}
	}()
	return func() { close(done) }
}
