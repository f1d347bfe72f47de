package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

const (
	// Agent availability is re-checked with capped exponential backoff while no agent is
	// online (and at once whenever the customer writes again).
	agentCheckFirst = 5 * time.Second
	agentCheckMax   = 5 * time.Minute
	// maxBatch bounds the items posted to the room by one activity call.
	maxBatch = 25
	// lateAfter: a customer message posted this long after it was written (it waited for an
	// agent, or for Rocket.Chat to come back) shows its original time in the room.
	lateAfter = time.Minute
)

// Conversation is the entity workflow of one Instagram user and one business account. A run
// lives for one Rocket.Chat room: it registers the visitor, welcomes the customer, opens the
// room when an agent is available (keeping every message until then), posts customer
// messages in Meta-timestamp order exactly once, sends agent replies to Instagram, and ends
// when the room is closed.
//
// The two directions run independently, so an outage on one side never holds up the other:
// the main coroutine consumes every signal (only with ReceiveAsync, see specs/temporal-go.md
// §1.6) and delivers to Rocket.Chat; a second coroutine sends the outbox to Instagram and
// never touches a signal channel.
func Conversation(ctx workflow.Context, in ConversationInput) error {
	c := newConversation(ctx, in)
	if err := workflow.SetQueryHandler(ctx, QueryState, func() (StateView, error) { return c.st.view(), nil }); err != nil {
		return err
	}
	return c.run(ctx)
}

type conversation struct {
	st       State
	settings Settings
	log      log.Logger
	igCh     workflow.ReceiveChannel
	rcCh     workflow.ReceiveChannel
	// sending is true while the outbound coroutine has a send in flight.
	sending bool
	// published mirrors what the search attributes currently say, so they are upserted only
	// when a value changes (each upsert is a history event).
	published map[string]string
}

func newConversation(ctx workflow.Context, in ConversationInput) *conversation {
	c := &conversation{
		log:       workflow.GetLogger(ctx),
		igCh:      workflow.GetSignalChannel(ctx, SignalInstagram),
		rcCh:      workflow.GetSignalChannel(ctx, SignalRocketChat),
		published: map[string]string{},
	}
	if in.Carry != nil {
		c.st = *in.Carry
	}
	c.st.PageID, c.st.IGSID = in.PageID, in.IGSID
	if c.st.Status == "" || c.st.Status == StateClosed {
		c.st.Status = StateWaitingForAgent
	}
	return c
}

func (c *conversation) run(ctx workflow.Context) error {
	if err := c.loadSettings(ctx); err != nil {
		return err
	}
	if c.st.Visitor == nil {
		opened, err := c.awaitOpening(ctx)
		if err != nil || !opened {
			return err
		}
	}
	if c.st.Visitor == nil {
		if err := c.registerVisitor(ctx); err != nil {
			return err
		}
	}
	c.publish(ctx)
	workflow.Go(ctx, c.sendLoop)
	if !c.st.WelcomeSent {
		c.st.WelcomeSent = true
		c.queueAutomated(AutoWelcome)
	}
	for {
		c.drain(ctx)
		if c.st.CloseRequested && c.outboundIdle() {
			return c.closeRoom(ctx)
		}
		worked, err := c.step(ctx)
		if err != nil {
			return err
		}
		c.publish(ctx)
		if workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			return c.continueAsNew(ctx, func() State { return c.st })
		}
		if !worked {
			if err := c.waitForWork(ctx, c.nextDeadline(), c.closable); err != nil {
				return err
			}
		}
	}
}

// dormantWait is how long a run started by an event that refers to a message (an unsend
// or edit delivered before the message itself) waits for that message: Meta retries failed
// deliveries for about an hour (spec §2.3).
const dormantWait = time.Hour

// awaitOpening keeps a run dormant - no visitor, no welcome, no room - until the customer
// writes or taps something. A run started by an unsend or edit of a message not delivered
// yet thus waits for it, and one whose message never comes ends quietly.
func (c *conversation) awaitOpening(ctx workflow.Context) (bool, error) {
	deadline := workflow.Now(ctx).Add(dormantWait)
	for {
		c.drain(ctx)
		if c.hasCustomerMessages() {
			return true, nil
		}
		if !workflow.Now(ctx).Before(deadline) {
			c.log.Info("No customer message arrived; ending the dormant run", "pending", len(c.st.Pending))
			return false, nil
		}
		if err := c.waitForWork(ctx, deadline, func() bool { return false }); err != nil {
			return false, err
		}
	}
}

func (c *conversation) outboundIdle() bool { return len(c.st.Outbox) == 0 && !c.sending }

func (c *conversation) closable() bool { return c.st.CloseRequested && c.outboundIdle() }

// heldLimit: replies held while another app owns the thread are dropped after this long
// (Meta's thread control expires after 24 hours of inactivity, spec §6).
const heldLimit = 24 * time.Hour

// dropStaleHeld drops replies held for longer than heldLimit, telling the agent.
func (c *conversation) dropStaleHeld(ctx workflow.Context) {
	if len(c.st.Held) == 0 || workflow.Now(ctx).Before(c.st.HeldSince.Add(heldLimit)) || c.sending {
		return
	}
	n := len(c.st.Held)
	c.st.Held, c.st.ControlBack = nil, false
	c.queueNote(ctx, fmt.Sprintf("⚠️ %d repl(ies) not delivered: another app kept control of this Instagram conversation for 24 hours", n))
}

