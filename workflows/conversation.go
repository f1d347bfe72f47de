package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/workflow"
)

// Conversation is the entity workflow of one Instagram user and one business account. A run
// lives for one Rocket.Chat room: it registers the visitor, welcomes the customer, opens the
// room when an agent is available (keeping every message until then), posts customer
// messages in order exactly once, sends agent replies to Instagram in Rocket.Chat's order
// exactly once, and ends some time after the room is closed. The customer's next message
// starts the next room in a new run (continue-as-new, carrying the dedup memory).
//
// One coroutine does everything: a loop that starts at most one activity per direction
// (inbound: Instagram → Rocket.Chat; outbound: Rocket.Chat → Instagram; side: best-effort
// notes and notices; store: the inbound queue's overflow in PostgreSQL), then waits for
// whichever comes first — an activity's result, a signal, the one timer. A direction that
// cannot make progress (an account to connect or authorize again, a department that does
// not exist, another app owning the thread, an outage) is a state with a deadline and a
// wake-up signal, never an activity retrying without end, and never holds up the other
// direction. The timer is armed only for a deadline that lets something happen when it is
// reached, so a state that waits for something else never spins.
func Conversation(ctx workflow.Context, in ConversationInput) error {
	if workflow.GetVersion(ctx, conversationVersion, workflow.DefaultVersion, conversationV2) == workflow.DefaultVersion {
		return v1Conversation(ctx, in) // a run that started before this code: it ends on the code it started with
	}
	c := newConversation(newTemporalHost(ctx), in)
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (StateView, error) { return c.view(), nil }); err != nil {
		return err
	}
	next, err := c.run()
	if next != nil {
		return workflow.NewContinueAsNewError(ctx, ConversationWorkflowName, *next)
	}
	return err
}

// A run's code is chosen once, when it starts: GetVersion records the version in the run's
// history (a marker, and the TemporalChangeVersion search attribute operators can list runs
// by), so a run never changes code midway; a run continues as new on the newest code.
const (
	conversationVersion                  = "conversation"
	conversationV2      workflow.Version = 1 // issue 19: the simulator's findings fixed
)

// ConversationCode names the code new runs take ("v2"): recorded histories of its runs are
// kept under that prefix (workflows/testdata), beside the older code's.
const ConversationCode = "v2"

// ConversationRun is one run of a conversation on a Host other than Temporal (the
// simulator): Run runs it to its end, View and State show it meanwhile.
type ConversationRun struct{ c *conversation }

// NewConversationRun prepares a run of the conversation on h.
func NewConversationRun(h Host, in ConversationInput) *ConversationRun {
	return &ConversationRun{c: newConversation(h, in)}
}

// Run runs the conversation until the run ends: it returns the next run's input when the
// run continues as new, nil when it completes.
func (r *ConversationRun) Run() (*ConversationInput, error) { return r.c.run() }

// View is what the state query answers.
func (r *ConversationRun) View() StateView { return r.c.view() }

// State is a copy of the run's state, as it would be carried to the next run now.
func (r *ConversationRun) State() State { return r.c.st }

// Busy reports the activities in flight (by slot: in, out, side, store) and when the timer
// is due (zero: none).
func (r *ConversationRun) Busy() (inFlight []string, timerAt time.Time) {
	for _, k := range []*call{r.c.in, r.c.out, r.c.side, r.c.store} {
		if k != nil {
			inFlight = append(inFlight, k.name)
		}
	}
	if r.c.timer != nil {
		timerAt = r.c.timer.at
	}
	return inFlight, timerAt
}

// conversation is the workflow's working set: the carried State and what a run derives.
type conversation struct {
	st       State
	settings Settings
	loaded   bool // LoadConversation has answered in this run
	log      log.Logger
	h        Host

	// The activity in flight in each direction, for best-effort side calls, and for the
	// inbound queue's spool (nil: idle), and the one timer.
	in, out, side, store *call
	timer                *timer
	// fresh: the run started without carried state (its first, or after one completed).
	fresh bool
	// startedAt is when this run started; dormant runs end an hour after it.
	startedAt time.Time
	// continueNow: continue as new at the next idle moment (a new room was started).
	continueNow bool
	// unsendSettingsAt: when the settings were last read for pending unsends.
	unsendSettingsAt time.Time
	// posting: the pending events whose items the inbound post in flight carries.
	posting []postingEvent
	// published mirrors the search attributes and details, so they are upserted only when
	// a value changes (each upsert is a history event).
	published map[string]string
	details   string
	// settledExpect: the expectation the result being applied settled, for stopped (a job
	// that stops unknown again on the same send keeps the echo that came meanwhile).
	settledExpect *Waiting
	// doubt: the customer's messages of the last post that it did not report posted, which
	// may be in the room all the same; doubtTS the latest of their timestamps (see
	// postInDoubt). Run-local: a lost mark is all a continue-as-new costs.
	doubt   map[string]bool
	doubtTS int64
}

