package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/igdirect/bridge/activities"
	"github.com/igdirect/bridge/workflows"
)

// The activity side of Temporal: attempts of the real activity code on the simulated
// clock, with Temporal's retry policies and timeouts (from the options the conversation
// uses), and the worker dying in the middle of an attempt.

// activityFunc is an activity as the simulator calls it: JSON in, JSON out, as through
// Temporal's data converter.
type activityFunc func(ctx context.Context, input []byte) ([]byte, error)

func register[I, O any](m map[string]activityFunc, name string, fn func(context.Context, I) (O, error)) {
	m[name] = func(ctx context.Context, raw []byte) ([]byte, error) {
		var in I
		if err := json.Unmarshal(raw, &in); err != nil {
			return nil, temporal.NewNonRetryableApplicationError("input does not decode: "+err.Error(), "BadInput", nil)
		}
		out, err := fn(ctx, in)
		if err != nil {
			return nil, err
		}
		return json.Marshal(out)
	}
}

func registerErr[I any](m map[string]activityFunc, name string, fn func(context.Context, I) error) {
	register(m, name, func(ctx context.Context, in I) (struct{}, error) { return struct{}{}, fn(ctx, in) })
}

// registry maps the conversation's activity names to the real activities.
func registry(a *activities.Activities) map[string]activityFunc {
	m := map[string]activityFunc{}
	register(m, workflows.ActivityLoadConversation, a.LoadConversation)
	registerErr(m, workflows.ActivitySaveConversation, a.SaveConversation)
	register(m, workflows.ActivityRegisterVisitor, a.RegisterVisitor)
	register(m, workflows.ActivityOpenRoom, a.OpenRoom)
	register(m, workflows.ActivityPostToRoom, a.PostToRoom)
	register(m, workflows.ActivityUploadToRoom, a.UploadToRoom)
	register(m, workflows.ActivitySyncReplies, a.SyncReplies)
	register(m, workflows.ActivitySendAutomated, a.SendAutomated)
	registerErr(m, workflows.ActivityPostNote, a.PostNote)
	register(m, workflows.ActivityPassBack, a.PassThreadControlBack)
	registerErr(m, workflows.ActivityNotifyAdmins, a.NotifyAdmins)
	registerErr(m, workflows.ActivitySpoolEvents, a.SpoolEvents)
	register(m, workflows.ActivityUnspoolEvents, a.UnspoolEvents)
	return m
}

// outcome is an activity's result as the workflow will see it.
type outcome struct {
	name   string
	local  bool
	done   bool
	doneAt time.Time
	result []byte
	err    error
}

func (o *outcome) Get(out any) error {
	if !o.done {
		panic("sim: outcome read before it is ready: " + o.name)
	}
	if o.err != nil {
		return o.err
	}
	if out != nil && len(o.result) > 0 {
		return json.Unmarshal(o.result, out)
	}
	return nil
}

// attempt is one attempt of an activity: its own clock (the attempt's start plus the time
// its calls took), its deadline, and whether its worker died.
type attempt struct {
	name     string
	local    bool
	n        int32
	start    time.Time
	elapsed  time.Duration
	deadline time.Time
	// dead: the worker running the attempt died; nothing it does from then on happens.
	dead bool
	// calls counts its calls to the outside (for fault decisions).
	calls int
}

func (a *attempt) now() time.Time { return a.start.Add(a.elapsed) }

func (a *attempt) expired() bool { return !a.now().Before(a.deadline) }

// spend advances the attempt's clock by d, up to its deadline; false when the deadline
// came first.
func (a *attempt) spend(d time.Duration) bool {
	if a.now().Add(d).After(a.deadline) {
		a.elapsed = a.deadline.Sub(a.start)
		return false
	}
	a.elapsed += d
	return true
}

// attemptContext is the context an attempt runs with: its deadline is on the simulated
// clock, and it is done once the attempt's clock reaches it.
type attemptContext struct {
	context.Context
	a *attempt
}

type attemptKey struct{}

var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (c attemptContext) Deadline() (time.Time, bool) { return c.a.deadline, true }

func (c attemptContext) Done() <-chan struct{} {
	if c.a.expired() || c.a.dead {
		return closed
	}
	return nil
}

func (c attemptContext) Err() error {
	switch {
	case c.a.dead:
		return context.Canceled
	case c.a.expired():
		return context.DeadlineExceeded
	}
	return nil
}

func (c attemptContext) Value(key any) any {
	if key == (attemptKey{}) {
		return c.a
	}
	return c.Context.Value(key)
}

// attemptOf finds the attempt a context belongs to (nil: none, e.g. Meta fetching a file).
func attemptOf(ctx context.Context) *attempt {
	a, _ := ctx.Value(attemptKey{}).(*attempt)
	return a
}

// executor runs activities.
type executor struct {
	sim      *Sim
	registry map[string]activityFunc
	// current is the attempt running now (the clocks follow it).
	current *attempt
}

// errWorkerDied is what an attempt's calls see after its worker died (nobody sees it: the
// attempt's result is discarded).
var errWorkerDied = errors.New("sim: the worker running this attempt died")

func (x *executor) start(h *host, name string, input any, local bool) *outcome {
	raw, err := json.Marshal(input)
	if err != nil {
		panic(err)
	}
	if len(raw) > blobLimit {
		x.sim.violate("blob", "the input of a %s activity is %d bytes, over Temporal's 2 MB blob limit", name, len(raw))
	}
	o := &outcome{name: name, local: local}
	scheduled := h.now
	first := scheduled
	if !local {
		first = first.Add(x.sim.dispatchLatency())
	}
	x.sim.loop.at(first, "attempt "+name, func() { x.attempt(h, o, raw, scheduled, 1) })
	return o
}