// step does one unit of inbound work and reports whether there was any to do.
func (c *conversation) step(ctx workflow.Context) (bool, error) {
	c.dropStaleHeld(ctx)
	if len(c.st.Pending) == 0 || !c.due(ctx, c.st.Pending[0]) {
		return false, nil
	}
	if c.st.RoomID == "" {
		if workflow.Now(ctx).Before(c.st.NextAgentCheck) {
			return false, nil
		}
		return true, c.openRoom(ctx)
	}
	return true, c.postDue(ctx)
}

// due reports whether an event has waited out the reorder window. The window counts from
// Meta's timestamp, or from arrival if that is earlier (Meta's clock may run ahead of ours),
// so a late redelivery is posted at once and on-time events wait at most the window.
func (c *conversation) due(ctx workflow.Context, ev InstagramEvent) bool {
	return !workflow.Now(ctx).Before(c.releaseAt(ev))
}

func (c *conversation) releaseAt(ev InstagramEvent) time.Time {
	if ev.Kind == EventNote {
		return time.Time{}
	}
	start := time.UnixMilli(ev.Timestamp)
	if !ev.ArrivedAt.IsZero() && ev.ArrivedAt.Before(start) {
		start = ev.ArrivedAt
	}
	return start.Add(c.settings.ReorderWindow)
}

// nextDeadline is when the loop must wake up even without a signal: when the first pending
// event becomes due, or when agent availability is to be checked again.
func (c *conversation) nextDeadline() time.Time {
	var at time.Time
	if len(c.st.Pending) > 0 {
		at = c.releaseAt(c.st.Pending[0])
		if c.st.RoomID == "" && c.st.NextAgentCheck.After(at) {
			at = c.st.NextAgentCheck
		}
	}
	if len(c.st.Held) > 0 {
		if expiry := c.st.HeldSince.Add(heldLimit); at.IsZero() || expiry.Before(at) {
			at = expiry
		}
	}
	return at
}

// waitForWork blocks until a signal arrives, wake() holds, or the deadline passes (zero: no
// deadline). The timer runs on a child context that is cancelled afterwards: in SDK v1.50 an
// await timer otherwise stays pending after the condition wins (specs/temporal-go.md §1.7).
func (c *conversation) waitForWork(ctx workflow.Context, deadline time.Time, wake func() bool) error {
	ready := func() bool { return c.igCh.Len() > 0 || c.rcCh.Len() > 0 || wake() }
	if deadline.IsZero() {
		return workflow.Await(ctx, ready)
	}
	d := deadline.Sub(workflow.Now(ctx))
	if d <= 0 {
		return nil
	}
	tctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	_, err := workflow.AwaitWithOptions(tctx, workflow.AwaitOptions{
		Timeout:      d,
		TimerOptions: workflow.TimerOptions{Summary: "wait for next due event"},
	}, ready)
	return err
}

// drain takes in every signal already received, without blocking.
func (c *conversation) drain(ctx workflow.Context) {
	for {
		var ev InstagramEvent
		if !c.igCh.ReceiveAsync(&ev) {
			break
		}
		c.acceptInstagram(ctx, ev)
	}
	for {
		var ev RocketChatEvent
		if !c.rcCh.ReceiveAsync(&ev) {
			break
		}
		c.acceptRocketChat(ev)
	}
}

func (c *conversation) acceptInstagram(ctx workflow.Context, ev InstagramEvent) {
	if !c.st.Seen.Add(ev.DedupKey()) {
		c.st.Duplicates++
		c.log.Info("Duplicate Instagram event ignored", "kind", ev.Kind, "mid", ev.MID)
		return
	}
	switch ev.Kind {
	case EventMessage, EventPostback, EventReferral:
		// What the customer writes or taps opens Meta's messaging window.
		if t := time.UnixMilli(ev.Timestamp); t.After(c.st.LastCustomerAt) {
			c.st.LastCustomerAt = t
		}
		// A customer who writes again while we wait for an agent triggers a fresh check.
		c.st.NextAgentCheck = time.Time{}
		if ev.Standby && c.st.OtherOwner == "" {
			c.st.OtherOwner = "another app" // events on standby: someone else owns the thread
		}
		c.queue(ctx, ev)
		if ev.Kind == EventMessage {
			// Known from now on, so replies and reactions in the same batch can quote it.
			c.st.addQuote(Quote{MID: ev.MID, Text: summary(ev), Parts: len(ev.Attachments)})
		}
		if ev.Kind == EventMessage && c.st.UnsentWaiting.Has(ev.MID) {
			// Its unsend came first and waited for it (see resolveUnsends).
			c.queue(ctx, InstagramEvent{Kind: EventUnsend, MID: ev.MID, Timestamp: ev.Timestamp + 1})
		}
	case EventEdit:
		if i := c.st.pendingIndex(EventMessage, ev.MID); i >= 0 {
			c.st.Pending[i].Text = ev.Text // not in the room yet: post the edited text
			return
		}
		c.queue(ctx, ev)
	case EventUnsend, EventReaction:
		c.queue(ctx, ev)
	case EventRead:
		c.st.LastSeenMID, c.st.LastSeenAt = ev.MID, time.UnixMilli(ev.Timestamp)
	case EventHandover:
		c.acceptHandover(ctx, ev)
	case EventEcho:
		c.acceptEcho(ctx, ev)
	default:
		c.log.Info("Instagram event kind not handled", "kind", ev.Kind, "detail", ev.Detail)
	}
}