func newConversation(h Host, in ConversationInput) *conversation {
	c := &conversation{
		h:         h,
		log:       h.Logger(),
		startedAt: h.Now(),
		published: h.SearchAttributes(),
	}
	if len(in.Carry) > 0 {
		if err := decodeCarry(in.Carry, &c.st); err != nil {
			panic("conversation: carried state unreadable: " + err.Error()) // fails the task; a fixed worker retries it
		}
		c.st.migrate()
	} else {
		c.fresh = true
		c.st.V = stateVersion
	}
	c.st.PageID, c.st.IGSID = in.PageID, in.IGSID
	if c.st.RoomKey == "" {
		c.newRoomKey()
	}
	return c
}

// now is the workflow clock.
func (c *conversation) now() time.Time { return c.h.Now() }

func (c *conversation) run() (*ConversationInput, error) {
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
		c.advanceStore()
		c.advanceInbound()
		c.advanceOutbound()
		c.advanceSide()
		c.publish()
		if c.idle() && c.pausing() {
			continue // nothing may start: continue as new now (top of the loop)
		}
		c.wait()
	}
}

// idle: no activity in flight in any slot.
func (c *conversation) idle() bool {
	return c.in == nil && c.out == nil && c.side == nil && c.store == nil
}

// pausing: no new activity may start, the run is about to continue as new — whatever its
// queue holds (the queue's overflow is in PostgreSQL, so the state carried stays small).
// Only writing that overflow goes on (see advanceStore).
func (c *conversation) pausing() bool {
	return c.continueNow || c.h.ContinueAsNewSuggested()
}

// dormantWait is how long a run started by an event that refers to a message (an unsend or
// edit delivered before the message itself) waits for that message: Meta retries failed
// deliveries for about an hour (spec §2.3).
const dormantWait = time.Hour

// finished reports whether the run has nothing left to do: a dormant run whose message never
// came, or a closed room whose replies are all out, after the linger time (which absorbs
// Meta's redeliveries while the run's memory is at hand).
func (c *conversation) finished() bool {
	now := c.now()
	if !c.loaded || c.st.Spool.active() {
		return false
	}
	if !c.st.Opened {
		return !now.Before(c.startedAt.Add(dormantWait)) && c.outboundDone()
	}
	return c.lingering() && !now.Before(c.st.ClosedAt.Add(c.settings.CloseLinger))
}

// lingering: the room is closed and nothing is left to do for it — no reply or automated
// message to send, nothing to change in it, no next room to open.
func (c *conversation) lingering() bool {
	return c.st.RoomClosed && !c.hasOpening() && !c.hasClosedRoomWork() && c.outboundDone()
}

// outboundDone: nothing queued or waiting for Instagram, no best-effort call left.
func (c *conversation) outboundDone() bool {
	return len(c.st.Out) == 0 && c.st.Expect == nil && len(c.st.Side) == 0
}

