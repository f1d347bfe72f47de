package workflows

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"hash/fnv"
	"sort"
	"time"
)

// State is the conversation's whole memory. It is carried across continue-as-new, so every
// field must survive JSON round trips, and every collection is bounded: at steady state it
// is a few kilobytes whatever the conversation's length.
type State struct {
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
	// OtherOwner: the app that owns the thread when it is not us ("" = us or nobody).
	OtherOwner string `json:"other_owner,omitempty"`
	// HeldSince: replies wait for thread control since then (zero: not held).
	HeldSince time.Time `json:"held_since,omitzero"`
	// OutBlocked: why replies cannot go to Instagram now, if they cannot.
	OutBlocked Blocked `json:"out_blocked,omitzero"`
	// Side: best-effort calls (notices to the admins, notes into closed rooms), in order.
	Side []SideJob `json:"side,omitempty"`

	Delivered      int       `json:"delivered"`
	SentToIG       int       `json:"sent_to_instagram"`
	Duplicates     int       `json:"duplicates"`
	LastCustomerAt time.Time `json:"last_customer_at,omitzero"`
	LastSeenMID    string    `json:"last_seen_mid,omitempty"`
	LastSeenAt     time.Time `json:"last_seen_at,omitzero"`
}

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

// Hashes is a bounded set of 64-bit hashes of keys that forgets its oldest first. It
// serialises as base64 of the packed hashes in insertion order: 1,000 keys take 11 KB,
// whatever the keys' length (Meta's mids are about 140 bytes). At 64 bits a collision
// among the few thousand keys of a conversation has a probability around 10⁻¹².
type Hashes struct {
	keys  []uint64
	index map[uint64]bool // rebuilt lazily; never iterated
}

// Limits of the Hashes sets.
const (
	// seenLimit: Meta redelivers for about an hour; a conversation rarely takes in a
	// thousand events in that time.
	seenLimit = 1000
	// ourMIDsLimit: our sends whose echo may still arrive (ingress drops most echoes of our
	// sends itself; these cover the race with the send's answer).
	ourMIDsLimit = 200
	// unsentLimit: unsends waiting for their message.
	unsentLimit = 100
)

func hashKey(key string) uint64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(key))
	return h.Sum64()
}

// Has reports whether key was added and not yet forgotten.
func (r *Hashes) Has(key string) bool {
	r.build()
	return r.index[hashKey(key)]
}

// Add inserts key, keeping at most limit keys; it returns false if key was present.
func (r *Hashes) Add(key string, limit int) bool {
	r.build()
	h := hashKey(key)
	if r.index[h] {
		return false
	}
	r.keys = append(r.keys, h)
	r.index[h] = true
	if len(r.keys) > limit {
		drop := len(r.keys) - limit
		for _, k := range r.keys[:drop] {
			delete(r.index, k)
		}
		r.keys = append([]uint64(nil), r.keys[drop:]...)
	}
	return true
}

// Merge adds the hashes of older (an earlier run's memory) before r's own, within limit.
func (r *Hashes) Merge(older Hashes, limit int) {
	in := map[uint64]bool{} // membership only; never iterated
	var keys []uint64
	for _, k := range append(append([]uint64(nil), older.keys...), r.keys...) {
		if !in[k] {
			in[k] = true
			keys = append(keys, k)
		}
	}
	if len(keys) > limit {
		keys = keys[len(keys)-limit:]
	}
	r.keys, r.index = keys, nil
}

// Len is the number of keys kept.
func (r *Hashes) Len() int { return len(r.keys) }

func (r *Hashes) build() {
	if r.index != nil {
		return
	}
	r.index = make(map[uint64]bool, len(r.keys))
	for _, k := range r.keys {
		r.index[k] = true
	}
}

// MarshalJSON packs the hashes (little-endian, 8 bytes each) in base64.
func (r Hashes) MarshalJSON() ([]byte, error) {
	b := make([]byte, 8*len(r.keys))
	for i, k := range r.keys {
		binary.LittleEndian.PutUint64(b[8*i:], k)
	}
	return json.Marshal(base64.StdEncoding.EncodeToString(b))
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (r *Hashes) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return err
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return err
	}
	r.keys, r.index = make([]uint64, len(b)/8), nil
	for i := range r.keys {
		r.keys[i] = binary.LittleEndian.Uint64(b[8*i:])
	}
	return nil
}

// StateView is what the "state" query returns.
type StateView struct {
	PageID         string    `json:"page_id"`
	IGSID          string    `json:"igsid"`
	Status         string    `json:"status"`
	BlockedReason  string    `json:"blocked_reason,omitempty"`
	Username       string    `json:"username,omitempty"`
	Name           string    `json:"name,omitempty"`
	Department     string    `json:"department,omitempty"`
	RoomID         string    `json:"room_id,omitempty"`
	Agent          string    `json:"agent,omitempty"`
	Pending        int       `json:"pending"`
	Outbox         int       `json:"outbox"`
	Delivered      int       `json:"delivered"`
	SentToIG       int       `json:"sent_to_instagram"`
	Duplicates     int       `json:"duplicates"`
	LastCustomerAt time.Time `json:"last_customer_at,omitzero"`
	NextAgentCheck time.Time `json:"next_agent_check,omitzero"`
	LastSeenMID    string    `json:"last_seen_mid,omitempty"`
	LastSeenAt     time.Time `json:"last_seen_at,omitzero"`
	// ThreadOwner is "us" or the app ID that owns the Instagram thread.
	ThreadOwner string `json:"thread_owner"`
	// RepliesHeld: agent replies wait for thread control.
	RepliesHeld bool `json:"replies_held,omitempty"`
}