// acceptHandover follows Meta's thread control (conversation routing, spec §6) and tells
// the agent when another app takes over, asks for control, or gives it back.
func (c *conversation) acceptHandover(ctx workflow.Context, ev InstagramEvent) {
	app := ev.AppID
	if app == "" {
		app = "another app"
	}
	meta := ""
	if ev.Metadata != "" {
		meta = fmt.Sprintf(" (%q)", ev.Metadata)
	}
	switch ev.Action {
	case HandoverControlBack:
		c.st.OtherOwner = ""
		if len(c.st.Held) > 0 {
			c.st.ControlBack = true
		}
		c.queueNote(ctx, "✅ Control of this Instagram conversation is back with Rocket.Chat"+meta)
	case HandoverTaken:
		c.st.OtherOwner = app
		c.queueNote(ctx, fmt.Sprintf("⚠️ Another app (%s) took over this Instagram conversation%s; replies wait until control comes back", app, meta))
	case HandoverRequested:
		c.queueNote(ctx, fmt.Sprintf("🙋 Another app (%s) asks for control of this Instagram conversation%s", app, meta))
	}
}

// queue adds an event to the inbound queue, in Meta-timestamp order.
func (c *conversation) queue(ctx workflow.Context, ev InstagramEvent) {
	ev.ArrivedAt = workflow.Now(ctx)
	c.st.insertPending(ev)
}

// acceptEcho recognises our own sends by message ID. An echo can arrive before the Send API
// response that tells us the ID (spec traps 4 and 9): while a send is in flight, unknown
// echoes wait until its ID is recorded.
func (c *conversation) acceptEcho(ctx workflow.Context, ev InstagramEvent) {
	switch {
	case c.st.OurMIDs.Has(ev.MID):
		return
	case c.st.Expecting != "" && ev.Text == c.st.Expecting:
		// The echo of a send whose outcome was unknown: it was delivered.
		c.st.OurMIDs.Add(ev.MID)
		c.st.EchoMatched, c.st.Expecting = ev.MID, ""
	case c.sending:
		c.st.ParkedEchoes = append(c.st.ParkedEchoes, ev)
	default:
		c.noteEcho(ctx, ev)
	}
}

// releaseEchoes decides the parked echoes once no send is in flight.
func (c *conversation) releaseEchoes(ctx workflow.Context) {
	parked := c.st.ParkedEchoes
	c.st.ParkedEchoes = nil
	for _, ev := range parked {
		if !c.st.OurMIDs.Has(ev.MID) {
			c.noteEcho(ctx, ev)
		}
	}
}

// noteEcho shows the agent a message the business sent from outside this service (the
// Instagram app, Meta Business Suite, another tool), so the room holds the whole thread.
func (c *conversation) noteEcho(ctx workflow.Context, ev InstagramEvent) {
	text := ev.Text
	for _, a := range ev.Attachments {
		text += "\n" + renderAttachment(a)
	}
	c.st.addQuote(Quote{MID: ev.MID, Text: summary(ev), Ours: true})
	c.queueNote(ctx, "📱 Sent by the business outside Rocket.Chat: "+strings.TrimSpace(text))
}

func (c *conversation) acceptRocketChat(ev RocketChatEvent) {
	// Events of another room (an earlier, closed room of this customer, whose transcript was
	// reconciled on close) are ignored.
	if ev.RoomID == "" || ev.RoomID != c.st.RoomID {
		c.log.Info("Rocket.Chat event for another room ignored", "kind", ev.Kind, "room", ev.RoomID)
		return
	}
	switch ev.Kind {
	case RCAgentMessage:
		c.queueAgentMessages(ev.Messages)
	case RCClosed:
		c.queueAgentMessages(ev.Messages)
		if !c.st.CloseRequested {
			c.st.CloseRequested = true
			c.queueAutomated(AutoFinished)
		}
	case RCTaken, RCForwarded:
		if ev.AgentUsername != "" {
			c.st.Agent = ev.AgentUsername
		}
	}
}

// queueAgentMessages adds agent messages to the outbox in Rocket.Chat's order: its webhooks
// are asynchronous and may arrive in any order (spec rocketchat §10.2, trap 15), so the
// messages not yet being sent are kept sorted by their timestamp.
func (c *conversation) queueAgentMessages(msgs []AgentMessage) {
	for _, m := range msgs {
		if m.ID == "" || !c.st.AgentSeen.Add(m.ID) {
			continue
		}
		start := 0
		if c.sending {
			start = 1 // the first is in flight
		}
		i := len(c.st.Outbox)
		for i > start && m.TS != "" && c.st.Outbox[i-1].Automated == "" && c.st.Outbox[i-1].TS > m.TS {
			i--
		}
		c.st.Outbox = append(c.st.Outbox, AgentMessage{})
		copy(c.st.Outbox[i+1:], c.st.Outbox[i:])
		c.st.Outbox[i] = m
	}
}

