package workflows

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
)

// The outbound direction: the room's agent messages and the page's automated messages →
// Instagram, exactly once, in Rocket.Chat's order.

// acceptRocketChat takes an Omnichannel event in. An agent message only wakes the outbound
// direction: what to send is read from the room's history, which is the truth for order and
// content — lost, retried and reordered webhooks then change nothing (and the history is
// read without any webhook too, see reconcile).
func (c *conversation) acceptRocketChat(ev RocketChatEvent) {
	current := ev.RoomID != "" && ev.RoomID == c.st.RoomID
	if !current && !c.st.knowsRoom(ev.RoomID) {
		c.log.Info("Rocket.Chat event for another room ignored", "kind", ev.Kind, "room", ev.RoomID)
		return
	}
	switch ev.Kind {
	case RCAgentMessage:
		c.queueOut(OutJob{Kind: JobSync, RoomID: ev.RoomID})
		if !c.st.HeldSince.IsZero() {
			c.st.HeldRetry = true // with handover_action take/request, a new reply tries to regain control
		}
	case RCClosed:
		c.roomClosed(ev.RoomID)
	case RCTaken, RCForwarded:
		if current && ev.AgentUsername != "" {
			c.st.Agent = ev.AgentUsername
		}
	}
}

// queueOut adds an outbound job, unless the same job is already waiting (one sync reads
// every agent message not sent yet; the one in flight may have read before the newest).
func (c *conversation) queueOut(job OutJob) {
	for i, j := range c.st.Out {
		inFlight := i == 0 && c.out != nil
		if !inFlight && j.Kind == job.Kind && j.RoomID == job.RoomID && j.Key == job.Key {
			return
		}
	}
	c.st.Out = append(c.st.Out, job)
}

// acceptEcho: Meta echoes every message the business sends. Ingress already dropped the
// echoes of our sends whose mid was recorded; what is left is the echo of a send whose
// answer is not recorded yet (it raced the send's response, or settles an unknown outcome),
// or a message the business sent from another tool, which the agent should see.
func (c *conversation) acceptEcho(ev InstagramEvent) {
	switch {
	case c.st.OurMIDs.Has(ev.MID):
	case c.st.Expect != nil && c.st.Expect.MID == "" && matches(c.st.Expect.Expectation, ev):
		c.st.Expect.MID = ev.MID
		c.st.OurMIDs.Add(ev.MID, ourMIDsLimit)
	case c.lateEcho(ev):
		c.st.OurMIDs.Add(ev.MID, ourMIDsLimit)
	case c.out != nil || c.st.OutUncertain && len(c.st.Out) > 0:
		if len(c.st.ParkedEchoes) < parkedEchoLimit {
			c.st.ParkedEchoes = append(c.st.ParkedEchoes, ev)
			return
		}
		c.noteEcho(ev)
	default:
		c.noteEcho(ev)
	}
}

// unechoedFor: how long a send settled without its echo still claims a late echo (Meta
// redelivers webhooks for about an hour, spec §2.3); unechoedLimit bounds the list.
const (
	unechoedFor   = time.Hour
	unechoedLimit = 20
)

// lateEcho reports (and forgets) a send of ours settled without its echo that ev is the
// echo of.
func (c *conversation) lateEcho(ev InstagramEvent) bool {
	now := c.now()
	for i, x := range c.st.Unechoed {
		if now.Sub(x.Since) < unechoedFor && matches(x.Expectation, ev) {
			c.st.Unechoed = append(c.st.Unechoed[:i:i], c.st.Unechoed[i+1:]...)
			return true
		}
	}
	return false
}

// settlingWithoutEcho records an unknown outcome the next job settles without an echo.
func (c *conversation) settlingWithoutEcho(x Waiting) {
	now, kept := c.now(), c.st.Unechoed[:0:0]
	for _, u := range c.st.Unechoed {
		if u.Key != x.Key && now.Sub(u.Since) < unechoedFor {
			kept = append(kept, u)
		}
	}
	c.st.Unechoed = append(kept, x)
	if len(c.st.Unechoed) > unechoedLimit {
		c.st.Unechoed = c.st.Unechoed[len(c.st.Unechoed)-unechoedLimit:]
	}
}

