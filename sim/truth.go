package sim

import (
	"time"

	"github.com/igdirect/bridge/workflows"
)

// truth is what happened, as the customer and the business know it: what the customer
// wrote, unsent and edited, when Meta first delivered each of their events, and what the
// business sent from other tools. The emulators keep the rest (the rooms' messages, what
// Instagram received).
type truth struct {
	messages []*customerMessage
	byMID    map[string]*customerMessage
	// otherTool: mids of messages the business sent from another tool (the Instagram app).
	otherTool map[string]bool
	// otherToolSignalled: those whose echo reached a running conversation.
	otherToolSignalled map[string]bool
	// unsendAction is the setting each unsend was made under (changes apply to the next).
	closes []roomClose
	// agent: the agents' messages, in the order they wrote them.
	agent []agentWrite
}

// agentWrite is an agent writing a message (its marker).
type agentWrite struct {
	marker string
	at     time.Time
	room   string
	id     string // the Rocket.Chat message's _id
}

// customerMessage is one message the customer wrote.
type customerMessage struct {
	mid     string
	marker  string // unique text that identifies it in the room
	text    string // as written (and as last edited)
	media   int    // attachments uploaded as files
	links   int    // attachments posted as a line (shares, reels, …)
	written time.Time
	// delivered: when ingress first took a delivery carrying it (zero: never yet).
	delivered time.Time
	unsentAt  time.Time // zero: not unsent
	// unsentDelivered: when ingress first took its unsend.
	unsentDelivered time.Time
	editedAt        time.Time
	editDelivered   time.Time
	edits           int
	quickReply      string
}

// roomClose is an agent closing a room.
type roomClose struct {
	room string
	at   time.Time
}

func newTruth() truth {
	return truth{byMID: map[string]*customerMessage{}, otherTool: map[string]bool{}, otherToolSignalled: map[string]bool{}}
}

// delivered records that ingress took ev now.
func (t *truth) delivered(ev workflows.InstagramEvent, now time.Time) {
	m := t.byMID[ev.MID]
	if m == nil {
		return
	}
	switch ev.Kind {
	case workflows.EventMessage:
		if m.delivered.IsZero() {
			m.delivered = now
		}
	case workflows.EventUnsend:
		if m.unsentDelivered.IsZero() {
			m.unsentDelivered = now
		}
	case workflows.EventEdit:
		if ev.NumEdit == m.edits && m.editDelivered.IsZero() {
			m.editDelivered = now
		}
	}
}
