package workflows

import (
	"encoding/json"
	"fmt"
	"time"
)

// ConversationInput starts (or continues) the conversation of one Instagram user with one
// business account. In the workflow ID and here, "page" is the Instagram professional
// account ID that Meta sends as entry.id.
type ConversationInput struct {
	PageID string `json:"page_id"`
	IGSID  string `json:"igsid"`
	// Carry is the state handed over by the previous run (continue-as-new), as the run
	// that continued encoded it: each version of the conversation reads its own (see
	// Conversation), and a newer version reads an older one's.
	Carry json.RawMessage `json:"carry,omitempty"`
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
	// HoldUntil: the event waits until then for an earlier one Meta may deliver late (set by
	// the conversation for the events of a burst).
	HoldUntil time.Time `json:"hold_until,omitzero"`
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

	// ArrivedAt is set by the workflow when it takes the event in (workflow time): the
	// reorder window counts from it, never from Meta's clock.
	ArrivedAt time.Time `json:"arrived_at,omitzero"`
	// PostedParts counts the event's room items already posted (a message with media is
	// posted in several calls).
	PostedParts int `json:"posted_parts,omitempty"`
}

// InstagramBatch is the signal ingress sends a conversation per Meta delivery: the
// delivery's events of that conversation, in the order Meta put them in the batch.
type InstagramBatch struct {
	Events []InstagramEvent `json:"events"`
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
	// RCAgentMessage wakes the outbound direction: an agent wrote in the room. The
	// message itself is read from the room's history, which is the truth for order and
	// content (webhooks arrive in any order, late, twice or not at all).
	RCAgentMessage = "agent_message"
	RCClosed       = "closed"
	RCTaken        = "taken"
	RCForwarded    = "forwarded"
)

// RocketChatEvent is one Omnichannel webhook, reduced to what the workflow needs.
type RocketChatEvent struct {
	Kind          string `json:"kind"`
	RoomID        string `json:"room_id"`
	AgentUsername string `json:"agent_username,omitempty"`
	AgentName     string `json:"agent_name,omitempty"`
}

// WakeEvent tells a blocked conversation that its cause may be gone (an admin connected
// the account, fixed the department, authorized again): it tries again at once instead of
// at its next scheduled check.
type WakeEvent struct {
	Reason string `json:"reason"`
}

// Settings are the tunables the workflow decides on, read by LoadConversation at the start
// of each run (from worker configuration and the database) and refreshed when needed.
type Settings struct {
	// ReorderWindow: how long an Instagram event waits, from its arrival, for earlier events
	// Meta delivers late (0: post at once; what is pending is still sorted by Meta's time).
	ReorderWindow time.Duration `json:"reorder_window"`
	// CloseLinger: how long a closed conversation's run waits before it completes.
	CloseLinger time.Duration `json:"close_linger"`
	// ReauthRetry: how often replies waiting for an account's re-authorization try again.
	ReauthRetry time.Duration `json:"reauth_retry,omitempty"`
	// UnsendAction is the admin's choice for a customer's unsend: delete, mark or keep.
	UnsendAction string `json:"unsend_action,omitempty"`
}

// LoadConversationInput / LoadConversationResult: the settings, and the dedup memory a
// completed earlier run of the conversation left.
type LoadConversationInput struct {
	PageID string `json:"page_id"`
	IGSID  string `json:"igsid"`
	// Memory asks for the stored dedup memory too (a fresh run; continued runs carry it).
	Memory bool `json:"memory,omitempty"`
}

// LoadConversationResult is what LoadConversation read.
type LoadConversationResult struct {
	Settings Settings `json:"settings"`
	Seen     Hashes   `json:"seen"`
	// Unsent: mids the customer unsent before their message came (UnsentWaiting), which the
	// last completed run could not match: a message Meta delivers late is not shown.
	Unsent Hashes `json:"unsent,omitzero"`
	// Notes the last completed run could not show (no room was open): the next room gets them.
	Notes []InstagramEvent `json:"notes,omitempty"`
}

