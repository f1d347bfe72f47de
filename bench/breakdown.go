package main

import (
	"context"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"

	bridgeconfig "github.com/igdirect/bridge/config"
	"github.com/igdirect/bridge/workflows"
)

// Breakdown splits the inbound and outbound latency of sampled conversations into hops,
// from the workflow histories (server timestamps) and the emulators' records. Every hop is
// a distribution over the messages of the window.
type Breakdown struct {
	Workflows        int     `json:"workflows"`
	Messages         int     `json:"messages"`
	EventsPerMessage float64 `json:"history_events_per_message"`
	Inbound          []Hop   `json:"inbound"`
	Outbound         []Hop   `json:"outbound"`
	Tasks            []Hop   `json:"tasks"`
	ReorderWindow    string  `json:"reorder_window"`
	Error            string  `json:"error,omitempty"`
}

// Hop is one step and its distribution.
type Hop struct {
	Name string `json:"name"`
	Dist Dist   `json:"dist"`
}

type tagTimes struct {
	signaled, scheduled, started, completed time.Time
}

// firstUsers are the first n users of a generator: the conversations a breakdown samples.
func firstUsers(g *gen, n int) []int {
	out := make([]int, 0, n)
	for i := g.base; i < g.base+n; i++ {
		out = append(out, i)
	}
	return out
}

