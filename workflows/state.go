package workflows

import (
	"sort"
	"time"
)

// State is the conversation's whole memory. It is carried across continue-as-new, so every
// field must survive JSON round trips, and every collection is bounded: at steady state it
// is a few kilobytes whatever the conversation's length.
type State struct {
	// V is the state's version: stateVersion; 0 is the state version 1 of the conversation
	// (v1_*.go) carried (see migrate).
	V      int    `json:"v,omitempty"`
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

	// Inbound: customer events (and notes) not yet in the room, sorted by Meta's timestamp;
	// at most pendingLimit of them: the later ones wait in PostgreSQL (Spool).
	Pending []InstagramEvent `json:"pending,omitempty"`
	Spool   Spool            `json:"spool,omitzero"`
	// Recent: Meta's timestamps of the customer's latest events, to tell a burst (whose
	// deliveries Meta may reorder) from a message that comes alone.
	Recent []int64 `json:"recent,omitempty"`
	// LastPostedTS: the latest Meta timestamp of a customer event posted to a room; an event
	// written before it and posted after it is marked as such.
	LastPostedTS int64  `json:"last_posted_ts,omitempty"`
	Seen         Hashes `json:"seen"` // dedup keys of Instagram events taken in
	// UnsentWaiting holds mids the customer unsent before their message reached us.
	UnsentWaiting Hashes `json:"unsent_waiting"`
	// Quotes remembers recent messages of both sides, so reactions, replies, edits and
	// unsends can say which message they are about, and find its parts in the room.
	Quotes  []Quote `json:"quotes,omitempty"`
	NoteSeq int     `json:"note_seq,omitempty"`
	// Agent availability: when to check again, and with what backoff.
	NextAgentCheck time.Time     `json:"next_agent_check,omitzero"`
	AgentBackoff   time.Duration `json:"agent_backoff,omitempty"`
	// InBlocked: why customer messages cannot reach Rocket.Chat now, if they cannot.
	InBlocked Blocked `json:"in_blocked,omitzero"`

	// Outbound: what is to go to Instagram, in order (automated messages, syncs of a
	// room's agent messages, notes for closed rooms).
	Out []OutJob `json:"out,omitempty"`
	// Cursors: how far each recent room's agent messages were handled.
	Cursors []RoomCursor `json:"cursors,omitempty"`
	// OurMIDs: mids of messages this service sent (their echoes are ours).
	OurMIDs Hashes `json:"our_mids"`
	// Expect: the echo that would settle a send whose outcome is unknown.
	Expect *Waiting `json:"expect,omitempty"`
	// ParkedEchoes arrived while a send was in flight: they may be its echo, known only once
	// its result is recorded.
	ParkedEchoes []InstagramEvent `json:"parked_echoes,omitempty"`
	// OutUncertain: the last outbound job failed without a result (its activity gave up):
	// what it sent before failing is known only when the job runs again, so echoes stay
	// parked until then.
	OutUncertain bool `json:"out_uncertain,omitempty"`
	// Unechoed: sends of ours whose outcome was settled without their echo (the thread was
	// read, or nobody could tell): an echo Meta delivers late (it retries for an hour) is
	// still recognised as ours, not shown as a message sent outside Rocket.Chat.
	Unechoed []Waiting `json:"unechoed,omitempty"`
	// OtherOwner: the app that owns the thread when it is not us ("" = us or nobody).
	OtherOwner string `json:"other_owner,omitempty"`
	// HeldSince: replies wait for thread control since then (zero: not held). HeldRetry: an
	// agent wrote meanwhile, so the next sync tries once more (handover_action take or
	// request).
	HeldSince time.Time `json:"held_since,omitzero"`
	HeldRetry bool      `json:"held_retry,omitempty"`
	// OutBlocked: why replies cannot go to Instagram now apart from thread control (the
	// token refused, Meta or Rocket.Chat down), if they cannot.
	OutBlocked Blocked `json:"out_blocked,omitzero"`
	// LastSync is when the current room's messages were last read, SyncBackoff how long
	// until they are read again with no webhook (Rocket.Chat may give up on them).
	LastSync    time.Time     `json:"last_sync,omitzero"`
	SyncBackoff time.Duration `json:"sync_backoff,omitempty"`
	// Side: best-effort calls (notices to the admins, notes into closed rooms), in order.
	Side []SideJob `json:"side,omitempty"`

	Delivered      int       `json:"delivered"`
	SentToIG       int       `json:"sent_to_instagram"`
	Duplicates     int       `json:"duplicates"`
	LastCustomerAt time.Time `json:"last_customer_at,omitzero"`
	LastSeenMID    string    `json:"last_seen_mid,omitempty"`
	LastSeenAt     time.Time `json:"last_seen_at,omitzero"`
}