// holdForOrder waits until an agent message is older than the reorder window, so a message
// whose webhook overtook an earlier one's does not go out first. It reports whether it waited
// (the caller then looks at the outbox again: an earlier message may have arrived).
func (c *conversation) holdForOrder(ctx workflow.Context, m AgentMessage) bool {
	if m.Automated != "" || m.TS == "" || c.settings.ReorderWindow <= 0 {
		return false
	}
	ts, err := time.Parse(time.RFC3339Nano, m.TS)
	if err != nil {
		return false
	}
	wait := ts.Add(c.settings.ReorderWindow).Sub(workflow.Now(ctx))
	if wait <= 0 {
		return false
	}
	_ = workflow.NewTimerWithOptions(ctx, wait, workflow.TimerOptions{Summary: "order agent replies"}).Get(ctx, nil)
	return true
}

func (c *conversation) queueAutomated(which string) {
	c.st.Outbox = append(c.st.Outbox, AgentMessage{ID: "auto:" + which, Automated: which})
}

// queueNote adds a note for the agent to the inbound queue, ordered by time with the
// customer's messages, so it appears in the room where it happened.
func (c *conversation) queueNote(ctx workflow.Context, text string) {
	c.st.NoteSeq++
	now := workflow.Now(ctx)
	c.st.insertPending(InstagramEvent{Kind: EventNote, MID: fmt.Sprintf("note-%d", c.st.NoteSeq), Text: text,
		Timestamp: now.UnixMilli(), ArrivedAt: now})
}

func (c *conversation) loadSettings(ctx workflow.Context) error {
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: 30 * time.Second},
	})
	return workflow.ExecuteLocalActivity(lctx, ActivityLoadSettings).Get(ctx, &c.settings)
}

func (c *conversation) registerVisitor(ctx workflow.Context) error {
	var v VisitorInfo
	err := workflow.ExecuteActivity(rocketChatCtx(ctx, "register visitor"), ActivityRegisterVisitor,
		RegisterVisitorInput{PageID: c.st.PageID, IGSID: c.st.IGSID}).Get(ctx, &v)
	if err != nil {
		return err
	}
	c.st.Visitor = &v
	return nil
}

// openRoom gets or creates the Livechat room. With no agent online the conversation keeps
// its messages, tells the customer once, and checks again later with capped backoff.
func (c *conversation) openRoom(ctx workflow.Context) error {
	var res OpenRoomResult
	err := workflow.ExecuteActivity(rocketChatCtx(ctx, "open room"), ActivityOpenRoom,
		OpenRoomInput{PageID: c.st.PageID, IGSID: c.st.IGSID, DepartmentID: c.st.Visitor.DepartmentID}).Get(ctx, &res)
	if err != nil {
		return err
	}
	if res.NoAgent {
		c.st.Status = StateWaitingForAgent
		c.st.AgentBackoff = min(max(c.st.AgentBackoff*2, agentCheckFirst), agentCheckMax)
		c.st.NextAgentCheck = workflow.Now(ctx).Add(c.st.AgentBackoff)
		if !c.st.OfflineSent {
			c.st.OfflineSent = true
			c.queueAutomated(AutoOffline)
		}
		c.log.Info("No agent online; messages wait", "pending", len(c.st.Pending), "next_check", c.st.NextAgentCheck)
		return nil
	}
	c.st.RoomID, c.st.Agent, c.st.Status = res.RoomID, res.Agent, StateOpen
	c.st.AgentBackoff, c.st.NextAgentCheck = 0, time.Time{}
	return nil
}

// postDue posts the due pending events into the room in one activity call. A room that
// turns out closed (its close webhook is late or disabled) ends this run like a close: the
// rest stays pending and goes to a new room in the next run.
func (c *conversation) postDue(ctx workflow.Context) error {
	if err := c.resolveUnsends(ctx); err != nil {
		return err
	}
	var (
		items  []RoomItem
		events []InstagramEvent
		ends   []int // ends[i]: number of items once events[i] is fully posted
	)
	for _, ev := range c.st.Pending {
		if len(items) >= maxBatch || !c.due(ctx, ev) {
			break
		}
		for _, it := range c.roomItems(ctx, ev) {
			if ev.Kind != EventNote {
				it.TS = ev.Timestamp
			}
			items = append(items, it)
		}
		events = append(events, ev)
		ends = append(ends, len(items))
	}
	if len(events) == 0 {
		return nil
	}
	var res PostToRoomResult
	err := workflow.ExecuteActivity(rocketChatCtx(ctx, "post to room"), ActivityPostToRoom,
		PostToRoomInput{PageID: c.st.PageID, IGSID: c.st.IGSID, RoomID: c.st.RoomID, Items: items}).Get(ctx, &res)
	if err != nil {
		return err
	}
	// Remove what was posted by identity, not position: the send coroutine may have queued
	// a note while the activity ran.
	posted := map[string]bool{}
	for i, ev := range events {
		if ends[i] > res.Posted {
			break
		}
		posted[ev.DedupKey()] = true
		if ev.Kind == EventMessage {
			c.st.Delivered++
		}
	}
	kept := c.st.Pending[:0:0]
	for _, ev := range c.st.Pending {
		if !posted[ev.DedupKey()] {
			kept = append(kept, ev)
		}
	}
	c.st.Pending = kept
	if res.RoomClosed {
		c.log.Info("Room closed under us; the rest goes to a new room", "room", c.st.RoomID, "left", len(c.st.Pending))
		c.st.CloseRequested = true
	}
	return nil
}

