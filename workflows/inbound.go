package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
)

// The inbound direction: Instagram events → the Rocket.Chat room.

// acceptInstagram takes one event in: deduplicated by (kind, mid), then queued (sorted by
// Meta's time) or applied to the state. Echoes, thread-control changes and seen receipts
// are applied at once: they never wait behind the customer's messages.
func (c *conversation) acceptInstagram(ev InstagramEvent) {
	if !c.st.Seen.Add(ev.DedupKey(), seenLimit) {
		c.st.Duplicates++
		c.log.Info("Duplicate Instagram event ignored", "kind", ev.Kind, "mid", ev.MID)
		return
	}
	switch ev.Kind {
	case EventMessage, EventPostback, EventReferral:
		// What the customer writes or taps opens Meta's messaging window and the conversation.
		if t := time.UnixMilli(ev.Timestamp); t.After(c.st.LastCustomerAt) {
			c.st.LastCustomerAt = t
		}
		c.st.Opened = true
		if c.st.RoomID == "" && c.st.Visitor != nil {
			c.st.NextAgentCheck = time.Time{} // a customer who writes again triggers a fresh check
		}
		if ev.Standby && c.st.OtherOwner == "" {
			c.st.OtherOwner = "another app" // events on standby: someone else owns the thread
		}
		c.queue(ev)
		if ev.Kind == EventMessage {
			// Known from now on, so replies and reactions in the same batch can quote it.
			c.st.addQuote(ev.MID, Quote{Text: summary(ev), Parts: len(ev.Attachments)})
			if c.st.UnsentWaiting.Has(ev.MID) {
				// Its unsend came first and waited for it (see resolveUnsends).
				c.queue(InstagramEvent{Kind: EventUnsend, MID: ev.MID, Timestamp: ev.Timestamp + 1})
			}
		}
	case EventEdit:
		if i := c.st.pendingIndex(EventMessage, ev.MID); i >= 0 && c.st.Pending[i].PostedParts == 0 && !c.inPost(ev.MID) {
			c.st.Pending[i].Text = ev.Text // not in the room yet, nor on its way: post the edited text
			return
		}
		c.queue(ev)
	case EventUnsend, EventReaction:
		c.queue(ev)
	case EventRead:
		c.st.LastSeenMID, c.st.LastSeenAt = ev.MID, time.UnixMilli(ev.Timestamp)
	case EventHandover:
		c.acceptHandover(ev)
	case EventEcho:
		c.acceptEcho(ev)
	default:
		c.log.Info("Instagram event kind not handled", "kind", ev.Kind, "detail", ev.Detail)
	}
}

// queue adds an event to the inbound queue, in Meta-timestamp order. An event of a burst
// (another of the customer's events written within burstWindow of it) waits ReorderWindow
// from its arrival, so that an earlier one Meta delivers a little late still takes its
// place; an event that comes alone is posted at once (no timer per message). The queue
// beyond pendingLimit waits in PostgreSQL (see advanceStore).
func (c *conversation) queue(ev InstagramEvent) {
	now := c.now()
	ev.ArrivedAt = now
	if OpensConversation(ev.Kind) || ev.Kind == EventReaction {
		if w := c.settings.ReorderWindow; w > 0 && c.inBurst(ev.Timestamp, burstWindow) {
			ev.HoldUntil = now.Add(w)
		}
		c.st.Recent = append(c.st.Recent, ev.Timestamp)
		if len(c.st.Recent) > recentLimit {
			c.st.Recent = c.st.Recent[len(c.st.Recent)-recentLimit:]
		}
	}
	if sp := &c.st.Spool; sp.active() && !keyOf(ev).Less(sp.Min) {
		sp.Out = append(sp.Out, ev) // after what waits in PostgreSQL
		sp.Opens = sp.Opens || OpensConversation(ev.Kind)
		return
	}
	c.st.insertPending(ev)
	c.spillOverflow()
}

// recentLimit bounds State.Recent; burstWindow: messages a customer writes this close to one
// another are a burst, whose deliveries Meta may reorder (when a delivery fails, it retries
// it after the later ones, spec §2.3). Messages farther apart are posted as they arrive.
const (
	recentLimit = 8
	burstWindow = 5 * time.Second
)

