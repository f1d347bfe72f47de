package ingress

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/igdirect/bridge/identity"
	"github.com/igdirect/bridge/rocketchat"
	"github.com/igdirect/bridge/workflows"
)

// maxTranscript bounds the agent messages a close event carries to the workflow.
const maxTranscript = 200

// receiveRocketChat takes an Omnichannel webhook (spec rocketchat §10). Rocket.Chat sends
// them for every Livechat room, not only ours, and counts anything but an exact 200 as a
// failure; so events that are not ours, or not for us, are acknowledged with 200 and
// dropped, and only a Temporal failure answers 5xx (which Rocket.Chat retries).
func (s *Server) receiveRocketChat(w http.ResponseWriter, r *http.Request) {
	if !secretEqual(r.Header.Get("X-RocketChat-Livechat-Token"), s.cfg.RocketChatWebhookToken) {
		status := http.StatusForbidden
		if r.Header.Get("X-RocketChat-Livechat-Token") == "" {
			status = http.StatusUnauthorized
		}
		writeError(w, status, "missing or wrong X-RocketChat-Livechat-Token")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxWebhookBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "body too large")
		return
	}
	p, err := rocketchat.ParseWebhook(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "malformed webhook body: "+err.Error())
		return
	}
	account, igsid, err := identity.ParseVisitorTokenWith(s.visitorKeys, p.Visitor.Token)
	if err != nil {
		// A room of another Livechat channel (web widget, WhatsApp...), or webhook.test.
		writeJSON(w, http.StatusOK, map[string]string{"status": "ignored"})
		return
	}
	ev, ok := s.toRocketChatEvent(p)
	if !ok {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ignored"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	err = s.temporal.SignalWorkflow(ctx, identity.WorkflowID(account, igsid), "", workflows.SignalRocketChat, ev)
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &notFound):
		// The conversation's run has ended: its room was closed and reconciled already.
		s.log.Info("Rocket.Chat event for a finished conversation", "type", p.Type, "room", p.ID)
		writeJSON(w, http.StatusOK, map[string]string{"status": "conversation finished"})
	case err != nil:
		s.log.Error("Temporal did not accept a Rocket.Chat event; asking Rocket.Chat to retry", "type", p.Type, "error", err)
		writeError(w, http.StatusServiceUnavailable, "event could not be recorded; retry later")
	default:
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}
}

// toRocketChatEvent keeps what the conversation needs from a webhook.
func (s *Server) toRocketChatEvent(p *rocketchat.WebhookPayload) (workflows.RocketChatEvent, bool) {
	ev := workflows.RocketChatEvent{RoomID: p.ID}
	switch p.Type {
	case "Message":
		ev.Kind = workflows.RCAgentMessage
		ev.Messages = s.agentMessages(p.Messages)
		return ev, len(ev.Messages) > 0
	case "LivechatSession":
		ev.Kind = workflows.RCClosed
		ev.Messages = s.agentMessages(p.Messages)
		if len(ev.Messages) > maxTranscript {
			ev.Messages = ev.Messages[len(ev.Messages)-maxTranscript:]
		}
		return ev, true
	case "LivechatSessionTaken", "LivechatSessionForwarded":
		ev.Kind = workflows.RCTaken
		if p.Type == "LivechatSessionForwarded" {
			ev.Kind = workflows.RCForwarded
		}
		if p.ServedBy != nil {
			ev.AgentUsername = p.ServedBy.Username
		}
		if p.Agent != nil {
			ev.AgentName = p.Agent.Name
			if ev.AgentUsername == "" {
				ev.AgentUsername = p.Agent.Username
			}
		}
		return ev, true
	}
	return ev, false
}

// agentMessages keeps the messages that go to Instagram: written by an agent (agentId
// marks non-visitor authors, spec rocketchat §10.4), not the closing system message, not
// this bridge's own notes, and with text, a file or buttons.
func (s *Server) agentMessages(in []rocketchat.WebhookMessage) []workflows.AgentMessage {
	var out []workflows.AgentMessage
	for _, m := range in {
		if m.AgentID == "" || m.ClosingMessage {
			continue
		}
		if s.cfg.RocketChatUserID != "" && m.U.ID == s.cfg.RocketChatUserID {
			continue
		}
		am := workflows.AgentMessage{ID: m.ID, Text: m.Msg, AgentUsername: m.Username, AgentName: m.U.Name, TS: m.TS,
			File: agentFile(m)}
		if len(m.Blocks) > 0 {
			text, buttons := fromBlocks(m.Blocks)
			if am.Text == "" || am.Text == string(m.Blocks) || json.Valid([]byte(am.Text)) && strings.HasPrefix(am.Text, "[") {
				am.Text = text // msg was only the blocks' JSON (spec §10.4)
			}
			am.Buttons = buttons
		}
		if am.Text == "" && am.File == nil && len(am.Buttons) == 0 {
			continue
		}
		out = append(out, am)
	}
	return out
}

// agentFile finds the file of a file message (spec rocketchat §10.4: file, attachments with
// relative URLs, fileUpload.publicFilePath; msg may be absent). The path handed on is
// rebuilt from the upload's own id and name, never taken from title_link or
// publicFilePath, and only when both are plain (rocketchat.FileUploadPath): an agent can
// write attachments with any title_link, and the bot downloads with its credentials. A
// file whose id or name is not plain gets an empty path, which the send refuses before any
// request, with a note to the agent.
func agentFile(m rocketchat.WebhookMessage) *workflows.AgentFile {
	if m.File == nil {
		return nil
	}
	f := &workflows.AgentFile{Name: m.File.Name, Type: m.File.Type, Size: m.File.Size}
	if p, err := rocketchat.FileUploadPath(m.File.ID, m.File.Name); err == nil {
		f.Path = p
	}
	if m.FileUpload != nil {
		if f.Type == "" {
			f.Type = m.FileUpload.Type
		}
		if f.Size == 0 {
			f.Size = m.FileUpload.Size
		}
	}
	return f
}

// fromBlocks reads a UI-kit message: section texts, and action buttons (which become
// Instagram quick replies: the button text is the title, its value the payload).
func fromBlocks(raw json.RawMessage) (string, []workflows.Button) {
	var blocks []struct {
		Type string `json:"type"`
		Text *struct {
			Text string `json:"text"`
		} `json:"text"`
		Elements []struct {
			Type string `json:"type"`
			Text *struct {
				Text string `json:"text"`
			} `json:"text"`
			Value    string `json:"value"`
			ActionID string `json:"actionId"`
		} `json:"elements"`
	}
	if json.Unmarshal(raw, &blocks) != nil {
		return "", nil
	}
	var texts []string
	var buttons []workflows.Button
	for _, b := range blocks {
		if b.Text != nil && b.Text.Text != "" {
			texts = append(texts, b.Text.Text)
		}
		for _, e := range b.Elements {
			if e.Type == "button" && e.Text != nil {
				payload := e.Value
				if payload == "" {
					payload = e.ActionID
				}
				buttons = append(buttons, workflows.Button{Title: e.Text.Text, Payload: payload})
			}
		}
	}
	return strings.Join(texts, "\n"), buttons
}