// resolveUnsends applies the admin's unsend setting (read fresh, so a change applies at
// once) to unsends whose message is not in the room yet: delete drops both, mark posts the
// marker instead of the message, keep posts both. An unsend whose message has not arrived
// at all waits for it (UnsentWaiting). Unsends of messages already in the room are left to
// roomItems.
func (c *conversation) resolveUnsends(ctx workflow.Context) error {
	if !c.hasPending(EventUnsend) {
		return nil
	}
	if err := c.loadSettings(ctx); err != nil {
		return err
	}
	drop := map[string]bool{}
	for _, ev := range c.st.Pending {
		if ev.Kind != EventUnsend {
			continue
		}
		i := c.st.pendingIndex(EventMessage, ev.MID)
		switch {
		case i >= 0 && c.settings.UnsendAction == "delete":
			drop[c.st.Pending[i].DedupKey()], drop[ev.DedupKey()] = true, true
		case i >= 0 && c.settings.UnsendAction == "mark":
			c.st.Pending[i].Text, c.st.Pending[i].Attachments = unsentMarker, nil
			c.st.Pending[i].QuickReplyPayload, c.st.Pending[i].Referral = "", nil
			drop[ev.DedupKey()] = true
		case i < 0:
			if _, known := c.st.quote(ev.MID); !known {
				c.st.UnsentWaiting.Add(ev.MID)
				drop[ev.DedupKey()] = true
			}
		}
	}
	kept := c.st.Pending[:0:0]
	for _, ev := range c.st.Pending {
		if !drop[ev.DedupKey()] {
			kept = append(kept, ev)
		}
	}
	c.st.Pending = kept
	return nil
}

func (c *conversation) hasPending(kind string) bool {
	for _, ev := range c.st.Pending {
		if ev.Kind == kind {
			return true
		}
	}
	return false
}

// roomItems renders a pending event into what is done in the room.
func (c *conversation) roomItems(ctx workflow.Context, ev InstagramEvent) []RoomItem {
	quote := func(mid string) string {
		if q, ok := c.st.quote(mid); ok {
			return q.Text
		}
		return unknownQuote
	}
	key := ev.DedupKey()
	switch ev.Kind {
	case EventNote:
		return []RoomItem{{Kind: ItemNote, MID: ev.MID, Text: ev.Text}}
	case EventMessage:
		var items []RoomItem
		if text := renderMessage(ev, quote); text != "" {
			items = append(items, RoomItem{Kind: ItemMessage, MID: ev.MID, Text: c.withOriginalTime(ctx, ev, text)})
		}
		for i, a := range ev.Attachments {
			item := RoomItem{Kind: ItemMessage, MID: partKey(ev.MID, i+1), Text: renderAttachment(a)}
			if isMedia(a) {
				item.Kind, item.URL, item.Caption = ItemUpload, a.URL, mediaCaption(a)
			}
			items = append(items, item)
		}
		return append(items, c.referralFields(ev.Referral)...)
	case EventPostback:
		return append([]RoomItem{{Kind: ItemMessage, MID: key, Text: c.withOriginalTime(ctx, ev, renderPostback(ev))}},
			c.referralFields(ev.Referral)...)
	case EventReferral:
		return append([]RoomItem{{Kind: ItemMessage, MID: key, Text: renderReferral(*ev.Referral)}},
			c.referralFields(ev.Referral)...)
	case EventReaction:
		return []RoomItem{{Kind: ItemMessage, MID: key, Text: renderReaction(ev, quote(ev.MID))}}
	case EventEdit:
		if q, ok := c.st.quote(ev.MID); ok && !q.Ours {
			return []RoomItem{{Kind: ItemEdit, MID: ev.MID, Text: ev.Text}}
		}
		return []RoomItem{{Kind: ItemNote, MID: key, Text: "✏️ The customer edited a message: " + ev.Text}}
	case EventUnsend:
		q, _ := c.st.quote(ev.MID)
		var items []RoomItem
		for part := 0; part <= q.Parts; part++ {
			switch c.settings.UnsendAction {
			case "delete":
				items = append(items, RoomItem{Kind: ItemDelete, MID: partKey(ev.MID, part)})
			case "mark":
				items = append(items, RoomItem{Kind: ItemEdit, MID: partKey(ev.MID, part), Text: unsentMarker})
			}
		}
		if len(items) == 0 {
			items = []RoomItem{{Kind: ItemNote, MID: key, Text: fmt.Sprintf("↩️ The customer unsent “%s”", q.Text)}}
		}
		return items
	}
	return nil
}

