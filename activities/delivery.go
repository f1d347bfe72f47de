package activities

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/igdirect/bridge/instagram"
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
	id      string    // what the other side answered (the Instagram mid, the room message id)
	unknown bool      // an earlier (or this) call's outcome is unknown: settle it first
	before  bool      // delivered by an earlier attempt (nothing was called now)
	since   time.Time // unknown: the call was made after this time
	attempt int       // unknown: the intent's attempt whose outcome it is
	// refused is the call's own failure: the other side answered, and not with success
	// (what it means is the caller's to classify).
	refused error
}

// settle records how earlier unknown outcomes turned out, before anything else is done: a
// delivery proved by Meta's echo (MID set) is done. One no echo confirmed is looked for in
// Instagram's thread (the echo may have been lost, or gone to another app while it held
// the thread): found, it is done; not found, it was not delivered, and its next attempt
// calls again. When the thread cannot be read, the message is sent again: a repeat the
// customer can see is better than a reply lost without anyone knowing.
func (a *Activities) settle(ctx context.Context, account, igsid string, resolved []workflows.Resolution) (unconfirmed map[string]bool, err error) {
	for _, r := range resolved {
		mid, how := r.MID, "echo"
		if mid == "" {
			var err error
			if mid, how, err = a.findInThread(ctx, account, igsid, r); err != nil {
				return nil, fmt.Errorf("Instagram's thread could not be read to settle an unknown send outcome (tried again later): %w", err)
			}
		}
		if r.Attempt == 0 { // a first version's resolution: it names no attempt
			if err := a.Store.FinishIntent(ctx, r.Key, mid != "", mid); err != nil {
				return nil, err
			}
		} else if settled, err := a.Store.SettleIntent(ctx, r.Key, r.Attempt, mid != "", mid); err != nil {
			return nil, err
		} else if !settled {
			// An attempt of this activity settled it already and called again (then died):
			// that call's outcome is the one to settle now, by the intent it left.
			continue
		}
		if a.Metrics != nil {
			a.Metrics.UnknownOutcomes.WithLabelValues(how).Inc()
		}
		if how == howUnconfirmed {
			if unconfirmed == nil {
				unconfirmed = map[string]bool{}
			}
			unconfirmed[r.Key] = true
		}
	}
	return unconfirmed, nil
}

// howUnconfirmed: the outcome cannot be settled — the account was disconnected before
// Instagram confirmed the send; the agent is told it may not have reached the customer.
const howUnconfirmed = "unconfirmed"

// threadSkew: Meta's created_time has second precision and its clock is not ours; a
// message of ours created up to this long before the send began is still taken for it.
const threadSkew = 2 * time.Second

// threadMessagesRead bounds how many of the thread's newest messages are read in detail
// (Meta answers details for the 20 most recent only).
const threadMessagesRead = 20

// findInThread looks for the send r describes among the thread's messages from the business
// since the send began: a text part by its exact text, a file part as a message with no
// text. It returns the message's id and how the outcome was settled (thread: found;
// resent: not there; resent_unchecked: the thread cannot be read — the app lacks the
// access, say). A failure that passes (a rate limit, an outage) is an error: the outcome
// stays unknown and is settled when the activity is tried again, never guessed.
func (a *Activities) findInThread(ctx context.Context, account, igsid string, r workflows.Resolution) (string, string, error) {
	if r.Since.IsZero() || r.Text == "" && r.Type == "" {
		return "", "resent_unchecked", nil
	}
	failed := func(err error) (string, string, error) {
		switch instagram.Classify(err) {
		case instagram.Transient, instagram.RateLimited:
			return "", "", err
		}
		if ctx.Err() != nil {
			return "", "", err
		}
		a.logger(ctx).Warn("Instagram's thread cannot be read to settle an unknown send outcome; sending again",
			"key", r.Key, "error", err)
		return "", "resent_unchecked", nil
	}
	pageID, token, err := a.Store.PageToken(ctx, account)
	if errors.Is(err, store.ErrNotFound) {
		return "", howUnconfirmed, nil // the account is gone: nobody can tell any more
	}
	if err != nil {
		return "", "", err // the database: tried again
	}
	conv, known := a.threads.thread(account, igsid)
	if !known {
		if err := a.threadSlot(ctx, account); err != nil {
			return "", "", err
		}
		if conv, err = a.IG.ConversationID(ctx, pageID, token, igsid); err != nil {
			return failed(err)
		}
		a.threads.keepThread(account, igsid, conv)
	}
	if conv == "" {
		return "", "resent", nil // no thread at all: nothing was delivered
	}
	if err := a.threadSlot(ctx, account); err != nil {
		return "", "", err
	}
	msgs, err := a.IG.ThreadMessageIDs(ctx, token, conv)
	if err != nil {
		return failed(err)
	}
	floor := r.Since.Add(-threadSkew)
	for i, m := range msgs { // newest first
		if i == threadMessagesRead || !m.Created.IsZero() && m.Created.Before(floor) {
			break
		}
		d, read := a.threads.message(m.ID)
		if !read {
			if err := a.threadSlot(ctx, account); err != nil {
				return "", "", err
			}
			if d, err = a.IG.ThreadMessageDetails(ctx, token, m.ID); err != nil {
				return failed(err)
			}
			a.threads.keepMessage(m.ID, d)
		}
		if d.FromID != account || !d.Created.IsZero() && d.Created.Before(floor) {
			continue
		}
		if r.Text != "" && d.Text == r.Text || r.Text == "" && d.Text == "" {
			return d.ID, "thread", nil
		}
	}
	return "", "resent", nil
}

// finishAttempts: recording an outcome is retried this often before it is given up (see
// once): an outcome the other side gave must not be lost to a database blip.
const finishAttempts = 3

// once makes call at most once for key. Its error is only ever the bookkeeping's own (the
// database failing): the activity then fails and Temporal retries it — never a refusal of the
// delivery. What the call itself answered is in the delivery: its id, unknown, or refused.
func (a *Activities) once(ctx context.Context, key, account, igsid string, call func() (string, error)) (delivery, error) {
	intent, err := a.Store.BeginIntent(ctx, key, account, igsid)
	if err != nil {
		return delivery{}, fmt.Errorf("delivery intent %s: %w", key, err)
	}
	switch intent.State {
	case store.IntentDone:
		return delivery{id: intent.MessageID, before: true}, nil
	case store.IntentCalling:
		return delivery{unknown: true, since: intent.Since, attempt: intent.Attempts}, nil
	}
	began := a.now()
	id, err := call()
	if errors.Is(err, errOutcomeUnknown) {
		// The intent stays "calling", in the attempt BeginIntent just counted.
		return delivery{unknown: true, since: began, attempt: intent.Attempts + 1}, nil
	}
	// The outcome is recorded even if the activity's own deadline has just passed: a result
	// the other side gave must not be lost to a timeout.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	var ferr error
	for i := 0; i < finishAttempts; i++ {
		if ferr = a.Store.FinishIntent(rctx, key, err == nil, id); ferr == nil {
			break
		}
		_ = a.clock().Sleep(rctx, time.Duration(i+1)*200*time.Millisecond)
	}
	if ferr != nil {
		// The intent still says "calling": a later attempt for this key would treat the call
		// as an unknown outcome and settle it from evidence, which is safe. This attempt
		// reports what the other side answered.
		a.logger(ctx).Warn("Delivery outcome not recorded", "key", key, "error", ferr)
	}
	if err != nil {
		return delivery{refused: err}, nil
	}
	return delivery{id: id}, nil
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