// matches: the echo shows the exact text of the unknown send, or an attachment of its type.
func matches(x Expectation, ev InstagramEvent) bool {
	if x.Text != "" {
		return ev.Text == x.Text
	}
	for _, a := range ev.Attachments {
		if a.Type == x.Type {
			return true
		}
	}
	return false
}

// releaseEchoes decides the echoes parked while a send was in flight, once its result (and
// its mids) is recorded.
func (c *conversation) releaseEchoes() {
	parked := c.st.ParkedEchoes
	c.st.ParkedEchoes, c.st.OutUncertain = nil, false
	for _, ev := range parked {
		c.acceptEcho(ev)
	}
}

// noteEcho shows the agent a message the business sent from outside this service (the
// Instagram app, Meta Business Suite, another tool), so the room holds the whole thread.
func (c *conversation) noteEcho(ev InstagramEvent) {
	text := ev.Text
	for _, a := range ev.Attachments {
		text += "\n" + renderAttachment(a)
	}
	c.st.addQuote(ev.MID, Quote{Text: summary(ev), Ours: true})
	c.noteInRoom("📱 Sent by the business outside Rocket.Chat: " + strings.TrimSpace(text))
}

// outboundGate tells whether the outbound direction may start its next job now and, when
// not, the deadline at which it may (zero: none; it waits for a signal). Each reason to
// wait is its own state, checked in turn, so none hides another: an unknown outcome waits
// for its echo; replies held by another app's thread control wait for control to come back,
// for an agent's new message (try once more to take control), or for 24 hours; a refused
// token or an outage waits for its retry time or a wake.
func (c *conversation) outboundGate(now time.Time) (bool, time.Time) {
	if c.out != nil || !c.loaded || len(c.st.Out) == 0 || c.pausing() {
		return false, time.Time{}
	}
	if x := c.st.Expect; x != nil && x.MID == "" && now.Before(x.Deadline) {
		return false, x.Deadline // the echo may still come
	}
	if held := c.st.HeldSince; !held.IsZero() && !c.st.HeldRetry && now.Before(held.Add(heldLimit)) {
		return false, held.Add(heldLimit)
	}
	if b := c.st.OutBlocked; b.active() && now.Before(b.RetryAt) {
		return false, b.RetryAt
	}
	return true, time.Time{}
}

// advanceOutbound starts the outbound direction's next job when its gate is open: only then
// are the unknown outcome's evidence and the held thread's retry taken into the job.
func (c *conversation) advanceOutbound() {
	c.reconcile()
	if c.out == nil && len(c.st.Out) == 0 && (len(c.st.ParkedEchoes) > 0 || c.st.OutUncertain) {
		c.releaseEchoes() // the job they waited for is gone (dropped, or the run moved on)
	}
	now := c.now()
	if ok, _ := c.outboundGate(now); !ok {
		return
	}
	var resolved *Resolution
	if x := c.st.Expect; x != nil {
		if x.MID == "" {
			c.log.Warn("Send outcome unknown and no echo came; Instagram's thread is checked before sending again", "key", x.Key)
			c.settlingWithoutEcho(*x)
		}
		resolved = &Resolution{Key: x.Key, MID: x.MID, Text: x.Text, Type: x.Type, Since: x.Since, Attempt: x.Attempt}
		// The expectation stays until the job has settled it: a job that fails (Meta or the
		// database down) leaves it, so an echo that comes later still proves the send.
	}
	discard := ""
	if held := c.st.HeldSince; !held.IsZero() && !now.Before(held.Add(heldLimit)) {
		discard = "another app kept control of this Instagram conversation for 24 hours"
	}
	job := c.st.Out[0]
	switch job.Kind {
	case JobSync:
		in := SyncRepliesInput{PageID: c.st.PageID, IGSID: c.st.IGSID, RoomID: job.RoomID, Cursor: c.st.cursor(job.RoomID),
			LastCustomerAt: c.st.LastCustomerAt, OtherAppOwns: c.st.OtherOwner != "", Discard: discard, Local: !job.Regular}
		if resolved != nil {
			in.Resolved = []Resolution{*resolved}
		}
		c.start(&c.out, ActivitySyncReplies, in, job.Regular, c.synced)
	case JobAutomated:
		if discard != "" {
			// Held for 24 hours: an automated message that old is no use to the customer.
			c.noteFor(fmt.Sprintf("⚠️ %s message not sent to the customer: %s", titleCase(job.Which), discard))
			c.st.Expect = nil
			c.popOut()
			c.unblockOutbound()
			c.advanceOutbound()
			return
		}
		c.start(&c.out, ActivitySendAutomated, SendAutomatedInput{PageID: c.st.PageID, IGSID: c.st.IGSID,
			Which: job.Which, Key: job.Key, LastCustomerAt: c.st.LastCustomerAt, Resolved: resolved}, false, c.automatedSent)
	case JobPassBack:
		c.start(&c.out, ActivityPassBack, PassBackInput{PageID: c.st.PageID, IGSID: c.st.IGSID}, true, c.passedBack)
	}
}