// withOriginalTime adds the time the customer wrote a message that reaches the room late,
// since Rocket.Chat stamps it with the posting time.
func (c *conversation) withOriginalTime(ctx workflow.Context, ev InstagramEvent, text string) string {
	written := time.UnixMilli(ev.Timestamp).UTC()
	if workflow.Now(ctx).Sub(written) > lateAfter {
		text += "\n_(written on Instagram at " + written.Format("2006-01-02 15:04:05") + " UTC)_"
	}
	return text
}

// referralFields keeps where the customer came from on the Rocket.Chat visitor.
func (c *conversation) referralFields(r *Referral) []RoomItem {
	if r == nil || c.st.Visitor == nil {
		return nil
	}
	return []RoomItem{{Kind: ItemVisitorFields, Text: c.st.Visitor.Name, Fields: referralFields(*r)}}
}

// partKey names the room message of a message's attachment (part 0 is the text).
func partKey(mid string, part int) string {
	if part == 0 {
		return mid
	}
	return fmt.Sprintf("%s#%d", mid, part)
}

// sendLoop is the outbound direction: it sends the outbox to Instagram, in order, one at a
// time. It runs for the whole run in its own coroutine and never reads a signal channel.
func (c *conversation) sendLoop(ctx workflow.Context) {
	for {
		if err := workflow.Await(ctx, func() bool { return len(c.st.Outbox) > 0 || c.st.ControlBack }); err != nil {
			return
		}
		if c.st.ControlBack {
			c.st.Outbox, c.st.Held, c.st.ControlBack = append(c.st.Held, c.st.Outbox...), nil, false
		}
		if len(c.st.Outbox) == 0 {
			continue
		}
		// Added after conversations were running: older runs replay without the hold.
		if workflow.GetVersion(ctx, "order-agent-replies", workflow.DefaultVersion, 1) >= 1 && c.holdForOrder(ctx, c.st.Outbox[0]) {
			continue
		}
		c.sending = true
		m := c.st.Outbox[0]
		switch {
		case m.Automated != "":
			c.sendAutomated(ctx, m.Automated)
		case len(c.st.Held) > 0:
			c.st.Held = append(c.st.Held, m) // keep replies in order behind the held ones
		default:
			c.sendAgentMessage(ctx, m)
		}
		c.st.Outbox = c.st.Outbox[1:]
		c.sending = false
		c.releaseEchoes(ctx)
	}
}

// sendAgentMessage sends an agent's reply. A reply Meta refuses for good is dropped with a
// note to the agent in the room, so nothing fails silently. The Send API has no idempotency
// key (spec §10): when a send's outcome is unknown (a timeout or 5xx after Meta may have
// taken it), the reply is not sent again blindly: Meta's echo of that exact text proves it
// was delivered; only without an echo within echoWait is it sent again.
func (c *conversation) sendAgentMessage(ctx workflow.Context, m AgentMessage) {
	in := SendInput{PageID: c.st.PageID, IGSID: c.st.IGSID, Text: m.Text, MessageID: m.ID,
		AgentUsername: m.AgentUsername, AgentName: m.AgentName, File: m.File, Buttons: m.Buttons,
		LastCustomerAt: c.st.LastCustomerAt, OtherAppOwns: c.st.OtherOwner != ""}
	for attempt := 1; ; attempt++ {
		var res SendResult
		err := workflow.ExecuteActivity(instagramCtx(ctx, "send agent reply"), ActivitySendToInstagram, in).Get(ctx, &res)
		if err == nil {
			c.sent(res.MessageIDs, m.Text)
			return
		}
		var unknown SendUnknown
		if isAppError(err, ErrSendUnknown) && attempt <= maxUnknownAttempts && appErrorDetails(err, &unknown) {
			c.sent(unknown.Sent, "")
			in.SkipParts += len(unknown.Sent)
			if c.awaitEcho(ctx, unknown.Expect) {
				c.log.Info("Send outcome was unknown; its echo proves delivery", "attempt", attempt)
				in.SkipParts++
				if c.st.EchoMatched != "" {
					c.sent([]string{c.st.EchoMatched}, "")
				}
			} else {
				c.log.Warn("Send outcome was unknown and no echo came; sending again", "attempt", attempt)
			}
			continue
		}
		c.log.Warn("Agent reply not delivered", "error", err)
		what := fmt.Sprintf("%q", truncate(m.Text, 80))
		if m.File != nil {
			what = "file " + m.File.Name
		}
		if isAppError(err, ErrNoThreadControl) {
			c.st.Held = append(c.st.Held, m)
			c.st.HeldSince = workflow.Now(ctx)
			c.noteNow(ctx, "⏸ Another app controls this Instagram conversation; your replies wait until control comes back (at most 24 hours)")
			return
		}
		c.noteNow(ctx, fmt.Sprintf("⚠️ Not delivered to Instagram: %s — %s", what, reason(err)))
		return
	}
}

// Unknown-outcome handling: how long to wait for the echo, and how often to try.
const (
	echoWait           = 10 * time.Second
	maxUnknownAttempts = 5
)

