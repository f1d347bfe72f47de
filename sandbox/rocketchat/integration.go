package rocketchat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Outgoing WebHook integration, event "Message Sent" (spec §12).
//
// SendCommand plays a workspace user typing a message into a channel that
// has an outgoing integration: the message is stored in the channel, the
// §12 payload is POSTed to the integration URL, and the response is handled
// like triggerHandler does — a 200/201/202 JSON answer with `text` or
// `attachments` is posted into the room (or the response's `channel`) as the
// integration's "Post as" user; a 410 with a body disables the integration.
//
// Spec gaps (choices made here):
//   - An integration is identified by its URL: a 410 disables that URL until
//     EnableOutgoingIntegration; SendCommand then fails with
//     ErrIntegrationDisabled and posts nothing.
//   - Outgoing integrations are only fired by SendCommand, not by every
//     message stored in the channel (e.g. chat.postMessage).
//   - "Retry Failed Calls" is not emulated: failures are never retried.
//   - A response `channel` naming an unknown room drops the reply (the real
//     server logs an invalid-channel error); SendCommand reports Posted=false.
//   - Unknown user names get a generated user id, stable per name.
//   - No SSRF filtering of private targets (§12 says it is unverified).

// OutgoingIntegration configures the emulated outgoing integration. Zero
// values mean: no trigger words (every message fires), post as the bot user,
// no alias/emoji/avatar, 20 s timeout.
type OutgoingIntegration struct {
	// TriggerWords: if set, the message must start with one of them (or
	// contain one when TriggerWordsAnywhere); the match is sent as trigger_word.
	TriggerWords         []string `json:"triggerWords,omitempty"`
	TriggerWordsAnywhere bool     `json:"triggerWordsAnywhere,omitempty"`
	// PostAs is the username replies are posted as (default: the bot user).
	PostAs string `json:"postAs,omitempty"`
	// Alias, Emoji, Avatar are the integration's defaults for posted replies.
	Alias  string `json:"alias,omitempty"`
	Emoji  string `json:"emoji,omitempty"`
	Avatar string `json:"avatar,omitempty"`
	// Timeout bounds the POST (default 20 s, §12).
	Timeout time.Duration `json:"-"`
}

// Attachment is a Rocket.Chat message attachment as used by integrations and
// chat.postMessage (the fields the bridge uses; others are kept in the raw
// message).
type Attachment struct {
	Title     string             `json:"title,omitempty"`
	TitleLink string             `json:"title_link,omitempty"`
	Text      string             `json:"text,omitempty"`
	Color     string             `json:"color,omitempty"`
	ImageURL  string             `json:"image_url,omitempty"`
	Actions   []AttachmentAction `json:"actions,omitempty"`
}

// AttachmentAction is an attachment button (type "button").
type AttachmentAction struct {
	Type            string `json:"type,omitempty"`
	Text            string `json:"text,omitempty"`
	URL             string `json:"url,omitempty"`
	Msg             string `json:"msg,omitempty"`
	IsWebview       bool   `json:"is_webview,omitempty"`
	MsgInChatWindow bool   `json:"msg_in_chat_window,omitempty"`
}

// CommandReply is what happened to one SendCommand.
type CommandReply struct {
	Status      int          `json:"status"`      // HTTP status of the integration's answer
	Text        string       `json:"text"`        // `text` of a JSON answer
	Attachments []Attachment `json:"attachments"` // `attachments` of a JSON answer
	Posted      bool         `json:"posted"`      // the answer was posted into a room
	// Additions.
	Channel   string `json:"channel,omitempty"`   // room name the answer was posted to
	MessageID string `json:"messageId,omitempty"` // id of the posted answer
	CommandID string `json:"commandId"`           // message_id of the user's message
	Disabled  bool   `json:"disabled,omitempty"`  // this answer (410) disabled the integration
}

var (
	// ErrIntegrationDisabled: the integration answered 410 earlier.
	ErrIntegrationDisabled = errors.New("rocketchat: outgoing integration disabled (the target answered 410)")
	// ErrNotTriggered: trigger words are configured and the text matches none;
	// the message is stored but nothing is sent.
	ErrNotTriggered = errors.New("rocketchat: message does not match the integration's trigger words")
	// ErrChannelNotFound: SendCommand into a channel that does not exist.
	ErrChannelNotFound = errors.New("rocketchat: channel not found")
)

// outgoingUserAgent is the fixed browser User-Agent of integration calls (§12).
const outgoingUserAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/41.0.2227.0 Safari/537.36"

type outgoingState struct {
	disabled map[string]bool   // by integration URL
	userIDs  map[string]string // generated ids of unknown user names
}

// SetOutgoingIntegration replaces the outgoing integration settings.
func (s *Server) SetOutgoingIntegration(cfg OutgoingIntegration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.Outgoing = cfg
}

