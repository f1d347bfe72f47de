package rocketchat

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf16"
)

// msgJSON is the stored IMessage document; normalize adds `fileUpload` to file
// messages (normalizeMessageFileUpload, used by GET message and history).
func (s *Server) msgJSON(m *msgRec, normalize bool) obj {
	o := obj{{"_id", m.ID}, {"rid", m.RID}, {"msg", m.Msg}}
	if m.Token != "" {
		o = append(o, field{"token", m.Token})
	}
	if m.Alias != "" {
		o = append(o, field{"alias", m.Alias})
	}
	o = append(o, field{"ts", iso(m.TS)}, field{"u", m.U.json(true)})
	if m.T != "" {
		o = append(o, field{"t", m.T})
	}
	if m.Groupable != nil {
		o = append(o, field{"groupable", *m.Groupable})
	}
	if m.Emoji != "" {
		o = append(o, field{"emoji", m.Emoji})
	}
	if m.Avatar != "" {
		o = append(o, field{"avatar", m.Avatar})
	}
	if m.File != nil {
		o = append(o, field{"file", m.File.json()}, field{"files", []obj{m.File.json()}})
	}
	if len(m.Attachments) > 0 {
		o = append(o, field{"attachments", m.Attachments})
	} else if len(m.RawAttachments) > 0 {
		o = append(o, field{"attachments", m.RawAttachments})
	}
	if !m.EditedAt.IsZero() {
		o = append(o, field{"editedAt", iso(m.EditedAt)})
		if m.EditedBy != nil {
			o = append(o, field{"editedBy", m.EditedBy.json(false)})
		}
	}
	o = append(o, field{"_updatedAt", iso(m.UpdatedAt)})
	if m.T == "" && m.File == nil {
		o = append(o, field{"mentions", []any{}}, field{"channels", []any{}}, field{"md", markdown(m.Msg)})
	}
	if normalize && m.File != nil {
		o = append(o, field{"fileUpload", s.fileUploadJSON(m)})
	}
	return append(o, m.Extra...)
}

// markdown is a minimal message-parser AST (one paragraph of plain text).
func markdown(text string) []obj {
	if text == "" {
		return []obj{}
	}
	return []obj{{{"type", "PARAGRAPH"}, {"value", []obj{{{"type", "PLAIN_TEXT"}, {"value", text}}}}}}
}

// appendMsgLocked stores m and updates the room counters.
func (s *Server) appendMsgLocked(r *roomRec, m *msgRec, visible bool) {
	s.msgs[r.ID] = append(s.msgs[r.ID], m)
	s.msgByID[m.ID] = m
	if visible {
		r.Msgs++
		r.LM = m.TS
		r.LastMessage = m
	}
	r.UpdatedAt = m.TS
	s.notifyLocked()
}

func jsLength(s string) int { return len(utf16.Encode([]rune(s))) }

// POST livechat/message {token, rid, msg, _id?, agent?}
func (s *Server) hMessagePost(c *reqCtx) (obj, error) {
	if err := validateLegacy(schemaPostMessage, c.body); err != nil {
		return nil, err
	}
	token, rid, text, id := c.str(c.body, "token"), c.str(c.body, "rid"), c.str(c.body, "msg"), c.str(c.body, "_id")
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.visitorByToken(token)
	if v == nil {
		return nil, plainErr("invalid-token")
	}
	r := s.roomByIDAndToken(rid, token)
	if r == nil {
		return nil, plainErr("invalid-room")
	}
	if !r.Open {
		return nil, plainErr("room-closed")
	}
	if s.set.charLimit > 0 && jsLength(text) > s.set.charLimit {
		return nil, plainErr("message-length-exceeds-character-limit")
	}
	if id == "" {
		id = s.randomID()
	}
	if _, dup := s.msgByID[id]; dup {
		// Spec gap (§5.1, "likely behaviour, not verified"): a re-used _id fails
		// at the Mongo insert; the driver error has no `error` code so there is
		// no errorType. Nothing is saved and no webhook is sent.
		return nil, plainErr(fmt.Sprintf(`E11000 duplicate key error collection: rocketchat.rocketchat_message index: _id_ dup key: { _id: %s }`, strconv.Quote(id)))
	}
	m := s.saveVisitorMessageLocked(r, v, id, text, nil, nil)
	return obj{{"message", s.msgJSON(m, false)}}, nil
}

