// Frozen: see v1Conversation (v1_conversation.go).

package workflows

import (
	"sort"
	"time"
)

// State is the conversation's whole memory. It is carried across continue-as-new, so every
// field must survive JSON round trips, and every collection is bounded: at steady state it
// is a few kilobytes whatever the conversation's length.
type v1State struct {
	PageID string `json:"page_id"`
	IGSID  string `json:"igsid"`

	// The current room. RoomKey names it uniquely (the run that started it and a counter):
	// delivery keys of its automated messages and notes derive from it. RoomID is "" until
	// Rocket.Chat opens it; RoomClosed once an agent closed it.
	RoomKey    string       `json:"room_key"`
	RoomSeq    int          `json:"room_seq,omitempty"`
	RoomID     string       `json:"room_id,omitempty"`
	RoomClosed bool         `json:"room_closed,omitempty"`
	ClosedAt   time.Time    `json:"closed_at,omitzero"`
	Visitor    *VisitorInfo `json:"visitor,omitempty"`
	Agent      string       `json:"agent,omitempty"`
	// OfflineSent: the offline message went out for this room.
	OfflineSent bool `json:"offline_sent,omitempty"`
	// Opened: the customer wrote or tapped something. A run started by an unsend or edit of
	// a message not delivered yet stays dormant until then (Meta reorders retries).
	Opened bool `json:"opened,omitempty"`

	// Inbound: customer events not yet in the room, sorted by Meta's timestamp.
	Pending []InstagramEvent `json:"pending,omitempty"`
	Seen    Hashes           `json:"seen"` // dedup keys of Instagram events taken in
	// UnsentWaiting holds mids the customer unsent before their message reached us.
	UnsentWaiting Hashes `json:"unsent_waiting"`
	// Quotes remembers recent messages of both sides, so reactions, replies, edits and
	// unsends can say which message they are about, and find its parts in the room.
	Quotes  []v1Quote `json:"quotes,omitempty"`
	NoteSeq int       `json:"note_seq,omitempty"`
	// Agent availability: when to check again, and with what backoff.
	NextAgentCheck time.Time     `json:"next_agent_check,omitzero"`
	AgentBackoff   time.Duration `json:"agent_backoff,omitempty"`
	// InBlocked: why customer messages cannot reach Rocket.Chat now, if they cannot.
	InBlocked v1Blocked `json:"in_blocked,omitzero"`

	// Outbound: what is to go to Instagram, in order (automated messages, syncs of a
	// room's agent messages, notes for closed rooms).
	Out []v1OutJob `json:"out,omitempty"`
	// Cursors: how far each recent room's agent messages were handled.
	Cursors []v1RoomCursor `json:"cursors,omitempty"`
	// OurMIDs: mids of messages this service sent (their echoes are ours).
	OurMIDs Hashes `json:"our_mids"`
	// Expect: the echo that would settle a send whose outcome is unknown.
	Expect *v1Waiting `json:"expect,omitempty"`
	// ParkedEchoes arrived while a send was in flight: they may be its echo, known only once
	// its result is recorded.
	ParkedEchoes []InstagramEvent `json:"parked_echoes,omitempty"`
	// OtherOwner: the app that owns the thread when it is not us ("" = us or nobody).
	OtherOwner string `json:"other_owner,omitempty"`
	// HeldSince: replies wait for thread control since then (zero: not held).
	HeldSince time.Time `json:"held_since,omitzero"`
	// OutBlocked: why replies cannot go to Instagram now, if they cannot.
	OutBlocked v1Blocked `json:"out_blocked,omitzero"`
	// Side: best-effort calls (notices to the admins, notes into closed rooms), in order.
	Side []v1SideJob `json:"side,omitempty"`

	Delivered      int       `json:"delivered"`
	SentToIG       int       `json:"sent_to_instagram"`
	Duplicates     int       `json:"duplicates"`
	LastCustomerAt time.Time `json:"last_customer_at,omitzero"`
	LastSeenMID    string    `json:"last_seen_mid,omitempty"`
	LastSeenAt     time.Time `json:"last_seen_at,omitzero"`
}

// Blocked is a direction that cannot make progress by itself: why, since when, and when it
// tries again (a wake signal makes it try at once).
type v1Blocked struct {
	Kind    string        `json:"kind,omitempty"` // a Block* constant
	Reason  string        `json:"reason,omitempty"`
	Since   time.Time     `json:"since,omitzero"`
	RetryAt time.Time     `json:"retry_at,omitzero"`
	Backoff time.Duration `json:"backoff,omitempty"`
	// Noted: the agent (room) or the admins were told of this block.
	Noted bool `json:"noted,omitempty"`
}

// Kinds of Blocked.
const (
	v1BlockAccount     = "account"     // the Instagram account is not connected
	v1BlockDepartment  = "department"  // the page's department does not exist in Rocket.Chat
	v1BlockAuth        = "auth"        // the account's token is refused: re-authorization needed
	v1BlockUnreachable = "unreachable" // Rocket.Chat or Meta cannot be reached or refuses for now
	v1BlockHeld        = "thread"      // another app owns the Instagram thread
)