// inBurst reports whether another of the customer's recent events was written within
// window of ts.
func (c *conversation) inBurst(ts int64, window time.Duration) bool {
	for _, r := range c.st.Recent {
		if d := time.Duration(ts-r) * time.Millisecond; d < window && d > -window {
			return true
		}
	}
	return false
}

// spillOverflow moves the queue's tail beyond pendingLimit to the spool's outbox.
func (c *conversation) spillOverflow() {
	sp := &c.st.Spool
	for len(c.st.Pending) > pendingLimit {
		last := c.st.Pending[len(c.st.Pending)-1]
		c.st.Pending = c.st.Pending[:len(c.st.Pending)-1]
		if k := keyOf(last); sp.Min.IsZero() || k.Less(sp.Min) {
			sp.Min = k
		}
		sp.Out = append(sp.Out, last)
		sp.Opens = sp.Opens || OpensConversation(last.Kind)
	}
}

// acceptHandover follows Meta's thread control (conversation routing, spec §6) and tells
// the agent when another app takes over, asks for control, or gives it back.
func (c *conversation) acceptHandover(ev InstagramEvent) {
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
		c.releaseHeld()
		c.noteInRoom("✅ Control of this Instagram conversation is back with Rocket.Chat" + meta)
	case HandoverTaken:
		c.st.OtherOwner = app
		c.noteInRoom(fmt.Sprintf("⚠️ Another app (%s) took over this Instagram conversation%s; replies wait until control comes back", app, meta))
	case HandoverRequested:
		c.noteInRoom(fmt.Sprintf("🙋 Another app (%s) asks for control of this Instagram conversation%s", app, meta))
	}
}