// saveVisitorMessageLocked stores a visitor message, fires the Message webhook
// and schedules the auto reply.
func (s *Server) saveVisitorMessageLocked(r *roomRec, v *visitorRec, id, text string, f *fileRec, atts []obj) *msgRec {
	now := s.nowMS()
	m := &msgRec{ID: id, RID: r.ID, Msg: text, Token: v.Token, Alias: v.Name,
		U: userRef{ID: v.ID, Username: v.Username, Name: v.Name}, TS: now, UpdatedAt: now, File: f, Attachments: atts}
	s.appendMsgLocked(r, m, true)
	r.WaitingResponse = true
	s.emitMessageEvent(r, m)
	if s.set.autoReply && r.ServedBy != nil && f == nil {
		rid, delay := r.ID, s.set.autoReplyDelay
		s.goBG(func() {
			if s.sleepCtx(delay) {
				if _, err := s.AgentSend(rid, "", "Hi! You wrote: "+text); err != nil {
					s.log.Debug("rocketchat: auto reply skipped", "rid", rid, "err", err)
				}
			}
		})
	}
	return m
}

// visitorRoomLocked runs the guest → room checks shared by message routes.
func (s *Server) visitorRoomLocked(token, rid string) (*visitorRec, *roomRec, error) {
	v := s.visitorByToken(token)
	if v == nil {
		return nil, nil, plainErr("invalid-token")
	}
	r := s.roomByIDAndToken(rid, token)
	if r == nil {
		return nil, nil, plainErr("invalid-room")
	}
	return v, r, nil
}

// GET livechat/message/:_id?token=&rid=
//
// The message is looked up by _id alone, as Rocket.Chat's route does (message.ts:
// Messages.findOneById after the visitor and room checks), so it may be in another room.
func (s *Server) hMessageGet(c *reqCtx) (obj, error) {
	if err := validateLegacy(schemaGetMessage, c.query); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, _, err := s.visitorRoomLocked(c.str(c.query, "token"), c.str(c.query, "rid")); err != nil {
		return nil, err
	}
	m := s.msgByID[c.params["_id"]]
	if m == nil || m.Deleted {
		return nil, plainErr("invalid-message")
	}
	return obj{{"message", s.msgJSON(m, true)}}, nil
}

// PUT livechat/message/:_id {token, rid, msg}
func (s *Server) hMessagePut(c *reqCtx) (obj, error) {
	if err := validateLegacy(schemaPutMessage, c.body); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, _, err := s.visitorRoomLocked(c.str(c.body, "token"), c.str(c.body, "rid"))
	if err != nil {
		return nil, err
	}
	// Messages.findOneById: the rid check is only on the room (§5.3).
	m := s.msgByID[c.params["_id"]]
	if m == nil || m.Deleted {
		return nil, plainErr("invalid-message")
	}
	if !s.set.allowEditing || m.U.ID != v.ID {
		return nil, plainErr("error-action-not-allowed")
	}
	now := s.nowMS()
	m.Msg = c.str(c.body, "msg")
	m.EditedAt = now
	m.EditedBy = &userRef{ID: v.ID, Username: v.Username}
	m.UpdatedAt = now
	s.notifyLocked()
	if r := s.rooms[m.RID]; r != nil {
		s.emitMessageEvent(r, m)
	}
	return obj{{"message", s.msgJSON(m, false)}}, nil
}

// DELETE livechat/message/:_id with JSON body {token, rid}
func (s *Server) hMessageDelete(c *reqCtx) (obj, error) {
	if err := validateLegacy(schemaDeleteMessage, c.body); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, _, err := s.visitorRoomLocked(c.str(c.body, "token"), c.str(c.body, "rid"))
	if err != nil {
		return nil, err
	}
	m := s.msgByID[c.params["_id"]]
	if m == nil || m.Deleted {
		return nil, plainErr("invalid-message")
	}
	if !s.set.allowDeleting || m.U.ID != v.ID {
		return nil, plainErr("error-action-not-allowed")
	}
	// Spec gap: the real server removes the document, so the _id becomes free
	// again; the emulator keeps it in Messages() flagged Deleted and frees the id.
	m.Deleted = true
	delete(s.msgByID, m.ID)
	if r := s.rooms[m.RID]; r != nil && r.Msgs > 0 {
		r.Msgs--
	}
	s.notifyLocked()
	return obj{{"message", obj{{"_id", m.ID}, {"ts", iso(s.nowMS())}}}}, nil
}

