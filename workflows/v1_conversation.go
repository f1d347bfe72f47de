// Frozen: see v1Conversation (v1_conversation.go).

package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/workflow"
)

// v1Conversation is the conversation as it was before version 1 of conversationVersion
// (issue 19), frozen: runs that started on it replay it and finish on it; their next run
// (continue-as-new, or the customer's next room) runs the current code, which reads the
// state this one carries. Nothing but a bug that loses messages on a running conversation
// justifies changing it; it goes when no run of it is left (README: upgrading the worker).
// v1_*.go are the conversation files of main at 692f714, on Host (d8eb221), with every
// name they declare prefixed v1.
func v1Conversation(ctx workflow.Context, in ConversationInput) error {
	c := v1newConversation(newTemporalHost(ctx), in)
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (StateView, error) { return c.view(), nil }); err != nil {
		return err
	}
	next, err := c.run()
	if next != nil {
		return workflow.NewContinueAsNewError(ctx, ConversationWorkflowName, *next)
	}
	return err
}

// conversation is the workflow's working set: the carried State and what a run derives.
type v1conversation struct {
	st       v1State
	settings Settings
	loaded   bool // LoadConversation has answered in this run
	log      log.Logger
	h        Host

	// The activity in flight in each direction and for best-effort side calls (nil: idle),
	// and the one timer.
	in, out, side *v1call
	timer         *v1timer
	// fresh: the run started without carried state (its first, or after one completed).
	fresh bool
	// startedAt is when this run started; dormant runs end an hour after it.
	startedAt time.Time
	// continueNow: continue as new at the next idle moment (a new room was started).
	continueNow bool
	// heldRetry: an agent wrote while replies were held: try once more (take control).
	heldRetry bool
	// pausingNow caches pausing() for nextDeadline.
	pausingNow bool
	// unsendSettingsAt: when the settings were last read for pending unsends.
	unsendSettingsAt time.Time
	// posting: the pending events whose items the inbound post in flight carries.
	posting []v1postingEvent
	// published mirrors the search attributes and details, so they are upserted only when
	// a value changes (each upsert is a history event).
	published map[string]string
	details   string
}

func v1newConversation(h Host, in ConversationInput) *v1conversation {
	c := &v1conversation{
		h:         h,
		log:       h.Logger(),
		startedAt: h.Now(),
		published: h.SearchAttributes(),
	}
	if len(in.Carry) > 0 {
		if err := decodeCarry(in.Carry, &c.st); err != nil {
			panic("conversation: carried state unreadable: " + err.Error()) // fails the task; a fixed worker retries it
		}
	} else {
		c.fresh = true
	}
	c.st.PageID, c.st.IGSID = in.PageID, in.IGSID
	if c.st.RoomKey == "" {
		c.newRoomKey()
	}
	return c
}

// now is the workflow clock.
func (c *v1conversation) now() time.Time { return c.h.Now() }

func (c *v1conversation) run() (*ConversationInput, error) {
	for {
		if c.idle() {
			if c.pausing() {
				return c.continueAsNew(), nil
			}
			if c.finished() {
				c.saveMemory()
				if !c.drain() {
					c.log.Info("Conversation run complete", "room", c.st.RoomID, "delivered", c.st.Delivered, "sent", c.st.SentToIG)
					return nil, nil
				}
				continue // something arrived while the memory was saved
			}
		}
		c.advanceInbound()
		c.advanceOutbound()
		c.publish()
		if c.idle() && c.pausing() {
			continue // nothing may start: continue as new now (top of the loop)
		}
		c.wait()
	}
}

// idle: no activity in flight in either direction.
func (c *v1conversation) idle() bool { return c.in == nil && c.out == nil && c.side == nil }

// pausing: no new activity may start (the run is about to continue as new). A run whose
// inbound queue is full works it down first: its signals must fit the next run's input.
func (c *v1conversation) pausing() bool {
	return c.continueNow || c.h.ContinueAsNewSuggested() && len(c.st.Pending) < v1pendingLimit
}

// dormantWait is how long a run started by an event that refers to a message (an unsend or
// edit delivered before the message itself) waits for that message: Meta retries failed
// deliveries for about an hour (spec §2.3).
const v1dormantWait = time.Hour

// finished reports whether the run has nothing left to do: a dormant run whose message never
// came, or a closed room whose replies are all out, after the linger time (which absorbs
// Meta's redeliveries while the run's memory is at hand).
func (c *v1conversation) finished() bool {
	now := c.now()
	if !c.loaded {
		return false
	}
	if !c.st.Opened {
		return !now.Before(c.startedAt.Add(v1dormantWait)) && c.outboundDone()
	}
	if !c.st.RoomClosed || c.hasOpening() || !c.outboundDone() {
		return false
	}
	return !now.Before(c.st.ClosedAt.Add(c.settings.CloseLinger))
}

// outboundDone: nothing queued or waiting for Instagram, no best-effort call left.
func (c *v1conversation) outboundDone() bool {
	return len(c.st.Out) == 0 && c.st.Expect == nil && len(c.st.Side) == 0
}