// OutgoingIntegrationDisabled reports whether the integration at url was
// disabled by a 410.
func (s *Server) OutgoingIntegrationDisabled(url string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.outgoing.disabled[url]
}

// EnableOutgoingIntegration re-enables an integration disabled by a 410 (the
// admin ticking "Enabled" again).
func (s *Server) EnableOutgoingIntegration(url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.outgoing.disabled, url)
}

// SendCommand: userName types text into channelName, which fires the
// outgoing integration at url with the given token (§12). The user's message
// is stored in the channel first (ChannelMessages shows it and the posted
// answer). It returns an error for unknown channels, disabled integrations,
// untriggered messages and transport failures; HTTP error statuses are not
// errors (see CommandReply.Status).
func (s *Server) SendCommand(ctx context.Context, url, token, channelName, userName, text string) (CommandReply, error) {
	s.mu.Lock()
	cfg := s.opts.Outgoing
	ch := s.channelByNameOrID(channelName)
	if ch == nil {
		s.mu.Unlock()
		return CommandReply{}, fmt.Errorf("%w: %s", ErrChannelNotFound, channelName)
	}
	uid := s.userIDLocked(userName)
	now := s.nowMS()
	m := &msgRec{ID: s.randomID(), RID: ch.ID, Msg: text, U: userRef{ID: uid, Username: userName, Name: userName},
		TS: now, UpdatedAt: now, Channel: true}
	ch.Msgs = append(ch.Msgs, m)
	s.notifyLocked()
	reply := CommandReply{CommandID: m.ID}
	if s.outgoing.disabled[url] {
		s.mu.Unlock()
		return reply, ErrIntegrationDisabled
	}
	trigger, ok := matchTrigger(cfg, text)
	if !ok {
		s.mu.Unlock()
		return reply, ErrNotTriggered
	}
	payload := obj{{"token", token}, {"bot", false}}
	if trigger != "" {
		payload = append(payload, field{"trigger_word", trigger})
	}
	payload = append(payload, field{"channel_id", ch.ID}, field{"channel_name", ch.Name}, field{"message_id", m.ID},
		field{"timestamp", iso(m.TS)}, field{"user_id", uid}, field{"user_name", userName}, field{"text", text},
		field{"siteUrl", s.siteURL()})
	s.mu.Unlock()

	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 20 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodPost, url, bytes.NewReader(mustMarshal(payload)))
	if err != nil {
		return reply, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", outgoingUserAgent)
	resp, err := s.client.Do(req)
	if err != nil {
		return reply, fmt.Errorf("rocketchat: outgoing integration call failed: %w", err)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 10<<20))
	resp.Body.Close()
	if err != nil {
		return reply, fmt.Errorf("rocketchat: reading outgoing integration answer: %w", err)
	}
	reply.Status = resp.StatusCode
	content := strings.TrimSpace(string(body)) != ""

	switch resp.StatusCode {
	case http.StatusOK, http.StatusCreated, http.StatusAccepted:
	case http.StatusGone:
		// "410 with body ⇒ integration is disabled" (§12).
		if content {
			s.mu.Lock()
			if s.outgoing.disabled == nil {
				s.outgoing.disabled = map[string]bool{}
			}
			s.outgoing.disabled[url] = true
			s.mu.Unlock()
			reply.Disabled = true
			s.log.Warn("rocketchat: outgoing integration disabled by 410", "url", url)
		}
		return reply, nil
	default:
		// 500 with body is logged, others would be retried only with
		// "Retry Failed Calls" (not emulated).
		s.log.Warn("rocketchat: outgoing integration failed", "url", url, "status", resp.StatusCode)
		return reply, nil
	}
	if !content || !jsonContentType(resp.Header.Get("Content-Type")) {
		return reply, nil
	}
	var ans map[string]any
	if json.Unmarshal(body, &ans) != nil || ans == nil {
		return reply, nil
	}
	reply.Text, _ = ans["text"].(string)
	if raw, ok := ans["attachments"]; ok && raw != nil {
		b, _ := json.Marshal(raw)
		_ = json.Unmarshal(b, &reply.Attachments)
	}
	// JS truthiness: a non-empty text or any attachments value (even []).
	if reply.Text == "" && ans["attachments"] == nil {
		return reply, nil
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	target := ch
	if c, _ := ans["channel"].(string); c != "" {
		target = s.channelByNameOrID(c) // "#name", "name", room id or an "@user" direct pseudo channel
		if target == nil {
			s.log.Warn("rocketchat: outgoing integration answer to unknown channel", "channel", c)
			return reply, nil
		}
	}
	author := s.postAsLocked(cfg.PostAs)
	pm := &msgRec{ID: s.randomID(), RID: target.ID, Msg: reply.Text, U: author, TS: s.nowMS(), Channel: true,
		Alias:  firstNonEmpty(str(ans, "alias"), str(ans, "username"), cfg.Alias),
		Emoji:  firstNonEmpty(str(ans, "emoji"), str(ans, "icon_emoji"), cfg.Emoji),
		Avatar: firstNonEmpty(str(ans, "avatar"), str(ans, "icon_url"), cfg.Avatar)}
	pm.UpdatedAt = pm.TS
	if atts, ok := ans["attachments"].([]any); ok {
		pm.RawAttachments = atts
	}
	f := false
	pm.Groupable = &f
	target.Msgs = append(target.Msgs, pm)
	s.notifyLocked()
	reply.Posted, reply.Channel, reply.MessageID = true, target.Name, pm.ID
	return reply, nil
}