// outboundDeadlines are the times at which the idle outbound direction can act again by
// itself (see outboundGate), and when the open room is to be read again with no webhook.
func (c *conversation) outboundDeadlines() []time.Time {
	var ts []time.Time
	if _, at := c.outboundGate(c.now()); !at.IsZero() {
		ts = append(ts, at)
	}
	if at := c.reconcileAt(); !at.IsZero() {
		ts = append(ts, at)
	}
	return ts
}

// reconcileAt is when the open room's messages are read again with no webhook (zero: not
// now — no room open, or a read is queued or in flight).
func (c *conversation) reconcileAt() time.Time {
	if c.st.RoomID == "" || c.st.RoomClosed || c.st.LastSync.IsZero() {
		return time.Time{}
	}
	for _, j := range c.st.Out {
		if j.Kind == JobSync && j.RoomID == c.st.RoomID {
			return time.Time{}
		}
	}
	return c.st.LastSync.Add(max(c.st.SyncBackoff, syncIdleFirst))
}

// reconcile reads the open room's messages when it has been idle for the back-off:
// Rocket.Chat may have given up on an agent message's webhook, or on the close's.
func (c *conversation) reconcile() {
	if at := c.reconcileAt(); !at.IsZero() && !c.now().Before(at) {
		c.queueOut(OutJob{Kind: JobSync, RoomID: c.st.RoomID})
	}
}

func (c *conversation) popOut() {
	if len(c.st.Out) > 0 {
		c.st.Out = c.st.Out[1:]
	}
}

// synced: the sync sent what it could. Refused replies come back to the agent as notes; a
// stop says what the direction waits for; a room the history shows closed is closed.
func (c *conversation) synced(get func(any) error) {
	var res SyncRepliesResult
	if err := get(&res); err != nil {
		c.outboundFailed(err)
		return
	}
	c.settledExpect, c.st.Expect = c.st.Expect, nil // settled by the job (unless it stops unknown again)
	job := c.st.Out[0]
	c.st.setCursor(job.RoomID, res.Cursor)
	for _, s := range res.Sent {
		c.remember(s.MIDs)
		for _, mid := range s.MIDs {
			c.st.addQuote(mid, Quote{Text: truncate(s.Text, maxQuoteLength), Ours: true})
		}
		c.st.SentToIG++
	}
	c.remember(res.PartMIDs) // parts of a reply that stopped halfway: their echoes are ours
	for _, r := range res.Refused {
		if r.Unconfirmed {
			c.noteFor(fmt.Sprintf("⚠️ Perhaps not delivered to Instagram: %s — %s; Instagram did not confirm an earlier try", r.What, r.Reason))
			continue
		}
		c.noteFor(fmt.Sprintf("⚠️ Not delivered to Instagram: %s — %s", r.What, r.Reason))
	}
	if job.RoomID == c.st.RoomID && !c.st.RoomClosed {
		c.st.LastSync = c.now()
		if len(res.Sent) > 0 || len(res.Refused) > 0 {
			c.st.SyncBackoff = syncIdleFirst // an agent at work: look again soon
		} else {
			c.st.SyncBackoff = min(syncIdleMax, max(syncIdleFirst, 2*c.st.SyncBackoff))
		}
	}
	if res.RoomGone {
		c.log.Warn("Room gone; its agent messages cannot be read", "room", job.RoomID)
		res.Stop = nil
	}
	c.stopped(res.Stop, func() { c.st.Out[0].Regular = res.Stop != nil && res.Stop.Regular })
	if (res.RoomClosed || res.RoomGone) && job.RoomID == c.st.RoomID && !c.st.RoomClosed {
		c.roomClosed(job.RoomID) // the close webhook may never come
	}
	if res.Stop != nil && res.Stop.Kind == StopContinue {
		// The job goes on as a regular activity: what this run did before it stopped (a send
		// whose answer a dead worker lost) is known only when it does, so the echoes stay
		// parked for it (found by the simulator).
		c.st.OutUncertain = true
		return
	}
	c.releaseEchoes()
}

