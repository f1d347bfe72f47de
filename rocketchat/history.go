package rocketchat

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// HistoryMessage is a message of a Livechat room as the visitor API lists it (§5.5): the
// stored message, with file messages normalised with fileUpload. Token is set on the
// visitor's own messages; T on system messages.
type HistoryMessage struct {
	ID    string
	RID   string
	Msg   string
	Token string
	T     string
	TS    time.Time
	U     HistoryUser
	// File is the message's file (nil for other messages); FilePath its download path,
	// validated (see FileUploadPath) — empty when the message's file reference is not one we
	// would fetch.
	File     *WebhookFile
	FilePath string
	Blocks   json.RawMessage
	// Attachments are the message's attachments other than its file's: a quote of another
	// message, a link preview, an app's card. Their text is for the agents' eyes; Instagram
	// has nothing to show them with.
	Attachments []HistoryAttachment
	// Unreadable names the fields of the message whose shape this client does not know (an
	// older Rocket.Chat's, an app's): they are left out, the rest of the message is read.
	Unreadable []string
}

// HistoryAttachment is what a message's non-file attachment says.
type HistoryAttachment struct {
	Title string `json:"title"`
	Text  string `json:"text"`
	// Description is a file attachment's caption (file messages only).
	Description string `json:"description"`
	// Type is "file" on a file message's own attachment.
	Type string `json:"type"`
}

// HistoryUser is a message's author.
type HistoryUser struct{ ID, Username, Name string }

type wireHistoryMessage struct {
	ID    string   `json:"_id"`
	RID   string   `json:"rid"`
	Msg   string   `json:"msg"`
	Token string   `json:"token"`
	T     string   `json:"t"`
	TS    flexTime `json:"ts"`
	U     struct {
		ID       string `json:"_id"`
		Username string `json:"username"`
		Name     string `json:"name"`
	} `json:"u"`
	File        json.RawMessage `json:"file"`
	Blocks      json.RawMessage `json:"blocks"`
	Attachments json.RawMessage `json:"attachments"`
}

// History lists a room's messages, newest first: at most limit of them, all older than
// end when end is set (GET livechat/messages.history/:rid?token=&limit=&end=). It works on
// closed rooms too (the route looks the room up by id and visitor token, open or not).
//
// Spec gap (§5.5): the maximum limit is not documented; callers page with end.
func (c *Client) History(ctx context.Context, visitorToken, rid string, end time.Time, limit int) ([]HistoryMessage, error) {
	msgs, _, err := c.HistoryPage(ctx, visitorToken, rid, end, limit)
	return msgs, err
}

// HistoryPage is History, with how many messages Rocket.Chat listed (unreadable ones
// included): a caller paging back knows the end by that count, not by what it could read.
func (c *Client) HistoryPage(ctx context.Context, visitorToken, rid string, end time.Time, limit int) ([]HistoryMessage, int, error) {
	if visitorToken == "" || rid == "" {
		return nil, 0, fmt.Errorf("%w: empty visitor token or room id", ErrInvalidRequest)
	}
	q := url.Values{"token": {visitorToken}}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if !end.IsZero() {
		q.Set("end", end.UTC().Format("2006-01-02T15:04:05.000Z"))
	}
	var out struct {
		Messages []json.RawMessage `json:"messages"`
	}
	err := c.do(ctx, request{method: http.MethodGet, path: "livechat/messages.history/" + url.PathEscape(rid),
		query: q, secrets: []string{visitorToken}}, &out)
	if err != nil {
		return nil, 0, err
	}
	msgs := make([]HistoryMessage, 0, len(out.Messages))
	for _, raw := range out.Messages {
		if m, ok := decodeHistoryMessage(raw); ok {
			msgs = append(msgs, m)
		}
	}
	return msgs, len(out.Messages), nil
}

// decodeHistoryMessage reads one listed message. The fields every message has (id, time,
// author, text) must read, or the message is skipped: without them it cannot be placed or
// answered. The others (file, attachments, blocks) are read one by one, and one of a shape
// this client does not know is named in Unreadable instead of losing the whole message —
// an agent's reply would otherwise be dropped without anyone being told (issue 19).
func decodeHistoryMessage(raw json.RawMessage) (HistoryMessage, bool) {
	var w wireHistoryMessage
	if json.Unmarshal(raw, &w) != nil || w.ID == "" {
		return HistoryMessage{}, false
	}
	m := HistoryMessage{ID: w.ID, RID: w.RID, Msg: w.Msg, Token: w.Token, T: w.T, TS: time.Time(w.TS),
		U: HistoryUser{ID: w.U.ID, Username: w.U.Username, Name: w.U.Name}}
	if present(w.File) {
		var f WebhookFile
		if json.Unmarshal(w.File, &f) == nil && f.ID != "" {
			m.File, m.FilePath = &f, filePathOf(&f)
		} else {
			m.Unreadable = append(m.Unreadable, "file")
		}
	}
	if present(w.Blocks) {
		var blocks []json.RawMessage
		if json.Unmarshal(w.Blocks, &blocks) == nil {
			m.Blocks = w.Blocks
		} else {
			m.Unreadable = append(m.Unreadable, "blocks")
		}
	}
	if present(w.Attachments) {
		var atts []HistoryAttachment
		if json.Unmarshal(w.Attachments, &atts) != nil {
			m.Unreadable = append(m.Unreadable, "attachments")
		}
		for _, a := range atts {
			if a.Type != "file" {
				m.Attachments = append(m.Attachments, a)
			}
		}
	}
	return m, true
}

func present(raw json.RawMessage) bool { return len(raw) > 0 && string(raw) != "null" }

// filePathOf is the download path of a message's file, built from the file's own id and
// name only (never from an attachment's title_link or publicFilePath, which a message's
// author controls): "" when they are not plain.
func filePathOf(f *WebhookFile) string {
	p, err := FileUploadPath(f.ID, f.Name)
	if err != nil {
		return ""
	}
	return p
}
