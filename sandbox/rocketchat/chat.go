package rocketchat

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"
)

func (u *userRec) meJSON() obj {
	return obj{{"_id", u.ID}, {"username", u.Username}, {"name", u.Name}, {"status", "online"}, {"active", true},
		{"roles", u.roleList()}, {"settings", obj{{"preferences", obj{}}}}}
}

// POST login {user|username|email, password} or {resume}.
//
// Spec gap: the emulator issues no new tokens: a successful login returns the
// user's configured auth token.
func (s *Server) hLogin(c *reqCtx) (obj, error) {
	name := c.str(c.body, "user")
	if name == "" {
		name = c.str(c.body, "username")
	}
	if name == "" {
		name = c.str(c.body, "email")
	}
	pass, resume := c.str(c.body, "password"), c.str(c.body, "resume")
	s.mu.Lock()
	defer s.mu.Unlock()
	var found *userRec
	for _, u := range s.users {
		switch {
		case resume != "" && u.Token == resume:
			found = u
		case name != "" && pass != "" && u.Password == pass && (u.Username == name || u.ID == name):
			found = u
		}
	}
	if found == nil {
		return nil, httpErr(http.StatusUnauthorized, obj{{"success", false}, {"error", "Unauthorized"}, {"status", "error"}, {"message", "Unauthorized"}})
	}
	// The real body has status+data and success appended by the envelope.
	return obj{{"status", "success"}, {"data", obj{{"userId", found.ID}, {"authToken", found.Token}, {"me", found.meJSON()}}}}, nil
}

// POST logout
func (s *Server) hLogout(c *reqCtx) (obj, error) {
	return obj{{"status", "success"}, {"data", obj{{"message", "You've been logged out!"}}}}, nil
}

// GET me
func (s *Server) hMe(c *reqCtx) (obj, error) {
	return c.user.meJSON(), nil
}

func (s *Server) channelByNameOrID(ref string) *channelRec {
	ref = strings.TrimPrefix(ref, "#")
	if ch := s.channels[ref]; ch != nil {
		return ch
	}
	for _, ch := range s.channels {
		if ch.ID == ref {
			return ch
		}
	}
	return nil
}

// POST chat.postMessage {roomId|channel, text?, alias?, emoji?, avatar?, attachments?}
//
// Spec gaps: only the first target of an array is used; `channel` is echoed
// without its '#'/'@' prefix; "@username" posts to a direct-message pseudo
// channel named "@username" (known users and agents only); unknown targets and
// livechat rooms fail with Meteor.Error('invalid-channel').
func (s *Server) hPostMessage(c *reqCtx) (obj, error) {
	target := firstString(c.body["roomId"])
	viaChannel := false
	if target == "" {
		target = firstString(c.body["channel"])
		viaChannel = true
	}
	if target == "" {
		return nil, meteorErr("error-invalid-channel", "Invalid channel")
	}
	text := c.str(c.body, "text")
	if jsLength(text) > 5000 {
		return nil, meteorErr("error-message-size-exceeded", "Message size exceeds Message_MaxAllowedSize")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var ch *channelRec
	echo := target
	switch {
	case viaChannel && strings.HasPrefix(target, "@"):
		uname := target[1:]
		known := s.agents[uname] != nil
		for _, u := range s.users {
			if u.Username == uname {
				known = true
			}
		}
		if known {
			ch = s.channels[target]
			if ch == nil {
				ch = &channelRec{ID: s.randomID(), Name: target}
				s.channels[target] = ch
			}
		}
		echo = uname
	default:
		ch = s.channelByNameOrID(target)
		echo = strings.TrimPrefix(target, "#")
	}
	if ch == nil && !viaChannel {
		if r := s.rooms[target]; r != nil {
			return s.postToLivechatRoomLocked(c, r, s.randomID(), text)
		}
	}
	if ch == nil {
		return nil, meteorErr("invalid-channel", "")
	}
	now := s.nowMS()
	m := &msgRec{ID: s.randomID(), RID: ch.ID, Msg: text, U: userRef{ID: c.user.ID, Username: c.user.Username, Name: c.user.Name},
		TS: now, UpdatedAt: now, Alias: c.str(c.body, "alias"), Emoji: c.str(c.body, "emoji"), Avatar: c.str(c.body, "avatar"),
		Channel: true}
	if atts, ok := c.body["attachments"].([]any); ok {
		m.RawAttachments = atts
	}
	if m.Alias != "" || m.Emoji != "" || m.Avatar != "" || len(m.RawAttachments) > 0 {
		f := false
		m.Groupable = &f
	}
	ch.Msgs = append(ch.Msgs, m)
	s.notifyLocked()
	return obj{{"ts", s.nowMS().UnixMilli()}, {"channel", echo}, {"message", s.msgJSON(m, false)}}, nil
}

func firstString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []any:
		if len(x) > 0 {
			s, _ := x[0].(string)
			return s
		}
	}
	return ""
}

