// Frozen: see v1Conversation (v1_conversation.go).

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
// content — lost, retried and reordered webhooks then change nothing.
func (c *v1conversation) acceptRocketChat(ev RocketChatEvent) {
	current := ev.RoomID != "" && ev.RoomID == c.st.RoomID
	if !current && !c.st.knowsRoom(ev.RoomID) {
		c.log.Info("Rocket.Chat event for another room ignored", "kind", ev.Kind, "room", ev.RoomID)
		return
	}
	switch ev.Kind {
	case RCAgentMessage:
		c.queueOut(v1OutJob{Kind: v1JobSync, RoomID: ev.RoomID})
		if !c.st.HeldSince.IsZero() {
			c.heldRetry = true // with handover_action take/request, a new reply tries to regain control
		}
	case RCClosed:
		c.roomClosed(ev.RoomID)
	case RCTaken, RCForwarded:
		if current && ev.AgentUsername != "" {
			c.st.Agent = ev.AgentUsername
		}
	}
}

// queueOut adds an outbound job, unless the same sync is already waiting (one sync reads
// every agent message not sent yet; the one in flight may have read before the newest).
func (c *v1conversation) queueOut(job v1OutJob) {
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
func (c *v1conversation) acceptEcho(ev InstagramEvent) {
	switch {
	case c.st.OurMIDs.Has(ev.MID):
	case c.st.Expect != nil && c.st.Expect.MID == "" && matches(c.st.Expect.Expectation, ev):
		c.st.Expect.MID = ev.MID
		c.st.OurMIDs.Add(ev.MID, ourMIDsLimit)
	case c.out != nil:
		if len(c.st.ParkedEchoes) < v1parkedEchoLimit {
			c.st.ParkedEchoes = append(c.st.ParkedEchoes, ev)
			return
		}
		c.noteEcho(ev)
	default:
		c.noteEcho(ev)
	}
}

// releaseEchoes decides the echoes parked while a send was in flight, once its result (and
// its mids) is recorded.
func (c *v1conversation) releaseEchoes() {
	parked := c.st.ParkedEchoes
	c.st.ParkedEchoes = nil
	for _, ev := range parked {
		c.acceptEcho(ev)
	}
}

// noteEcho shows the agent a message the business sent from outside this service (the
// Instagram app, Meta Business Suite, another tool), so the room holds the whole thread.
func (c *v1conversation) noteEcho(ev InstagramEvent) {
	text := ev.Text
	for _, a := range ev.Attachments {
		text += "\n" + renderAttachment(a)
	}
	c.st.addQuote(ev.MID, v1Quote{Text: summary(ev), Ours: true})
	c.noteInRoom("📱 Sent by the business outside Rocket.Chat: " + strings.TrimSpace(text))
}

// advanceOutbound starts the outbound direction's next activity: the job at the head of
// the queue, unless the direction waits (for an echo, for thread control, for a blocked
// cause's next check).
func (c *v1conversation) advanceOutbound() {
	c.advanceSide()
	if c.out != nil || !c.loaded || len(c.st.Out) == 0 || c.pausing() {
		return
	}
	now := c.now()
	var resolved *Resolution
	if x := c.st.Expect; x != nil {
		if x.MID == "" && now.Before(x.Deadline) {
			return // the echo may still come
		}
		if x.MID == "" {
			c.log.Warn("Send outcome unknown and no echo came; sending again", "key", x.Key)
		}
		resolved = &Resolution{Key: x.Key, MID: x.MID}
		c.st.Expect = nil
	}
	discard := ""
	if !c.st.HeldSince.IsZero() {
		switch {
		case !now.Before(c.st.HeldSince.Add(v1heldLimit)):
			discard = "another app kept control of this Instagram conversation for 24 hours"
		case !c.heldRetry:
			return // waiting for control to come back
		}
		c.heldRetry = false
	}
	if b := c.st.OutBlocked; b.active() && b.Kind != v1BlockHeld && now.Before(b.RetryAt) && resolved == nil {
		return
	}
	job := c.st.Out[0]
	switch job.Kind {
	case v1JobSync:
		in := SyncRepliesInput{PageID: c.st.PageID, IGSID: c.st.IGSID, RoomID: job.RoomID, Cursor: c.st.cursor(job.RoomID),
			LastCustomerAt: c.st.LastCustomerAt, OtherAppOwns: c.st.OtherOwner != "", Discard: discard, Local: !job.Regular}
		if resolved != nil {
			in.Resolved = []Resolution{*resolved}
		}
		c.start(&c.out, ActivitySyncReplies, in, job.Regular, c.synced)
	case v1JobAutomated:
		c.start(&c.out, ActivitySendAutomated, SendAutomatedInput{PageID: c.st.PageID, IGSID: c.st.IGSID,
			Which: job.Which, Key: job.Key, LastCustomerAt: c.st.LastCustomerAt, Resolved: resolved}, false, c.automatedSent)
	case v1JobPassBack:
		c.start(&c.out, ActivityPassBack, PassBackInput{PageID: c.st.PageID, IGSID: c.st.IGSID}, true,
			func(get func(any) error) {
				if err := get(nil); err != nil {
					c.log.Warn("Passing thread control back failed", "error", err)
				}
				c.popOut()
			})
	}
}

// outboundDeadlines are the times at which the idle outbound direction has work again.
func (c *v1conversation) outboundDeadlines() []time.Time {
	var ts []time.Time
	if len(c.st.Out) == 0 {
		return ts
	}
	switch {
	case c.st.Expect != nil:
		ts = append(ts, c.st.Expect.Deadline)
	case !c.st.HeldSince.IsZero():
		ts = append(ts, c.st.HeldSince.Add(v1heldLimit))
	case c.st.OutBlocked.active():
		ts = append(ts, c.st.OutBlocked.RetryAt)
	}
	return ts
}

func (c *v1conversation) popOut() {
	if len(c.st.Out) > 0 {
		c.st.Out = c.st.Out[1:]
	}
}

// synced: the sync sent what it could. Refused replies come back to the agent as notes; a
// stop says what the direction waits for.
func (c *v1conversation) synced(get func(any) error) {
	var res SyncRepliesResult
	if err := get(&res); err != nil {
		c.outboundFailed(err)
		return
	}
	job := c.st.Out[0]
	c.st.setCursor(job.RoomID, res.Cursor)
	for _, s := range res.Sent {
		c.remember(s.MIDs)
		for _, mid := range s.MIDs {
			c.st.addQuote(mid, v1Quote{Text: truncate(s.Text, maxQuoteLength), Ours: true})
		}
		c.st.SentToIG++
	}
	for _, r := range res.Refused {
		c.noteFor(job.RoomID, "note:refused:"+r.ID, fmt.Sprintf("⚠️ Not delivered to Instagram: %s — %s", r.What, r.Reason))
	}
	if res.RoomGone {
		c.log.Warn("Room gone; its agent messages cannot be read", "room", job.RoomID)
		res.Stop = nil
	}
	c.stopped(res.Stop, func() { c.st.Out[0].Regular = res.Stop != nil && res.Stop.Regular })
	c.releaseEchoes()
}

// automatedSent: one of the page's automated messages went out (or was skipped); the agent
// sees what the customer was told.
func (c *v1conversation) automatedSent(get func(any) error) {
	var res SendAutomatedResult
	if err := get(&res); err != nil {
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.NonRetryable() {
			c.log.Warn("Automated message not sent", "which", c.st.Out[0].Which, "error", err)
			c.popOut()
			return
		}
		c.outboundFailed(err)
		return
	}
	job := c.st.Out[0]
	if res.Text != "" {
		c.remember(res.MessageIDs)
		c.noteFor(job.RoomID, "note:"+job.Key,
			fmt.Sprintf("🤖 %s message sent to the customer: %s", titleCase(job.Which), res.Text))
	}
	c.stopped(res.Stop, func() {})
	c.releaseEchoes()
}

// stopped applies why a delivery stopped (nil: the job is done).
func (c *v1conversation) stopped(stop *Stop, keep func()) {
	now := c.now()
	if stop == nil {
		c.popOut()
		c.unblockOutbound()
		return
	}
	keep()
	switch stop.Kind {
	case StopContinue:
	case StopUnknown:
		c.st.Expect = &v1Waiting{Expectation: *stop.Expect, Deadline: now.Add(v1echoWait)}
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
		if c.st.HeldSince.IsZero() {
			c.st.HeldSince = now
			c.countBlocked(v1BlockHeld)
			c.noteInRoom("⏸ Another app controls this Instagram conversation; your replies wait until control comes back (at most 24 hours)")
		}
		c.st.OutBlocked = v1Blocked{Kind: v1BlockHeld, Reason: "another app controls the Instagram thread: " + stop.Reason, Since: c.st.HeldSince}
	case StopAuth:
		retry := c.settings.ReauthRetry
		if retry <= 0 {
			retry = v1defaultReauth
		}
		if c.block(&c.st.OutBlocked, now, v1BlockAuth, "the Instagram account needs to be authorized again: "+stop.Reason, retry, retry) {
			c.noteInRoom("⚠️ Meta no longer accepts this Instagram account's access token: your replies wait and go out once an admin runs `instagram authorize`.")
		}
	default: // StopRetry
		c.block(&c.st.OutBlocked, now, v1BlockUnreachable, "Instagram cannot take replies now: "+stop.Reason, max(v1outageFirst, stop.RetryAfter), v1outageMax)
		c.st.OutBlocked.RetryAt = maxTime(c.st.OutBlocked.RetryAt, now.Add(stop.RetryAfter))
	}
}

// releaseHeld: control is back; held replies go out now.
func (c *v1conversation) releaseHeld() {
	if c.st.HeldSince.IsZero() {
		return
	}
	c.st.HeldSince = time.Time{}
	if c.st.OutBlocked.Kind == v1BlockHeld {
		c.st.OutBlocked = v1Blocked{}
	}
}

// outboundFailed: the activity itself failed after its retries (Rocket.Chat or Meta down
// for minutes): try again later.
func (c *v1conversation) outboundFailed(err error) {
	c.block(&c.st.OutBlocked, c.now(), v1BlockUnreachable, "replies cannot be delivered now: "+reason(err), v1outageFirst, v1outageMax)
	c.log.Warn("Outbound blocked", "reason", c.st.OutBlocked.Reason, "retry_at", c.st.OutBlocked.RetryAt)
	c.releaseEchoes()
}

func (c *v1conversation) unblockOutbound() {
	b := c.st.OutBlocked
	if !b.active() {
		return
	}
	c.st.OutBlocked = v1Blocked{}
	c.st.HeldSince = time.Time{}
	c.log.Info("Outbound unblocked", "kind", b.Kind, "blocked_for", c.now().Sub(b.Since))
}

// remember records message ids of ours (their echoes are ours).
func (c *v1conversation) remember(mids []string) {
	for _, id := range mids {
		c.st.OurMIDs.Add(id, ourMIDsLimit)
	}
}

// noteFor posts a note where it belongs: into the current room through the inbound queue
// (ordered with the customer's messages), or into an earlier room, best effort.
func (c *v1conversation) noteFor(room, key, text string) {
	if room == "" || room == c.st.RoomID && !c.st.RoomClosed {
		c.noteInRoom(text)
		return
	}
	c.st.Side = append(c.st.Side, v1SideJob{Kind: v1SideNote, RoomID: room, Key: key, Text: text})
}

// notifyAdmins tells the admins in the setup channel, once per key (the activity keeps the
// record, so many conversations blocked on one cause post one message).
func (c *v1conversation) notifyAdmins(key, text string) {
	c.st.Side = append(c.st.Side, v1SideJob{Kind: v1SideNotice, Key: key, Text: text})
}

func (c *v1conversation) clearNotice(key string) {
	c.st.Side = append(c.st.Side, v1SideJob{Kind: v1SideClear, Key: key})
}

// advanceSide runs the next best-effort call; failures are logged and dropped.
func (c *v1conversation) advanceSide() {
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
	case v1SideNote:
		c.start(&c.side, ActivityPostNote, NoteInput{RoomID: job.RoomID, Key: job.Key, Text: job.Text}, false, done)
	default:
		c.start(&c.side, ActivityNotifyAdmins, NoticeInput{Key: job.Key, Text: job.Text, Clear: job.Kind == v1SideClear,
			Reason: job.Reason}, false, done)
	}
}