// attempt runs attempt n of the activity now and schedules what follows: its outcome, its
// retry, or (its worker died) its rerun.
func (x *executor) attempt(h *host, o *outcome, input []byte, scheduled time.Time, n int32) {
	s := x.sim
	if h.run.ended {
		return // a run that ended takes no results (its activities are abandoned)
	}
	var startToClose, scheduleToClose, heartbeat time.Duration
	var retry *temporal.RetryPolicy
	if o.local {
		opts := workflows.LocalActivityOptionsFor(o.name)
		startToClose, scheduleToClose, retry = opts.StartToCloseTimeout, opts.ScheduleToCloseTimeout, opts.RetryPolicy
	} else {
		opts := workflows.ActivityOptionsFor(o.name)
		startToClose, scheduleToClose, heartbeat, retry = opts.StartToCloseTimeout, opts.ScheduleToCloseTimeout, opts.HeartbeatTimeout, opts.RetryPolicy
	}
	now := s.loop.now
	a := &attempt{name: o.name, local: o.local, n: n, start: now, deadline: minTime(now.Add(startToClose), scheduled.Add(scheduleToClose))}
	fn := x.registry[o.name]
	if fn == nil {
		panic("sim: no activity " + o.name)
	}
	ctx := activities.WithAttempt(attemptContext{Context: context.Background(), a: a}, n)
	a.spend(time.Millisecond) // the worker picks it up
	x.current = a
	result, err := fn(ctx, input)
	x.current = nil
	end := a.now()
	s.stats.attempts++
	if s.opts.Trace != nil {
		what := "ok"
		switch {
		case a.dead:
			what = "worker died"
		case a.expired():
			what = "timed out"
		case err != nil:
			what = "error: " + err.Error()
		}
		kind := "activity"
		if o.local {
			kind = "local activity"
		}
		s.trace("%s %s attempt %d (%s): %s %s", kind, o.name, n, a.elapsed.Round(time.Millisecond), what, summarize(result, 300))
	}

	if a.dead {
		s.stats.crashes++
		if o.local {
			// The workflow task that ran it times out; the next one runs it again.
			at := end.Add(taskTimeout)
			s.loop.at(at, "rerun "+o.name, func() { x.attempt(h, o, input, at, 1) })
			return
		}
		// Temporal notices when the heartbeat or start-to-close timeout passes.
		detect := startToClose
		if heartbeat > 0 {
			detect = heartbeat
		}
		err = temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_HEARTBEAT, nil)
		end = minTime(a.start.Add(detect), a.deadline)
	} else if a.expired() {
		err = temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_START_TO_CLOSE, nil)
		end = a.deadline
	} else if err != nil {
		err = asWorkflowSees(err)
	}
	if err == nil {
		if len(result) > blobLimit {
			s.violate("blob", "a %s result of %d bytes is over Temporal's 2 MB blob limit", o.name, len(result))
		}
		x.finish(h, o, end, result, nil)
		return
	}
	var appErr *temporal.ApplicationError
	nonRetryable := errors.As(err, &appErr) && appErr.NonRetryable()
	delay := backoff(retry, n)
	if appErr != nil && appErr.NextRetryDelay() > 0 {
		delay = appErr.NextRetryDelay()
	}
	next := end.Add(delay)
	attemptsLeft := retry == nil || retry.MaximumAttempts == 0 || n < retry.MaximumAttempts
	withinSchedule := next.Before(scheduled.Add(scheduleToClose))
	if !nonRetryable && attemptsLeft && withinSchedule {
		s.loop.at(next, "retry "+o.name, func() { x.attempt(h, o, input, scheduled, n+1) })
		return
	}
	if !nonRetryable && attemptsLeft && !withinSchedule {
		err = temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_SCHEDULE_TO_CLOSE, err)
		end = maxTime(end, scheduled.Add(scheduleToClose))
	}
	x.finish(h, o, end, nil, fmt.Errorf("activity %s failed: %w", o.name, err))
}

// finish makes the outcome visible to the workflow at t.
func (x *executor) finish(h *host, o *outcome, t time.Time, result []byte, err error) {
	x.sim.loop.at(t, "done "+o.name, func() {
		if h.run.ended {
			return
		}
		o.done, o.doneAt, o.result, o.err = true, x.sim.loop.now, result, err
		if o.local {
			h.event(1) // marker
		} else {
			h.event(2) // started, completed/failed
		}
	})
}

// asWorkflowSees is an activity's error as it reaches the workflow: through Temporal's
// failure converter (an ApplicationError with the error's message and type).
func asWorkflowSees(err error) error {
	fc := temporal.GetDefaultFailureConverter()
	return fc.FailureToError(fc.ErrorToFailure(err))
}

func backoff(p *temporal.RetryPolicy, attempt int32) time.Duration {
	initial, coeff, maxInterval := time.Second, 2.0, 100*time.Second
	if p != nil {
		if p.InitialInterval > 0 {
			initial = p.InitialInterval
		}
		if p.BackoffCoefficient > 0 {
			coeff = p.BackoffCoefficient
		}
		if p.MaximumInterval > 0 {
			maxInterval = p.MaximumInterval
		} else {
			maxInterval = 100 * initial
		}
	}
	d := float64(initial)
	for i := int32(1); i < attempt; i++ {
		d *= coeff
		if d > float64(maxInterval) {
			return maxInterval
		}
	}
	return time.Duration(d)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// summarize shortens a JSON result for the trace.
func summarize(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}
