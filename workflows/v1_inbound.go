// Frozen: see v1Conversation (v1_conversation.go).

package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
)

// The inbound direction: Instagram events → the Rocket.Chat room.

// acceptInstagram takes one event in: deduplicated by (kind, mid), then queued (sorted by
// Meta's time) or applied to the state.
func (c *v1conversation) acceptInstagram(ev InstagramEvent) {
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
		if !c.queue(ev) {
			return
		}
		if ev.Kind == EventMessage {
			// Known from now on, so replies and reactions in the same batch can quote it.
			c.st.addQuote(ev.MID, v1Quote{Text: summary(ev), Parts: len(ev.Attachments)})
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

// queue adds an event to the inbound queue, in Meta-timestamp order. The queue's bound is
// kept by taking signals in only while it is below pendingLimit (see wait): what is not
// taken in yet stays in Temporal's signal buffer, durable, and nothing is dropped.
func (c *v1conversation) queue(ev InstagramEvent) bool {
	ev.ArrivedAt = c.now()
	c.st.insertPending(ev)
	return true
}

// acceptHandover follows Meta's thread control (conversation routing, spec §6) and tells
// the agent when another app takes over, asks for control, or gives it back.
func (c *v1conversation) acceptHandover(ev InstagramEvent) {
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
func (c *v1conversation) hasOpening() bool {
	for _, ev := range c.st.Pending {
		if OpensConversation(ev.Kind) {
			return true
		}
	}
	return false
}

// advanceInbound starts the inbound direction's next activity, if it has work that is due
// and nothing in flight.
func (c *v1conversation) advanceInbound() {
	if c.in != nil {
		return
	}
	if !c.loaded {
		c.start(&c.in, ActivityLoadConversation,
			LoadConversationInput{PageID: c.st.PageID, IGSID: c.st.IGSID, Memory: c.fresh}, false, c.loadedConversation)
		return
	}
	if c.st.RoomClosed {
		if !c.hasOpening() {
			return // the run lingers; leftovers of the closed room (reactions, unsends) wait to be dropped
		}
		c.nextRoom()
	}
	if !c.st.Opened || c.pausing() {
		return
	}
	now := c.now()
	if c.st.InBlocked.active() && now.Before(c.st.InBlocked.RetryAt) {
		return
	}
	switch {
	case c.st.Visitor == nil:
		c.start(&c.in, ActivityRegisterVisitor, RegisterVisitorInput{PageID: c.st.PageID, IGSID: c.st.IGSID}, false, c.registered)
	case c.st.RoomID == "":
		if len(c.st.Pending) == 0 || now.Before(c.st.NextAgentCheck) {
			return
		}
		scheduled := !c.st.NextAgentCheck.IsZero() // a timed re-check, not one a new message asked for
		c.start(&c.in, ActivityOpenRoom, OpenRoomInput{PageID: c.st.PageID, IGSID: c.st.IGSID,
			DepartmentID: c.st.Visitor.DepartmentID}, false, func(get func(any) error) {
			c.roomOpened(get, scheduled)
		})
	default:
		c.postDue()
	}
}

// inboundDeadlines are the times at which the idle inbound direction has work again.
func (c *v1conversation) inboundDeadlines() []time.Time {
	var ts []time.Time
	switch {
	case c.st.RoomClosed && !c.hasOpening():
		ts = append(ts, c.st.ClosedAt.Add(c.settings.CloseLinger))
	case !c.st.Opened:
		ts = append(ts, c.startedAt.Add(v1dormantWait))
	case c.st.InBlocked.active():
		ts = append(ts, c.st.InBlocked.RetryAt)
	case c.st.Visitor != nil && c.st.RoomID == "" && len(c.st.Pending) > 0:
		ts = append(ts, c.st.NextAgentCheck)
	case c.st.RoomID != "" && len(c.st.Pending) > 0:
		ts = append(ts, c.releaseAt(c.st.Pending[0]))
	}
	return ts
}

// loadedConversation: the run's settings, and for a fresh run the memory of the last one.
func (c *v1conversation) loadedConversation(get func(any) error) {
	var res LoadConversationResult
	if err := get(&res); err != nil {
		c.inboundFailed(err)
		return
	}
	c.settings = res.Settings
	if !c.loaded {
		c.st.Seen.Merge(res.Seen, seenLimit)
		c.loaded = true
	}
	c.unblockInbound()
}

// registered: the visitor exists in Rocket.Chat, in the page's department. The welcome
// message goes out once per room.
func (c *v1conversation) registered(get func(any) error) {
	var v VisitorInfo
	if err := get(&v); err != nil {
		c.inboundFailed(err)
		return
	}
	c.st.Visitor = &v
	c.unblockInbound()
	c.queueOut(v1OutJob{Kind: v1JobAutomated, Which: AutoWelcome, Key: c.deliveryKey(AutoWelcome)})
}

// roomOpened: a room is open, or no agent is available (the messages keep waiting, the
// customer is told once, and availability is checked again with capped backoff; a check a
// new message asked for does not lengthen the backoff).
func (c *v1conversation) roomOpened(get func(any) error, scheduled bool) {
	var res OpenRoomResult
	if err := get(&res); err != nil {
		c.inboundFailed(err)
		return
	}
	c.unblockInbound()
	if res.NoAgent {
		if scheduled || c.st.AgentBackoff == 0 {
			c.st.AgentBackoff = min(max(c.st.AgentBackoff*2, v1agentCheckFirst), v1agentCheckMax)
		}
		c.st.NextAgentCheck = c.now().Add(c.st.AgentBackoff)
		if !c.st.OfflineSent {
			c.st.OfflineSent = true
			c.queueOut(v1OutJob{Kind: v1JobAutomated, Which: AutoOffline, Key: c.deliveryKey(AutoOffline)})
		}
		c.log.Info("No agent online; messages wait", "pending", len(c.st.Pending), "next_check", c.st.NextAgentCheck)
		return
	}
	c.st.RoomID, c.st.Agent = res.RoomID, res.Agent
	c.st.AgentBackoff, c.st.NextAgentCheck = 0, time.Time{}
	c.st.setCursor(res.RoomID, c.st.cursor(res.RoomID))
}

// inboundFailed turns a failed inbound activity into a blocked state: a refusal an admin must
// fix (account not connected, department that does not exist) is told once and checked
// rarely; anything else is an outage, tried again soon.
func (c *v1conversation) inboundFailed(err error) {
	now := c.now()
	b := &c.st.InBlocked
	var appErr *temporal.ApplicationError
	errors.As(err, &appErr)
	switch {
	case appErr != nil && appErr.Type() == ErrPageNotConnected:
		reason := fmt.Sprintf("Instagram account %s is not connected: an admin must connect it (`instagram authorize`)", c.st.PageID)
		if c.block(b, now, v1BlockAccount, reason, v1adminFixFirst, v1adminFixMax) {
			c.notifyAdmins(v1noticeKey(v1BlockAccount, c.st.PageID), "⚠️ Customers are writing to Instagram account "+c.st.PageID+
				", which is not connected: their messages wait until an admin connects it with `instagram authorize`.")
		}
	case appErr != nil && appErr.Type() == ErrDepartmentNotFound:
		reason := appErr.Message()
		if c.block(b, now, v1BlockDepartment, reason, v1adminFixFirst, v1adminFixMax) {
			c.notifyAdmins(v1noticeKey(v1BlockDepartment, c.st.PageID), "⚠️ "+reason+
				". New conversations of Instagram account "+c.st.PageID+" wait until the page's department is fixed (`instagram edit`).")
		}
	default:
		c.block(b, now, v1BlockUnreachable, "Rocket.Chat cannot take the customer's messages now: "+reason(err), v1outageFirst, v1outageMax)
	}
	c.log.Warn("Inbound blocked", "kind", b.Kind, "reason", b.Reason, "retry_at", b.RetryAt)
}

// unblockInbound ends an inbound block after a call succeeded, and clears the admins'
// notice so that a recurrence is reported again.
func (c *v1conversation) unblockInbound() {
	b := c.st.InBlocked
	if !b.active() {
		return
	}
	c.st.InBlocked = v1Blocked{}
	c.log.Info("Inbound unblocked", "kind", b.Kind, "blocked_for", c.now().Sub(b.Since))
	if b.Kind == v1BlockAccount || b.Kind == v1BlockDepartment {
		c.clearNotice(v1noticeKey(b.Kind, c.st.PageID))
	}
}

func v1noticeKey(kind, account string) string { return kind + ":" + account }

// releaseAt is when a pending event may be posted: it waits the reorder window from its
// arrival (never from Meta's clock, which may be hours off), so an event Meta delivers a
// little late still takes its place by timestamp.
func (c *v1conversation) releaseAt(ev InstagramEvent) time.Time {
	if ev.Kind == EventNote || c.settings.ReorderWindow <= 0 {
		return time.Time{}
	}
	return ev.ArrivedAt.Add(c.settings.ReorderWindow)
}

func (c *v1conversation) due(now time.Time, ev InstagramEvent) bool {
	return !now.Before(c.releaseAt(ev))
}

// postDue posts the due pending events into the room: text items in one local activity,
// media one at a time in a regular activity (it may take minutes).
func (c *v1conversation) postDue() {
	now := c.now()
	if len(c.st.Pending) == 0 || !c.due(now, c.st.Pending[0]) {
		return
	}
	if c.needsFreshSettings() {
		c.start(&c.in, ActivityLoadConversation, LoadConversationInput{PageID: c.st.PageID, IGSID: c.st.IGSID}, false,
			func(get func(any) error) {
				c.loadedConversation(get)
				c.unsendSettingsAt = c.now()
			})
		return
	}
	c.resolveUnsends()
	c.dropEmptyEvents()
	var items []RoomItem
	c.posting = c.posting[:0]
	for _, ev := range c.st.Pending {
		if len(items) >= v1maxBatch || !c.due(now, ev) {
			break
		}
		evItems := c.roomItems(ev)[ev.PostedParts:]
		n := 0
		for _, it := range evItems {
			if it.Kind == ItemUpload {
				if len(items) == 0 {
					c.posting = append(c.posting, v1postingEvent{key: ev.DedupKey(), items: 1})
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
			c.posting = append(c.posting, v1postingEvent{key: ev.DedupKey(), items: n})
		}
		if n < len(evItems) || len(items) >= v1maxBatch {
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
type v1postingEvent struct {
	key   string
	items int
}

// needsFreshSettings: unsends are pending and the admin's unsend setting has not been read
// since they arrived (a change to it applies to the next unsend).
func (c *v1conversation) needsFreshSettings() bool {
	for _, ev := range c.st.Pending {
		if ev.Kind == EventUnsend && c.unsendSettingsAt.Before(ev.ArrivedAt) {
			return true
		}
	}
	return false
}

// posted: the first n items of the post (or the one upload) are in the room. Events are removed once all
// their items are posted; RoomClosed means the room was closed under us (its close webhook
// is late or off): the close is handled as if the webhook had come.
func (c *v1conversation) posted(get func(any) error) {
	var res PostToRoomResult
	if err := get(&res); err != nil {
		c.inboundFailed(err)
		return
	}
	c.unblockInbound()
	c.consumeItems(res.Posted)
	if res.RoomClosed {
		c.log.Info("Room closed under us; the rest goes to a new room", "room", c.st.RoomID, "left", len(c.st.Pending))
		c.roomClosed(c.st.RoomID)
	}
}

// consumeItems applies n posted items of the post that was in flight to its events, in
// order: an event whose items are all posted leaves the queue.
func (c *v1conversation) consumeItems(n int) {
	posting := c.posting
	c.posting = nil
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
		ev.PostedParts += done
		if ev.PostedParts < len(c.roomItems(*ev)) {
			continue
		}
		if ev.Kind == EventMessage {
			c.st.Delivered++
		}
		c.st.Pending = append(c.st.Pending[:i:i], c.st.Pending[i+1:]...)
	}
	c.dropEmptyEvents()
}

// inPost reports whether the customer message mid is in the post in flight.
func (c *v1conversation) inPost(mid string) bool {
	key := InstagramEvent{Kind: EventMessage, MID: mid}.DedupKey()
	for _, p := range c.posting {
		if p.key == key {
			return true
		}
	}
	return false
}

func (c *v1conversation) pendingByKey(key string) int {
	for i, ev := range c.st.Pending {
		if ev.DedupKey() == key {
			return i
		}
	}
	return -1
}

// dropEmptyEvents removes pending events that have nothing (left) to post.
func (c *v1conversation) dropEmptyEvents() {
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
// Unsends of messages already in the room are left to roomItems.
func (c *v1conversation) resolveUnsends() {
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

// roomItems renders a pending event into what is done in the room.
func (c *v1conversation) roomItems(ev InstagramEvent) []RoomItem {
	items := c.roomItemsAt(ev, c.now())
	for i := range items {
		if ev.Kind != EventNote {
			items[i].TS = ev.Timestamp
		}
	}
	return items
}

func (c *v1conversation) roomItemsNoCtx(ev InstagramEvent) []RoomItem {
	return c.roomItemsAt(ev, time.Time{})
}

// roomItemsAt renders an event; now decides whether a late message shows its original time
// (zero: only the number of items is wanted).
func (c *v1conversation) roomItemsAt(ev InstagramEvent, now time.Time) []RoomItem {
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
			return []RoomItem{{Kind: ItemEdit, MID: ev.MID, Text: ev.Text}}
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

// referralFields keeps where the customer came from on the Rocket.Chat visitor.
func (c *v1conversation) referralFields(r *Referral) []RoomItem {
	if r == nil || c.st.Visitor == nil {
		return nil
	}
	return []RoomItem{{Kind: ItemVisitorFields, Text: c.st.Visitor.Name, Fields: referralFields(*r)}}
}

// noteInRoom adds a note for the agent to the inbound queue, ordered by time with the
// customer's messages, so it appears in the room where it happened (when the room opens, if
// it is not open yet).
func (c *v1conversation) noteInRoom(text string) {
	c.st.NoteSeq++
	now := c.now()
	c.queue(InstagramEvent{Kind: EventNote, MID: fmt.Sprintf("note:%s:%d", c.st.RoomKey, c.st.NoteSeq), Text: text,
		Timestamp: now.UnixMilli()})
}

// noteKeyFor is the key of a note rendered from a customer event: unique per room, so the
// same event noted in another room is a new note.
func (c *v1conversation) noteKeyFor(eventKey string) string {
	return "note:" + c.st.RoomKey + ":" + eventKey
}

// roomClosed handles the close of a room, whether its webhook came or a post was refused:
// the room's last agent messages are sent, then the finished message, then thread control
// is passed back. The next customer message opens the next room. A close of an earlier room
// (a late webhook) only checks that room's agent messages once more.
func (c *v1conversation) roomClosed(room string) {
	if room != c.st.RoomID || c.st.RoomClosed {
		if c.st.knowsRoom(room) {
			c.queueOut(v1OutJob{Kind: v1JobSync, RoomID: room})
		}
		return
	}
	c.st.RoomClosed, c.st.ClosedAt = true, c.now()
	c.queueOut(v1OutJob{Kind: v1JobSync, RoomID: room})
	c.queueOut(v1OutJob{Kind: v1JobAutomated, Which: AutoFinished, RoomID: room, Key: c.deliveryKey(AutoFinished)})
	c.queueOut(v1OutJob{Kind: v1JobPassBack})
	c.log.Info("Room closed", "room", room, "delivered", c.st.Delivered, "sent", c.st.SentToIG)
}

// nextRoom starts the customer's next room after a close: the visitor is registered again
// (the page's department or the customer's profile may have changed), leftovers of the
// closed room are dropped. When the outbound direction is idle the run continues as new
// first, so the Temporal UI shows one run per room; otherwise the new room starts in this
// run at once — the customer's message must not wait for a slow reply to the closed room.
func (c *v1conversation) nextRoom() {
	var kept []InstagramEvent
	for _, ev := range c.st.Pending {
		if OpensConversation(ev.Kind) || ev.Kind == EventNote {
			kept = append(kept, ev)
		}
	}
	c.st.Pending = kept
	c.st.RoomID, c.st.RoomClosed, c.st.ClosedAt = "", false, time.Time{}
	c.st.Visitor, c.st.Agent, c.st.OfflineSent = nil, "", false
	c.st.NextAgentCheck, c.st.AgentBackoff = time.Time{}, 0
	c.newRoomKey()
	if c.out == nil {
		c.continueNow = true
	}
}

// deliveryKey is the delivery key of an automated message in the current room.
func (c *v1conversation) deliveryKey(which string) string {
	return "auto:" + c.st.RoomKey + ":" + which
}
