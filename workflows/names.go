// Package workflows holds the deterministic workflow code of the bridge and the names and
// payload types of its signals, queries and activities. It imports no client package:
// activities are invoked by name, and their inputs and outputs are declared here.
package workflows

import (
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
)

// Workflow type names.
const (
	ConversationWorkflowName = "Conversation"
)

// Signals and queries of the conversation workflow.
const (
	// SignalInstagram carries an InstagramBatch: one per conversation per Meta delivery
	// (ingress → workflow, SignalWithStart).
	SignalInstagram = "instagram-events"
	// SignalRocketChat carries a RocketChatEvent (ingress → workflow, Signal).
	SignalRocketChat = "rocketchat-event"
	// SignalWake carries a WakeEvent: a blocked conversation's cause may be gone (ingress
	// after an admin's change → workflow).
	SignalWake = "wake"
	// QueryState returns a StateView.
	QueryState = "state"
)

// Activity names. The activities package registers its methods under these names; the
// workflow refers to them only by name so it never links the HTTP clients.
const (
	ActivityLoadConversation = "LoadConversation"
	ActivitySaveConversation = "SaveConversation"
	ActivityRegisterVisitor  = "RegisterVisitor"
	ActivityOpenRoom         = "OpenRoom"
	ActivityPostToRoom       = "PostToRoom"
	ActivityUploadToRoom     = "UploadToRoom"
	ActivitySyncReplies      = "SyncReplies"
	ActivitySendAutomated    = "SendAutomated"
	ActivityPostNote         = "PostNote"
	ActivityPassBack         = "PassThreadControlBack"
	ActivityNotifyAdmins     = "NotifyAdmins"
	ActivitySpoolEvents      = "SpoolEvents"
	ActivityUnspoolEvents    = "UnspoolEvents"
)

// Application error types that activities return as non-retryable errors and the workflow
// switches on.
const (
	ErrRoomClosed         = "RoomClosed"         // the Rocket.Chat room is closed or gone
	ErrSendRejected       = "SendRejected"       // Meta refused the message for good
	ErrOutsideWindow      = "OutsideWindow"      // Meta's messaging window is closed
	ErrAuthExpired        = "AuthExpired"        // the page token is no longer valid
	ErrPageNotConnected   = "PageNotConnected"   // no token stored for the account
	ErrDepartmentNotFound = "DepartmentNotFound" // the page's department does not exist in Rocket.Chat
	ErrNoThreadControl    = "NoThreadControl"    // another app owns the thread; Meta refused the send
	ErrSendUnknown        = "SendOutcomeUnknown" // the Send API call may or may not have reached Meta
)

// Conversation states, also the values of the ConversationState search attribute.
const (
	StateWaitingForAgent = "waiting_for_agent"
	StateOpen            = "open"
	StateClosed          = "closed"
	// StateBlocked: the conversation cannot make progress by itself (the account is not
	// connected, its department does not exist, ...); StateView.BlockedReason says why.
	StateBlocked = "blocked"
)

// Search attributes for operators (design.md). They must exist on the namespace before a
// worker runs; see SearchAttributeTypes.
var (
	SAPageID     = temporal.NewSearchAttributeKeyKeyword("InstagramPageID")
	SAAccount    = temporal.NewSearchAttributeKeyKeyword("InstagramAccount")
	SAUsername   = temporal.NewSearchAttributeKeyKeyword("InstagramUsername")
	SARoomID     = temporal.NewSearchAttributeKeyKeyword("RocketChatRoomID")
	SADepartment = temporal.NewSearchAttributeKeyKeyword("RocketChatDepartment")
	SAState      = temporal.NewSearchAttributeKeyKeyword("ConversationState")
)

// SearchAttributeTypes lists every custom search attribute with its type, for registration
// (`temporal operator search-attribute create`) and the worker's start-up check.
var SearchAttributeTypes = map[string]enumspb.IndexedValueType{
	SAPageID.GetName():     enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	SAAccount.GetName():    enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	SAUsername.GetName():   enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	SARoomID.GetName():     enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	SADepartment.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	SAState.GetName():      enumspb.INDEXED_VALUE_TYPE_KEYWORD,
}