// SaveConversationInput keeps the dedup memory of a run that completes, and the notes for
// the agents it could not post (the customer's next run posts them).
type SaveConversationInput struct {
	PageID string           `json:"page_id"`
	IGSID  string           `json:"igsid"`
	Seen   Hashes           `json:"seen"`
	Unsent Hashes           `json:"unsent,omitzero"`
	Notes  []InstagramEvent `json:"notes,omitempty"`
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
	// Department is the page's department the visitor was registered in (as configured): a
	// page now pointed at another one gets the visitor registered there first. (nil: the
	// caller does not know — the first version of the conversation.)
	Department *string `json:"department,omitempty"`
}

// OpenRoomResult tells whether a room is open, or no agent is available.
type OpenRoomResult struct {
	RoomID  string `json:"room_id,omitempty"`
	NoAgent bool   `json:"no_agent,omitempty"`
	Agent   string `json:"agent,omitempty"`
	// Visitor is set when the visitor was registered again (the page's department changed).
	Visitor *VisitorInfo `json:"visitor,omitempty"`
}

// Room item kinds: a customer message (posted as the visitor, with an _id derived from
// MID, so a retry cannot post it twice), a note for the agent (posted as the bot user, with
// an _id derived from its key), an edit or deletion of an earlier customer message, custom
// fields for the visitor, or media to upload.
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
	// MID is the key the message _id derives from (ItemMessage, ItemNote, ItemUpload), or the
	// key of the message to edit or delete.
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

// PostToRoomInput posts items into the room in order, in one activity call. It never holds
// an ItemUpload (those go one by one through UploadToRoom, which may take minutes).
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

// UploadInput copies one customer media item into the room (ItemUpload).
type UploadInput struct {
	PageID string   `json:"page_id"`
	IGSID  string   `json:"igsid"`
	RoomID string   `json:"room_id"`
	Item   RoomItem `json:"item"`
}

// ReplyCursor marks how far a room's agent messages have been handled: the messages in
// Done, and every message stamped before the floor (TS minus replyOverlap). Rocket.Chat's
// timestamps order the room's messages (its clock is compared only with itself); Done covers
// the overlap, where a message stamped earlier can become visible later. TS never moves past
// the handler's own clock, so one message stamped far in the future by a skewed server
// clock does not hide the messages that follow it.
type ReplyCursor struct {
	TS   time.Time   `json:"ts,omitzero"`
	Done []DoneReply `json:"done,omitempty"`
}

// DoneReply is a handled message within the overlap.
type DoneReply struct {
	ID string    `json:"i"`
	TS time.Time `json:"t"`
}

const (
	// replyOverlap: messages stamped this long before the cursor are read again (and
	// skipped by id).
	replyOverlap = time.Minute
	// doneLimit bounds Done (a room where more than this many agent messages share one
	// overlap window is not a conversation).
	doneLimit = 50
)

// Floor is the time before which every message is handled (zero: none is).
func (c ReplyCursor) Floor() time.Time {
	if c.TS.IsZero() {
		return time.Time{}
	}
	return c.TS.Add(-replyOverlap)
}

// Handled reports whether the message (id, stamped ts) was handled already.
func (c ReplyCursor) Handled(id string, ts time.Time) bool {
	if ts.Before(c.Floor()) {
		return true
	}
	for _, d := range c.Done {
		if d.ID == id {
			return true
		}
	}
	return false
}

// Advance records the message (id, ts) as handled at now.
func (c *ReplyCursor) Advance(id string, ts, now time.Time) {
	if t := minTime(ts, now); t.After(c.TS) {
		c.TS = t
	}
	c.Done = append(c.Done, DoneReply{ID: id, TS: ts})
	floor, kept := c.Floor(), c.Done[:0:0]
	for _, d := range c.Done {
		if !d.TS.Before(floor) {
			kept = append(kept, d)
		}
	}
	if len(kept) > doneLimit {
		kept = kept[len(kept)-doneLimit:]
	}
	c.Done = kept
}