// POST livechat/webhook.test: sends the fixed sample, 200 only when the target answers 200.
func (s *Server) hWebhookTest(c *reqCtx) (obj, error) {
	s.mu.Lock()
	url, secret, to := s.webhookURL, s.webhookSecret, s.webhookTO
	s.mu.Unlock()
	if url == "" {
		return nil, plainErr("Webhook_URL_not_set")
	}
	now := iso(s.nowMS())
	sample := obj{{"type", "LivechatSession"}, {"_id", "fasd6f5a4sd6f8a4sdf"}, {"label", "title"}, {"topic", "asiodojf"},
		{"createdAt", now}, {"lastMessageAt", now}, {"tags", []string{"tag1", "tag2", "tag3"}},
		{"customFields", obj{{"productId", "123456"}}},
		{"visitor", obj{{"_id", ""}, {"name", "visitor name"}, {"username", "visitor-username"}, {"department", "department"},
			{"email", "email@address.com"}, {"phone", "192873192873"}, {"ip", "123.456.7.89"}, {"browser", "Chrome"},
			{"os", "Linux"}, {"customFields", obj{{"customerId", "123456"}}}}},
		{"agent", obj{{"_id", "asdf89as6df8"}, {"username", "agent.username"}, {"name", "Agent Name"}, {"email", "agent@email.com"}}},
		{"messages", []obj{{{"username", "visitor-username"}, {"msg", "message content"}, {"ts", now}},
			{{"username", "agent.username"}, {"agentId", "asdf89as6df8"}, {"msg", "message content from agent"}, {"ts", now}}}}}
	ctx, cancel := context.WithTimeout(c.r.Context(), to)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(mustMarshal(sample)))
	if err != nil {
		return nil, plainErr("error-invalid-webhook-response")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if secret != "" {
		req.Header.Set("X-RocketChat-Livechat-Token", secret)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, plainErr("error-invalid-webhook-response")
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, plainErr("error-invalid-webhook-response")
	}
	return nil, nil
}

var integrationKeys = []string{"LivechatWebhookUrl", "LivechatSecretToken", "LivechatHttpTimeout",
	"LivechatWebhookOnStart", "LivechatWebhookOnClose", "LivechatWebhookOnChatTaken", "LivechatWebhookOnChatQueued",
	"LivechatWebhookOnForward", "LivechatWebhookOnOfflineMsg", "LivechatWebhookOnVisitorMessage", "LivechatWebhookOnAgentMessage"}

// GET livechat/integrations.settings
func (s *Server) hIntegrationSettings(c *reqCtx) (obj, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.events
	kv := []field{
		{"Livechat_webhookUrl", s.webhookURL}, {"Livechat_secret_token", s.webhookSecret},
		{"Livechat_http_timeout", int(s.webhookTO / time.Millisecond)},
		{"Livechat_webhook_on_start", e.OnStart}, {"Livechat_webhook_on_close", e.OnClose},
		{"Livechat_webhook_on_chat_taken", e.OnTaken}, {"Livechat_webhook_on_chat_queued", e.OnQueued},
		{"Livechat_webhook_on_forward", e.OnForward}, {"Livechat_webhook_on_offline_msg", false},
		{"Livechat_webhook_on_visitor_message", e.OnVisitorMessage}, {"Livechat_webhook_on_agent_message", e.OnAgentMessage},
	}
	out := []obj{}
	for _, f := range kv {
		out = append(out, obj{{"_id", f.k}, {"value", f.v}})
	}
	return obj{{"settings", out}}, nil
}