// awaitEcho waits (on a cancelled-after timer) for the echo of text; true if it came.
func (c *conversation) awaitEcho(ctx workflow.Context, text string) bool {
	if text == "" {
		return false
	}
	c.st.Expecting, c.st.EchoMatched = text, ""
	// The echo may already be here, parked while the send was in flight.
	for i, ev := range c.st.ParkedEchoes {
		if ev.Text == text && !c.st.OurMIDs.Has(ev.MID) {
			c.st.ParkedEchoes = append(c.st.ParkedEchoes[:i:i], c.st.ParkedEchoes[i+1:]...)
			c.st.OurMIDs.Add(ev.MID)
			c.st.Expecting, c.st.EchoMatched = "", ev.MID
			return true
		}
	}
	tctx, cancel := workflow.WithCancel(ctx)
	defer cancel()
	_, _ = workflow.AwaitWithOptions(tctx, workflow.AwaitOptions{Timeout: echoWait,
		TimerOptions: workflow.TimerOptions{Summary: "wait for the echo of a send with unknown outcome"}},
		func() bool { return c.st.EchoMatched != "" })
	c.st.Expecting = ""
	return c.st.EchoMatched != ""
}

// sent records message IDs of ours (their echoes are ours) and quotes for later reactions.
func (c *conversation) sent(mids []string, text string) {
	if len(mids) == 0 {
		return
	}
	c.remember(mids)
	for _, id := range mids {
		c.st.addQuote(Quote{MID: id, Text: truncate(text, maxQuoteLength), Ours: true})
	}
	c.st.SentToIG++
}

func appErrorDetails(err error, out any) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.HasDetails() && appErr.Details(out) == nil
}

// sendAutomated sends one of the page's automated messages and shows the agent what the
// customer was told. These never block the conversation: failures are logged and skipped.
func (c *conversation) sendAutomated(ctx workflow.Context, which string) {
	var res SendAutomatedResult
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second, ScheduleToCloseTimeout: 30 * time.Minute, Summary: which + " message",
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute},
	})
	err := workflow.ExecuteActivity(actx, ActivitySendAutomated,
		SendAutomatedInput{PageID: c.st.PageID, IGSID: c.st.IGSID, Which: which, LastCustomerAt: c.st.LastCustomerAt}).Get(ctx, &res)
	if err != nil {
		c.log.Warn("Automated message not sent", "which", which, "error", err)
		return
	}
	if res.Text == "" {
		return
	}
	c.remember(res.MessageIDs)
	note := fmt.Sprintf("🤖 %s message sent to the customer: %s", titleCase(which), res.Text)
	if which == AutoFinished {
		// The room is closed by now; post there if Rocket.Chat still accepts it.
		c.noteNow(ctx, note)
		return
	}
	c.queueNote(ctx, note)
}

func (c *conversation) remember(mids []string) {
	for _, id := range mids {
		c.st.OurMIDs.Add(id)
	}
}

// noteNow posts a note to the room at once (best effort: a note must never block the
// conversation, so it gives up after a while).
func (c *conversation) noteNow(ctx workflow.Context, text string) {
	if c.st.RoomID == "" {
		c.queueNote(ctx, text)
		return
	}
	nctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 15 * time.Second, ScheduleToCloseTimeout: 10 * time.Minute, Summary: "note to agent",
	})
	if err := workflow.ExecuteActivity(nctx, ActivityPostNote, NoteInput{RoomID: c.st.RoomID, Text: text}).Get(ctx, nil); err != nil {
		c.log.Warn("Note to agent failed", "error", err)
	}
}

// closeRoom ends the run for a closed room. The run lingers to absorb Meta's redeliveries
// of events it already posted; a genuinely new customer message starts the next run (same
// workflow ID, new room) through continue-as-new, carrying the dedup state.
func (c *conversation) closeRoom(ctx workflow.Context) error {
	c.st.Status = StateClosed
	c.st.ClosedAt = workflow.Now(ctx)
	c.publish(ctx)
	if len(c.st.Held) > 0 {
		c.log.Warn("Room closed with replies held for thread control; they are dropped", "held", len(c.st.Held))
		c.st.Held = nil
	}
	// Added after conversations were running: runs that closed before it replay without it.
	if workflow.GetVersion(ctx, "pass-thread-control-back-on-close", workflow.DefaultVersion, 1) >= 1 {
		c.passBack(ctx)
	}
	c.log.Info("Room closed", "room", c.st.RoomID, "delivered", c.st.Delivered, "sent", c.st.SentToIG)
	deadline := c.st.ClosedAt.Add(c.settings.CloseLinger)
	for {
		c.drain(ctx)
		if c.hasCustomerMessages() {
			return c.continueAsNew(ctx, c.nextRoomState)
		}
		lingering := workflow.Now(ctx).Before(deadline)
		if !lingering && c.outboundIdle() {
			return nil
		}
		// While lingering only a signal or the deadline ends the wait; after it, only the last
		// send in flight is left to finish.
		wait, wake := deadline, func() bool { return false }
		if !lingering {
			wait, wake = time.Time{}, c.outboundIdle
		}
		if err := c.waitForWork(ctx, wait, wake); err != nil {
			return err
		}
	}
}