// hasOpening: something the customer wrote or tapped waits (it needs a room); a reaction to
// the goodbye, a seen receipt or an unsend does not open one.
func (c *conversation) hasOpening() bool {
	if c.st.Spool.Opens {
		return true
	}
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

// needsOpenRoom: the event is posted as something new in a room (a message of the visitor,
// a note of the bot), which only an open room takes. Edits and deletions of what is in a
// room already go to it even closed (Rocket.Chat finds the message by its _id).
//
// An edit or unsend that renders as a note (an unsend the admin keeps, an edit of a message
// the room does not hold) is something new too: a closed room refuses it, and taking it for
// closed-room work posted it again and again (found by the simulator).
func (c *conversation) needsOpenRoom(ev InstagramEvent) bool {
	if ev.Kind != EventEdit && ev.Kind != EventUnsend {
		return true
	}
	if i := c.st.pendingIndex(EventMessage, ev.MID); i >= 0 && c.st.Pending[i].PostedParts == 0 {
		return true // its message waits for the next room too (found by the simulator)
	}
	for _, it := range c.roomItemsNoCtx(ev) {
		if it.Kind != ItemEdit && it.Kind != ItemDelete {
			return true
		}
	}
	return false
}

// hasClosedRoomWork: the closed room still has something to change (an edit or unsend of a
// message in it), which goes to it before the run may end.
func (c *conversation) hasClosedRoomWork() bool {
	if !c.st.RoomClosed || c.st.RoomID == "" {
		return false
	}
	for _, ev := range c.st.Pending {
		if !c.needsOpenRoom(ev) {
			return true
		}
	}
	return false
}

// advanceInbound starts the inbound direction's next activity, if it has work that is due
// and nothing in flight.
func (c *conversation) advanceInbound() {
	if c.in != nil {
		return
	}
	now := c.now()
	if !c.loaded {
		if c.st.InBlocked.active() && now.Before(c.st.InBlocked.RetryAt) {
			return // LoadConversation failed: the next try is due at RetryAt
		}
		c.start(&c.in, ActivityLoadConversation,
			LoadConversationInput{PageID: c.st.PageID, IGSID: c.st.IGSID, Memory: c.fresh}, false, func(get func(any) error) { c.loadedConversation(get) })
		return
	}
	if c.pausing() || !c.st.Opened {
		return
	}
	if c.st.InBlocked.active() && now.Before(c.st.InBlocked.RetryAt) {
		return
	}
	if c.st.RoomClosed {
		if c.hasClosedRoomWork() {
			c.postDue() // edits and unsends of its messages, before anything needs a new room
			if c.in != nil || c.hasClosedRoomWork() {
				return
			}
			// Resolving the unsends left nothing for the closed room (the message unsent was
			// never posted): go on now — no activity's result or timer would come back to it
			// (found by the simulator).
		}
		if !c.hasOpening() {
			return // the run lingers
		}
		if c.passingBack() {
			return // the closed room's pass-back first: its result wakes the loop
		}
		c.nextRoom()
		if c.pausing() {
			return // one run per room: the next run opens it
		}
	}
	switch {
	case c.st.Visitor == nil:
		c.start(&c.in, ActivityRegisterVisitor, RegisterVisitorInput{PageID: c.st.PageID, IGSID: c.st.IGSID}, false, c.registered)
	case c.st.RoomID == "":
		if !c.hasOpening() || now.Before(c.st.NextAgentCheck) || c.passingBack() {
			return
		}
		scheduled := !c.st.NextAgentCheck.IsZero() // a timed re-check, not one a new message asked for
		v := c.st.Visitor
		c.start(&c.in, ActivityOpenRoom, OpenRoomInput{PageID: c.st.PageID, IGSID: c.st.IGSID,
			DepartmentID: v.DepartmentID, Department: &v.Department}, false, func(get func(any) error) {
			c.roomOpened(get, scheduled)
		})
	default:
		c.postDue()
	}
}

// passingBack: the closed room's thread-control pass-back is in flight. The next room opens
// after it, or control would go to the other app while that room is live (found by the
// simulator: a slow pass-back was still running when the next room opened).
func (c *conversation) passingBack() bool {
	return c.out != nil && len(c.st.Out) > 0 && c.st.Out[0].Kind == JobPassBack
}

// inboundDeadlines are the times at which the idle inbound direction can act again by
// itself: each only when reaching it lets something start (see nextDeadline).
func (c *conversation) inboundDeadlines() []time.Time {
	var ts []time.Time
	switch {
	case !c.loaded:
		if c.st.InBlocked.active() {
			ts = append(ts, c.st.InBlocked.RetryAt)
		}
	case c.st.InBlocked.active():
		ts = append(ts, c.st.InBlocked.RetryAt)
	case !c.st.Opened:
		if c.outboundDone() {
			ts = append(ts, c.startedAt.Add(dormantWait))
		}
	case c.lingering():
		ts = append(ts, c.st.ClosedAt.Add(c.settings.CloseLinger))
	case c.st.RoomClosed:
	case c.st.Visitor != nil && c.st.RoomID == "" && c.hasOpening():
		ts = append(ts, c.st.NextAgentCheck)
	case c.st.RoomID != "" && len(c.st.Pending) > 0:
		ts = append(ts, c.st.Pending[0].HoldUntil)
	}
	return ts
}

// loadedConversation: the run's settings, and for a fresh run the memory of the last one
// (its dedup keys, and the notes it could not show: the agents see them in this room).
func (c *conversation) loadedConversation(get func(any) error) bool {
	var res LoadConversationResult
	if err := get(&res); err != nil {
		c.inboundFailed(err)
		return false
	}
	c.settings = res.Settings
	if !c.loaded {
		c.st.Seen.Merge(res.Seen, seenLimit)
		c.st.UnsentWaiting.Merge(res.Unsent, unsentLimit)
		c.loaded = true
		for _, n := range res.Notes {
			c.st.insertPending(n)
		}
	}
	c.unblockInbound()
	return true
}

// registered: the visitor exists in Rocket.Chat, in the page's department. The welcome
// message goes out once per room.
func (c *conversation) registered(get func(any) error) {
	var v VisitorInfo
	if err := get(&v); err != nil {
		c.inboundFailed(err)
		return
	}
	c.st.Visitor = &v
	c.unblockInbound()
	c.queueOut(OutJob{Kind: JobAutomated, Which: AutoWelcome, Key: c.deliveryKey(AutoWelcome)})
}

// roomOpened: a room is open, or no agent is available (the messages keep waiting, the
// customer is told once, and availability is checked again with capped backoff; a check a
// new message asked for does not lengthen the backoff). The activity registers the visitor
// again when the page's department changed meanwhile.
func (c *conversation) roomOpened(get func(any) error, scheduled bool) {
	var res OpenRoomResult
	if err := get(&res); err != nil {
		c.inboundFailed(err)
		return
	}
	c.unblockInbound()
	if res.Visitor != nil {
		c.st.Visitor = res.Visitor
	}
	if res.NoAgent {
		if scheduled || c.st.AgentBackoff == 0 {
			c.st.AgentBackoff = min(max(c.st.AgentBackoff*2, agentCheckFirst), agentCheckMax)
		}
		c.st.NextAgentCheck = c.now().Add(c.st.AgentBackoff)
		if !c.st.OfflineSent {
			c.st.OfflineSent = true
			c.queueOut(OutJob{Kind: JobAutomated, Which: AutoOffline, Key: c.deliveryKey(AutoOffline)})
		}
		c.log.Info("No agent online; messages wait", "pending", len(c.st.Pending), "next_check", c.st.NextAgentCheck)
		return
	}
	c.st.RoomID, c.st.Agent = res.RoomID, res.Agent
	c.st.AgentBackoff, c.st.NextAgentCheck = 0, time.Time{}
	c.st.setCursor(res.RoomID, c.st.cursor(res.RoomID))
	c.st.LastSync, c.st.SyncBackoff = c.now(), syncIdleFirst
}

// inboundFailed turns a failed inbound activity into a blocked state: a refusal an admin must
// fix (account not connected, department that does not exist) is told once and checked
// rarely; anything else is an outage, tried again soon.
func (c *conversation) inboundFailed(err error) {
	now := c.now()
	b := &c.st.InBlocked
	var appErr *temporal.ApplicationError
	errors.As(err, &appErr)
	switch {
	case appErr != nil && appErr.Type() == ErrPageNotConnected:
		reason := fmt.Sprintf("Instagram account %s is not connected: an admin must connect it (`instagram authorize`)", c.st.PageID)
		if c.block(b, now, BlockAccount, reason, adminFixFirst, adminFixMax) {
			c.notifyAdmins(noticeKey(BlockAccount, c.st.PageID), "⚠️ Customers are writing to Instagram account "+c.st.PageID+
				", which is not connected: their messages wait until an admin connects it with `instagram authorize`.")
		}
	case appErr != nil && appErr.Type() == ErrDepartmentNotFound:
		reason := appErr.Message()
		if c.block(b, now, BlockDepartment, reason, adminFixFirst, adminFixMax) {
			c.notifyAdmins(noticeKey(BlockDepartment, c.st.PageID), "⚠️ "+reason+
				". New conversations of Instagram account "+c.st.PageID+" wait until the page's department is fixed (`instagram edit`).")
		}
	default:
		c.block(b, now, BlockUnreachable, "Rocket.Chat cannot take the customer's messages now: "+reason(err), outageFirst, outageMax)
	}
	c.log.Warn("Inbound blocked", "kind", b.Kind, "reason", b.Reason, "retry_at", b.RetryAt)
}

// unblockInbound ends an inbound block after a call succeeded, and clears the admins'
// notice so that a recurrence is reported again.
func (c *conversation) unblockInbound() {
	b := c.st.InBlocked
	if !b.active() {
		return
	}
	c.st.InBlocked = Blocked{}
	c.log.Info("Inbound unblocked", "kind", b.Kind, "blocked_for", c.now().Sub(b.Since))
	if b.Kind == BlockAccount || b.Kind == BlockDepartment {
		c.clearNotice(noticeKey(b.Kind, c.st.PageID))
	}
}

func noticeKey(kind, account string) string { return kind + ":" + account }

func (c *conversation) due(now time.Time, ev InstagramEvent) bool { return !now.Before(ev.HoldUntil) }

// postDue posts the due pending events into the room, in order: text items in one local
// activity, media one at a time in a regular activity (it may take minutes). In a closed
// room only what changes its messages (edits, unsends) is posted; the rest waits for the
// next room.
func (c *conversation) postDue() {
	now := c.now()
	closed := c.st.RoomClosed
	if len(c.st.Pending) == 0 || !closed && !c.due(now, c.st.Pending[0]) {
		return
	}
	if c.needsFreshSettings() {
		c.start(&c.in, ActivityLoadConversation, LoadConversationInput{PageID: c.st.PageID, IGSID: c.st.IGSID}, false,
			func(get func(any) error) {
				if c.loadedConversation(get) {
					c.unsendSettingsAt = c.now()
				}
			})
		return
	}
	c.resolveUnsends()
	c.dropEmptyEvents()
	var items []RoomItem
	c.posting = c.posting[:0]
	latest := c.st.LastPostedTS
	for _, ev := range c.st.Pending {
		if closed && c.needsOpenRoom(ev) {
			continue // waits for the next room
		}
		if len(items) >= maxBatch || !closed && !c.due(now, ev) {
			break
		}
		late := c.lateInPost(ev, latest)
		evItems := c.renderItems(ev, now, late)[ev.PostedParts:]
		n := 0
		for _, it := range evItems {
			if it.Kind == ItemUpload {
				if len(items) == 0 {
					c.posting = append(c.posting, postingEvent{key: ev.DedupKey(), items: 1})
					c.start(&c.in, ActivityUploadToRoom, UploadInput{PageID: c.st.PageID, IGSID: c.st.IGSID,
						RoomID: c.st.RoomID, Item: it}, true, c.posted)
					return
				}
				break
			}
			items = append(items, it)
			n++
		}
		if n > 0 {
			p := postingEvent{key: ev.DedupKey(), items: n}
			if ev.Kind == EventMessage && ev.PostedParts == 0 && evItems[0].Kind == ItemMessage && evItems[0].MID == ev.MID {
				p.text = evItems[0].Text
			}
			c.posting = append(c.posting, p)
		}
		if OpensConversation(ev.Kind) && ev.Timestamp > latest {
			latest = ev.Timestamp
		}
		if n < len(evItems) || len(items) >= maxBatch {
			break
		}
	}
	if len(items) == 0 {
		return
	}
	c.start(&c.in, ActivityPostToRoom, PostToRoomInput{PageID: c.st.PageID, IGSID: c.st.IGSID,
		RoomID: c.st.RoomID, Items: items}, false, c.posted)
}

// postingEvent is a pending event whose items are in the post in flight: the result is
// applied to the events by identity, since events Meta delivers meanwhile may take their
// place in the (timestamp-sorted) queue.
type postingEvent struct {
	key   string
	items int
	text  string // the text posted as the message's first part ("" when not in this post)
}

// needsFreshSettings: unsends are pending and the admin's unsend setting has not been read
// since they arrived (a change to it applies to the next unsend).
func (c *conversation) needsFreshSettings() bool {
	for _, ev := range c.st.Pending {
		if ev.Kind == EventUnsend && c.unsendSettingsAt.Before(ev.ArrivedAt) {
			return true
		}
	}
	return false
}

// posted: the first n items of the post (or the one upload) are in the room. Events are
// removed once all their items are posted; RoomClosed means the room was closed under us
// (its close webhook is late or lost): the close is handled as if the webhook had come.
// After the customer's messages reach the room, the room's messages are read again unless
// they were read moments ago: an agent's reply whose webhook Rocket.Chat gave up on still
// goes out.
func (c *conversation) posted(get func(any) error) {
	var res PostToRoomResult
	if err := get(&res); err != nil {
		c.postInDoubt()
		c.inboundFailed(err)
		return
	}
	c.unblockInbound()
	if res.RoomClosed && c.st.RoomClosed && res.Posted == 0 {
		c.closedRoomRefused()
	}
	inPost := c.posting
	delivered := c.consumeItems(res.Posted)
	if !res.RoomClosed {
		// The items the post did not report may be in the room all the same (an attempt whose
		// answer was lost posted them, and its retry stopped short): they count as shown for
		// the out-of-order mark (found by the simulator).
		c.posting = inPost
		c.postInDoubt()
	}
	if res.RoomClosed && !c.st.RoomClosed {
		c.log.Info("Room closed under us; the rest goes to a new room", "room", c.st.RoomID, "left", len(c.st.Pending))
		c.roomClosed(c.st.RoomID)
		return
	}
	if delivered > 0 && !c.st.RoomClosed {
		// The customer waits for an answer: the room is read again soon even if the agent's
		// webhook is lost (the idle back-off starts over).
		c.st.SyncBackoff = syncIdleFirst
		if c.now().Sub(c.st.LastSync) >= syncAfterPost {
			c.queueOut(OutJob{Kind: JobSync, RoomID: c.st.RoomID})
		}
	}
}

// closedRoomRefused: the closed room refused the post's first change (Rocket.Chat does not
// edit or delete in it after all): nothing can make it take it, so it is dropped rather
// than posted again and again.
func (c *conversation) closedRoomRefused() {
	if len(c.posting) == 0 {
		return
	}
	// (A post of new messages that was in flight when the close came waits for the next
	// room: only a change to the room's messages is dropped.)
	if i := c.pendingByKey(c.posting[0].key); i >= 0 && !c.needsOpenRoom(c.st.Pending[i]) {
		ev := c.st.Pending[i]
		c.log.Warn("The closed room refused a change to its messages; dropped", "room", c.st.RoomID, "kind", ev.Kind)
		c.st.Pending = append(c.st.Pending[:i:i], c.st.Pending[i+1:]...)
	}
	c.posting = nil
}

// postInDoubt: a post failed without a result (its answer lost, then its retries ran out),
// so its messages may be in the room. A message written before them that Meta delivers
// now is posted after them, marked as written before the message above — not silently
// out of order (found by the simulator). The post itself is retried as it was: the _ids
// make a message already in the room not post twice.
func (c *conversation) postInDoubt() {
	c.doubt, c.doubtTS = nil, 0
	for _, p := range c.posting {
		if i := c.pendingByKey(p.key); i >= 0 && OpensConversation(c.st.Pending[i].Kind) {
			if c.doubt == nil {
				c.doubt = map[string]bool{}
			}
			c.doubt[p.key] = true // membership only
			c.doubtTS = max(c.doubtTS, c.st.Pending[i].Timestamp)
		}
	}
	c.posting = nil
}

// lateInPost: ev, written before a message the room shows (or may show: a post in doubt),
// is posted after it. The messages of the post in doubt are not late to one another: they
// go again in the order they went.
func (c *conversation) lateInPost(ev InstagramEvent, latest int64) bool {
	if !OpensConversation(ev.Kind) {
		return false
	}
	return ev.Timestamp < latest || ev.Timestamp < c.doubtTS && !c.doubt[ev.DedupKey()]
}

// consumeItems applies n posted items of the post that was in flight to its events, in
// order: an event whose items are all posted leaves the queue. It returns how many customer
// messages are now wholly in the room.
func (c *conversation) consumeItems(n int) int {
	posting := c.posting
	c.posting = nil
	delivered := 0
	for _, p := range posting {
		if n <= 0 {
			break
		}
		i := c.pendingByKey(p.key)
		if i < 0 {
			n -= p.items // gone meanwhile (an unsend dropped it)
			continue
		}
		ev := &c.st.Pending[i]
		done := min(n, p.items)
		n -= done
		if done > 0 && p.text != "" && ev.Text != "" {
			// An edit replaces the text only: what surrounds it stays (found by the
			// simulator: an edit erased that a message was posted out of order).
			start := 0
			if ev.ReplyToMID != "" || ev.ReplyToStoryURL != "" {
				start = strings.Index(p.text, "\n") + 1 // past the line of what it replies to
			}
			if at := strings.Index(p.text[start:], ev.Text); at >= 0 {
				at += start
				c.st.frameQuote(ev.MID, p.text[:at], p.text[at+len(ev.Text):])
			}
		}
		ev.PostedParts += done
		// The room shows the message from its first part on: a message written before it and
		// posted after is marked late even while this one's other parts are still going in.
		if done > 0 && OpensConversation(ev.Kind) && ev.Timestamp > c.st.LastPostedTS {
			c.st.LastPostedTS = ev.Timestamp
		}
		if ev.PostedParts < len(c.roomItemsNoCtx(*ev)) {
			continue
		}
		if ev.Kind == EventMessage {
			c.st.Delivered++
			delivered++
		}
		c.st.Pending = append(c.st.Pending[:i:i], c.st.Pending[i+1:]...)
	}
	c.dropEmptyEvents()
	return delivered
}

// inPost reports whether the customer message mid is in the post in flight.
func (c *conversation) inPost(mid string) bool {
	key := InstagramEvent{Kind: EventMessage, MID: mid}.DedupKey()
	for _, p := range c.posting {
		if p.key == key {
			return true
		}
	}
	return false
}

func (c *conversation) pendingByKey(key string) int {
	for i, ev := range c.st.Pending {
		if ev.DedupKey() == key {
			return i
		}
	}
	return -1
}

// dropEmptyEvents removes pending events that have nothing (left) to post.
func (c *conversation) dropEmptyEvents() {
	for len(c.st.Pending) > 0 {
		ev := c.st.Pending[0]
		if len(c.roomItemsNoCtx(ev)) > ev.PostedParts {
			return
		}
		c.st.Pending = c.st.Pending[1:]
	}
}

// resolveUnsends applies the admin's unsend setting to unsends whose message is not in the
// room yet: delete drops both, mark posts the marker instead of the message, keep posts
// both. An unsend whose message has not arrived at all waits for it (UnsentWaiting).
// Unsends of messages already in a room are left to roomItems.
func (c *conversation) resolveUnsends() {
	drop := map[string]bool{} // membership only
	for _, ev := range c.st.Pending {
		if ev.Kind != EventUnsend {
			continue
		}
		i := c.st.pendingIndex(EventMessage, ev.MID)
		switch {
		case i >= 0 && c.st.Pending[i].PostedParts > 0:
			// Partly in the room already: roomItems changes what is there.
		case i >= 0 && c.settings.UnsendAction == "delete":
			drop[c.st.Pending[i].DedupKey()], drop[ev.DedupKey()] = true, true
		case i >= 0 && c.settings.UnsendAction == "mark":
			c.st.Pending[i].Text, c.st.Pending[i].Attachments = unsentMarker, nil
			c.st.Pending[i].QuickReplyPayload, c.st.Pending[i].Referral = "", nil
			c.st.Pending[i].ReplyToMID, c.st.Pending[i].ReplyToStoryURL = "", ""
			drop[ev.DedupKey()] = true
		case i < 0:
			if _, known := c.st.quote(ev.MID); !known {
				c.st.UnsentWaiting.Add(ev.MID, unsentLimit)
				drop[ev.DedupKey()] = true
			}
		}
	}
	if len(drop) == 0 {
		return
	}
	kept := c.st.Pending[:0:0]
	for _, ev := range c.st.Pending {
		if !drop[ev.DedupKey()] {
			kept = append(kept, ev)
		}
	}
	c.st.Pending = kept
}

// renderItems renders a pending event into what is done in the room; late: it was written
// before a message already in the room (Meta delivered it out of order), which the agent is
// told.
func (c *conversation) renderItems(ev InstagramEvent, now time.Time, late bool) []RoomItem {
	items := c.roomItemsAt(ev, now)
	for i := range items {
		if ev.Kind != EventNote {
			items[i].TS = ev.Timestamp
		}
	}
	if late && len(items) > 0 {
		mark := "_(written at " + time.UnixMilli(ev.Timestamp).UTC().Format("15:04:05") + " UTC, before the message above)_"
		switch items[0].Kind {
		case ItemMessage:
			items[0].Text += "\n" + mark
		case ItemUpload: // a file: its caption says it, and the link posted when it is not copied
			items[0].Caption = strings.TrimSpace(items[0].Caption + "\n" + mark)
			items[0].Text += "\n" + mark
		}
	}
	return items
}

func (c *conversation) roomItemsNoCtx(ev InstagramEvent) []RoomItem {
	return c.roomItemsAt(ev, time.Time{})
}

// roomItemsAt renders an event; now decides whether a late message shows its original time
// (zero: only the number of items is wanted).
func (c *conversation) roomItemsAt(ev InstagramEvent, now time.Time) []RoomItem {
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
			items = append(items, RoomItem{Kind: ItemMessage, MID: ev.MID, Text: withOriginalTime(now, ev, text)})
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
		return append([]RoomItem{{Kind: ItemMessage, MID: key, Text: withOriginalTime(now, ev, renderPostback(ev))}},
			c.referralFields(ev.Referral)...)
	case EventReferral:
		return append([]RoomItem{{Kind: ItemMessage, MID: key, Text: renderReferral(*ev.Referral)}},
			c.referralFields(ev.Referral)...)
	case EventReaction:
		return []RoomItem{{Kind: ItemMessage, MID: key, Text: renderReaction(ev, quote(ev.MID))}}
	case EventEdit:
		if q, ok := c.st.quote(ev.MID); ok && !q.Ours {
			return []RoomItem{{Kind: ItemEdit, MID: ev.MID, Text: q.Head + ev.Text + q.Tail}}
		}
		return []RoomItem{{Kind: ItemNote, MID: c.noteKeyFor(key), Text: "✏️ The customer edited a message: " + ev.Text}}
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
			items = []RoomItem{{Kind: ItemNote, MID: c.noteKeyFor(key), Text: fmt.Sprintf("↩️ The customer unsent “%s”", q.Text)}}
		}
		return items
	}
	return nil
}

