package rocketchat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// ErrInvalidPayload is wrapped by ParseWebhook and ParseOutgoing errors.
var ErrInvalidPayload = errors.New("rocketchat: invalid payload")

// Omnichannel webhook types (§10.5).
const (
	TypeMessage          = "Message"
	TypeSessionStart     = "LivechatSessionStart"
	TypeSessionQueued    = "LivechatSessionQueued"
	TypeSessionTaken     = "LivechatSessionTaken"
	TypeSessionForwarded = "LivechatSessionForwarded"
	TypeSession          = "LivechatSession" // room closed
	TypeEdit             = "LivechatEdit"
	TypeLeadCapture      = "LeadCapture"
	TypeOfflineMessage   = "LivechatOfflineMessage"
)

// WebhookTokenHeader carries the shared secret Rocket.Chat sends with
// Omnichannel webhooks when one is configured (trap 16).
const WebhookTokenHeader = "X-RocketChat-Livechat-Token"

// WebhookPayload is an Omnichannel webhook body (§10.3–10.5). ID is the
// room id (rid); Visitor.Token maps back to the Instagram user. Message
// webhooks carry exactly one entry; the session types carry the visible
// history (trap 12).
type WebhookPayload struct {
	Type    string `json:"type"`
	ID      string `json:"_id"`
	Visitor struct {
		ID         string `json:"_id"`
		Token      string `json:"token"`
		Name       string `json:"name"`
		Username   string `json:"username"`
		Department string `json:"department"`
	} `json:"visitor"`
	Agent        *WebhookAgent    `json:"agent,omitempty"`
	Messages     []WebhookMessage `json:"messages"`
	DepartmentID string           `json:"departmentId,omitempty"`
	ServedBy     *struct {
		ID       string `json:"_id"`
		Username string `json:"username"`
	} `json:"servedBy,omitempty"`
	ClosedAt string `json:"closedAt,omitempty"`
	Closer   string `json:"closer,omitempty"` // "user" | "visitor"
	CrmData  string `json:"crmData,omitempty"`
}

// WebhookAgent is the serving agent. Email is the first address.
type WebhookAgent struct {
	ID       string `json:"_id"`
	Username string `json:"username"`
	Name     string `json:"name"`
	Email    string `json:"email"`
}

// WebhookMessage is one messages[] entry (§10.4). AgentID is set for every
// non-visitor author — agents, bots and the closing system message — so
// forward only entries with AgentID and without ClosingMessage (trap 13).
// File messages may have no Msg; FileUpload.PublicFilePath is the only
// absolute download URL (trap 14). Dedupe on (ID, EditedAt) (trap 15).
type WebhookMessage struct {
	ID             string `json:"_id"`
	Username       string `json:"username"`
	Msg            string `json:"msg"`
	TS             string `json:"ts"`
	RID            string `json:"rid"`
	AgentID        string `json:"agentId,omitempty"`
	EditedAt       string `json:"editedAt,omitempty"`
	ClosingMessage bool   `json:"closingMessage,omitempty"`
	U              struct {
		ID       string `json:"_id"`
		Username string `json:"username"`
		Name     string `json:"name"`
	} `json:"u"`
	File        *WebhookFile      `json:"file,omitempty"`
	Attachments []json.RawMessage `json:"attachments,omitempty"`
	FileUpload  *struct {
		PublicFilePath string `json:"publicFilePath"`
		Type           string `json:"type"`
		Size           int64  `json:"size"`
	} `json:"fileUpload,omitempty"`
	Blocks json.RawMessage `json:"blocks,omitempty"`
}

// WebhookFile is the message's file descriptor.
type WebhookFile struct {
	ID   string `json:"_id"`
	Name string `json:"name"`
	Type string `json:"type"`
	Size int64  `json:"size"`
}

// ParseWebhook decodes an Omnichannel webhook body. Syntax is strict
// (invalid JSON/UTF-8, a non-object, or a missing "type" is an error);
// shapes are lenient: unknown keys are ignored and a field of an
// unexpected type (visitor.email arrays vs strings, trap 5) is left zero
// instead of failing. Verify the X-RocketChat-Livechat-Token header before
// calling this; there is no signature (trap 16).
func ParseWebhook(body []byte) (*WebhookPayload, error) {
	if err := checkObject(body); err != nil {
		return nil, err
	}
	var p WebhookPayload
	if err := lenient(json.Unmarshal(body, &p)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPayload, err)
	}
	if p.Type == "" {
		return nil, fmt.Errorf("%w: missing \"type\"", ErrInvalidPayload)
	}
	return &p, nil
}

// OutgoingMessage is an outgoing-integration ("Message Sent") POST body
// (§12). There is no auth header: compare Token with the configured one.
// Bot is true for messages posted by integrations; use it to avoid loops.
type OutgoingMessage struct {
	Token       string `json:"token"`
	Bot         bool   `json:"bot"`
	TriggerWord string `json:"trigger_word,omitempty"`
	ChannelID   string `json:"channel_id"`
	ChannelName string `json:"channel_name"`
	MessageID   string `json:"message_id"`
	Timestamp   string `json:"timestamp"`
	UserID      string `json:"user_id"`
	UserName    string `json:"user_name"`
	Text        string `json:"text"`
	SiteURL     string `json:"siteUrl"`
}

// UnmarshalJSON accepts "bot" as a boolean or as the message's bot object
// ({"i": integrationId}); any non-empty object means true.
//
// Spec gap: §12 shows "bot": false and says it "becomes true" for
// integration messages without fixing the JSON type; both forms are read.
func (o *OutgoingMessage) UnmarshalJSON(b []byte) error {
	type plain OutgoingMessage
	aux := struct {
		*plain
		Bot json.RawMessage `json:"bot"`
	}{plain: (*plain)(o)}
	if err := lenient(json.Unmarshal(b, &aux)); err != nil {
		return err
	}
	v := bytes.TrimSpace(aux.Bot)
	o.Bot = len(v) > 0 && string(v) != "null" && string(v) != "false" && string(v) != "{}" && string(v) != `""`
	return nil
}

// ParseOutgoing decodes an outgoing-integration body; strict syntax,
// lenient shapes, like ParseWebhook.
func ParseOutgoing(body []byte) (*OutgoingMessage, error) {
	if err := checkObject(body); err != nil {
		return nil, err
	}
	var o OutgoingMessage
	if err := lenient(json.Unmarshal(body, &o)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPayload, err)
	}
	return &o, nil
}

func checkObject(body []byte) error {
	if !utf8.Valid(body) {
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalidPayload)
	}
	if !json.Valid(body) {
		return fmt.Errorf("%w: not valid JSON", ErrInvalidPayload)
	}
	if t := bytes.TrimSpace(body); len(t) == 0 || t[0] != '{' {
		return fmt.Errorf("%w: not a JSON object", ErrInvalidPayload)
	}
	return nil
}

// lenient drops *json.UnmarshalTypeError: encoding/json keeps decoding
// after a type mismatch, so the result holds every well-shaped field.
func lenient(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return nil
	}
	return err
}
