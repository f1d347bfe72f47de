package instagram

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"unicode/utf8"
)

// ErrInvalidWebhook is wrapped by every ParseWebhook error.
var ErrInvalidWebhook = errors.New("instagram: invalid webhook body")

// Envelope is one webhook POST (§2.1). A single POST may batch several
// entries, even for different accounts (trap 5): iterate everything.
type Envelope struct {
	Object string  `json:"object"` // "instagram"; tolerate "page" (§2.1)
	Entry  []Entry `json:"entry"`
}

// Entry is one account's batch. ID is the IG professional account id
// (entry.id "0" for dashboard tests). Time is normalised to epoch ms.
// Events for threads another app owns arrive in Standby, not Messaging.
// Changes holds "changes"-style payloads (dashboard tests, §3.18) verbatim.
type Entry struct {
	ID        ID                `json:"id"`
	Time      int64             `json:"time"`
	Messaging []Messaging       `json:"messaging"`
	Standby   []Messaging       `json:"standby"`
	Changes   []json.RawMessage `json:"changes"`
}

// UnmarshalJSON implements json.Unmarshaler: time may be a number or a
// string, in seconds or ms (§2.1, trap 6).
func (e *Entry) UnmarshalJSON(b []byte) error {
	type plain Entry
	aux := struct {
		*plain
		Time json.RawMessage `json:"time"`
	}{plain: (*plain)(e)}
	if err := lenient(json.Unmarshal(b, &aux)); err != nil {
		return err
	}
	e.Time = toMillis(aux.Time)
	return nil
}

// Messaging is one event of messaging[]/standby[] (§3). Exactly one payload
// pointer is normally set; keys we do not know are listed in Unknown so the
// ingress can log each new kind once and still answer 200.
type Messaging struct {
	Sender struct {
		ID ID `json:"id"`
	} `json:"sender"`
	Recipient struct {
		ID ID `json:"id"`
	} `json:"recipient"`
	// Timestamp is epoch ms. Dashboard tests send string seconds; those
	// (any value below 1e11) are converted to ms.
	Timestamp int64 `json:"timestamp"`

	Message              *Message              `json:"message,omitempty"`
	Reaction             *Reaction             `json:"reaction,omitempty"`
	Read                 *Read                 `json:"read,omitempty"`
	Postback             *Postback             `json:"postback,omitempty"`
	Referral             *Referral             `json:"referral,omitempty"`
	MessageEdit          *MessageEdit          `json:"message_edit,omitempty"`
	PassThreadControl    *PassThreadControl    `json:"pass_thread_control,omitempty"`
	TakeThreadControl    *TakeThreadControl    `json:"take_thread_control,omitempty"`
	RequestThreadControl *RequestThreadControl `json:"request_thread_control,omitempty"`
	AppRoles             map[string][]string   `json:"app_roles,omitempty"`
	Optin                json.RawMessage       `json:"optin,omitempty"`

	// Unknown lists, sorted, the top-level keys that are none of the above.
	Unknown []string `json:"-"`
}

// knownMessagingKeys are the keys Messaging decodes (§3 intro).
var knownMessagingKeys = map[string]bool{
	"sender": true, "recipient": true, "timestamp": true,
	"message": true, "reaction": true, "read": true, "postback": true, "referral": true,
	"message_edit": true, "pass_thread_control": true, "take_thread_control": true,
	"request_thread_control": true, "app_roles": true, "optin": true,
}

// UnmarshalJSON implements json.Unmarshaler. It never fails on shapes: a
// field of an unexpected type is left zero, so one odd event cannot drop
// the rest of the batch.
func (m *Messaging) UnmarshalJSON(b []byte) error {
	type plain Messaging
	aux := struct {
		*plain
		Timestamp json.RawMessage `json:"timestamp"`
	}{plain: (*plain)(m)}
	if err := lenient(json.Unmarshal(b, &aux)); err != nil {
		return err
	}
	m.Timestamp = toMillis(aux.Timestamp)
	var keys map[string]json.RawMessage
	if json.Unmarshal(b, &keys) == nil {
		for k := range keys {
			if !knownMessagingKeys[k] {
				m.Unknown = append(m.Unknown, k)
			}
		}
		sort.Strings(m.Unknown)
	}
	return nil
}

// Message is a customer message, an echo of a business message (IsEcho,
// sender/recipient inverted — trap 9) or an unsend (IsDeleted: only MID is
// set, trap 11). Text may be empty (attachments, referral openers).
type Message struct {
	MID           string              `json:"mid"`
	Text          string              `json:"text"`
	IsEcho        bool                `json:"is_echo"`
	IsDeleted     bool                `json:"is_deleted"`
	IsUnsupported bool                `json:"is_unsupported"`
	Attachments   []MessageAttachment `json:"attachments"`
	// QuickReply.Payload is what to route on; Text is only the button title.
	QuickReply *struct {
		Payload string `json:"payload"`
	} `json:"quick_reply"`
	ReplyTo  *ReplyTo  `json:"reply_to"`
	Referral *Referral `json:"referral"`
}

