package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
)

// call is the activity a direction has in flight. Short per-message calls run first as a
// local activity (a marker in history instead of a scheduled task: lower latency, fewer
// events); when that fails for a reason a retry could fix (Rocket.Chat or Meta slow or
// down), the same input goes to a regular activity with a bounded schedule-to-close. When
// that fails too, the direction's handler decides: a blocked state with a deadline.
type call struct {
	name    string
	input   any
	local   bool
	outcome Outcome
	// done handles the final outcome; get decodes the result (or returns the error).
	done func(get func(out any) error)
}

// start runs an activity for a direction, local first unless regular is asked.
func (c *conversation) start(slot **call, name string, input any, regular bool, done func(get func(out any) error)) {
	k := &call{name: name, input: input, local: !regular, done: done}
	k.outcome = c.h.Start(k.name, k.input, k.local)
	*slot = k
}

// finish takes a call's outcome: a local call that failed retryably goes on as a regular
// activity; anything else goes to the direction's handler.
func (c *conversation) finish(slot **call) {
	k := *slot
	*slot = nil
	o := k.outcome
	err := o.Get(nil)
	if err != nil && k.local && retryable(err) {
		c.log.Info("Local activity failed; continuing as a regular activity", "activity", k.name, "error", err)
		k.local = false
		k.outcome = c.h.Start(k.name, k.input, k.local)
		*slot = k
		return
	}
	k.done(o.Get)
}

// retryable: a failure another attempt could fix (a timeout, a transient error), not a
// refusal the activity marked as final.
func retryable(err error) bool {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return !appErr.NonRetryable()
	}
	var canceled *temporal.CanceledError
	return !errors.As(err, &canceled)
}

// timer is the run's one pending timer: set for the earliest deadline any state has, and
// replaced only when an earlier one is needed (each timer is two history events).
type timer struct {
	at     time.Time
	handle Timer
}

// armTimer returns the timer to wait for (nil: none), starting or replacing it when the
// next deadline needs it.
func (c *conversation) armTimer() *timer {
	now := c.now()
	at := c.nextDeadline(now)
	if at.IsZero() && c.timer == nil {
		return nil
	}
	if !at.IsZero() && (c.timer == nil || at.Before(c.timer.at)) {
		if c.timer != nil {
			c.timer.handle.Cancel()
		}
		c.timer = &timer{at: at, handle: c.h.NewTimer(at.Sub(now))}
	}
	return c.timer
}

// nextDeadline is the earliest future time at which a state lets something start by itself
// (zero: none). Only future times count: the loop has just started everything that was due
// and could start, so a deadline already past waits for something else (an activity's
// result, a signal) — which wakes the loop by itself. Arming it would spin.
func (c *conversation) nextDeadline(now time.Time) time.Time {
	var at time.Time
	consider := func(t time.Time) {
		if t.After(now) && (at.IsZero() || t.Before(at)) {
			at = t
		}
	}
	if c.pausing() {
		return at // the activities in flight end the run's wait; nothing starts before they do
	}
	if c.in == nil {
		for _, t := range c.inboundDeadlines() {
			consider(t)
		}
	}
	if c.out == nil {
		for _, t := range c.outboundDeadlines() {
			consider(t)
		}
	}
	if c.store == nil {
		consider(c.st.Spool.RetryAt)
	}
	return at
}
