package workflows

import (
	"fmt"
)

// What operators see of a conversation in the Temporal UI: search attributes, the run's
// current details, and the state query.

// status is the conversation's state for operators, and why when it is blocked.
func (c *conversation) status() (string, string) {
	switch {
	case c.st.InBlocked.active():
		return StateBlocked, c.st.InBlocked.Reason
	case c.st.OutBlocked.active():
		return StateBlocked, c.st.OutBlocked.Reason
	case !c.st.HeldSince.IsZero():
		owner := c.st.OtherOwner
		if owner == "" {
			owner = "another app"
		}
		return StateBlocked, "another app (" + owner + ") controls the Instagram thread: replies wait for control to come back"
	case c.st.RoomClosed && !c.hasOpening():
		return StateClosed, ""
	case c.st.RoomID == "":
		return StateWaitingForAgent, ""
	}
	return StateOpen, ""
}

// publish upserts the search attributes whose value changed, and the run's details when
// they changed (the details are not a history event; each upsert is).
func (c *conversation) publish() {
	state, _ := c.status()
	want := map[string]string{
		SAState.GetName():  state,
		SARoomID.GetName(): c.st.RoomID,
	}
	if c.st.Visitor != nil {
		want[SAUsername.GetName()] = c.st.Visitor.Username
		want[SADepartment.GetName()] = c.st.Visitor.Department
		want[SAPageID.GetName()] = c.st.Visitor.PageID
	}
	var updates []KeywordUpdate
	for _, key := range publishedKeys {
		v, ok := want[key.GetName()]
		if !ok || c.published[key.GetName()] == v {
			continue
		}
		c.published[key.GetName()] = v
		updates = append(updates, KeywordUpdate{Key: key, Value: v})
	}
	if len(updates) > 0 {
		c.h.Upsert(updates)
	}
	if d := c.describe(); d != c.details {
		c.details = d
		c.h.SetDetails(d)
	}
}

// describe is the run's details in the Temporal UI (Markdown).
func (c *conversation) describe() string {
	state, why := c.status()
	who := c.st.IGSID
	if c.st.Visitor != nil && c.st.Visitor.Username != "" {
		who = "@" + c.st.Visitor.Username
	}
	d := fmt.Sprintf("**%s** · %s\n\nInstagram account %s", state, who, c.st.PageID)
	if c.st.Visitor != nil && c.st.Visitor.Department != "" {
		d += " · department " + c.st.Visitor.Department
	}
	if c.st.RoomID != "" {
		d += fmt.Sprintf(" · Rocket.Chat room `%s`", c.st.RoomID)
	}
	if c.st.Agent != "" {
		d += " · agent " + c.st.Agent
	}
	if why != "" {
		d += "\n\nBlocked: " + why
	}
	return d
}

// view is what the state query returns.
func (c *conversation) view() StateView {
	state, why := c.status()
	s := &c.st
	v := StateView{
		PageID: s.PageID, IGSID: s.IGSID, Status: state, BlockedReason: why, RoomID: s.RoomID, Agent: s.Agent,
		Pending: len(s.Pending), Outbox: len(s.Out), Delivered: s.Delivered, SentToIG: s.SentToIG,
		Duplicates: s.Duplicates, LastCustomerAt: s.LastCustomerAt, NextAgentCheck: s.NextAgentCheck,
		LastSeenMID: s.LastSeenMID, LastSeenAt: s.LastSeenAt, ThreadOwner: "us", RepliesHeld: !s.HeldSince.IsZero(),
	}
	if s.OtherOwner != "" {
		v.ThreadOwner = s.OtherOwner
	}
	if s.Visitor != nil {
		v.Username, v.Name, v.Department = s.Visitor.Username, s.Visitor.Name, s.Visitor.Department
	}
	return v
}

// saveMemory keeps the run's dedup memory for the conversation's next run (a completed run
// carries nothing over), and the notes for the agents no room was open to show (the next
// run's room shows them). It is tried until it is saved, on a capped back-off: without it a
// message Meta redelivers after the run completed — one the customer unsent, whose room
// message is gone and whose _id Rocket.Chat would take again — is posted as new (found by
// the simulator: the database was down when a run completed). Signals that come meanwhile
// are taken in after it (see run).
func (c *conversation) saveMemory() {
	var notes []InstagramEvent
	for _, ev := range c.st.Pending {
		if ev.Kind == EventNote {
			notes = append(notes, ev)
		}
	}
	if len(notes) > notesCarried {
		notes = notes[len(notes)-notesCarried:]
	}
	in := SaveConversationInput{PageID: c.st.PageID, IGSID: c.st.IGSID, Seen: c.st.Seen, Unsent: c.st.UnsentWaiting, Notes: notes}
	for backoff := outageFirst; ; backoff = min(2*backoff, outageMax) {
		o := c.h.Start(ActivitySaveConversation, in, true)
		c.h.Wait(Source{Outcome: o})
		err := o.Get(nil)
		if err == nil {
			return
		}
		c.log.Warn("Conversation memory not saved; tried again", "error", err, "in", backoff)
		c.h.Wait(Source{Timer: c.h.NewTimer(backoff)})
	}
}
