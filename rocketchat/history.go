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
	File   *WebhookFile    `json:"file"`
	Blocks json.RawMessage `json:"blocks"`
}

// History lists a room's messages, newest first: at most limit of them, all older than
// end when end is set (GET livechat/messages.history/:rid?token=&limit=&end=). It works on
// closed rooms too (the route looks the room up by id and visitor token, open or not).
//
// Spec gap (§5.5): the maximum limit is not documented; callers page with end.
func (c *Client) History(ctx context.Context, visitorToken, rid string, end time.Time, limit int) ([]HistoryMessage, error) {
	if visitorToken == "" || rid == "" {
		return nil, fmt.Errorf("%w: empty visitor token or room id", ErrInvalidRequest)
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
		return nil, err
	}
	msgs := make([]HistoryMessage, 0, len(out.Messages))
	for _, raw := range out.Messages {
		var w wireHistoryMessage
		if json.Unmarshal(raw, &w) != nil {
			continue // a message of an unexpected shape is not one of ours to act on
		}
		m := HistoryMessage{ID: w.ID, RID: w.RID, Msg: w.Msg, Token: w.Token, T: w.T, TS: time.Time(w.TS),
			U: HistoryUser{ID: w.U.ID, Username: w.U.Username, Name: w.U.Name}, File: w.File, Blocks: w.Blocks}
		if w.File != nil {
			m.FilePath = filePathOf(w.File)
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

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
