package instagram

import (
	"context"
	"fmt"
	"net/http"
)

// QuickReply is one text quick-reply button (content_type "text"). Titles
// over 20 characters are truncated by Instagram, not rejected (§4.2).
type QuickReply struct{ Title, Payload string }

// Attachment is a media attachment sent by public URL or by a previously
// uploaded attachment_id. Type is image|video|audio|file.
type Attachment struct{ Type, URL, AttachmentID string }

// SendRequest is one Send API message (spec §4.2). Exactly one of Text or
// Attachment must be set: Instagram takes one attachment per call (trap 24),
// so captions are sent as a separate text message.
type SendRequest struct {
	Recipient     string // IGSID
	Text          string
	QuickReplies  []QuickReply
	Attachment    *Attachment
	MessagingType string // "RESPONSE" (default when empty) | "UPDATE" | "MESSAGE_TAG"
	Tag           string // "HUMAN_AGENT" with MESSAGE_TAG
	ReplyToMID    string // top-level reply_to.mid
}

// SendResponse is the Send API answer. MessageID equals the mid of the echo
// webhook that will follow, which is the only way to recognise our own sends
// (trap 9): store it before acting on echoes.
type SendResponse struct{ RecipientID, MessageID string }

// Wire shapes. Field order mirrors Meta's examples in §4.3.
type (
	wireRecipient struct {
		ID string `json:"id"`
	}
	wireQuickReply struct {
		ContentType string `json:"content_type"`
		Title       string `json:"title"`
		Payload     string `json:"payload"`
	}
	wireAttachmentPayload struct {
		URL          string `json:"url,omitempty"`
		AttachmentID string `json:"attachment_id,omitempty"`
	}
	wireAttachment struct {
		Type    string                `json:"type"`
		Payload wireAttachmentPayload `json:"payload"`
	}
	wireMessage struct {
		Text         string           `json:"text,omitempty"`
		Attachment   *wireAttachment  `json:"attachment,omitempty"`
		QuickReplies []wireQuickReply `json:"quick_replies,omitempty"`
	}
	wireReplyTo struct {
		MID string `json:"mid"`
	}
	wireSend struct {
		Recipient     wireRecipient `json:"recipient"`
		MessagingType string        `json:"messaging_type"`
		Tag           string        `json:"tag,omitempty"`
		Message       wireMessage   `json:"message"`
		ReplyTo       *wireReplyTo  `json:"reply_to,omitempty"` // top-level, not in message (trap 23)
	}
	wireSenderAction struct {
		Recipient    wireRecipient `json:"recipient"`
		SenderAction string        `json:"sender_action"`
	}
	wireSendResponse struct {
		RecipientID ID `json:"recipient_id"`
		MessageID   ID `json:"message_id"`
	}
)

// Send posts one message through the Page flow:
// POST {graph}/{v}/{pageID}/messages?access_token=…&appsecret_proof=….
// It never retries: a failed or timed-out send may still have been
// delivered (no idempotency key, trap 25).
func (c *Client) Send(ctx context.Context, pageID, pageToken string, req SendRequest) (SendResponse, error) {
	body, err := buildSend(req)
	if err != nil {
		return SendResponse{}, err
	}
	if pageID == "" {
		return SendResponse{}, fmt.Errorf("%w: empty page id", ErrInvalidRequest)
	}
	var out wireSendResponse
	err = c.do(ctx, call{method: http.MethodPost, path: seg(pageID) + "/messages", body: body,
		token: pageToken, proof: true, usageID: pageID}, &out)
	if err != nil {
		return SendResponse{}, err
	}
	return SendResponse{RecipientID: string(out.RecipientID), MessageID: string(out.MessageID)}, nil
}

func buildSend(req SendRequest) (wireSend, error) {
	if req.Recipient == "" {
		return wireSend{}, fmt.Errorf("%w: empty recipient", ErrInvalidRequest)
	}
	hasAtt := req.Attachment != nil
	if (req.Text == "") == !hasAtt {
		return wireSend{}, fmt.Errorf("%w: exactly one of text or attachment is required", ErrInvalidRequest)
	}
	w := wireSend{Recipient: wireRecipient{ID: req.Recipient}, MessagingType: req.MessagingType, Tag: req.Tag}
	if w.MessagingType == "" {
		w.MessagingType = "RESPONSE"
	}
	if w.MessagingType == "MESSAGE_TAG" && w.Tag == "" {
		return wireSend{}, fmt.Errorf("%w: MESSAGE_TAG without tag", ErrInvalidRequest)
	}
	w.Message.Text = req.Text
	if hasAtt {
		a := req.Attachment
		if a.Type == "" || (a.URL == "") == (a.AttachmentID == "") {
			return wireSend{}, fmt.Errorf("%w: attachment needs a type and exactly one of url or attachment id", ErrInvalidRequest)
		}
		w.Message.Attachment = &wireAttachment{Type: a.Type, Payload: wireAttachmentPayload{URL: a.URL, AttachmentID: a.AttachmentID}}
	}
	for _, q := range req.QuickReplies {
		w.Message.QuickReplies = append(w.Message.QuickReplies, wireQuickReply{ContentType: "text", Title: q.Title, Payload: q.Payload})
	}
	if req.ReplyToMID != "" {
		w.ReplyTo = &wireReplyTo{MID: req.ReplyToMID}
	}
	return w, nil
}

// Sender actions accepted by SenderAction. react/unreact need a payload and
// are not offered here.
const (
	ActionTypingOn  = "typing_on"
	ActionTypingOff = "typing_off"
	ActionMarkSeen  = "mark_seen"
)

// SenderAction sends typing_on, typing_off or mark_seen. The request must
// contain only recipient and sender_action (trap 22).
func (c *Client) SenderAction(ctx context.Context, pageID, pageToken, recipient, action string) error {
	switch action {
	case ActionTypingOn, ActionTypingOff, ActionMarkSeen:
	default:
		return fmt.Errorf("%w: unsupported sender action %q", ErrInvalidRequest, action)
	}
	if pageID == "" || recipient == "" {
		return fmt.Errorf("%w: empty page id or recipient", ErrInvalidRequest)
	}
	body := wireSenderAction{Recipient: wireRecipient{ID: recipient}, SenderAction: action}
	return c.do(ctx, call{method: http.MethodPost, path: seg(pageID) + "/messages", body: body,
		token: pageToken, proof: true, usageID: pageID}, nil)
}
