package rocketchat

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// PostAttachment is a chat.postMessage attachment (§11.3).
type PostAttachment struct {
	Title, TitleLink, Text, Color string
	Actions                       []Action
}

// Action is a button on an attachment. Type defaults to "button". With URL it opens the
// link; with Msg instead, a click sends Msg into the room as the user who clicked
// (msg_in_chat_window), as if they had typed it.
type Action struct{ Type, Text, URL, Msg string }

type wireAction struct {
	Type            string `json:"type"`
	Text            string `json:"text"`
	URL             string `json:"url,omitempty"`
	Msg             string `json:"msg,omitempty"`
	MsgInChatWindow bool   `json:"msg_in_chat_window,omitempty"`
}

type wirePostAttachment struct {
	Title     string       `json:"title,omitempty"`
	TitleLink string       `json:"title_link,omitempty"`
	Text      string       `json:"text,omitempty"`
	Color     string       `json:"color,omitempty"`
	Actions   []wireAction `json:"actions,omitempty"`
}

type wirePost struct {
	Channel     string               `json:"channel,omitempty"`
	RoomID      string               `json:"roomId,omitempty"`
	Text        string               `json:"text,omitempty"`
	Attachments []wirePostAttachment `json:"attachments,omitempty"`
}

// PostMessage posts as the bot user (POST chat.postMessage). channel is
// "#name", "@username" or a room id.
//
// Spec gap: §11.3 lists attachments fields but not button actions; we send
// Rocket.Chat's message-attachment action shape {type:"button",text,url}.
func (c *Client) PostMessage(ctx context.Context, channel, text string, attachments []PostAttachment) error {
	if channel == "" {
		return fmt.Errorf("%w: empty channel", ErrInvalidRequest)
	}
	if text == "" && len(attachments) == 0 {
		return fmt.Errorf("%w: nothing to post", ErrInvalidRequest)
	}
	body := wirePost{Text: text}
	// A bare room ID goes in roomId: it is the target field made for IDs (§11.3), whereas
	// channel is documented for #name and @username first.
	if strings.HasPrefix(channel, "#") || strings.HasPrefix(channel, "@") {
		body.Channel = channel
	} else {
		body.RoomID = channel
	}
	for _, a := range attachments {
		wa := wirePostAttachment{Title: a.Title, TitleLink: a.TitleLink, Text: a.Text, Color: a.Color}
		for _, act := range a.Actions {
			typ := act.Type
			if typ == "" {
				typ = "button"
			}
			wa.Actions = append(wa.Actions, wireAction{Type: typ, Text: act.Text, URL: act.URL, Msg: act.Msg, MsgInChatWindow: act.Msg != ""})
		}
		body.Attachments = append(body.Attachments, wa)
	}
	return c.do(ctx, request{method: http.MethodPost, path: "chat.postMessage", body: body, auth: true}, nil)
}

// SendNote posts text as the bot user into a room, under the message _id given, so a retry
// cannot post it twice (POST chat.sendMessage {message:{_id, rid, msg}}). Rocket.Chat does
// not insert a message whose _id exists (functions/sendMessage.ts: messageAlreadyExists →
// return), so a repeated call is harmless whatever it answers.
//
// Spec gap: chat.sendMessage is not in the spec (§11 covers chat.postMessage, which takes no
// _id); this follows Rocket.Chat's source: the route takes {message, previewUrls?}, message
// must name rid, _id is optional. The answer to a repeated _id is not specified: callers
// treat any refusal that is not transient as "not posted now" and move on.
func (c *Client) SendNote(ctx context.Context, rid, id, text string) error {
	if rid == "" || id == "" || text == "" {
		return fmt.Errorf("%w: empty room id, message id or text", ErrInvalidRequest)
	}
	body := struct {
		Message struct {
			ID  string `json:"_id"`
			RID string `json:"rid"`
			Msg string `json:"msg"`
		} `json:"message"`
	}{}
	body.Message.ID, body.Message.RID, body.Message.Msg = id, rid, text
	return c.do(ctx, request{method: http.MethodPost, path: "chat.sendMessage", body: body, auth: true}, nil)
}