// ReplyTo is an inline reply to a message (MID, possibly one we never saw)
// or a story reply (Story).
type ReplyTo struct {
	MID   string `json:"mid"`
	Story *struct {
		URL string `json:"url"`
		ID  ID     `json:"id"`
	} `json:"story"`
}

// Reaction is a react/unreact on MID; unreact carries no Reaction/Emoji.
type Reaction struct {
	MID      string `json:"mid"`
	Action   string `json:"action"`   // react | unreact
	Reaction string `json:"reaction"` // love, like, laugh, wow, sad, angry, other
	Emoji    string `json:"emoji"`
}

// Read is a seen receipt for MID (Instagram uses mid, not watermark).
type Read struct {
	MID string `json:"mid"`
}

// Postback is an ice breaker, button or persistent-menu tap; it opens the
// 24 h window. MID may be absent (ice breakers).
type Postback struct {
	MID      string    `json:"mid"`
	Title    string    `json:"title"`
	Payload  string    `json:"payload"`
	Referral *Referral `json:"referral"`
}

// Referral tells where a conversation came from (ads, ig.me links, shop).
// Source may be SHORTLINKS or SHORTLINK (§3.7).
type Referral struct {
	Ref            string          `json:"ref"`
	Source         string          `json:"source"`
	Type           string          `json:"type"`
	AdID           ID              `json:"ad_id"`
	AdsContextData json.RawMessage `json:"ads_context_data"`
	Product        *struct {
		ID ID `json:"id"`
	} `json:"product"`
}

// MessageEdit is a Messenger-shape edit (Instagram delivery UNCERTAIN,
// §3.10). Spec gap: num_edit is documented as an int but shown as a
// string; both are accepted, anything else reads as 0.
type MessageEdit struct {
	MID     string `json:"mid"`
	Text    string `json:"text"`
	NumEdit int    `json:"num_edit"`
}

// UnmarshalJSON implements json.Unmarshaler for the int-or-string num_edit.
func (e *MessageEdit) UnmarshalJSON(b []byte) error {
	type plain MessageEdit
	aux := struct {
		*plain
		NumEdit json.RawMessage `json:"num_edit"`
	}{plain: (*plain)(e)}
	if err := lenient(json.Unmarshal(b, &aux)); err != nil {
		return err
	}
	n, _ := parseFlexInt(aux.NumEdit)
	e.NumEdit = int(n)
	return nil
}

// PassThreadControl is sent to the app receiving control.
// PreviousOwnerAppID is empty when the thread was idle or in older payloads.
type PassThreadControl struct {
	PreviousOwnerAppID ID     `json:"previous_owner_app_id"`
	NewOwnerAppID      ID     `json:"new_owner_app_id"`
	Metadata           string `json:"metadata"`
}

// TakeThreadControl is sent to the app losing control.
type TakeThreadControl struct {
	PreviousOwnerAppID ID     `json:"previous_owner_app_id"`
	NewOwnerAppID      ID     `json:"new_owner_app_id"`
	Metadata           string `json:"metadata"`
}

// RequestThreadControl is sent to the current owner.
type RequestThreadControl struct {
	RequestedOwnerAppID ID     `json:"requested_owner_app_id"`
	Metadata            string `json:"metadata"`
}

// ParseWebhook decodes a webhook body. It is strict about syntax (invalid
// JSON or UTF-8, a non-object body, or a missing "object" is an error
// wrapping ErrInvalidWebhook) and lenient about shapes: unknown keys,
// unknown attachment types, number-vs-string ids and fields of unexpected
// types never fail the batch.
func ParseWebhook(body []byte) (*Envelope, error) {
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("%w: not valid UTF-8", ErrInvalidWebhook)
	}
	if !json.Valid(body) {
		return nil, fmt.Errorf("%w: not valid JSON", ErrInvalidWebhook)
	}
	if t := bytes.TrimSpace(body); len(t) == 0 || t[0] != '{' {
		return nil, fmt.Errorf("%w: not a JSON object", ErrInvalidWebhook)
	}
	var env Envelope
	if err := lenient(json.Unmarshal(body, &env)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidWebhook, err)
	}
	if env.Object == "" {
		return nil, fmt.Errorf("%w: missing \"object\"", ErrInvalidWebhook)
	}
	return &env, nil
}

// lenient drops *json.UnmarshalTypeError: encoding/json keeps decoding the
// remaining fields after a type mismatch and only reports the first one,
// so ignoring it yields "every field that had the expected shape".
func lenient(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return nil
	}
	return err
}

// toMillis reads a timestamp sent as a number or string; values below 1e11
// are taken as seconds (dashboard tests, "changes" webhooks) and converted.
//
// Spec gap (§2.1, trap 6): only string seconds are documented; we apply the
// < 1e11 rule to numbers too (no real ms timestamp is that small) and to
// entry.time as well as messaging[].timestamp, so both are always ms.
func toMillis(raw json.RawMessage) int64 {
	v, ok := parseFlexInt(raw)
	if !ok {
		return 0
	}
	if v > 0 && v < 1e11 {
		v *= 1000
	}
	return v
}
