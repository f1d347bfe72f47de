package rocketchat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Message is a Livechat message as the visitor API returns it. EditedAt is
// zero when the message was never edited.
type Message struct {
	ID, RID, Msg, Token string
	TS                  time.Time
	EditedAt            time.Time
}

type wireMessage struct {
	ID       string   `json:"_id"`
	RID      string   `json:"rid"`
	Msg      string   `json:"msg"`
	Token    string   `json:"token"`
	TS       flexTime `json:"ts"`
	EditedAt flexTime `json:"editedAt"`
}

func (w wireMessage) message() Message {
	return Message{ID: w.ID, RID: w.RID, Msg: w.Msg, Token: w.Token, TS: time.Time(w.TS), EditedAt: time.Time(w.EditedAt)}
}

// flexTime reads REST dates: ISO-8601 strings per the spec (§0), and
// tolerates EJSON {"$date": ms} and bare epoch-ms numbers seen on DDP-era
// servers. Anything else is the zero time.
type flexTime time.Time

func (t *flexTime) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*t = flexTime{}
	switch {
	case len(b) == 0 || string(b) == "null":
	case b[0] == '"':
		var s string
		if json.Unmarshal(b, &s) == nil {
			if v, err := time.Parse(time.RFC3339Nano, s); err == nil {
				*t = flexTime(v)
			}
		}
	case b[0] == '{':
		var d struct {
			Date json.RawMessage `json:"$date"`
		}
		if json.Unmarshal(b, &d) == nil && len(d.Date) > 0 {
			return t.UnmarshalJSON(d.Date)
		}
	default:
		var ms json.Number
		if json.Unmarshal(b, &ms) == nil {
			if v, err := ms.Int64(); err == nil {
				*t = flexTime(time.UnixMilli(v).UTC())
			}
		}
	}
	return nil
}

type wireMessageBody struct {
	Token string `json:"token"`
	RID   string `json:"rid"`
	Msg   string `json:"msg,omitempty"`
	ID    string `json:"_id,omitempty"`
}

// SendMessage posts a visitor message with our own _id
// (POST livechat/message; the schema is strict, so only token, rid, msg and
// _id are sent — trap 8). Re-sending an _id that exists is safe: when the
// server refuses it, the stored message is fetched, and if it is this
// visitor's it is returned as success — in whichever room of the visitor it
// was posted (a redelivery after the room closed finds it in the old room).
//
// Spec gap (§5.1, §16): the duplicate-_id answer is not documented. Older
// servers fail the Mongo insert (E11000 duplicate key); newer ones skip the
// insert (sendMessage.ts: "messageAlreadyExists") and the route answers
// API.v1.failure() — {"success":false} with no error text. A raw Mongo error
// may also surface as a generic 500. Each of these is followed by a
// GET livechat/message/:_id probe, which looks the message up by _id alone
// (message.ts), so it finds a message of an earlier room too.
func (c *Client) SendMessage(ctx context.Context, visitorToken, rid, id, text string) (Message, error) {
	if visitorToken == "" || rid == "" {
		return Message{}, fmt.Errorf("%w: empty visitor token or room id", ErrInvalidRequest)
	}
	if text == "" {
		// msg is required by the schema; an empty one is a 400 anyway.
		return Message{}, fmt.Errorf("%w: empty message text", ErrInvalidRequest)
	}
	var out struct {
		Message wireMessage `json:"message"`
	}
	err := c.do(ctx, request{method: http.MethodPost, path: "livechat/message",
		body: wireMessageBody{Token: visitorToken, RID: rid, Msg: text, ID: id}, secrets: []string{visitorToken}}, &out)
	if err == nil {
		return out.Message.message(), nil
	}
	if id == "" || !maybeDuplicate(err) {
		return Message{}, err
	}
	m, gerr := c.GetMessage(ctx, visitorToken, rid, id)
	if gerr != nil || m.ID != id || m.Token != visitorToken {
		return Message{}, err // the original failure is the meaningful one
	}
	return m, nil
}

// maybeDuplicate reports whether err could be the refusal of an _id that
// already exists.
func maybeDuplicate(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	text := e.Message + " " + e.Type + " " + e.Reason
	if strings.Contains(text, "E11000") || strings.Contains(strings.ToLower(text), "duplicate key") || e.HTTPStatus >= 500 {
		return true
	}
	// API.v1.failure() without a message: {"success":false}.
	return e.HTTPStatus == http.StatusBadRequest && strings.TrimSpace(e.Message+e.Type+e.Reason) == ""
}

// GetMessage fetches one message (GET livechat/message/:_id?token=&rid=).
func (c *Client) GetMessage(ctx context.Context, visitorToken, rid, id string) (Message, error) {
	if visitorToken == "" || rid == "" || id == "" {
		return Message{}, fmt.Errorf("%w: empty visitor token, room id or message id", ErrInvalidRequest)
	}
	var out struct {
		Message wireMessage `json:"message"`
	}
	err := c.do(ctx, request{method: http.MethodGet, path: "livechat/message/" + url.PathEscape(id),
		query: url.Values{"token": {visitorToken}, "rid": {rid}}, secrets: []string{visitorToken}}, &out)
	if err != nil {
		return Message{}, err
	}
	return out.Message.message(), nil
}

// UpdateMessage edits a visitor message (PUT livechat/message/:_id). Needs
// Message_AllowEditing; otherwise error-action-not-allowed (trap 24).
func (c *Client) UpdateMessage(ctx context.Context, visitorToken, rid, id, text string) (Message, error) {
	if visitorToken == "" || rid == "" || id == "" || text == "" {
		return Message{}, fmt.Errorf("%w: empty visitor token, room id, message id or text", ErrInvalidRequest)
	}
	var out struct {
		Message wireMessage `json:"message"`
	}
	err := c.do(ctx, request{method: http.MethodPut, path: "livechat/message/" + url.PathEscape(id),
		body: wireMessageBody{Token: visitorToken, RID: rid, Msg: text}, secrets: []string{visitorToken}}, &out)
	if err != nil {
		return Message{}, err
	}
	return out.Message.message(), nil
}

// DeleteMessage deletes a visitor message. The token and rid travel in a
// JSON body even though the method is DELETE (trap 19).
func (c *Client) DeleteMessage(ctx context.Context, visitorToken, rid, id string) error {
	if visitorToken == "" || rid == "" || id == "" {
		return fmt.Errorf("%w: empty visitor token, room id or message id", ErrInvalidRequest)
	}
	return c.do(ctx, request{method: http.MethodDelete, path: "livechat/message/" + url.PathEscape(id),
		body: wireMessageBody{Token: visitorToken, RID: rid}, secrets: []string{visitorToken}}, nil)
}