// hasCustomerMessages: after a close, only something the customer writes or taps opens a
// new room; a reaction to the goodbye, a seen receipt or an unsend does not.
// passBack hands thread control to the app configured for closed conversations (e.g. Meta's
// inbox), when one is (the activity reads the setting). Best effort: bounded retries.
func (c *conversation) passBack(ctx workflow.Context) {
	pctx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second, ScheduleToCloseTimeout: 10 * time.Minute, Summary: "pass thread control back",
	})
	if err := workflow.ExecuteActivity(pctx, ActivityPassBack, PassBackInput{PageID: c.st.PageID, IGSID: c.st.IGSID}).Get(ctx, nil); err != nil {
		c.log.Warn("Passing thread control back failed", "error", err)
	}
}

func (c *conversation) hasCustomerMessages() bool {
	for _, ev := range c.st.Pending {
		if OpensConversation(ev.Kind) {
			return true
		}
	}
	return false
}

// OpensConversation reports whether an event kind starts a conversation (a new run):
// something the customer writes or taps, not a reaction, receipt, edit or unsend.
func OpensConversation(kind string) bool {
	return kind == EventMessage || kind == EventPostback || kind == EventReferral
}

// nextRoomState is what a new room's run inherits: the customer, the undelivered messages and
// the dedup memory; nothing of the closed room.
func (c *conversation) nextRoomState() State {
	var pending []InstagramEvent
	for _, ev := range c.st.Pending {
		if OpensConversation(ev.Kind) {
			pending = append(pending, ev)
		}
	}
	return State{
		PageID: c.st.PageID, IGSID: c.st.IGSID, Status: StateWaitingForAgent,
		Visitor: c.st.Visitor, Pending: pending, LastCustomerAt: c.st.LastCustomerAt,
		Seen: c.st.Seen, OurMIDs: c.st.OurMIDs,
	}
}

// continueAsNew waits for an in-flight send (its result must be recorded in this run), then
// drains the signal channels and hands the state to a new run without yielding in between,
// so no signal is lost (specs/temporal-go.md §1.6).
func (c *conversation) continueAsNew(ctx workflow.Context, next func() State) error {
	if err := workflow.Await(ctx, func() bool { return !c.sending }); err != nil {
		return err
	}
	c.drain(ctx)
	carry := next()
	return workflow.NewContinueAsNewError(ctx, ConversationWorkflowName,
		ConversationInput{PageID: c.st.PageID, IGSID: c.st.IGSID, Carry: &carry})
}

// publish upserts the search attributes whose value changed and refreshes the run's details.
func (c *conversation) publish(ctx workflow.Context) {
	want := map[string]string{
		SAState.GetName():  c.st.Status,
		SARoomID.GetName(): c.st.RoomID,
	}
	if c.st.Visitor != nil {
		want[SAUsername.GetName()] = c.st.Visitor.Username
		want[SADepartment.GetName()] = c.st.Visitor.Department
		want[SAPageID.GetName()] = c.st.Visitor.PageID
	}
	var updates []temporal.SearchAttributeUpdate
	for _, key := range []temporal.SearchAttributeKeyKeyword{SAState, SARoomID, SAUsername, SADepartment, SAPageID} {
		v, ok := want[key.GetName()]
		if !ok || c.published[key.GetName()] == v {
			continue
		}
		c.published[key.GetName()] = v
		if v == "" {
			updates = append(updates, key.ValueUnset())
		} else {
			updates = append(updates, key.ValueSet(v))
		}
	}
	if len(updates) == 0 {
		return
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, updates...); err != nil {
		c.log.Warn("Search attribute upsert failed", "error", err)
	}
	workflow.SetCurrentDetails(ctx, c.details())
}

func (c *conversation) details() string {
	who := c.st.IGSID
	if c.st.Visitor != nil && c.st.Visitor.Username != "" {
		who = "@" + c.st.Visitor.Username
	}
	d := fmt.Sprintf("**%s** · %s\n\nInstagram account %s", c.st.Status, who, c.st.PageID)
	if c.st.Visitor != nil && c.st.Visitor.Department != "" {
		d += " · department " + c.st.Visitor.Department
	}
	if c.st.RoomID != "" {
		d += fmt.Sprintf(" · Rocket.Chat room `%s`", c.st.RoomID)
	}
	if c.st.Agent != "" {
		d += " · agent " + c.st.Agent
	}
	return d
}

// reason extracts the failure text of an activity error for a note.
func reason(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Error()
	}
	return err.Error()
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// rocketChatCtx: Rocket.Chat calls retry without end (capped at one minute apart), so an
// outage of any length delays messages but never drops them.
func rocketChatCtx(ctx workflow.Context, summary string) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 60 * time.Second,
		HeartbeatTimeout:    20 * time.Second,
		Summary:             summary,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 500 * time.Millisecond, BackoffCoefficient: 2, MaximumInterval: time.Minute,
		},
	})
}

// instagramCtx: Graph API calls retry transient and rate-limit errors without end; the
// activity marks permanent errors non-retryable.
func instagramCtx(ctx workflow.Context, summary string) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		Summary:             summary,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 2 * time.Minute,
		},
	})
}

func isAppError(err error, typ string) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.Type() == typ
}
