// Frozen: see v1Conversation (v1_conversation.go).

package workflows

import (
	"time"
)

// call is the activity a direction has in flight. Short per-message calls run first as a
// local activity (a marker in history instead of a scheduled task: lower latency, fewer
// events); when that fails for a reason a retry could fix (Rocket.Chat or Meta slow or
// down), the same input goes to a regular activity with a bounded schedule-to-close. When
// that fails too, the direction's handler decides: a blocked state with a deadline.
type v1call struct {
	name    string
	input   any
	local   bool
	outcome Outcome
	// done handles the final outcome; get decodes the result (or returns the error).
	done func(get func(out any) error)
}

// start runs an activity for a direction, local first unless regular is asked.
func (c *v1conversation) start(slot **v1call, name string, input any, regular bool, done func(get func(out any) error)) {
	k := &v1call{name: name, input: input, local: !regular, done: done}
	k.outcome = c.h.Start(k.name, k.input, k.local)
	*slot = k
}

// finish takes a call's outcome: a local call that failed retryably goes on as a regular
// activity; anything else goes to the direction's handler.
func (c *v1conversation) finish(slot **v1call) {
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

// timer is the run's one pending timer: set for the earliest deadline any state has, and
// replaced only when an earlier one is needed (each timer is two history events).
type v1timer struct {
	at     time.Time
	handle Timer
}

// armTimer returns the timer to wait for (nil: none), starting or replacing it when the
// next deadline needs it.
func (c *v1conversation) armTimer() *v1timer {
	now := c.now()
	c.pausingNow = c.pausing()
	at := c.nextDeadline(now)
	if at.IsZero() && c.timer == nil {
		return nil
	}
	if !at.IsZero() && (c.timer == nil || at.Before(c.timer.at)) {
		if c.timer != nil {
			c.timer.handle.Cancel()
		}
		c.timer = &v1timer{at: at, handle: c.h.NewTimer(at.Sub(now))}
	}
	return c.timer
}

// nextDeadline is the earliest time at which a state changes by itself (zero: none).
func (c *v1conversation) nextDeadline(now time.Time) time.Time {
	var at time.Time
	consider := func(t time.Time) {
		if t.IsZero() {
			return
		}
		if !t.After(now) {
			t = now.Add(time.Millisecond) // due already: handled on the next pass
		}
		if at.IsZero() || t.Before(at) {
			at = t
		}
	}
	if !c.loaded || c.pausingNow {
		return at // the activity in flight wakes the loop; nothing starts before it ends
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
	return at
}