func (b v1Blocked) active() bool { return b.Kind != "" }

// Waiting is an unknown-outcome send waiting for its echo until Deadline. MID is set when
// the echo came.
type v1Waiting struct {
	Expectation
	Deadline time.Time `json:"deadline"`
	MID      string    `json:"mid,omitempty"`
}

// Outbound job kinds, done in order.
const (
	v1JobAutomated = "automated" // one of the page's automated messages
	v1JobSync      = "sync"      // the agent messages of a room not sent yet
	v1JobPassBack  = "pass_back" // pass thread control to the configured app (after a close)
)

// OutJob is one unit of outbound work.
type v1OutJob struct {
	Kind   string `json:"kind"`
	RoomID string `json:"room_id,omitempty"` // JobSync; JobAutomated for a closed room's finished message
	Which  string `json:"which,omitempty"`   // JobAutomated
	Key    string `json:"key,omitempty"`     // delivery key (JobAutomated)
	// Regular: continue this sync in a regular activity (a file, or a slow Meta).
	Regular bool `json:"regular,omitempty"`
}

// Side job kinds: best-effort calls that belong to neither direction and must not wait
// behind either (telling the admins, a note into a closed room).
const (
	v1SideNotice = "notice" // tell the admins once (NoticeInput)
	v1SideClear  = "clear"  // the cause of a notice is gone
	v1SideNote   = "note"   // a note into a room that is not the current one
)

// SideJob is one best-effort call.
type v1SideJob struct {
	Kind   string `json:"kind"`
	Key    string `json:"key"`
	Text   string `json:"text,omitempty"`
	RoomID string `json:"room_id,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// RoomCursor is how far a room's agent messages were handled.
type v1RoomCursor struct {
	RoomID string      `json:"room_id"`
	Cursor ReplyCursor `json:"cursor"`
}

// cursorsLimit bounds Cursors: a late close webhook of an earlier room still finds its
// cursor, a conversation's many rooms do not accumulate.
const v1cursorsLimit = 4

func (s *v1State) cursor(room string) ReplyCursor {
	for _, c := range s.Cursors {
		if c.RoomID == room {
			return c.Cursor
		}
	}
	return ReplyCursor{}
}

func (s *v1State) knowsRoom(room string) bool {
	for _, c := range s.Cursors {
		if c.RoomID == room {
			return true
		}
	}
	return false
}

func (s *v1State) setCursor(room string, cur ReplyCursor) {
	for i, c := range s.Cursors {
		if c.RoomID == room {
			s.Cursors[i].Cursor = cur
			return
		}
	}
	s.Cursors = append(s.Cursors, v1RoomCursor{RoomID: room, Cursor: cur})
	if len(s.Cursors) > v1cursorsLimit {
		s.Cursors = append([]v1RoomCursor(nil), s.Cursors[len(s.Cursors)-v1cursorsLimit:]...)
	}
}

// Quote is a message in short form, found by the hash of its mid.
type v1Quote struct {
	Hash  uint64 `json:"h"`
	Text  string `json:"t"`
	Parts int    `json:"p,omitempty"` // attachments posted as separate messages
	Ours  bool   `json:"o,omitempty"` // sent by the business
}

// quotesLimit bounds Quotes; older messages are quoted as "an earlier message".
const v1quotesLimit = 100

func (s *v1State) addQuote(mid string, q v1Quote) {
	q.Hash = hashKey(mid)
	s.Quotes = append(s.Quotes, q)
	if len(s.Quotes) > v1quotesLimit {
		s.Quotes = append([]v1Quote(nil), s.Quotes[len(s.Quotes)-v1quotesLimit:]...)
	}
}

func (s *v1State) quote(mid string) (v1Quote, bool) {
	h := hashKey(mid)
	for i := len(s.Quotes) - 1; i >= 0; i-- {
		if s.Quotes[i].Hash == h {
			return s.Quotes[i], true
		}
	}
	return v1Quote{}, false
}

func (s *v1State) pendingIndex(kind, mid string) int {
	for i, ev := range s.Pending {
		if ev.Kind == kind && ev.MID == mid {
			return i
		}
	}
	return -1
}

// insertPending keeps Pending sorted by (timestamp, mid), so events are posted in the
// order they happened, not the order Meta delivered them.
func (s *v1State) insertPending(ev InstagramEvent) {
	i := sort.Search(len(s.Pending), func(i int) bool {
		p := s.Pending[i]
		return p.Timestamp > ev.Timestamp || (p.Timestamp == ev.Timestamp && p.MID > ev.MID)
	})
	s.Pending = append(s.Pending, InstagramEvent{})
	copy(s.Pending[i+1:], s.Pending[i:])
	s.Pending[i] = ev
}