// GET livechat/messages.history/:rid?token=&limit=&ls=&end=&offset=
func (s *Server) hMessagesHistory(c *reqCtx) (obj, error) {
	token := c.str(c.query, "token")
	if token == "" {
		return nil, meteorErr("error-token-param-not-provided", `The required "token" query param is missing.`)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.visitorByToken(token) == nil {
		return nil, meteorErr("invalid-token", "")
	}
	r := s.roomByIDAndToken(c.params["rid"], token)
	if r == nil {
		return nil, meteorErr("invalid-room", "")
	}
	limit := 20
	if l := c.str(c.query, "limit"); l != "" {
		if n, err := strconv.Atoi(l); err == nil {
			limit = n
		}
	}
	offset := 0
	if o := c.str(c.query, "offset"); o != "" {
		if n, err := strconv.Atoi(o); err == nil && n > 0 {
			offset = n
		}
	}
	var end time.Time
	if e := c.str(c.query, "end"); e != "" {
		if t, err := time.Parse(time.RFC3339Nano, e); err == nil {
			end = t
		}
	}
	msgs := s.msgs[r.ID]
	out := []obj{}
	skipped := 0
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i]
		if m.Deleted || (!end.IsZero() && !m.TS.Before(end)) {
			continue
		}
		if skipped < offset {
			skipped++
			continue
		}
		if limit > 0 && len(out) >= limit {
			break
		}
		out = append(out, s.msgJSON(m, true))
	}
	return obj{{"messages", out}}, nil
}

// validateBulkMessages is isPOSTLivechatMessagesParams (ajv order: required →
// additionalProperties → properties).
func validateBulkMessages(b map[string]any) error {
	fail := func(msg string) error { return meteorErr("invalid-params", msg) }
	for _, k := range []string{"visitor", "messages"} {
		if _, ok := b[k]; !ok {
			return fail("must have required property '" + k + "'")
		}
	}
	for k := range b {
		if k != "visitor" && k != "messages" {
			return fail("must NOT have additional properties")
		}
	}
	v, ok := b["visitor"].(map[string]any)
	if !ok {
		return fail("must be object")
	}
	if _, ok := v["token"]; !ok {
		return fail("must have required property 'token'")
	}
	if _, ok := v["token"].(string); !ok {
		return fail("must be string")
	}
	msgs, ok := b["messages"].([]any)
	if !ok {
		return fail("must be array")
	}
	if len(msgs) < 1 {
		return fail("must NOT have fewer than 1 items")
	}
	for _, x := range msgs {
		m, ok := x.(map[string]any)
		if !ok {
			return fail("must be object")
		}
		if _, ok := m["msg"]; !ok {
			return fail("must have required property 'msg'")
		}
		if _, ok := m["msg"].(string); !ok {
			return fail("must be string")
		}
	}
	return nil
}

// POST livechat/messages {visitor:{token}, messages:[{msg}]} (authenticated bulk import):
// registers the visitor if needed, uses its open room or creates one.
func (s *Server) hMessagesBulk(c *reqCtx) (obj, error) {
	if err := validateBulkMessages(c.body); err != nil {
		return nil, err
	}
	token := c.body["visitor"].(map[string]any)["token"].(string)
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.visitorByToken(token)
	if v == nil {
		if token == "" {
			return nil, meteorErr("error-invalid-token", "Token cannot be empty")
		}
		now := s.nowMS()
		s.guestCount++
		v = &visitorRec{ID: s.randomID(), Token: token, Username: fmt.Sprintf("guest-%d", s.guestCount),
			Status: "online", TS: now, UpdatedAt: now, ContactID: s.hexID()}
		s.visitors[v.ID] = v
		s.tokens[token] = v.ID
	}
	r := s.openRoomByToken(token)
	if r == nil {
		var err error
		if r, err = s.createRoomLocked(v, nil, sourceOf(c.r)); err != nil {
			return nil, err
		}
	}
	out := []obj{}
	for _, x := range c.body["messages"].([]any) {
		text := x.(map[string]any)["msg"].(string)
		m := s.saveVisitorMessageLocked(r, v, s.randomID(), text, nil, nil)
		out = append(out, obj{{"username", m.U.Username}, {"msg", m.Msg}, {"ts", iso(m.TS)}})
	}
	return obj{{"messages", out}}, nil
}
