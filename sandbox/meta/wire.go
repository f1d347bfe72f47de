package meta

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Event is one element of an entry's messaging[] / standby[] array.
type Event = map[string]any

// Entry is one element of the webhook envelope's entry[] array. It marshals
// to Meta's shape {"id","time","messaging"|"standby"} with empty arrays
// omitted; Time is epoch milliseconds (§2.1).
type Entry struct {
	ID        string
	Time      int64
	Messaging []Event
	Standby   []Event
}

// MarshalJSON writes the entry in Meta's key order.
func (e Entry) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	if err := writeJSON(&b, e, "entry"); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// UnmarshalJSON accepts Meta's entry shape (id/time as string or number).
func (e *Entry) UnmarshalJSON(data []byte) error {
	var raw struct {
		ID        any     `json:"id"`
		Time      any     `json:"time"`
		Messaging []Event `json:"messaging"`
		Standby   []Event `json:"standby"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return err
	}
	e.ID = idString(raw.ID)
	if t := idString(raw.Time); t != "" {
		n, err := strconv.ParseInt(t, 10, 64)
		if err != nil {
			return fmt.Errorf("entry.time: %w", err)
		}
		e.Time = n
	}
	e.Messaging, e.Standby = raw.Messaging, raw.Standby
	return nil
}

// idString renders an id given as a JSON string or number.
func idString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	}
	return ""
}

// Sign computes the webhook signature headers exactly like Meta (§1.2):
// "sha256=<hex HMAC-SHA256>" and "sha1=<hex HMAC-SHA1>" over the given bytes,
// keyed with the app secret, lowercase hex.
func (s *Server) Sign(body []byte) (sha256Header, sha1Header string) {
	m := hmac.New(sha256.New, []byte(s.opts.AppSecret))
	m.Write(body)
	m1 := hmac.New(sha1.New, []byte(s.opts.AppSecret))
	m1.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil)), "sha1=" + hex.EncodeToString(m1.Sum(nil))
}

// EscapeUnicode turns a JSON document's non-ASCII chars into \uXXXX
// (lowercase hex; astral chars as UTF-16 surrogate pairs), as Meta does
// before signing and sending (§1.2). Invalid UTF-8 becomes \ufffd. Non-ASCII
// bytes can only occur inside JSON strings, so a byte-level rewrite is exact.
func EscapeUnicode(b []byte) []byte {
	ascii := true
	for _, c := range b {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return append([]byte(nil), b...)
	}
	out := make([]byte, 0, len(b)+len(b)/2)
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			out = append(out, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r > 0xFFFF {
			r1, r2 := utf16.EncodeRune(r)
			out = appendU(out, r1)
			out = appendU(out, r2)
		} else {
			out = appendU(out, r) // includes utf8.RuneError for invalid bytes
		}
		i += size
	}
	return out
}

const hexDigits = "0123456789abcdef"

func appendU(out []byte, r rune) []byte {
	return append(out, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}

// ---- ordered JSON writer ----

// kv/object is an ordered JSON object.
type kv struct {
	k string
	v any
}
type object []kv

// keyOrders gives Meta's key order for objects, by the key of the parent
// (for array elements: the key of the array). Keys not listed follow in
// alphabetical order. Order matters for fidelity: a verifier that
// re-serialises parsed JSON (e.g. with sorted keys) must fail here as it
// would against Meta.
var keyOrders = map[string][]string{
	"":             {"object", "entry"},
	"entry":        {"id", "time", "messaging", "standby", "changes"},
	"messaging":    eventOrder,
	"standby":      eventOrder,
	"sender":       {"id"},
	"recipient":    {"id"},
	"message":      {"mid", "text", "attachments", "quick_reply", "reply_to", "referral", "is_echo", "is_deleted", "is_unsupported"},
	"message_edit": {"mid", "text", "num_edit"},
	"reaction":     {"mid", "action", "reaction", "emoji"},
	"read":         {"mid"},
	"postback":     {"mid", "title", "payload", "referral"},
	"referral":     {"ref", "ad_id", "source", "type", "ads_context_data", "product"},
	"attachments":  {"type", "payload"},
	"payload":      {"url", "title", "reel_video_id", "story_media_url"},
	"reply_to":     {"mid", "story"},
	"story":        {"url", "id"},

	"pass_thread_control":    {"previous_owner_app_id", "new_owner_app_id", "metadata"},
	"take_thread_control":    {"previous_owner_app_id", "new_owner_app_id", "metadata"},
	"request_thread_control": {"requested_owner_app_id", "metadata"},
}

var eventOrder = []string{"sender", "recipient", "timestamp", "message", "message_edit", "reaction", "read", "postback", "referral", "optin",
	"pass_thread_control", "take_thread_control", "request_thread_control", "app_roles"}

func orderKeys(parent string, m map[string]any) []string {
	order := keyOrders[parent]
	out := make([]string, 0, len(m))
	seen := make(map[string]bool, len(order))
	for _, k := range order {
		if _, ok := m[k]; ok {
			out = append(out, k)
			seen[k] = true
		}
	}
	rest := make([]string, 0, len(m)-len(out))
	for k := range m {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// marshalOrdered serialises v with Meta's key order, raw UTF-8, no HTML
// escaping.
func marshalOrdered(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := writeJSON(&b, v, ""); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func writeJSON(b *bytes.Buffer, v any, parent string) error {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case object:
		b.WriteByte('{')
		for i, p := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, p.k)
			b.WriteByte(':')
			if err := writeJSON(b, p.v, p.k); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case map[string]any:
		b.WriteByte('{')
		for i, k := range orderKeys(parent, x) {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, k)
			b.WriteByte(':')
			if err := writeJSON(b, x[k], k); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case Entry:
		o := object{{"id", x.ID}, {"time", x.Time}}
		if len(x.Messaging) > 0 {
			o = append(o, kv{"messaging", x.Messaging})
		}
		if len(x.Standby) > 0 {
			o = append(o, kv{"standby", x.Standby})
		}
		return writeJSON(b, o, parent)
	case []Entry:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeJSON(b, e, parent); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case []Event:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeJSON(b, e, parent); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeJSON(b, e, parent); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case string:
		writeString(b, x)
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case json.Number:
		b.WriteString(string(x))
	case int:
		b.WriteString(strconv.Itoa(x))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		j, err := json.Marshal(x)
		if err != nil {
			return err
		}
		b.Write(j)
	case json.RawMessage:
		n, err := normalize(x)
		if err != nil {
			return err
		}
		return writeJSON(b, n, parent)
	default:
		j, err := json.Marshal(x)
		if err != nil {
			return err
		}
		n, err := normalize(j)
		if err != nil {
			return err
		}
		return writeJSON(b, n, parent)
	}
	return nil
}

// normalize decodes JSON into map[string]any / []any / json.Number / string
// / bool / nil.
func normalize(j []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func writeString(b *bytes.Buffer, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"':
				b.WriteString(`\"`)
			case c == '\\':
				b.WriteString(`\\`)
			case c == '\n':
				b.WriteString(`\n`)
			case c == '\r':
				b.WriteString(`\r`)
			case c == '\t':
				b.WriteString(`\t`)
			case c < 0x20:
				b.Write(appendU(nil, rune(c)))
			default:
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\ufffd`)
		case r == '\u2028' || r == '\u2029':
			b.Write(appendU(nil, r))
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
}

// escapeSlashes rewrites "/" as "\/" (only valid inside JSON strings, which
// is the only place "/" can occur in JSON).
func escapeSlashes(b []byte) []byte {
	if !bytes.Contains(b, []byte("/")) {
		return b
	}
	return bytes.ReplaceAll(b, []byte("/"), []byte(`\/`))
}

// encodeWire serialises v the way Meta puts it on the wire: Meta key order,
// non-ASCII \u-escaped unless RawUTF8, optional slash escaping.
func (s *Server) encodeWire(v any) ([]byte, error) {
	b, err := marshalOrdered(v)
	if err != nil {
		return nil, err
	}
	if !s.opts.RawUTF8 {
		b = EscapeUnicode(b)
	}
	if s.opts.EscapeSlashes {
		b = escapeSlashes(b)
	}
	return b, nil
}

// envelopeBody builds the signed webhook body for entries (§2.1).
func (s *Server) envelopeBody(entries []Entry) ([]byte, error) {
	return s.encodeWire(object{{"object", "instagram"}, {"entry", entries}})
}

// ---- event builders ----

func newEvent(sender, recipient string, ts time.Time, key string, payload any) Event {
	return Event{
		"sender":    map[string]any{"id": sender},
		"recipient": map[string]any{"id": recipient},
		"timestamp": ts.UnixMilli(),
		key:         payload,
	}
}

// NewTextEvent builds a customer text message event (with a fresh mid)
// without delivering it. It does record the message as the user's latest
// activity at ts (creating the user if unknown), so the messaging window and
// profile consent behave as if Meta had received it, and the message is in
// the user's conversation (Conversations API) at ts.
func (s *Server) NewTextEvent(igAccountID, igsid, text string, ts time.Time) Event {
	mid := s.newMID(igAccountID, igsid)
	ev := newEvent(igsid, igAccountID, ts, "message", map[string]any{"mid": mid, "text": text})
	s.mu.Lock()
	s.recordUserActivityLocked(igAccountID, igsid, ts)
	s.recordEventLocked(igAccountID, ev) // Meta has it: the Conversations API lists it (conversations.go)
	s.mu.Unlock()
	return ev
}

// NewEvent builds a customer event of any kind (key "message", "reaction",
// "read", "postback", "referral", "message_edit", …) at ts without delivering
// it or recording anything.
func (s *Server) NewEvent(igAccountID, igsid string, ts time.Time, key string, payload map[string]any) Event {
	return newEvent(igsid, igAccountID, ts, key, payload)
}

// NewEntry wraps events of one IG account into an Entry with time = now.
func (s *Server) NewEntry(igAccountID string, events ...Event) Entry {
	return Entry{ID: igAccountID, Time: s.Now().UnixMilli(), Messaging: events}
}

// NewMID returns a fresh Instagram-style message id.
func (s *Server) NewMID(igAccountID, igsid string) string { return s.newMID(igAccountID, igsid) }

// UserSendsText is a customer sending a text DM: it builds the event, opens
// the 24 h window and enqueues the webhook. Returns the mid.
func (s *Server) UserSendsText(igAccountID, igsid, text string) string {
	return s.UserSends(igAccountID, igsid, map[string]any{"text": text})
}

// UserSends is a customer sending a message object (text, attachments,
// quick_reply, reply_to, referral, is_deleted…). A fresh mid is added unless
// the object already has one (e.g. for {"mid":…,"is_deleted":true}).
// Everything except unsends opens the window. Returns the mid.
func (s *Server) UserSends(igAccountID, igsid string, message map[string]any) string {
	msg := make(map[string]any, len(message)+1)
	for k, v := range message {
		msg[k] = v
	}
	mid, _ := msg["mid"].(string)
	if mid == "" {
		mid = s.newMID(igAccountID, igsid)
		msg["mid"] = mid
	}
	s.UserEvent(igAccountID, igsid, "message", msg)
	return mid
}

// UserEvent enqueues a customer event of any kind with timestamp = now.
// message (except is_deleted), postback and referral events open the
// messaging window (§4.4). The event goes to entry[].standby[] instead of
// messaging[] while another app owns the thread (§3.17, routing.go).
func (s *Server) UserEvent(igAccountID, igsid, key string, payload map[string]any) Event {
	s.mu.Lock()
	now := s.nowLocked()
	s.ensureUserLocked(igAccountID, igsid)
	opens := key == "postback" || key == "referral"
	if key == "message" {
		del, _ := payload["is_deleted"].(bool)
		opens = !del
	}
	if opens {
		s.recordUserActivityLocked(igAccountID, igsid, now)
	}
	// §3.17 / §6: while another app owns the thread, our app gets the event
	// under standby[] instead of messaging[].
	standby := s.inboundStandbyLocked(igAccountID, igsid, now, opens)
	s.mu.Unlock()
	ev := newEvent(igsid, igAccountID, now, key, payload)
	s.Enqueue(wrapEntry(igAccountID, now, ev, standby))
	return ev
}

// wrapEntry puts one event into an entry's messaging[] or standby[].
func wrapEntry(acct string, now time.Time, ev Event, standby bool) Entry {
	if standby {
		return Entry{ID: acct, Time: now.UnixMilli(), Standby: []Event{ev}}
	}
	return Entry{ID: acct, Time: now.UnixMilli(), Messaging: []Event{ev}}
}

// UserReacts enqueues a reaction ("love", "like", …; "" = unreact) to mid (§3.11).
func (s *Server) UserReacts(igAccountID, igsid, mid, reaction string) {
	if reaction == "" {
		s.UserEvent(igAccountID, igsid, "reaction", map[string]any{"mid": mid, "action": "unreact"})
		return
	}
	p := map[string]any{"mid": mid, "action": "react", "reaction": reaction}
	if e, ok := reactionEmoji[reaction]; ok {
		p["emoji"] = e
	}
	s.UserEvent(igAccountID, igsid, "reaction", p)
}

var reactionEmoji = map[string]string{"love": "\u2764\ufe0f", "like": "\U0001f44d", "laugh": "\U0001f602", "wow": "\U0001f62e", "sad": "\U0001f622", "angry": "\U0001f620"}

// UserUnsends enqueues an unsend of mid: {"mid":…,"is_deleted":true} (§3.9).
func (s *Server) UserUnsends(igAccountID, igsid, mid string) {
	s.UserEvent(igAccountID, igsid, "message", map[string]any{"mid": mid, "is_deleted": true})
}

// UserSeen enqueues a read event for mid (§3.12).
func (s *Server) UserSeen(igAccountID, igsid, mid string) {
	s.UserEvent(igAccountID, igsid, "read", map[string]any{"mid": mid})
}