// withOriginalTime adds the time the customer wrote a message that reaches the room late,
// since Rocket.Chat stamps it with the posting time.
func withOriginalTime(now time.Time, ev InstagramEvent, text string) string {
	written := time.UnixMilli(ev.Timestamp).UTC()
	if !now.IsZero() && now.Sub(written) > lateAfter {
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

// noteInRoom adds a note for the agent to the inbound queue, ordered by time with the
// customer's messages, so it appears in the room where it happened (when the room opens, if
// it is not open yet, or in the customer's next room when this one is closed).
func (c *conversation) noteInRoom(text string) {
	c.st.NoteSeq++
	// A note is for the agents now: it goes right after what the room shows already, ahead
	// of a backlog of the customer's messages still being posted (a flood, an outage just
	// over), not minutes later behind it (issue 19, found by the simulator).
	ts := c.now().UnixMilli()
	if last := c.st.LastPostedTS; last > 0 && last < ts {
		ts = last + 1
	}
	c.queue(InstagramEvent{Kind: EventNote, MID: fmt.Sprintf("note:%s:%d", c.st.RoomKey, c.st.NoteSeq), Text: text,
		Timestamp: ts})
}

// noteKeyFor is the key of a note rendered from a customer event: unique per room, so the
// same event noted in another room is a new note.
func (c *conversation) noteKeyFor(eventKey string) string {
	return "note:" + c.st.RoomKey + ":" + eventKey
}

// roomClosed handles the close of a room, whether its webhook came, a post was refused or
// the room's history shows it: the room's last agent messages are sent, then the finished
// message, then thread control is passed back (unless the customer's next room has opened
// by then). The next customer message opens the next room. A close of an earlier room (a
// late webhook) only checks that room's agent messages once more.
func (c *conversation) roomClosed(room string) {
	if room != c.st.RoomID || c.st.RoomClosed {
		if c.st.knowsRoom(room) {
			c.queueOut(OutJob{Kind: JobSync, RoomID: room})
		}
		return
	}
	c.st.RoomClosed, c.st.ClosedAt = true, c.now()
	c.queueOut(OutJob{Kind: JobSync, RoomID: room})
	c.queueOut(OutJob{Kind: JobAutomated, Which: AutoFinished, RoomID: room, Key: c.deliveryKey(AutoFinished)})
	c.queueOut(OutJob{Kind: JobPassBack, RoomID: room})
	c.log.Info("Room closed", "room", room, "delivered", c.st.Delivered, "sent", c.st.SentToIG)
}

// nextRoom starts the customer's next room after a close: the visitor is registered again
// (the page's department or the customer's profile may have changed). Nothing queued is
// dropped: edits and unsends of the closed room's messages went to it already, and what
// waits (messages, reactions, notes) goes to the new room. Thread control stays with this
// app (the closed room's pass-back is dropped): the new room's replies need it. When the
// outbound direction is idle the run continues as new first, so the Temporal UI shows one run
// per room; otherwise the new room starts in this run at once — the customer's message must
// not wait for a slow reply to the closed room.
func (c *conversation) nextRoom() {
	closed := c.st.RoomID
	kept := c.st.Out[:0:0]
	for i, j := range c.st.Out {
		if j.Kind == JobPassBack && j.RoomID == closed && !(i == 0 && c.out != nil) {
			continue
		}
		kept = append(kept, j)
	}
	c.st.Out = kept
	c.st.RoomID, c.st.RoomClosed, c.st.ClosedAt = "", false, time.Time{}
	c.st.Visitor, c.st.Agent, c.st.OfflineSent = nil, "", false
	c.st.NextAgentCheck, c.st.AgentBackoff = time.Time{}, 0
	c.st.LastSync, c.st.SyncBackoff = time.Time{}, 0
	c.newRoomKey()
	if c.out == nil {
		c.continueNow = true
	}
}

// deliveryKey is the delivery key of an automated message in the current room.
func (c *conversation) deliveryKey(which string) string { return "auto:" + c.st.RoomKey + ":" + which }
