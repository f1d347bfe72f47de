package workflows

import "time"

// ConversationInput starts (or continues) the conversation of one Instagram user with one
// business account. In the workflow ID and here, "page" is the Instagram professional
// account ID that Meta sends as entry.id.
type ConversationInput struct {
	PageID string `json:"page_id"`
	IGSID  string `json:"igsid"`
	// Carry is the state handed over by the previous run (continue-as-new).
	Carry *State `json:"carry,omitempty"`
}

// Instagram event kinds (InstagramEvent.Kind).
const (
	EventMessage = "message"
	EventEcho    = "echo"
	EventUnknown = "unknown"
	// EventNote is created by the workflow itself: a note for the agent (e.g. the welcome
	// message the customer got), ordered with the customer's messages by time.
	EventNote = "note"
)

// InstagramEvent is one messaging event from a Meta webhook, reduced to what the workflow
// needs. It carries no secrets: workflow history is visible in the Temporal UI.
type InstagramEvent struct {
	Kind      string `json:"kind"`
	MID       string `json:"mid,omitempty"`
	Timestamp int64  `json:"ts"` // Meta's event time, epoch milliseconds
	Text      string `json:"text,omitempty"`
	// Standby is true for events received on the standby channel (another app owns the thread).
	Standby bool `json:"standby,omitempty"`
	// Detail names what an unknown event was (for the log).
	Detail string `json:"detail,omitempty"`
	// ArrivedAt is set by the workflow when it takes the event in (workflow time).
	ArrivedAt time.Time `json:"arrived_at,omitzero"`
}

// DedupKey identifies an event for deduplication: Meta may deliver the same event twice,
// and different kinds of event can share a mid (an unsend reuses the message's mid).
func (e InstagramEvent) DedupKey() string {
	if e.MID != "" {
		return e.Kind + ":" + e.MID
	}
	return e.Kind + "@" + time.UnixMilli(e.Timestamp).UTC().Format(time.RFC3339Nano) + ":" + e.Text
}

// Rocket.Chat event kinds (RocketChatEvent.Kind).
const (
	RCAgentMessage = "agent_message"
	RCClosed       = "closed"
	RCTaken        = "taken"
	RCForwarded    = "forwarded"
)

// RocketChatEvent is one Omnichannel webhook, reduced to what the workflow needs.
type RocketChatEvent struct {
	Kind   string `json:"kind"`
	RoomID string `json:"room_id"`
	// Messages holds agent messages: one for RCAgentMessage; for RCClosed the agent messages
	// of the transcript, so replies whose own webhook is late or lost are still delivered.
	Messages      []AgentMessage `json:"messages,omitempty"`
	AgentUsername string         `json:"agent_username,omitempty"`
	AgentName     string         `json:"agent_name,omitempty"`
}

// AgentMessage is a message written in the Rocket.Chat room by an agent (or bot), or, when
// Automated is set, one of the page's automated messages, queued for Instagram.
type AgentMessage struct {
	ID            string `json:"id"`
	Automated     string `json:"automated,omitempty"` // AutoWelcome, AutoOffline, AutoFinished
	Text          string `json:"text"`
	AgentUsername string `json:"agent_username,omitempty"`
	AgentName     string `json:"agent_name,omitempty"`
	TS            string `json:"ts,omitempty"` // ISO-8601 from Rocket.Chat
}

// Settings are the tunables the workflow reads at the start of each run through the
// LoadSettings local activity (they come from worker configuration and the database).
type Settings struct {
	ReorderWindow time.Duration `json:"reorder_window"`
	CloseLinger   time.Duration `json:"close_linger"`
}

// RegisterVisitorInput / VisitorInfo: register the Livechat visitor of a conversation.
type RegisterVisitorInput struct {
	PageID string `json:"page_id"`
	IGSID  string `json:"igsid"`
}

// VisitorInfo is what the workflow keeps about the customer.
type VisitorInfo struct {
	PageID   string `json:"page_id,omitempty"` // Facebook page ID of the business account
	Name     string `json:"name"`
	Username string `json:"username,omitempty"`
	// Department is the page's department as configured (name or ID); DepartmentID is the
	// ID Rocket.Chat resolved it to, which livechat/config needs.
	Department   string `json:"department,omitempty"`
	DepartmentID string `json:"department_id,omitempty"`
}

// OpenRoomInput / OpenRoomResult: get or create the Livechat room.
type OpenRoomInput struct {
	PageID       string `json:"page_id"`
	IGSID        string `json:"igsid"`
	DepartmentID string `json:"department_id,omitempty"`
}

// OpenRoomResult tells whether a room is open, or no agent is available.
type OpenRoomResult struct {
	RoomID  string `json:"room_id,omitempty"`
	NoAgent bool   `json:"no_agent,omitempty"`
	Agent   string `json:"agent,omitempty"`
}

// Room item kinds: a customer message (posted as the visitor, with an _id derived from
// the mid) or a note for the agent (posted as the bot user).
const (
	ItemMessage = "message"
	ItemNote    = "note"
)

// RoomItem is one thing to post into the room.
type RoomItem struct {
	Kind string `json:"kind"`
	MID  string `json:"mid,omitempty"`
	Text string `json:"text"`
}

// PostToRoomInput posts items into the room in order, in one activity call.
type PostToRoomInput struct {
	PageID string     `json:"page_id"`
	IGSID  string     `json:"igsid"`
	RoomID string     `json:"room_id"`
	Items  []RoomItem `json:"items"`
}

// PostToRoomResult says how many items were posted; RoomClosed means the room turned out
// closed after Posted items, and the rest must go to a new room.
type PostToRoomResult struct {
	Posted     int  `json:"posted"`
	RoomClosed bool `json:"room_closed,omitempty"`
}

// SendInput sends an agent's message to the Instagram user.
type SendInput struct {
	PageID        string `json:"page_id"`
	IGSID         string `json:"igsid"`
	Text          string `json:"text"`
	AgentUsername string `json:"agent_username,omitempty"`
	AgentName     string `json:"agent_name,omitempty"`
}

// Automated messages, configured per page.
const (
	AutoWelcome  = "welcome"
	AutoOffline  = "offline"
	AutoFinished = "finished"
)

// SendAutomatedInput sends one of the page's automated messages (its current text is read
// when sending, so configuration changes apply at once).
type SendAutomatedInput struct {
	PageID string `json:"page_id"`
	IGSID  string `json:"igsid"`
	Which  string `json:"which"`
	// LastCustomerAt lets the activity respect Meta's 24-hour window for automated messages.
	LastCustomerAt time.Time `json:"last_customer_at,omitzero"`
}

// SendAutomatedResult carries the text that was sent ("" when the page has none set).
type SendAutomatedResult struct {
	Text       string   `json:"text,omitempty"`
	MessageIDs []string `json:"message_ids,omitempty"`
	Skipped    string   `json:"skipped,omitempty"` // why nothing was sent
}

// SendResult carries Meta's message ID, which later comes back as the echo's mid.
type SendResult struct {
	MessageIDs []string `json:"message_ids"`
}

// NoteInput posts a note for the agent into the room (as the bot user).
type NoteInput struct {
	RoomID string `json:"room_id"`
	Text   string `json:"text"`
}
