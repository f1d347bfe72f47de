package rocketchat

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"time"
)

// nodeFetchUA is node-fetch's default User-Agent (serverFetch sets none).
const nodeFetchUA = "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)"

// envelopeLocked is getLivechatRoomGuestInfo(room); false when the visitor is
// gone (the real build throws and nothing is sent).
func (s *Server) envelopeLocked(r *roomRec) (obj, *visitorRec, bool) {
	v := s.visitors[r.VisitorID]
	if v == nil {
		return nil, nil, false
	}
	o := obj{{"_id", r.ID}, {"label", r.FName}, {"createdAt", iso(r.TS)}, {"lastMessageAt", iso(r.LM)}}
	vis := obj{{"_id", v.ID}, {"token", v.Token}}
	if v.Name != "" {
		vis = append(vis, field{"name", v.Name})
	}
	vis = append(vis, field{"username", v.Username})
	if v.Department != "" {
		vis = append(vis, field{"department", v.Department})
	}
	if len(v.LivechatData) > 0 {
		vis = append(vis, field{"customFields", v.LivechatData})
	}
	if len(v.Emails) > 0 {
		var arr []obj
		for _, e := range v.Emails {
			arr = append(arr, obj{{"address", e}})
		}
		vis = append(vis, field{"email", arr})
	}
	if len(v.Phones) > 0 {
		var arr []obj
		for _, p := range v.Phones {
			arr = append(arr, obj{{"phoneNumber", p}})
		}
		vis = append(vis, field{"phone", arr})
	}
	o = append(o, field{"visitor", vis})
	if r.ServedBy != nil {
		ag := obj{{"_id", r.ServedBy.ID}, {"username", r.ServedBy.Username}}
		if a := s.agents[r.ServedBy.Username]; a != nil && a.Name != "" {
			ag = append(ag, field{"name", a.Name})
		}
		o = append(o, field{"agent", ag})
	}
	if r.CRMData != nil && *r.CRMData != "" {
		o = append(o, field{"crmData", *r.CRMData})
	}
	return o, v, true
}

// sendMessageType: system messages are skipped except livechat-close.
func sendMessageType(t string) bool { return t == "livechat-close" }

// crmMessage is one messages[] entry of sendToCRM.ts (+ normalizeMessageFileUpload).
func (s *Server) crmMessage(m *msgRec, visitorUsername string) obj {
	o := obj{{"u", m.U.json(true)}, {"_id", m.ID}, {"username", m.U.Username}}
	if m.Msg != "" {
		o = append(o, field{"msg", m.Msg}) // '' || JSON.stringify(undefined) → key omitted
	}
	o = append(o, field{"ts", iso(m.TS)}, field{"rid", m.RID})
	if !m.EditedAt.IsZero() {
		o = append(o, field{"editedAt", iso(m.EditedAt)})
	}
	if m.U.Username != visitorUsername {
		o = append(o, field{"agentId", m.U.ID})
	}
	if m.File != nil {
		o = append(o, field{"file", m.File.json()}, field{"attachments", m.Attachments})
	}
	if m.T == "livechat-close" {
		o = append(o, field{"closingMessage", true})
	}
	if m.File != nil {
		o = append(o, field{"fileUpload", s.fileUploadJSON(m)})
	}
	return append(o, field{"_updatedAt", iso(m.UpdatedAt)})
}

func (s *Server) eventEnabled(typ string) bool {
	e := s.events
	switch typ {
	case "LivechatSessionStart":
		return e.OnStart
	case "LivechatSessionQueued":
		return e.OnQueued
	case "LivechatSessionTaken":
		return e.OnTaken
	case "LivechatSessionForwarded":
		return e.OnForward
	case "LivechatSession":
		return e.OnClose
	}
	return false
}