// matchTrigger returns the matched trigger word ("" when none configured).
func matchTrigger(cfg OutgoingIntegration, text string) (string, bool) {
	if len(cfg.TriggerWords) == 0 {
		return "", true
	}
	for _, w := range cfg.TriggerWords {
		if w == "" {
			continue
		}
		if strings.HasPrefix(text, w) || (cfg.TriggerWordsAnywhere && strings.Contains(text, w)) {
			return w, true
		}
	}
	return "", false
}

// jsonContentType: application/json or the JavaScript types §12 lists.
func jsonContentType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return slices.Contains([]string{"application/json", "text/javascript", "application/javascript", "application/x-javascript"}, mt)
}

func (s *Server) userIDLocked(username string) string {
	for _, u := range s.users {
		if u.Username == username {
			return u.ID
		}
	}
	if a := s.agents[username]; a != nil {
		return a.ID
	}
	if s.outgoing.userIDs == nil {
		s.outgoing.userIDs = map[string]string{}
	}
	id := s.outgoing.userIDs[username]
	if id == "" {
		id = s.randomID()
		s.outgoing.userIDs[username] = id
	}
	return id
}

func (s *Server) postAsLocked(username string) userRef {
	if username != "" {
		for _, u := range s.users {
			if u.Username == username {
				return userRef{ID: u.ID, Username: u.Username, Name: u.Name}
			}
		}
		if a := s.agents[username]; a != nil {
			return userRef{ID: a.ID, Username: a.Username, Name: a.Name}
		}
		return userRef{ID: s.userIDLocked(username), Username: username, Name: username}
	}
	bot := s.users[s.opts.BotUserID]
	return userRef{ID: bot.ID, Username: bot.Username, Name: bot.Name}
}

func str(m map[string]any, k string) string {
	v, _ := m[k].(string)
	return v
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// ParsedAttachments decodes the message's attachments (chat.postMessage or
// integration answers) into typed attachments.
func (m Message) ParsedAttachments() []Attachment {
	if len(m.Attachments) == 0 {
		return nil
	}
	b, err := json.Marshal(m.Attachments)
	if err != nil {
		return nil
	}
	var out []Attachment
	if json.Unmarshal(b, &out) != nil {
		return nil
	}
	return out
}

// ButtonURL returns the url of the first attachment action whose text is
// text (e.g. "Start Authentication").
func (m Message) ButtonURL(text string) (string, bool) {
	for _, a := range m.ParsedAttachments() {
		for _, act := range a.Actions {
			if act.Text == text && act.URL != "" {
				return act.URL, true
			}
		}
	}
	return "", false
}

// registerIntegrationControl adds the control endpoints:
//
//	POST /sandbox/commands              {"url","token","channel","user","text"} -> CommandReply (+ "error")
//	POST /sandbox/integration           OutgoingIntegration JSON (timeout in ms as "timeoutMs")
//	POST /sandbox/integration/enable    {"url"}
func (s *Server) registerIntegrationControl(mux *http.ServeMux) {
	mux.HandleFunc("POST /sandbox/commands", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ URL, Token, Channel, User, Text string }
		if !cDecode(w, r, &in) {
			return
		}
		rep, err := s.SendCommand(r.Context(), in.URL, in.Token, in.Channel, in.User, in.Text)
		out := map[string]any{"reply": rep}
		if err != nil {
			out["error"] = err.Error()
			status := http.StatusBadGateway
			if errors.Is(err, ErrChannelNotFound) {
				status = http.StatusNotFound
			} else if errors.Is(err, ErrIntegrationDisabled) || errors.Is(err, ErrNotTriggered) {
				status = http.StatusConflict
			}
			cJSON(w, status, out)
			return
		}
		cJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("POST /sandbox/integration", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			OutgoingIntegration
			TimeoutMS int `json:"timeoutMs"`
		}
		if !cDecode(w, r, &in) {
			return
		}
		cfg := in.OutgoingIntegration
		cfg.Timeout = time.Duration(in.TimeoutMS) * time.Millisecond
		s.SetOutgoingIntegration(cfg)
		cJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
	mux.HandleFunc("POST /sandbox/integration/enable", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ URL string }
		if !cDecode(w, r, &in) {
			return
		}
		s.EnableOutgoingIntegration(in.URL)
		cJSON(w, http.StatusOK, map[string]bool{"ok": true})
	})
}
