package workflows

import (
	"fmt"
	"time"
)

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
	EventMessage  = "message"  // a customer message (text, attachments, quick-reply tap, reply, referral)
	EventEcho     = "echo"     // a message the business sent (by us or another tool)
	EventUnsend   = "unsend"   // the customer removed a message (mid of that message)
	EventEdit     = "edit"     // the customer edited a message
	EventReaction = "reaction" // react / unreact on a message
	EventRead     = "read"     // the customer saw our messages up to mid
	EventPostback = "postback" // ice breaker, button template or ad button tap
	EventReferral = "referral" // the customer came back through an ig.me link or an ad
	EventHandover = "handover" // thread control changed (Action: control_back, taken, requested)
	EventUnknown  = "unknown"
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

	Attachments       []Attachment `json:"attachments,omitempty"`
	Unsupported       bool         `json:"unsupported,omitempty"` // is_unsupported: media Instagram could not process
	QuickReplyPayload string       `json:"quick_reply_payload,omitempty"`
	ReplyToMID        string       `json:"reply_to_mid,omitempty"`
	ReplyToStoryURL   string       `json:"reply_to_story_url,omitempty"`
	Referral          *Referral    `json:"referral,omitempty"`
	// Reactions: Action is react or unreact; Emoji/Reaction are absent on unreact.
	Action   string `json:"action,omitempty"`
	Emoji    string `json:"emoji,omitempty"`
	Reaction string `json:"reaction,omitempty"`
	// Postbacks: the tapped button.
	Title   string `json:"title,omitempty"`
	Payload string `json:"payload,omitempty"`
	NumEdit int    `json:"num_edit,omitempty"`
	// Handover: the other app involved and the metadata it passed.
	AppID    string `json:"app_id,omitempty"`
	Metadata string `json:"metadata,omitempty"`

	// ArrivedAt is set by the workflow when it takes the event in (workflow time).
	ArrivedAt time.Time `json:"arrived_at,omitzero"`
}

// Attachment is one attachment of a message: its type as Meta names it (image, video,
// audio, file, share, story_mention, ig_reel, ephemeral, ... or one nobody has seen yet).
type Attachment struct {
	Type  string `json:"type"`
	URL   string `json:"url,omitempty"`
	Title string `json:"title,omitempty"`
}

// Referral tells where a customer came from (an ad, an ig.me link, a shop product).
type Referral struct {
	Ref       string `json:"ref,omitempty"`
	Source    string `json:"source,omitempty"` // ADS, SHORTLINKS, ...
	Type      string `json:"type,omitempty"`
	AdID      string `json:"ad_id,omitempty"`
	AdTitle   string `json:"ad_title,omitempty"`
	ProductID string `json:"product_id,omitempty"`
}

// DedupKey identifies an event for deduplication: Meta may deliver the same event twice,
// and different kinds of event can share a mid (an unsend reuses the message's mid, a
// reaction names the message it reacts to), so the key combines kind, mid and, for kinds
// that can repeat on one message, what makes each occurrence distinct.
func (e InstagramEvent) DedupKey() string {
	switch e.Kind {
	case EventMessage, EventEcho, EventUnsend:
		if e.MID != "" {
			return e.Kind + ":" + e.MID
		}
	case EventEdit:
		return fmt.Sprintf("edit:%s:%d:%s", e.MID, e.NumEdit, e.Text)
	}
	return fmt.Sprintf("%s:%s@%d:%s%s%s", e.Kind, e.MID, e.Timestamp, e.Action, e.Emoji, e.Payload+e.Text)
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
	// File is a file the agent shared; Text is then its caption (maybe empty).
	File *AgentFile `json:"file,omitempty"`
	// Buttons become Instagram quick replies (from Rocket.Chat UI-kit action buttons).
	Buttons []Button `json:"buttons,omitempty"`
}