// emitRoomEvent sends a non-Message webhook with the whole visible history.
// Caller holds s.mu; the payload is a snapshot taken now.
func (s *Server) emitRoomEvent(typ string, r *roomRec) {
	if s.webhookURL == "" || !s.eventEnabled(typ) {
		return
	}
	env, v, ok := s.envelopeLocked(r)
	if !ok {
		s.log.Warn("rocketchat: webhook skipped, visitor not found", "type", typ, "rid", r.ID)
		return
	}
	msgs := []obj{}
	for _, m := range s.msgs[r.ID] {
		if m.Deleted || (m.T != "" && !sendMessageType(m.T)) {
			continue
		}
		msgs = append(msgs, s.crmMessage(m, v.Username))
	}
	env = append(env, field{"type", typ}, field{"messages", msgs})
	if r.DepartmentID != "" {
		env = append(env, field{"departmentId", r.DepartmentID})
	}
	switch typ {
	case "LivechatSessionTaken":
		if r.ServedBy != nil {
			env = append(env, field{"servedBy", r.ServedBy.json()})
		}
	case "LivechatSessionForwarded":
		if r.ServedBy != nil {
			env = append(env, field{"servedBy", r.ServedBy.json()})
		}
		if r.OldDepartmentID != "" {
			env = append(env, field{"oldDepartmentId", r.OldDepartmentID})
		}
		if r.OldServedBy != nil {
			env = append(env, field{"oldServedBy", obj{{"_id", r.OldServedBy.ID}, {"ts", iso(r.OldServedBy.TS)}, {"username", r.OldServedBy.Username}}})
		}
	case "LivechatSession":
		if r.ServedBy != nil {
			env = append(env, field{"servedBy", r.ServedBy.json()})
		}
		env = append(env, field{"closedAt", iso(r.ClosedAt)})
		if r.ClosedBy != nil {
			env = append(env, field{"closedBy", r.ClosedBy.json(false)})
		}
		env = append(env, field{"closer", r.Closer})
	}
	s.sendLocked(typ, r.ID, env)
}

// emitMessageEvent is the afterOmnichannelSaveMessage hook: exactly one entry.
func (s *Server) emitMessageEvent(r *roomRec, m *msgRec) {
	if s.webhookURL == "" || r.Token == "" {
		return
	}
	if m.Token != "" && !s.events.OnVisitorMessage {
		return
	}
	if m.Token == "" && !s.events.OnAgentMessage {
		return
	}
	if m.T != "" && !sendMessageType(m.T) {
		return
	}
	env, v, ok := s.envelopeLocked(r)
	if !ok {
		return
	}
	env = append(env, field{"type", "Message"}, field{"messages", []obj{s.crmMessage(m, v.Username)}})
	s.sendLocked("Message", r.ID, env)
}

// sendLocked starts an asynchronous delivery (fire-and-forget, like `void sendRequest`).
func (s *Server) sendLocked(typ, rid string, payload obj) {
	body := mustMarshal(payload)
	if s.opts.WebhookSink != nil {
		s.opts.WebhookSink(WebhookDelivery{Type: typ, Attempt: 1, At: s.nowMS(), RID: rid, Payload: body})
		return
	}
	url, secret, to := s.webhookURL, s.webhookSecret, s.webhookTO
	delay := s.opts.WebhookRetryDelay
	if delay <= 0 {
		delay = 4 * to
	}
	attempts := s.opts.WebhookMaxAttempts
	s.goBG(func() { s.deliver(typ, rid, body, url, secret, to, delay, attempts) })
}

// deliver: success is exactly 200; retries only on network error, 5xx and 429.
func (s *Server) deliver(typ, rid string, body []byte, url, secret string, timeout, delay time.Duration, attempts int) {
	for attempt := 1; attempt <= attempts; attempt++ {
		status, respBody, err := s.post(url, secret, body, timeout)
		d := WebhookDelivery{Type: typ, Status: status, Attempt: attempt, At: time.Now(), RID: rid, Payload: body}
		if err != nil {
			d.Err = err.Error()
		}
		s.mu.Lock()
		s.deliveries = append(s.deliveries, d)
		if err == nil && status == http.StatusOK {
			if r := s.rooms[rid]; r != nil {
				txt := string(respBody)
				r.CRMData = &txt
			}
		}
		s.mu.Unlock()
		if err == nil && status == http.StatusOK {
			return
		}
		retryable := err != nil || status >= 500 || status == http.StatusTooManyRequests
		if !retryable {
			s.log.Warn("rocketchat: webhook rejected, not retried", "type", typ, "status", status)
			return
		}
		if attempt == attempts || !s.sleepCtx(delay) {
			s.log.Warn("rocketchat: webhook failed", "type", typ, "attempts", attempt, "status", status, "err", err)
			return
		}
	}
}

func (s *Server) post(url, secret string, body []byte, timeout time.Duration) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(s.ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", nodeFetchUA)
	req.Header.Set("Accept", "*/*")
	if secret != "" {
		req.Header.Set("X-RocketChat-Livechat-Token", secret)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, rb, nil
}