// POST omnichannel/integrations {LivechatWebhookUrl, …} (strict keys).
func (s *Server) hIntegrationsSave(c *reqCtx) (obj, error) {
	for k := range c.body {
		known := false
		for _, ik := range integrationKeys {
			known = known || k == ik
		}
		if !known {
			return nil, meteorErr("invalid-params", "must NOT have additional properties")
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := func(k string, dst *bool) {
		if v, ok := c.body[k].(bool); ok {
			*dst = v
		}
	}
	if v, ok := c.body["LivechatWebhookUrl"].(string); ok {
		s.webhookURL = v
	}
	if v, ok := c.body["LivechatSecretToken"].(string); ok {
		s.webhookSecret = v
	}
	switch v := c.body["LivechatHttpTimeout"].(type) {
	case float64:
		s.webhookTO = time.Duration(v) * time.Millisecond
	case string:
		if n, err := strconv.Atoi(v); err == nil {
			s.webhookTO = time.Duration(n) * time.Millisecond
		}
	}
	b("LivechatWebhookOnStart", &s.events.OnStart)
	b("LivechatWebhookOnClose", &s.events.OnClose)
	b("LivechatWebhookOnChatTaken", &s.events.OnTaken)
	b("LivechatWebhookOnChatQueued", &s.events.OnQueued)
	b("LivechatWebhookOnForward", &s.events.OnForward)
	b("LivechatWebhookOnVisitorMessage", &s.events.OnVisitorMessage)
	b("LivechatWebhookOnAgentMessage", &s.events.OnAgentMessage)
	return nil, nil
}

// postToLivechatRoomLocked is chat.postMessage with the roomId of an Omnichannel room.
// Rocket.Chat lets a user post there when canAccessRoom allows it: the room's serving agent,
// or a user with view-livechat-rooms (livechat managers, e.g. an integration bot given that
// role). The message is saved like an agent's and fires the Message webhook with agentId,
// because its author is not the visitor (spec §10.4).
//
// Spec gap: the spec covers chat.postMessage for channels only; access follows Rocket.Chat's
// canAccessRoom validators for omnichannel rooms as read from its source, and a closed room
// refuses with Meteor.Error('error-room-closed').
func (s *Server) postToLivechatRoomLocked(c *reqCtx, r *roomRec, id, text string) (obj, error) {
	served := r.ServedBy != nil && r.ServedBy.ID == c.user.ID
	if !served && !c.user.can("view-livechat-rooms") {
		return nil, meteorErr("error-not-allowed", "Not allowed")
	}
	if !r.Open {
		return nil, meteorErr("error-room-closed", "This room is closed")
	}
	now := s.nowMS()
	m := &msgRec{ID: id, RID: r.ID, Msg: text, U: userRef{ID: c.user.ID, Username: c.user.Username, Name: c.user.Name},
		TS: now, UpdatedAt: now}
	if atts, ok := c.body["attachments"].([]any); ok {
		m.RawAttachments = atts
	}
	s.appendMsgLocked(r, m, true)
	s.emitMessageEvent(r, m)
	return obj{{"ts", s.nowMS().UnixMilli()}, {"channel", r.ID}, {"message", s.msgJSON(m, false)}}, nil
}

// POST chat.sendMessage {message: {rid, _id?, msg?}, previewUrls?}: like chat.postMessage
// for one room, but the client may choose the message _id.
//
// Spec gap: the route is not in the spec; it follows Rocket.Chat's source (api/v1/chat.ts,
// lib/server/functions/sendMessage.ts). A message whose _id exists already is not inserted
// again ("messageAlreadyExists → return"), and the route then answers success without a
// message (normalizeMessagesForUser of nothing) — the exact body is not verified.
func (s *Server) hSendMessage(c *reqCtx) (obj, error) {
	msg, ok := c.body["message"].(map[string]any)
	if !ok {
		return nil, meteorErr("error-invalid-params", `The "message" parameter must be provided.`)
	}
	rid, _ := msg["rid"].(string)
	id, _ := msg["_id"].(string)
	text, _ := msg["msg"].(string)
	if rid == "" {
		return nil, meteorErr("error-invalid-params", "must have required property 'rid'")
	}
	if jsLength(text) > 5000 {
		return nil, meteorErr("error-message-size-exceeded", "Message size exceeds Message_MaxAllowedSize")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id != "" && s.messageExistsLocked(id) {
		return obj{}, nil
	}
	if id == "" {
		id = s.randomID()
	}
	if r := s.rooms[rid]; r != nil {
		res, err := s.postToLivechatRoomLocked(c, r, id, text)
		if err != nil {
			return nil, err
		}
		return obj{{"message", res[len(res)-1].v}}, nil
	}
	ch := s.channelByNameOrID(rid)
	if ch == nil {
		return nil, meteorErr("error-invalid-room", "Invalid room")
	}
	now := s.nowMS()
	m := &msgRec{ID: id, RID: ch.ID, Msg: text, U: userRef{ID: c.user.ID, Username: c.user.Username, Name: c.user.Name},
		TS: now, UpdatedAt: now, Channel: true}
	ch.Msgs = append(ch.Msgs, m)
	s.notifyLocked()
	return obj{{"message", s.msgJSON(m, false)}}, nil
}

// messageExistsLocked: Messages.findOneById over rooms and channels.
func (s *Server) messageExistsLocked(id string) bool {
	if s.msgByID[id] != nil {
		return true
	}
	for _, ch := range s.channels {
		for _, m := range ch.Msgs {
			if m.ID == id {
				return true
			}
		}
	}
	return false
}