// wait blocks until something happens: an activity's result, a signal, or the timer. Signal
// channels are consumed only here, by this coroutine (specs/temporal-go.md §1.6). Until the
// run has loaded its settings and memory, Instagram events stay in their channel: they are
// deduplicated against that memory.
func (c *v1conversation) wait() {
	var sources []Source
	var handlers []func()
	add := func(s Source, handle func()) {
		sources = append(sources, s)
		handlers = append(handlers, handle)
	}
	if c.loaded && len(c.st.Pending) < v1pendingLimit {
		add(Source{Signal: SignalInstagram}, func() { c.drainInstagram(v1pendingLimit) })
	}
	add(Source{Signal: SignalRocketChat}, func() { c.drainRocketChat() })
	add(Source{Signal: SignalWake}, func() { c.drainWake() })
	for _, slot := range []**v1call{&c.in, &c.out, &c.side} {
		if k := *slot; k != nil {
			add(Source{Outcome: k.outcome}, func() { c.finish(slot) })
		}
	}
	if t := c.armTimer(); t != nil {
		add(Source{Timer: t.handle}, func() {
			if c.timer == t {
				c.timer = nil
			}
		})
	}
	handlers[c.h.Wait(sources...)]()
}

// drain takes in every signal already received, without blocking; it reports whether there
// was any.
func (c *v1conversation) drain() bool {
	n := c.drainInstagram(0) + c.drainRocketChat() + c.drainWake()
	return n > 0
}

// drainInstagram takes in Instagram batches while the inbound queue is below limit (0: all).
func (c *v1conversation) drainInstagram(limit int) int {
	n := 0
	for limit == 0 || len(c.st.Pending) < limit {
		var b InstagramBatch
		if !c.h.Receive(SignalInstagram, &b) {
			return n
		}
		n++
		for _, ev := range b.Events {
			c.acceptInstagram(ev)
		}
	}
	return n
}

func (c *v1conversation) drainRocketChat() int {
	n := 0
	for {
		var ev RocketChatEvent
		if !c.h.Receive(SignalRocketChat, &ev) {
			return n
		}
		n++
		c.acceptRocketChat(ev)
	}
}

// drainWake: an admin changed something (connected or authorized an account, edited a
// page): blocked directions try again now instead of at their next check.
func (c *v1conversation) drainWake() int {
	n := 0
	for {
		var ev WakeEvent
		if !c.h.Receive(SignalWake, &ev) {
			return n
		}
		n++
		now := c.now()
		c.log.Info("Woken", "reason", ev.Reason)
		if c.st.InBlocked.active() {
			c.st.InBlocked.RetryAt = now
		}
		if c.st.OutBlocked.active() && c.st.OutBlocked.Kind != v1BlockHeld {
			c.st.OutBlocked.RetryAt = now
		}
		if c.st.RoomID == "" && !c.st.NextAgentCheck.IsZero() {
			c.st.NextAgentCheck = now
		}
	}
}

// continueAsNew hands the state to a new run. Called only when no activity is in flight
// (their results belong to this run); signals are drained right before, without yielding,
// so none is lost (specs/temporal-go.md §1.6).
func (c *v1conversation) continueAsNew() *ConversationInput {
	c.drain()
	c.log.Info("Continuing as new", "room", c.st.RoomID, "pending", len(c.st.Pending), "outbound", len(c.st.Out))
	carry, err := encodeCarry(c.st)
	if err != nil {
		panic("conversation: state not encodable: " + err.Error())
	}
	return &ConversationInput{PageID: c.st.PageID, IGSID: c.st.IGSID, Carry: carry}
}

// newRoomKey names the room this conversation opens next: unique among all the rooms of
// the conversation, and the same on replay.
func (c *v1conversation) newRoomKey() {
	c.st.RoomSeq++
	c.st.RoomKey = fmt.Sprintf("%s/%d", c.h.RunID(), c.st.RoomSeq)
}

// block marks a direction blocked (or still blocked) and schedules its next try with capped
// exponential backoff; it reports whether the block is new (worth telling someone), and
// counts new blocks in the blocked-conversations metric.
func (c *v1conversation) block(b *v1Blocked, now time.Time, kind, reason string, first, max time.Duration) bool {
	isNew := b.Kind != kind
	if isNew {
		*b = v1Blocked{Kind: kind, Since: now}
		c.countBlocked(kind)
	}
	b.Reason = reason
	b.Backoff = min(max, maxDuration(first, b.Backoff*2))
	b.RetryAt = now.Add(b.Backoff)
	return isNew
}

// countBlocked counts a conversation that became blocked (metric only: a notice with no
// text posts nothing).
func (c *v1conversation) countBlocked(kind string) {
	c.st.Side = append(c.st.Side, v1SideJob{Kind: v1SideNotice, Reason: kind})
}

// Backoffs of blocked directions: causes an admin must fix are checked rarely (a wake
// signal comes when they act); outages are tried again soon.
const (
	v1adminFixFirst = time.Minute
	v1adminFixMax   = 10 * time.Minute
	v1outageFirst   = 5 * time.Second
	v1outageMax     = 2 * time.Minute
	v1defaultReauth = time.Minute
)

// Limits and waits of a conversation.
const (
	// echoWait: how long a send whose outcome is unknown waits for Meta's echo.
	v1echoWait = 10 * time.Second
	// heldLimit: Meta's thread control lapses after 24 h of inactivity (spec §6).
	v1heldLimit = 24 * time.Hour
	// Agent availability is re-checked with capped backoff while no agent is online.
	v1agentCheckFirst = 5 * time.Second
	v1agentCheckMax   = 5 * time.Minute
	// pendingLimit bounds the inbound queue (see wait): signals beyond it stay in
	// Temporal's buffer until the queue drains.
	v1pendingLimit    = 1000
	v1parkedEchoLimit = 20
	// lateAfter: a message posted this long after it was written shows its original time.
	v1lateAfter = time.Minute
	// maxBatch bounds the items one post carries.
	v1maxBatch = 25
)
