package ingress

import (
	"context"
	"errors"
	"io"
	"net/http"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/igdirect/bridge/identity"
	"github.com/igdirect/bridge/rocketchat"
	"github.com/igdirect/bridge/store"
	"github.com/igdirect/bridge/workflows"
)

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
		s.activity.note(store.SourceRocketChat, "", store.RefusedPrefix+"token")
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
	// Every authenticated call counts, also for rooms that are not ours and Rocket.Chat's
	// "webhook test": it proves the Omnichannel webhook reaches us.
	s.activity.note(store.SourceRocketChat, "", p.Type)
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

// toRocketChatEvent keeps what the conversation needs from a webhook. An agent's message
// is only a wake-up: the conversation reads the room's messages from Rocket.Chat, in their
// order. Messages that are not agents' replies (the visitor's own, when Rocket.Chat sends
// those too; this service's notes; the closing message) wake nothing.
func (s *Server) toRocketChatEvent(p *rocketchat.WebhookPayload) (workflows.RocketChatEvent, bool) {
	return RocketChatEvent(p, s.cfg.RocketChatUserID)
}

// RocketChatEvent is what a conversation needs of an Omnichannel webhook, and false for a
// webhook that concerns no conversation (see toRocketChatEvent); botUserID is our bot
// user's id. Pure: the conversation simulator (package sim) uses it too.
func RocketChatEvent(p *rocketchat.WebhookPayload, botUserID string) (workflows.RocketChatEvent, bool) {
	ev := workflows.RocketChatEvent{RoomID: p.ID}
	switch p.Type {
	case rocketchat.TypeMessage:
		ev.Kind = workflows.RCAgentMessage
		for _, m := range p.Messages {
			if m.AgentID != "" && !m.ClosingMessage && m.U.ID != botUserID {
				return ev, true
			}
		}
		return ev, false
	case rocketchat.TypeSession:
		ev.Kind = workflows.RCClosed
		return ev, true
	case rocketchat.TypeSessionTaken, rocketchat.TypeSessionForwarded:
		ev.Kind = workflows.RCTaken
		if p.Type == rocketchat.TypeSessionForwarded {
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