// breakdown reads the histories of the conversations of users and attributes the latency
// of their messages written in [start, end].
func breakdown(t *target, g *gen, start, end time.Time, users []int) *Breakdown {
	b := &Breakdown{ReorderWindow: reorderWindow(t)}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tc := t.stack.Temporal()
	in := map[uint64]*tagTimes{}  // customer message tag → times of its signal and PostToRoom
	out := map[uint64]*tagTimes{} // tag of the agent reply → times of its signal and SendToInstagram
	var wftSched, wftExec []time.Duration
	actSched := map[string][]time.Duration{}
	actExec := map[string][]time.Duration{}
	events := 0
	// Task statistics and the event count cover the window plus the time its last messages
	// take to get through (the next phase may start right after).
	lo, hi := start, end.Add(2*time.Second)

	g.mu.Lock()
	var ids []string
	for _, i := range users {
		if igsid, ok := g.users[i]; ok {
			ids = append(ids, t.stack.WorkflowID(igsid))
		}
	}
	g.mu.Unlock()
	for _, wid := range ids {
		runID := ""
		for hop := 0; hop < 20; hop++ { // follow continue-as-new backwards
			var prev string
			var first time.Time
			sched := map[int64]time.Time{}
			actType := map[int64]string{}
			actTags := map[int64][]uint64{}
			it := tc.GetWorkflowHistory(ctx, wid, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
			for it.HasNext() {
				ev, err := it.Next()
				if err != nil {
					b.Error = err.Error()
					break
				}
				at := ev.GetEventTime().AsTime()
				if first.IsZero() {
					first = at
					prev = ev.GetWorkflowExecutionStartedEventAttributes().GetContinuedExecutionRunId()
				}
				inWin := !at.Before(lo) && !at.After(hi)
				if inWin {
					events++
				}
				switch ev.GetEventType() {
				case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
					a := ev.GetWorkflowExecutionSignaledEventAttributes()
					dst := in
					if a.GetSignalName() == workflows.SignalRocketChat {
						dst = out
					}
					for _, tag := range payloadTags(a.GetInput().GetPayloads()) {
						if _, ok := dst[tag]; !ok {
							dst[tag] = &tagTimes{signaled: at}
						}
					}
				case enumspb.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
					sched[ev.GetEventId()] = at
				case enumspb.EVENT_TYPE_WORKFLOW_TASK_STARTED:
					if s, ok := sched[ev.GetWorkflowTaskStartedEventAttributes().GetScheduledEventId()]; ok && inWin {
						wftSched = append(wftSched, at.Sub(s))
					}
					sched[-ev.GetEventId()] = at
				case enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
					if s, ok := sched[-ev.GetWorkflowTaskCompletedEventAttributes().GetStartedEventId()]; ok && inWin {
						wftExec = append(wftExec, at.Sub(s))
					}
				case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
					a := ev.GetActivityTaskScheduledEventAttributes()
					typ := a.GetActivityType().GetName()
					actType[ev.GetEventId()], sched[ev.GetEventId()] = typ, at
					tags := payloadTags(a.GetInput().GetPayloads())
					actTags[ev.GetEventId()] = tags
					for _, tag := range tags {
						if m := pick(typ, in, out, tag); m != nil && m.scheduled.IsZero() {
							m.scheduled = at
						}
					}
				case enumspb.EVENT_TYPE_ACTIVITY_TASK_STARTED:
					id := ev.GetActivityTaskStartedEventAttributes().GetScheduledEventId()
					typ := actType[id]
					if s, ok := sched[id]; ok && inWin {
						actSched[typ] = append(actSched[typ], at.Sub(s))
					}
					sched[-ev.GetEventId()] = at
					for _, tag := range actTags[id] {
						if m := pick(typ, in, out, tag); m != nil && m.started.IsZero() {
							m.started = at
						}
					}
				case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
					a := ev.GetActivityTaskCompletedEventAttributes()
					typ := actType[a.GetScheduledEventId()]
					if s, ok := sched[-a.GetStartedEventId()]; ok && inWin {
						actExec[typ] = append(actExec[typ], at.Sub(s))
					}
					for _, tag := range actTags[a.GetScheduledEventId()] {
						if m := pick(typ, in, out, tag); m != nil && m.completed.IsZero() {
							m.completed = at
						}
					}
				}
			}
			if prev == "" || first.Before(lo.Add(-time.Minute)) || b.Error != "" {
				break
			}
			runID = prev
		}
	}
	b.Workflows = len(ids)

	// Attribute per message of the window.
	var sig, wait, beyond, dispatch, post, total []time.Duration
	var oSig, oDecide, oDispatch, oSend, oTotal []time.Duration
	window := parseWindow(b.ReorderWindow)
	msgs := 0
	// counted: the customer messages of the window that reached a room, whether or not their
	// post shows as an activity task (a local activity leaves only a marker): the divisor of
	// the history events per message.
	counted := 0
	sampled := map[int]bool{}
	for _, u := range users {
		sampled[u] = true
	}
	for _, m := range g.select_([]string{}) {
		if m.Created.Before(start) || m.Created.After(end) || !sampled[m.User] {
			continue
		}
		if !m.InRoom.IsZero() {
			counted++
		}
		if tt := in[m.ID]; tt != nil && !tt.signaled.IsZero() && !tt.scheduled.IsZero() && !tt.started.IsZero() && !m.InRoom.IsZero() {
			msgs++
			sig = append(sig, tt.signaled.Sub(m.Created))
			wait = append(wait, tt.scheduled.Sub(tt.signaled))
			beyond = append(beyond, tt.scheduled.Sub(m.Created.Add(window)))
			dispatch = append(dispatch, tt.started.Sub(tt.scheduled))
			post = append(post, m.InRoom.Sub(tt.started))
			total = append(total, m.InRoom.Sub(m.Created))
		}
		if tt := out[m.ID]; tt != nil && !m.AgentAt.IsZero() && !tt.signaled.IsZero() && !tt.scheduled.IsZero() && !tt.started.IsZero() && !m.SentAt.IsZero() {
			oSig = append(oSig, tt.signaled.Sub(m.AgentAt))
			oDecide = append(oDecide, tt.scheduled.Sub(tt.signaled))
			oDispatch = append(oDispatch, tt.started.Sub(tt.scheduled))
			oSend = append(oSend, m.SentAt.Sub(tt.started))
			oTotal = append(oTotal, m.SentAt.Sub(m.AgentAt))
		}
	}
	b.Messages = counted
	if counted > 0 {
		b.EventsPerMessage = float64(events) / float64(counted)
	}
	b.Inbound = []Hop{
		{"webhook sent → signal in history (ingress: verify, parse, SignalWithStart)", distOf(sig)},
		{"signal → PostToRoom scheduled (reorder window + workflow tasks)", distOf(wait)},
		{"  of which beyond the reorder window (event time + window → scheduled)", distOf(beyond)},
		{"PostToRoom scheduled → started (task dispatch to the worker)", distOf(dispatch)},
		{"PostToRoom started → message in the room (activity: Rocket.Chat REST)", distOf(post)},
		{"total: webhook sent → message in the room", distOf(total)},
	}
	b.Outbound = []Hop{
		{"agent message → signal in history (Rocket.Chat webhook, ingress, Signal)", distOf(oSig)},
		{"signal → SendToInstagram scheduled (workflow task)", distOf(oDecide)},
		{"SendToInstagram scheduled → started (task dispatch to the worker)", distOf(oDispatch)},
		{"SendToInstagram started → Send API call (activity: token and settings from PostgreSQL, Graph API)", distOf(oSend)},
		{"total: agent message → Send API call", distOf(oTotal)},
	}
	b.Tasks = []Hop{
		{"workflow task schedule → start", distOf(wftSched)},
		{"workflow task start → complete (worker)", distOf(wftExec)},
	}
	var types []string
	for typ := range actSched {
		types = append(types, typ)
	}
	sort.Strings(types)
	for _, typ := range types {
		b.Tasks = append(b.Tasks, Hop{"activity " + typ + " schedule → start", distOf(actSched[typ])})
		b.Tasks = append(b.Tasks, Hop{"activity " + typ + " start → complete", distOf(actExec[typ])})
	}
	return b
}

// pick: PostToRoom carries customer messages, SyncReplies agent replies (when run as regular activities).
func pick(activityType string, in, out map[uint64]*tagTimes, tag uint64) *tagTimes {
	switch activityType {
	case workflows.ActivityPostToRoom:
		return in[tag]
	case workflows.ActivitySyncReplies:
		return out[tag]
	}
	return nil
}

func payloadTags(ps []*commonpb.Payload) []uint64 {
	var out []uint64
	for _, p := range ps {
		for _, m := range tagRE.FindAllSubmatch(p.GetData(), -1) {
			if id, err := strconv.ParseUint(string(m[1]), 10, 64); err == nil {
				out = append(out, id)
			}
		}
	}
	return out
}

// reorderWindow is the REORDER_WINDOW the target's processes run with: the stack's
// environment, else the product's default.
func reorderWindow(t *target) string {
	w := "250ms"
	if f, ok := reflect.TypeOf(bridgeconfig.Config{}).FieldByName("ReorderWindow"); ok && f.Tag.Get("default") != "" {
		w = f.Tag.Get("default")
	}
	for _, kv := range t.stack.Env() {
		if v, ok := strings.CutPrefix(kv, "REORDER_WINDOW="); ok {
			w = v
		}
	}
	return w
}

func parseWindow(s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 250 * time.Millisecond
	}
	return d
}