// AgentFile is a file in Rocket.Chat, by its download path (relative /file-upload/... URL).
type AgentFile struct {
	Path string `json:"path"`
	Name string `json:"name"`
	Type string `json:"type,omitempty"`
	Size int64  `json:"size,omitempty"`
}

// Button is a quick-reply button: what the customer sees and what we get back.
type Button struct {
	Title   string `json:"title"`
	Payload string `json:"payload,omitempty"`
}

// Settings are the tunables the workflow reads at the start of each run through the
// LoadSettings local activity (they come from worker configuration and the database).
type Settings struct {
	ReorderWindow time.Duration `json:"reorder_window"`
	CloseLinger   time.Duration `json:"close_linger"`
	// UnsendAction is the admin's choice for a customer's unsend: delete, mark or keep.
	UnsendAction string `json:"unsend_action,omitempty"`
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
// MID, so a retry cannot post it twice), a note for the agent (posted as the bot user), an
// edit or deletion of an earlier customer message, or custom fields for the visitor.
const (
	ItemMessage       = "message"
	ItemNote          = "note"
	ItemEdit          = "edit"
	ItemDelete        = "delete"
	ItemVisitorFields = "visitor_fields"
	// ItemUpload fetches the customer's media from Meta's CDN and uploads it to the room;
	// when the settings refuse it, or it is too large, expired or unreachable, Text (what it
	// was, with its link) is posted instead with the reason.
	ItemUpload = "upload"
)

// RoomItem is one thing to do in the room.
type RoomItem struct {
	Kind string `json:"kind"`
	// MID is the key the message _id derives from (ItemMessage), or the key of the message
	// to edit or delete.
	MID  string `json:"mid,omitempty"`
	Text string `json:"text"`
	// Fields are visitor custom fields (ItemVisitorFields); Text is then the visitor's name.
	Fields map[string]string `json:"fields,omitempty"`
	// URL and Caption of an ItemUpload.
	URL     string `json:"url,omitempty"`
	Caption string `json:"caption,omitempty"`
	// TS is the Instagram event's time (epoch ms), for the inbound latency metric.
	TS int64 `json:"ts,omitempty"`
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
	PageID        string     `json:"page_id"`
	IGSID         string     `json:"igsid"`
	Text          string     `json:"text"`
	AgentUsername string     `json:"agent_username,omitempty"`
	AgentName     string     `json:"agent_name,omitempty"`
	File          *AgentFile `json:"file,omitempty"`
	Buttons       []Button   `json:"buttons,omitempty"`
	// MessageID is the Rocket.Chat message being sent (names the stored file).
	MessageID string `json:"message_id,omitempty"`
	// LastCustomerAt decides the messaging window: RESPONSE within 24 hours, the
	// HUMAN_AGENT tag up to 7 days, nothing after that.
	LastCustomerAt time.Time `json:"last_customer_at,omitzero"`
	// OtherAppOwns: another app holds thread control, so the handover_action setting
	// (take or request control) applies before sending.
	OtherAppOwns bool `json:"other_app_owns,omitempty"`
	// SkipParts: text parts already delivered by an earlier attempt (confirmed by their echo).
	SkipParts int `json:"skip_parts,omitempty"`
}

// SendUnknown is the detail of an ErrSendUnknown failure: the parts known delivered, and the
// exact text of the part whose fate is unknown (Meta echoes it if it was delivered).
type SendUnknown struct {
	Sent   []string `json:"sent"`
	Expect string   `json:"expect"`
}

// Handover actions (InstagramEvent.Action of EventHandover), from our app's point of view.
const (
	HandoverControlBack = "control_back" // control passed to us
	HandoverTaken       = "taken"        // another app took control from us
	HandoverRequested   = "requested"    // another app asks us for control
)

// PassBackInput passes thread control to the configured app when a conversation closes.
type PassBackInput struct {
	PageID string `json:"page_id"`
	IGSID  string `json:"igsid"`
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