// automatedSent: one of the page's automated messages went out (or was skipped); the agent
// sees what the customer was told.
func (c *conversation) automatedSent(get func(any) error) {
	var res SendAutomatedResult
	if err := get(&res); err != nil {
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.NonRetryable() {
			c.log.Warn("Automated message not sent", "which", c.st.Out[0].Which, "error", err)
			c.st.Expect = nil
			c.popOut()
			return
		}
		c.outboundFailed(err)
		return
	}
	c.settledExpect, c.st.Expect = c.st.Expect, nil // settled by the job (unless it stops unknown again)
	job := c.st.Out[0]
	if res.Text != "" {
		c.remember(res.MessageIDs)
		c.noteFor(
			fmt.Sprintf("🤖 %s message sent to the customer: %s", titleCase(job.Which), res.Text))
	}
	c.stopped(res.Stop, func() {})
	c.releaseEchoes()
}

// passedBack: thread control went to the configured app (when one is set): that app owns
// the thread now, so the next room's replies take or request control first.
func (c *conversation) passedBack(get func(any) error) {
	var res PassBackResult
	if err := get(&res); err != nil {
		c.log.Warn("Passing thread control back failed", "error", err)
	} else if res.To != "" {
		c.st.OtherOwner = res.To
	}
	c.popOut()
}

// stopped applies why a delivery stopped (nil: the job is done).
func (c *conversation) stopped(stop *Stop, keep func()) {
	now := c.now()
	defer func() { c.settledExpect = nil }()
	if stop == nil {
		c.popOut()
		c.unblockOutbound()
		return
	}
	keep()
	switch stop.Kind {
	case StopContinue:
	case StopUnknown:
		since := stop.Expect.At
		if since.IsZero() || since.After(now) {
			since = now.Add(-echoWait) // a first version's activity: the send was shortly before
		}
		prev := c.settledExpect
		c.st.Expect = &Waiting{Expectation: *stop.Expect, Deadline: now.Add(echoWait), Since: since}
		if prev != nil && prev.Key == stop.Expect.Key && prev.MID != "" {
			// The same send, still unknown to the job (it failed before settling it): the echo
			// that came meanwhile proves it (found by the simulator).
			c.st.Expect.MID = prev.MID
		}
		c.log.Warn("Send outcome unknown; waiting for its echo", "key", stop.Expect.Key, "reason", stop.Reason)
		for i, ev := range c.st.ParkedEchoes {
			if matches(*stop.Expect, ev) && !c.st.OurMIDs.Has(ev.MID) {
				c.st.Expect.MID = ev.MID
				c.st.OurMIDs.Add(ev.MID, ourMIDsLimit)
				c.st.ParkedEchoes = append(c.st.ParkedEchoes[:i:i], c.st.ParkedEchoes[i+1:]...)
				break
			}
		}
	case StopHeld:
		// Meta refused the send for thread control (after the handover action, if any, was
		// tried): the token and Meta are fine; the next try waits for control, or for an
		// agent's next message.
		c.st.OutBlocked = Blocked{}
		c.st.HeldRetry = false
		if c.st.OtherOwner == "" {
			// Meta says another app owns the thread before its handover webhook came (or it
			// was lost): the next try applies the handover action (take or request control).
			c.st.OtherOwner = "another app"
		}
		if c.st.HeldSince.IsZero() {
			c.st.HeldSince = now
			c.countBlocked(BlockHeld)
			c.noteInRoom("⏸ Another app controls this Instagram conversation; your replies wait until control comes back (at most 24 hours)")
		}
	case StopAuth:
		retry := c.settings.ReauthRetry
		if retry <= 0 {
			retry = defaultReauth
		}
		if c.block(&c.st.OutBlocked, now, BlockAuth, "the Instagram account needs to be authorized again: "+stop.Reason, retry, retry) {
			c.noteInRoom("⚠️ Meta no longer accepts this Instagram account's access token: your replies wait and go out once an admin runs `instagram authorize`.")
		}
	default: // StopRetry
		c.block(&c.st.OutBlocked, now, BlockUnreachable, "Instagram cannot take replies now: "+stop.Reason, max(outageFirst, stop.RetryAfter), outageMax)
		c.st.OutBlocked.RetryAt = maxTime(c.st.OutBlocked.RetryAt, now.Add(stop.RetryAfter))
	}
}