// wait blocks until something happens: an activity's result, a signal, or the timer. Signal
// channels are consumed only here, by this coroutine (specs/temporal-go.md §1.6), and
// always: an event Meta delivers is taken in at once, whatever waits already (the queue's
// overflow goes to PostgreSQL). Until the run has loaded its settings and memory, Instagram
// events stay in their channel: they are deduplicated against that memory.
func (c *conversation) wait() {
	var sources []Source
	var handlers []func()
	add := func(s Source, handle func()) {
		sources = append(sources, s)
		handlers = append(handlers, handle)
	}
	if c.loaded {
		add(Source{Signal: SignalInstagram}, func() { c.drainInstagram() })
	}
	add(Source{Signal: SignalRocketChat}, func() { c.drainRocketChat() })
	add(Source{Signal: SignalWake}, func() { c.drainWake() })
	for _, slot := range []**call{&c.in, &c.out, &c.side, &c.store} {
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
func (c *conversation) drain() bool {
	n := c.drainInstagram() + c.drainRocketChat() + c.drainWake()
	return n > 0
}

// drainInstagram takes in every Instagram batch received.
func (c *conversation) drainInstagram() int {
	n := 0
	for {
		var b InstagramBatch
		if !c.h.Receive(SignalInstagram, &b) {
			return n
		}
		n++
		for _, ev := range b.Events {
			c.acceptInstagram(ev)
		}
	}
}

func (c *conversation) drainRocketChat() int {
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
// page, fixed a department): whatever waits tries again now instead of at its next check.
// A customer waiting for an agent is registered again first, so a page now pointed at
// another department routes them there.
func (c *conversation) drainWake() int {
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
		if c.st.OutBlocked.active() {
			c.st.OutBlocked.RetryAt = now
		}
		if c.st.RoomID == "" && c.st.Visitor != nil {
			c.st.Visitor = nil // registered again: the page's department may have changed
			c.st.NextAgentCheck = time.Time{}
		}
	}
}

// continueAsNew hands the state to a new run. Called only when no activity is in flight
// (their results belong to this run); signals are drained right before, without yielding,
// so none is lost (specs/temporal-go.md §1.6).
func (c *conversation) continueAsNew() *ConversationInput {
	c.drain()
	c.spillOverflow()
	c.log.Info("Continuing as new", "room", c.st.RoomID, "pending", len(c.st.Pending), "spooled", c.st.Spool.Count, "outbound", len(c.st.Out))
	carry, err := encodeCarry(c.st)
	if err != nil {
		panic("conversation: state not encodable: " + err.Error())
	}
	return &ConversationInput{PageID: c.st.PageID, IGSID: c.st.IGSID, Carry: carry}
}

// newRoomKey names the room this conversation opens next: unique among all the rooms of
// the conversation, and the same on replay.
func (c *conversation) newRoomKey() {
	c.st.RoomSeq++
	c.st.RoomKey = fmt.Sprintf("%s/%d", c.h.RunID(), c.st.RoomSeq)
}

// block marks a direction blocked (or still blocked) and schedules its next try with capped
// exponential backoff; it reports whether the block is new (worth telling someone), and
// counts new blocks in the blocked-conversations metric.
func (c *conversation) block(b *Blocked, now time.Time, kind, reason string, first, max time.Duration) bool {
	isNew := b.Kind != kind
	if isNew {
		*b = Blocked{Kind: kind, Since: now}
		c.countBlocked(kind)
	}
	b.Reason = reason
	b.Backoff = min(max, maxDuration(first, b.Backoff*2))
	b.RetryAt = now.Add(b.Backoff)
	return isNew
}

// countBlocked counts a conversation that became blocked (metric only: a notice with no
// text posts nothing).
func (c *conversation) countBlocked(kind string) {
	c.st.Side = append(c.st.Side, SideJob{Kind: SideNotice, Reason: kind})
}

func maxDuration(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}

// Backoffs of blocked directions: causes an admin must fix are checked rarely (a wake
// signal comes when they act); outages are tried again soon.
const (
	adminFixFirst = time.Minute
	adminFixMax   = 10 * time.Minute
	outageFirst   = 5 * time.Second
	outageMax     = 2 * time.Minute
	defaultReauth = time.Minute
)

// Limits and waits of a conversation.
const (
	// echoWait: how long a send whose outcome is unknown waits for Meta's echo.
	echoWait = 10 * time.Second
	// heldLimit: Meta's thread control lapses after 24 h of inactivity (spec §6).
	heldLimit = 24 * time.Hour
	// Agent availability is re-checked with capped backoff while no agent is online.
	agentCheckFirst = 5 * time.Second
	agentCheckMax   = 5 * time.Minute
	// pendingLimit bounds the inbound queue in the state; beyond it events wait in
	// PostgreSQL (spoolLow: read back when the queue is this short; spoolChunk at a time).
	pendingLimit    = 200
	spoolLow        = 50
	spoolChunk      = 150
	parkedEchoLimit = 20
	// lateAfter: a message posted this long after it was written shows its original time.
	lateAfter = time.Minute
	// maxBatch bounds the items one post carries.
	maxBatch = 25
	// Reading the room's messages without a webhook (Rocket.Chat gives up on webhooks): after
	// a customer message is posted when the last read is older than syncAfterPost, and when
	// the room is idle, after syncIdleFirst doubling up to syncIdleMax.
	syncAfterPost = 30 * time.Second
	syncIdleFirst = 2 * time.Minute
	syncIdleMax   = 30 * time.Minute
	// notesCarried bounds the notes a completed run hands to the next one (through the
	// conversation's memory) because no room was open to show them.
	notesCarried = 20
)
