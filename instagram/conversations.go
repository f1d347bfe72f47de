package instagram

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// The Conversations API (read-only): what Instagram's thread with a customer holds. The
// bridge reads it for one thing: when a send's answer was lost and no echo came, whether
// the message is in the thread after all, before sending it again (issue 19). Its limit is
// 2 calls/s per account (spec §5), so it is read only then.
//
// Written from Meta's "Conversations API for Messenger Platform" and the Graph reference of
// Conversation and Message (the spec mentions only the list, §8.1): the thread with one
// person is GET /{page-id}/conversations?platform=instagram&user_id=IGSID; its messages
// (newest first, id and created_time) GET /{conversation-id}?fields=messages; a message's
// details GET /{message-id}?fields=id,created_time,from,to,message — for the 20 most recent
// messages only (older ones answer an error saying the message was deleted).

// ThreadMessage is a message of an Instagram thread.
type ThreadMessage struct {
	ID      string
	Created time.Time
	FromID  string // the sender's id: the IGSID, or the business's Instagram account id
	Text    string // "" for an attachment alone
}

// ConversationID returns the id of the page's Instagram thread with igsid ("" when they
// never talked).
func (c *Client) ConversationID(ctx context.Context, pageID, pageToken, igsid string) (string, error) {
	if pageID == "" || igsid == "" {
		return "", fmt.Errorf("%w: empty page id or igsid", ErrInvalidRequest)
	}
	var out struct {
		Data []struct {
			ID ID `json:"id"`
		} `json:"data"`
	}
	err := c.do(ctx, call{method: http.MethodGet, path: seg(pageID) + "/conversations",
		query: url.Values{"platform": {"instagram"}, "user_id": {igsid}}, token: pageToken, proof: true, usageID: pageID}, &out)
	if err != nil || len(out.Data) == 0 {
		return "", err
	}
	return string(out.Data[0].ID), nil
}

// ThreadMessageIDs lists a thread's messages, newest first: id and time only (their
// details are readable for the 20 most recent).
func (c *Client) ThreadMessageIDs(ctx context.Context, pageToken, conversationID string) ([]ThreadMessage, error) {
	if conversationID == "" {
		return nil, fmt.Errorf("%w: empty conversation id", ErrInvalidRequest)
	}
	var out struct {
		Messages struct {
			Data []struct {
				ID      ID        `json:"id"`
				Created graphTime `json:"created_time"`
			} `json:"data"`
		} `json:"messages"`
	}
	err := c.do(ctx, call{method: http.MethodGet, path: seg(conversationID),
		query: url.Values{"fields": {"messages"}}, token: pageToken, proof: true}, &out)
	if err != nil {
		return nil, err
	}
	msgs := make([]ThreadMessage, 0, len(out.Messages.Data))
	for _, m := range out.Messages.Data {
		msgs = append(msgs, ThreadMessage{ID: string(m.ID), Created: time.Time(m.Created)})
	}
	return msgs, nil
}

// ThreadMessageDetails reads one message of a thread.
func (c *Client) ThreadMessageDetails(ctx context.Context, pageToken, messageID string) (ThreadMessage, error) {
	if messageID == "" {
		return ThreadMessage{}, fmt.Errorf("%w: empty message id", ErrInvalidRequest)
	}
	var out struct {
		ID      ID        `json:"id"`
		Created graphTime `json:"created_time"`
		From    struct {
			ID ID `json:"id"`
		} `json:"from"`
		Message string `json:"message"`
	}
	err := c.do(ctx, call{method: http.MethodGet, path: seg(messageID),
		query: url.Values{"fields": {"id,created_time,from,to,message"}}, token: pageToken, proof: true}, &out)
	if err != nil {
		return ThreadMessage{}, err
	}
	return ThreadMessage{ID: string(out.ID), Created: time.Time(out.Created), FromID: string(out.From.ID), Text: out.Message}, nil
}

// graphTime is a Graph timestamp: Meta's answers carry ISO 8601 with a "+0000" offset
// ("2022-05-31T15:10:32+0000"); the Conversations guide's example shows a UNIX timestamp
// instead (as a placeholder), so seconds since the epoch, as a number or a string, are
// accepted too. Anything else is the zero time.
type graphTime time.Time

func (t *graphTime) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if secs, ok := parseFlexInt(b); ok {
		*t = graphTime(time.Unix(secs, 0).UTC())
		return nil
	}
	var s string
	if json.Unmarshal(b, &s) != nil {
		*t = graphTime{}
		return nil
	}
	for _, layout := range []string{"2006-01-02T15:04:05-0700", time.RFC3339Nano} {
		if v, err := time.Parse(layout, s); err == nil {
			*t = graphTime(v.UTC())
			return nil
		}
	}
	*t = graphTime{}
	return nil
}