// releaseHeld: control is back; held replies go out now.
func (c *conversation) releaseHeld() {
	c.st.HeldSince, c.st.HeldRetry = time.Time{}, false
}

// outboundFailed: the activity itself failed after its retries (Rocket.Chat or Meta down
// for minutes): try again later.
func (c *conversation) outboundFailed(err error) {
	c.block(&c.st.OutBlocked, c.now(), BlockUnreachable, "replies cannot be delivered now: "+reason(err), outageFirst, outageMax)
	c.log.Warn("Outbound blocked", "reason", c.st.OutBlocked.Reason, "retry_at", c.st.OutBlocked.RetryAt)
	// The job may have sent before it failed (an answer lost, then the retries ran out): an
	// echo that came meanwhile may be the proof its next run needs — it stays parked, and
	// so do the ones that come until then (found by the simulator: such an echo was shown
	// as sent outside Rocket.Chat, and the job then settled its send as unknown).
	c.st.OutUncertain = true
}

// unblockOutbound: a job went through, so nothing blocks the direction (and the thread, if
// it was held, is ours again).
func (c *conversation) unblockOutbound() {
	b := c.st.OutBlocked
	c.st.OutBlocked = Blocked{}
	if !c.st.HeldSince.IsZero() {
		c.releaseHeld()
		c.st.OtherOwner = ""
	}
	if b.active() {
		c.log.Info("Outbound unblocked", "kind", b.Kind, "blocked_for", c.now().Sub(b.Since))
	}
}

// remember records message ids of ours (their echoes are ours).
func (c *conversation) remember(mids []string) {
	for _, id := range mids {
		c.st.OurMIDs.Add(id, ourMIDsLimit)
	}
}

// noteFor posts a note for the agents: into the current room through the inbound queue
// (ordered with the customer's messages). A note about a closed room (a reply refused by its
// last read, its finished message) goes there too: Rocket.Chat takes no note in a closed
// room, so the agents see it in the customer's next room.
func (c *conversation) noteFor(text string) { c.noteInRoom(text) }

// notifyAdmins tells the admins in the setup channel, once per key (the activity keeps the
// record, so many conversations blocked on one cause post one message).
func (c *conversation) notifyAdmins(key, text string) {
	c.st.Side = append(c.st.Side, SideJob{Kind: SideNotice, Key: key, Text: text})
}

func (c *conversation) clearNotice(key string) {
	c.st.Side = append(c.st.Side, SideJob{Kind: SideClear, Key: key})
}

// advanceSide runs the next best-effort call; failures are logged and dropped.
func (c *conversation) advanceSide() {
	if c.side != nil || len(c.st.Side) == 0 || c.pausing() {
		return
	}
	job := c.st.Side[0]
	done := func(get func(any) error) {
		if err := get(nil); err != nil {
			c.log.Warn("Best-effort call failed", "kind", job.Kind, "error", err)
		}
		c.st.Side = c.st.Side[1:]
	}
	switch job.Kind {
	case SideNote:
		c.start(&c.side, ActivityPostNote, NoteInput{RoomID: job.RoomID, Key: job.Key, Text: job.Text}, false, done)
	default:
		c.start(&c.side, ActivityNotifyAdmins, NoticeInput{Key: job.Key, Text: job.Text, Clear: job.Kind == SideClear,
			Reason: job.Reason}, false, done)
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// reason extracts the failure text of an activity error.
func reason(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
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
