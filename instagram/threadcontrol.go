package instagram

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Well-known inbox app ids (§6): target_app_id values for handing a thread
// to a human in Meta's own inboxes.
const (
	PageInboxAppID      = "263902037430900"
	InstagramInboxAppID = "1217981644879628"
)

type wireThreadControl struct {
	Recipient   wireRecipient `json:"recipient"`
	TargetAppID any           `json:"target_app_id,omitempty"`
	Metadata    string        `json:"metadata,omitempty"`
}

// successResponse is {"success":true}; Meta has been seen answering
// "true" as a string too (§8.1), so both count.
type successResponse struct {
	Success json.RawMessage `json:"success"`
}

// check is a call.check: it must be bound to the value do() decodes into.
func (s *successResponse) check() string {
	if strings.Trim(strings.TrimSpace(string(s.Success)), `"`) == "true" {
		return ""
	}
	return "response did not report success"
}

// threadControl posts one of the Conversation Routing / handover calls of
// §6 with a JSON body and checks {"success":true}.
func (c *Client) threadControl(ctx context.Context, op, pageID, pageToken, recipient, targetAppID, metadata string) error {
	if pageID == "" || recipient == "" {
		return fmt.Errorf("%w: empty page id or recipient", ErrInvalidRequest)
	}
	body := wireThreadControl{Recipient: wireRecipient{ID: recipient}, Metadata: metadata}
	if targetAppID != "" {
		// Spec gap: §6 does not give target_app_id's JSON type; the only
		// example (legacy [HOREF]) sends a number, so numeric ids are sent
		// as a JSON number and anything else as a string.
		if isDigits(targetAppID) {
			body.TargetAppID = json.Number(targetAppID)
		} else {
			body.TargetAppID = targetAppID
		}
	}
	var out successResponse
	return c.do(ctx, call{method: http.MethodPost, path: seg(pageID) + "/" + op, body: body,
		token: pageToken, proof: true, usageID: pageID, check: out.check}, &out)
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// PassThreadControl hands the thread to targetAppID (empty = the Page's
// default app when Conversation Routing is on). The new owner gets a
// pass_thread_control webhook.
func (c *Client) PassThreadControl(ctx context.Context, pageID, pageToken, recipient, targetAppID, metadata string) error {
	return c.threadControl(ctx, "pass_thread_control", pageID, pageToken, recipient, targetAppID, metadata)
}

// TakeThreadControl takes the thread from its current owner (requires
// Conversation Routing and takeover permission in Page settings).
func (c *Client) TakeThreadControl(ctx context.Context, pageID, pageToken, recipient, metadata string) error {
	return c.threadControl(ctx, "take_thread_control", pageID, pageToken, recipient, "", metadata)
}

// RequestThreadControl asks the owner for the thread (only without
// Conversation Routing; an idle thread is passed immediately).
func (c *Client) RequestThreadControl(ctx context.Context, pageID, pageToken, recipient, metadata string) error {
	return c.threadControl(ctx, "request_thread_control", pageID, pageToken, recipient, "", metadata)
}

// ReleaseThreadControl returns the thread to idle. No webhook is sent.
func (c *Client) ReleaseThreadControl(ctx context.Context, pageID, pageToken, recipient, metadata string) error {
	return c.threadControl(ctx, "release_thread_control", pageID, pageToken, recipient, "", metadata)
}

// ThreadOwner returns the app id owning the thread, or "" when the thread is
// idle or the owner is hidden from us (non-owners only see expiration, §6).
// Spec gap: app_id's JSON type is not fixed; string or number is accepted.
func (c *Client) ThreadOwner(ctx context.Context, pageID, pageToken, recipient string) (string, error) {
	if pageID == "" || recipient == "" {
		return "", fmt.Errorf("%w: empty page id or recipient", ErrInvalidRequest)
	}
	var out struct {
		Data []struct {
			ThreadOwner struct {
				AppID ID `json:"app_id"`
			} `json:"thread_owner"`
		} `json:"data"`
	}
	err := c.do(ctx, call{method: http.MethodGet, path: seg(pageID) + "/thread_owner",
		query: url.Values{"recipient": {recipient}}, token: pageToken, proof: true, usageID: pageID}, &out)
	if err != nil {
		return "", err
	}
	for _, d := range out.Data {
		if d.ThreadOwner.AppID != "" {
			return string(d.ThreadOwner.AppID), nil
		}
	}
	return "", nil
}