// stateVersion is the version of State this code writes.
const stateVersion = 2

// migrate turns a state carried by the conversation's version 1 (v1_*.go) into this one: the
// fields are the same JSON; what differs is that version 1 kept a held thread in OutBlocked
// too.
func (s *State) migrate() {
	if s.V >= stateVersion {
		return
	}
	if s.OutBlocked.Kind == BlockHeld {
		s.OutBlocked = Blocked{}
	}
	s.V = stateVersion
}

// Spool is the part of the inbound queue kept in PostgreSQL (inbound_spool) when Pending is
// full: the later events, so that a run's state and what it carries to the next stay small
// however many messages wait. Every spooled event sorts after every pending one (by Meta's
// timestamp, then key), so Pending is always the queue's head.
type Spool struct {
	// Count events are in the table; Min is the smallest of them (or of Out).
	Count int      `json:"count,omitempty"`
	Min   EventKey `json:"min,omitzero"`
	// Out are events to write to the table (the next spool call writes them).
	Out []InstagramEvent `json:"out,omitempty"`
	// Taken is the largest event read back: the table's rows up to it may be deleted.
	Taken EventKey `json:"taken,omitzero"`
	// Opens: an event in the table opens a room (a message, a postback).
	Opens bool `json:"opens,omitempty"`
	// RetryAt: the last spool call failed; the next is due then. Backoff is its backoff.
	RetryAt time.Time     `json:"retry_at,omitzero"`
	Backoff time.Duration `json:"backoff,omitempty"`
}

// EventKey orders events: Meta's timestamp, then the event's key.
type EventKey struct {
	TS  int64  `json:"ts,omitempty"`
	Key string `json:"key,omitempty"`
}

func keyOf(ev InstagramEvent) EventKey { return EventKey{TS: ev.Timestamp, Key: ev.DedupKey()} }

// Less orders keys.
func (k EventKey) Less(o EventKey) bool {
	if k.TS != o.TS {
		return k.TS < o.TS
	}
	return k.Key < o.Key
}

// IsZero: no key.
func (k EventKey) IsZero() bool { return k == EventKey{} }

// active: the spool holds events, written or to write.
func (s Spool) active() bool { return s.Count > 0 || len(s.Out) > 0 }

// Blocked is a direction that cannot make progress by itself: why, since when, and when it
// tries again (a wake signal makes it try at once).
type Blocked struct {
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
	BlockAccount     = "account"     // the Instagram account is not connected
	BlockDepartment  = "department"  // the page's department does not exist in Rocket.Chat
	BlockAuth        = "auth"        // the account's token is refused: re-authorization needed
	BlockUnreachable = "unreachable" // Rocket.Chat or Meta cannot be reached or refuses for now
	BlockHeld        = "thread"      // another app owns the Instagram thread
)

func (b Blocked) active() bool { return b.Kind != "" }

// Waiting is an unknown-outcome send waiting for its echo until Deadline. MID is set when
// the echo came.
type Waiting struct {
	Expectation
	Deadline time.Time `json:"deadline"`
	MID      string    `json:"mid,omitempty"`
	// Since: the send was made after this time (the activity says when it called).
	Since time.Time `json:"since,omitzero"`
}

// Outbound job kinds, done in order.
const (
	JobAutomated = "automated" // one of the page's automated messages
	JobSync      = "sync"      // the agent messages of a room not sent yet
	JobPassBack  = "pass_back" // pass thread control to the configured app (after a close)
)

