package workflows

import (
	"sort"
	"time"
)

// State is the conversation's whole memory. It is carried across continue-as-new, so every
// field must survive JSON round trips, and every collection is bounded.
type State struct {
	PageID  string       `json:"page_id"`
	IGSID   string       `json:"igsid"`
	Status  string       `json:"status"`
	Visitor *VisitorInfo `json:"visitor,omitempty"`
	RoomID  string       `json:"room_id,omitempty"`
	Agent   string       `json:"agent,omitempty"`

	// Pending holds customer events not yet posted, sorted by Meta's timestamp.
	Pending []InstagramEvent `json:"pending,omitempty"`
	// Outbox holds agent messages not yet sent to Instagram, in Rocket.Chat order.
	Outbox []AgentMessage `json:"outbox,omitempty"`

	Seen      Recent `json:"seen"`       // dedup keys of Instagram events taken in
	AgentSeen Recent `json:"agent_seen"` // Rocket.Chat message IDs taken in
	OurMIDs   Recent `json:"our_mids"`   // mids of messages this service sent (their echoes are ours)

	Delivered      int       `json:"delivered"`
	SentToIG       int       `json:"sent_to_instagram"`
	Duplicates     int       `json:"duplicates"`
	LastCustomerAt time.Time `json:"last_customer_at,omitzero"`

	// Agent availability: when no agent was online, when to check again and with what backoff.
	NextAgentCheck time.Time     `json:"next_agent_check,omitzero"`
	AgentBackoff   time.Duration `json:"agent_backoff,omitempty"`

	CloseRequested bool      `json:"close_requested,omitempty"`
	ClosedAt       time.Time `json:"closed_at,omitzero"`

	// Automated messages of this conversation (one room): each at most once.
	WelcomeSent bool `json:"welcome_sent,omitempty"`
	OfflineSent bool `json:"offline_sent,omitempty"`
	// NoteSeq numbers the notes this conversation adds to Pending.
	NoteSeq int `json:"note_seq,omitempty"`

	// Quotes remembers recent messages of both sides by mid, so reactions, replies, edits
	// and unsends can say which message they are about, and find its parts in the room.
	Quotes []Quote `json:"quotes,omitempty"`
	// UnsentWaiting holds mids the customer unsent before their message reached us.
	UnsentWaiting Recent `json:"unsent_waiting"`
	// ParkedEchoes are echoes that arrived while a send was in flight: they may be the echo
	// of that very send, which is only known once its response is recorded.
	ParkedEchoes []InstagramEvent `json:"parked_echoes,omitempty"`
	// Thread control (Meta's conversation routing): the app that owns the thread when it is
	// not us ("" = we own it or it is idle), and agent replies held until control is back.
	OtherOwner string         `json:"other_owner,omitempty"`
	Held       []AgentMessage `json:"held,omitempty"`
	HeldSince  time.Time      `json:"held_since,omitzero"`
	// ControlBack asks the send loop to put held replies back in front of the outbox.
	ControlBack bool `json:"control_back,omitempty"`
	// Expecting is the text of a send whose outcome is unknown; its echo proves delivery.
	Expecting   string `json:"expecting,omitempty"`
	EchoMatched string `json:"echo_matched,omitempty"`
	// Seen receipts: the last message of ours the customer saw.
	LastSeenMID string    `json:"last_seen_mid,omitempty"`
	LastSeenAt  time.Time `json:"last_seen_at,omitzero"`
}

// Quote is a message in short form.
type Quote struct {
	MID   string `json:"mid"`
	Text  string `json:"text"`
	Parts int    `json:"parts,omitempty"` // attachments posted as separate messages
	Ours  bool   `json:"ours,omitempty"`  // sent by the business
}

// quotesLimit bounds Quotes; older messages are quoted as "an earlier message".
const quotesLimit = 300

func (s *State) addQuote(q Quote) {
	s.Quotes = append(s.Quotes, q)
	if len(s.Quotes) > quotesLimit {
		s.Quotes = append([]Quote(nil), s.Quotes[len(s.Quotes)-quotesLimit:]...)
	}
}

func (s *State) quote(mid string) (Quote, bool) {
	for i := len(s.Quotes) - 1; i >= 0; i-- {
		if s.Quotes[i].MID == mid {
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

// Recent is a bounded set that forgets its oldest keys first. Order of insertion is kept
// in a slice so the set serialises deterministically across continue-as-new.
type Recent struct {
	Keys  []string        `json:"keys,omitempty"`
	index map[string]bool // rebuilt lazily; never iterated
}

// recentLimit bounds each set. Meta redelivers within hours, and a conversation rarely has
// a thousand events in flight, so older keys are safe to forget.
const recentLimit = 2000

// Has reports whether key was added and not yet forgotten.
func (r *Recent) Has(key string) bool {
	r.build()
	return r.index[key]
}

// Add inserts key; it returns false if key was already present.
func (r *Recent) Add(key string) bool {
	r.build()
	if r.index[key] {
		return false
	}
	r.Keys = append(r.Keys, key)
	r.index[key] = true
	if len(r.Keys) > recentLimit {
		drop := len(r.Keys) - recentLimit
		for _, k := range r.Keys[:drop] {
			delete(r.index, k)
		}
		r.Keys = append([]string(nil), r.Keys[drop:]...)
	}
	return true
}

func (r *Recent) build() {
	if r.index != nil {
		return
	}
	r.index = make(map[string]bool, len(r.Keys))
	for _, k := range r.Keys {
		r.index[k] = true
	}
}

// StateView is what the "state" query returns: the state without the dedup sets.
type StateView struct {
	PageID         string    `json:"page_id"`
	IGSID          string    `json:"igsid"`
	Status         string    `json:"status"`
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
	Held        int    `json:"held_replies"`
}

func (s *State) view() StateView {
	v := StateView{
		PageID: s.PageID, IGSID: s.IGSID, Status: s.Status, RoomID: s.RoomID, Agent: s.Agent,
		Pending: len(s.Pending), Outbox: len(s.Outbox), Delivered: s.Delivered, SentToIG: s.SentToIG,
		Duplicates: s.Duplicates, LastCustomerAt: s.LastCustomerAt, NextAgentCheck: s.NextAgentCheck,
		LastSeenMID: s.LastSeenMID, LastSeenAt: s.LastSeenAt, ThreadOwner: "us", Held: len(s.Held),
	}
	if s.OtherOwner != "" {
		v.ThreadOwner = s.OtherOwner
	}
	if s.Visitor != nil {
		v.Username, v.Name, v.Department = s.Visitor.Username, s.Visitor.Name, s.Visitor.Department
	}
	return v
}