// ReadUpTo moves the cursor up to ts (at most now): every message stamped before it has
// been read and each agent reply among them handled — the customer's messages and the
// bot's notes need not be read again.
func (c *ReplyCursor) ReadUpTo(ts, now time.Time) {
	if t := minTime(ts, now); t.After(c.TS) {
		c.TS = t
	}
	floor, kept := c.Floor(), c.Done[:0:0]
	for _, d := range c.Done {
		if !d.TS.Before(floor) {
			kept = append(kept, d)
		}
	}
	c.Done = kept
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// SyncRepliesInput sends the agent messages of a room not handled yet, in Rocket.Chat's
// order, reading them from the room's history.
type SyncRepliesInput struct {
	PageID string      `json:"page_id"`
	IGSID  string      `json:"igsid"`
	RoomID string      `json:"room_id"`
	Cursor ReplyCursor `json:"cursor"`
	// LastCustomerAt decides the messaging window: RESPONSE within 24 hours, the
	// HUMAN_AGENT tag up to 7 days, nothing after that.
	LastCustomerAt time.Time `json:"last_customer_at,omitzero"`
	// OtherAppOwns: another app holds thread control, so the handover_action setting
	// (take or request control) applies before sending.
	OtherAppOwns bool `json:"other_app_owns,omitempty"`
	// Resolved settles sends whose outcome was unknown: the delivery key and the mid of
	// Meta's echo that proved delivery, or "" when no echo came (send it again).
	Resolved []Resolution `json:"resolved,omitempty"`
	// Discard gives up on every reply waiting now (held for thread control too long): they
	// come back as Refused.
	Discard string `json:"discard,omitempty"`
	// Local: run within a local activity's budget; stop (Stop "continue") before a file, or
	// when the budget is spent.
	Local bool `json:"local,omitempty"`
}

// Resolution settles a delivery whose outcome was unknown.
type Resolution struct {
	Key string `json:"key"`
	MID string `json:"mid,omitempty"` // the echo's mid; "" = no echo came
	// Text and Since describe the send when no echo came: before it sends again, the activity
	// looks for a message of ours with that text since then in the Instagram thread (the echo
	// may be late or lost).
	Text  string    `json:"text,omitempty"`
	Type  string    `json:"type,omitempty"`
	Since time.Time `json:"since,omitzero"`
	// Attempt: only that attempt's outcome is settled (a later attempt's is its own).
	Attempt int `json:"attempt,omitempty"`
}

// SyncRepliesResult: what was sent and refused, how far the cursor moved, and why the sync
// stopped before the end of the room's messages (nil: it got to the end).
type SyncRepliesResult struct {
	Cursor  ReplyCursor    `json:"cursor"`
	Sent    []SentReply    `json:"sent,omitempty"`
	Refused []RefusedReply `json:"refused,omitempty"`
	Stop    *Stop          `json:"stop,omitempty"`
	// RoomGone: the room no longer exists for this visitor; nothing more can be read.
	RoomGone bool `json:"room_gone,omitempty"`
	// RoomClosed: the room's history shows it closed (its close webhook may be lost).
	RoomClosed bool `json:"room_closed,omitempty"`
	// PartMIDs are the mids of the parts sent of a reply that stopped before its end (its
	// echoes are ours).
	PartMIDs []string `json:"part_mids,omitempty"`
}

// SentReply is an agent message delivered to Instagram.
type SentReply struct {
	ID   string   `json:"id"`
	Text string   `json:"text,omitempty"` // short form, for quotes
	MIDs []string `json:"mids"`
}

// RefusedReply is an agent message that could not be delivered, for good.
type RefusedReply struct {
	ID     string `json:"id"`
	What   string `json:"what"`
	Reason string `json:"reason"`
	// Unconfirmed: a part's earlier send may have reached the customer (Instagram never
	// confirmed it either way, and can no longer be asked).
	Unconfirmed bool `json:"unconfirmed,omitempty"`
}

// Stop kinds: why a delivery stopped short.
const (
	// StopUnknown: Meta may or may not have taken a send (timeout, 5xx, a crash before the
	// answer was recorded). Its echo decides; Expect says what to look for.
	StopUnknown = "unknown"
	// StopHeld: another app owns the thread and Meta refused the send.
	StopHeld = "held"
	// StopAuth: the account's token is refused (needs re-authorization).
	StopAuth = "auth"
	// StopRetry: Meta or Rocket.Chat is unavailable or rate limits; try again after RetryAfter.
	StopRetry = "retry"
	// StopContinue: more to do; continue with a regular activity (Regular) or at once.
	StopContinue = "continue"
)

// Stop tells the workflow why a delivery stopped and what it waits for.
type Stop struct {
	Kind       string        `json:"kind"`
	Reason     string        `json:"reason,omitempty"`
	Expect     *Expectation  `json:"expect,omitempty"`
	RetryAfter time.Duration `json:"retry_after,omitempty"`
	Regular    bool          `json:"regular,omitempty"`
}

// Expectation is the echo that would prove an unknown-outcome send was delivered.
type Expectation struct {
	Key  string `json:"key"`            // delivery key of the send
	Text string `json:"text,omitempty"` // exact text of a text part
	Type string `json:"type,omitempty"` // attachment type of a file part
	// At: the send was made after this time (the activity's clock; zero: unknown). A
	// message of ours in Instagram's thread since then may be it (see Resolution).
	At time.Time `json:"at,omitzero"`
	// Attempt is the delivery intent's attempt whose outcome is unknown (0: not said).
	Attempt int `json:"attempt,omitempty"`
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

// PassBackResult names the app control went to ("" = none: no app is configured, or Meta
// refused).
type PassBackResult struct {
	To string `json:"to,omitempty"`
}

// SpoolEventsInput writes events of the inbound queue to PostgreSQL (inbound_spool), and
// deletes the ones read back up to Acked.
type SpoolEventsInput struct {
	PageID string           `json:"page_id"`
	IGSID  string           `json:"igsid"`
	Events []InstagramEvent `json:"events"`
	Acked  EventKey         `json:"acked,omitzero"`
}

// UnspoolEventsInput reads back the Limit first events after After (deleting those up to
// After: the conversation holds them).
type UnspoolEventsInput struct {
	PageID string   `json:"page_id"`
	IGSID  string   `json:"igsid"`
	After  EventKey `json:"after,omitzero"`
	Limit  int      `json:"limit"`
}

// UnspoolEventsResult: the events read, in order; Remaining events are left after them, the
// first of which is Next.
type UnspoolEventsResult struct {
	Events    []InstagramEvent `json:"events,omitempty"`
	Remaining int              `json:"remaining"`
	Next      EventKey         `json:"next,omitzero"`
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
	// Key is the delivery key: one per room and message, so it goes out at most once.
	Key string `json:"key"`
	// LastCustomerAt lets the activity respect Meta's 24-hour window for automated messages.
	LastCustomerAt time.Time `json:"last_customer_at,omitzero"`
	// Resolved settles an earlier attempt whose outcome was unknown.
	Resolved *Resolution `json:"resolved,omitempty"`
}

// SendAutomatedResult carries the text that was sent ("" when nothing was), or why it
// stopped (unknown outcome, account to authorize again, Meta unavailable).
type SendAutomatedResult struct {
	Text       string   `json:"text,omitempty"`
	MessageIDs []string `json:"message_ids,omitempty"`
	Skipped    string   `json:"skipped,omitempty"` // why nothing was sent
	Stop       *Stop    `json:"stop,omitempty"`
}

// NoteInput posts notes into a room as the bot user, best effort (a closed room may refuse).
type NoteInput struct {
	RoomID string `json:"room_id"`
	Key    string `json:"key"` // the note's _id derives from it
	Text   string `json:"text"`
}

// NoticeInput tells the admins in the setup channel, once per Key until the cause is
// cleared (Clear: forget every notice whose key starts with Key).
type NoticeInput struct {
	Key   string `json:"key"`
	Text  string `json:"text,omitempty"`
	Clear bool   `json:"clear,omitempty"`
	// Reason names the cause for the blocked-conversations metric ("" = no metric).
	Reason string `json:"reason,omitempty"`
}
