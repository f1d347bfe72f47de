package workflows

import (
	"encoding/json"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Host is everything a conversation run needs of its runtime, and nothing more: the clock,
// activities, one kind of timer, non-blocking reads of its signal channels, one blocking
// wait, and what operators see. In production it is Temporal (temporalHost, a thin adapter
// over workflow.Context); the simulator (package sim) implements it deterministically, so
// the same conversation code runs through thousands of seeded schedules of faults in
// seconds. Every decision is made by the conversation, none by a Host.
type Host interface {
	// Now is the workflow clock (workflow.Now).
	Now() time.Time
	// RunID names the current run.
	RunID() string
	// ContinueAsNewSuggested reports whether the run's history is long enough to continue
	// as new.
	ContinueAsNewSuggested() bool
	Logger() log.Logger
	// Start begins the activity name with input: a local activity (with localOptions) or
	// a regular one (with activityOptions). Its outcome is a Source for Wait.
	Start(name string, input any, local bool) Outcome
	// NewTimer starts a durable timer that fires after d.
	NewTimer(d time.Duration) Timer
	// Receive takes one value of the signal channel without blocking (false: none waits).
	Receive(signal string, out any) bool
	// Wait blocks until one of the sources is ready and returns its index: the first ready
	// one in the order given (a Temporal selector's rule).
	Wait(sources ...Source) int
	// SearchAttributes are the keyword search attributes the run started with.
	SearchAttributes() map[string]string
	// Upsert sets (or, for "", unsets) keyword search attributes, in the order given.
	Upsert(updates []KeywordUpdate)
	// SetDetails sets the run's current details (Markdown) shown in the Temporal UI.
	SetDetails(details string)
}

// Outcome is an activity's eventual result.
type Outcome interface {
	// Get decodes the result into out (nil: ignore it) or returns the activity's error.
	// Only valid once Wait reported the outcome ready.
	Get(out any) error
}

// Timer is a durable timer; Cancel stops it (a timer that fired stays fired).
type Timer interface {
	Cancel()
}

// Source is one thing Wait can wait for: a signal channel, an activity's outcome, or a
// timer. Exactly one field is set.
type Source struct {
	Signal  string
	Outcome Outcome
	Timer   Timer
}

// KeywordUpdate sets a keyword search attribute (Value "" unsets it).
type KeywordUpdate struct {
	Key   temporal.SearchAttributeKeyKeyword
	Value string
}

// temporalHost runs a conversation on Temporal.
type temporalHost struct {
	ctx workflow.Context
	log log.Logger
}

func newTemporalHost(ctx workflow.Context) *temporalHost {
	return &temporalHost{ctx: ctx, log: workflow.GetLogger(ctx)}
}

func (h *temporalHost) Now() time.Time     { return workflow.Now(h.ctx) }
func (h *temporalHost) RunID() string      { return workflow.GetInfo(h.ctx).WorkflowExecution.RunID }
func (h *temporalHost) Logger() log.Logger { return h.log }

func (h *temporalHost) ContinueAsNewSuggested() bool {
	return workflow.GetInfo(h.ctx).GetContinueAsNewSuggested()
}

// temporalOutcome is an activity future.
type temporalOutcome struct {
	ctx    workflow.Context
	future workflow.Future
}

func (o *temporalOutcome) Get(out any) error { return o.future.Get(o.ctx, out) }

func (h *temporalHost) Start(name string, input any, local bool) Outcome {
	if local {
		return &temporalOutcome{ctx: h.ctx, future: workflow.ExecuteLocalActivity(
			workflow.WithLocalActivityOptions(h.ctx, localOptions(name)), name, input)}
	}
	return &temporalOutcome{ctx: h.ctx, future: workflow.ExecuteActivity(
		workflow.WithActivityOptions(h.ctx, activityOptions(name)), name, input)}
}

type temporalTimer struct {
	future workflow.Future
	cancel workflow.CancelFunc
}

func (t *temporalTimer) Cancel() { t.cancel() }

func (h *temporalHost) NewTimer(d time.Duration) Timer {
	tctx, cancel := workflow.WithCancel(h.ctx)
	return &temporalTimer{cancel: cancel,
		future: workflow.NewTimerWithOptions(tctx, d, workflow.TimerOptions{Summary: "next deadline"})}
}

func (h *temporalHost) Receive(signal string, out any) bool {
	return workflow.GetSignalChannel(h.ctx, signal).ReceiveAsync(out)
}

func (h *temporalHost) Wait(sources ...Source) int {
	sel := workflow.NewSelector(h.ctx)
	fired := -1
	for i, s := range sources {
		switch {
		case s.Signal != "":
			sel.AddReceive(workflow.GetSignalChannel(h.ctx, s.Signal), func(workflow.ReceiveChannel, bool) { fired = i })
		case s.Outcome != nil:
			sel.AddFuture(s.Outcome.(*temporalOutcome).future, func(workflow.Future) { fired = i })
		case s.Timer != nil:
			sel.AddFuture(s.Timer.(*temporalTimer).future, func(workflow.Future) { fired = i })
		}
	}
	sel.Select(h.ctx)
	return fired
}

func (h *temporalHost) SearchAttributes() map[string]string {
	out := map[string]string{}
	sa := workflow.GetTypedSearchAttributes(h.ctx)
	for _, key := range publishedKeys {
		if v, ok := sa.GetKeyword(key); ok {
			out[key.GetName()] = v
		}
	}
	return out
}

func (h *temporalHost) Upsert(updates []KeywordUpdate) {
	var us []temporal.SearchAttributeUpdate
	for _, u := range updates {
		if u.Value == "" {
			us = append(us, u.Key.ValueUnset())
		} else {
			us = append(us, u.Key.ValueSet(u.Value))
		}
	}
	if err := workflow.UpsertTypedSearchAttributes(h.ctx, us...); err != nil {
		h.log.Warn("Search attribute upsert failed", "error", err)
	}
}

func (h *temporalHost) SetDetails(details string) { workflow.SetCurrentDetails(h.ctx, details) }

// publishedKeys are the search attributes publish keeps current. The run starts with the
// values continue-as-new carried over (Host.SearchAttributes), so that publish unsets what no
// longer holds — e.g. the room of the previous run.
var publishedKeys = []temporal.SearchAttributeKeyKeyword{SAState, SARoomID, SAUsername, SADepartment, SAPageID}

// encodeCarry and decodeCarry write and read the state a run hands to the next one: JSON,
// as Temporal's data converter writes payloads (deterministic: struct fields in order, map
// keys sorted); workflowcheck cannot see through encoding/json's reflection.
//
//workflowcheck:ignore
func encodeCarry(st any) (json.RawMessage, error) { return json.Marshal(st) }

// decodeCarry: see encodeCarry.
//
//workflowcheck:ignore
func decodeCarry(raw json.RawMessage, st any) error { return json.Unmarshal(raw, st) }