// OutJob is one unit of outbound work.
type OutJob struct {
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
	SideNotice = "notice" // tell the admins once (NoticeInput)
	SideClear  = "clear"  // the cause of a notice is gone
	SideNote   = "note"   // a note into a room that is not the current one
)

// SideJob is one best-effort call.
type SideJob struct {
	Kind   string `json:"kind"`
	Key    string `json:"key"`
	Text   string `json:"text,omitempty"`
	RoomID string `json:"room_id,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// RoomCursor is how far a room's agent messages were handled.
type RoomCursor struct {
	RoomID string      `json:"room_id"`
	Cursor ReplyCursor `json:"cursor"`
}

// cursorsLimit bounds Cursors: a late close webhook of an earlier room still finds its
// cursor, a conversation's many rooms do not accumulate.
const cursorsLimit = 4

func (s *State) cursor(room string) ReplyCursor {
	for _, c := range s.Cursors {
		if c.RoomID == room {
			return c.Cursor
		}
	}
	return ReplyCursor{}
}

func (s *State) knowsRoom(room string) bool {
	for _, c := range s.Cursors {
		if c.RoomID == room {
			return true
		}
	}
	return false
}

func (s *State) setCursor(room string, cur ReplyCursor) {
	for i, c := range s.Cursors {
		if c.RoomID == room {
			s.Cursors[i].Cursor = cur
			return
		}
	}
	s.Cursors = append(s.Cursors, RoomCursor{RoomID: room, Cursor: cur})
	if len(s.Cursors) > cursorsLimit {
		s.Cursors = append([]RoomCursor(nil), s.Cursors[len(s.Cursors)-cursorsLimit:]...)
	}
}

// Quote is a message in short form, found by the hash of its mid.
type Quote struct {
	Hash  uint64 `json:"h"`
	Text  string `json:"t"`
	Parts int    `json:"p,omitempty"` // attachments posted as separate messages
	Ours  bool   `json:"o,omitempty"` // sent by the business
	// Head and Tail: what the room shows around the customer's text (the message it replies
	// to; its quick-reply payload, the time it was written when posted late or out of
	// order), kept when the message is posted so that an edit keeps them.
	Head string `json:"hd,omitempty"`
	Tail string `json:"tl,omitempty"`
}

// quotesLimit bounds Quotes; older messages are quoted as "an earlier message".
const quotesLimit = 100

func (s *State) addQuote(mid string, q Quote) {
	q.Hash = hashKey(mid)
	s.Quotes = append(s.Quotes, q)
	if len(s.Quotes) > quotesLimit {
		s.Quotes = append([]Quote(nil), s.Quotes[len(s.Quotes)-quotesLimit:]...)
	}
}

func (s *State) quote(mid string) (Quote, bool) {
	h := hashKey(mid)
	for i := len(s.Quotes) - 1; i >= 0; i-- {
		if s.Quotes[i].Hash == h {
			return s.Quotes[i], true
		}
	}
	return Quote{}, false
}

// frameQuote records what the room shows around the text of the customer's message mid.
func (s *State) frameQuote(mid, head, tail string) {
	h := hashKey(mid)
	for i := len(s.Quotes) - 1; i >= 0; i-- {
		if s.Quotes[i].Hash == h {
			s.Quotes[i].Head, s.Quotes[i].Tail = head, tail
			return
		}
	}
}

func (s *State) pendingIndex(kind, mid string) int {
	for i, ev := range s.Pending {
		if ev.Kind == kind && ev.MID == mid {
			return i
		}
	}
	return -1
}

// insertPending keeps Pending sorted by (timestamp, mid), so events are posted in the
// order they happened, not the order Meta delivered them.
func (s *State) insertPending(ev InstagramEvent) {
	i := sort.Search(len(s.Pending), func(i int) bool {
		p := s.Pending[i]
		return p.Timestamp > ev.Timestamp || (p.Timestamp == ev.Timestamp && p.MID > ev.MID)
	})
	s.Pending = append(s.Pending, InstagramEvent{})
	copy(s.Pending[i+1:], s.Pending[i:])
	s.Pending[i] = ev
}
