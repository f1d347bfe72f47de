package ingress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/sync/errgroup"

	"github.com/igdirect/bridge/activities/instagram"
	"github.com/igdirect/bridge/identity"
	"github.com/igdirect/bridge/workflows"
)

// verifyInstagram answers Meta's subscription handshake (spec §1.1): 200 with the raw
// challenge when the mode and verify token match, 403 otherwise.
func (s *Server) verifyInstagram(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("hub.mode") != "subscribe" || !secretEqual(q.Get("hub.verify_token"), s.cfg.MetaVerifyToken) {
		writeError(w, http.StatusForbidden, "verification failed: hub.mode must be subscribe and hub.verify_token must match META_VERIFY_TOKEN")
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, q.Get("hub.challenge"))
}

// receiveInstagram takes a webhook delivery. The order of checks matters: size, then the
// signature over the raw bytes (nothing is parsed before the sender is authenticated),
// then the JSON. Every event of the batch is signalled to its conversation before the 200;
// if Temporal refuses any, the answer is 503 and Meta redelivers the whole batch, which the
// workflows deduplicate.
func (s *Server) receiveInstagram(w http.ResponseWriter, r *http.Request) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxWebhookBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", s.cfg.MaxWebhookBody))
			return
		}
		writeError(w, http.StatusBadRequest, "could not read body")
		return
	}
	sig := r.Header.Get("X-Hub-Signature-256")
	switch err := instagram.VerifySignature(s.cfg.MetaAppSecret.Value(), body, sig); {
	case errors.Is(err, instagram.ErrSignatureMissing):
		msg := "missing X-Hub-Signature-256"
		if r.Header.Get("X-Hub-Signature") != "" {
			msg += " (the legacy sha1 X-Hub-Signature alone is not accepted)"
		}
		writeError(w, http.StatusUnauthorized, msg)
		return
	case err != nil:
		s.log.Warn("Instagram webhook with a bad signature refused", "remote", r.RemoteAddr)
		writeError(w, http.StatusForbidden, "signature does not match")
		return
	}
	env, err := instagram.ParseWebhook(body)
	if err != nil {
		writeError(w, http.StatusBadRequest, "malformed webhook body: "+err.Error())
		return
	}
	if env.Object != "instagram" && env.Object != "page" {
		// Signed by Meta but not ours to handle (e.g. a field of another product): a
		// non-200 would make Meta retry and eventually disable the subscription.
		s.log.Info("Webhook object not handled", "object", env.Object)
		writeJSON(w, http.StatusOK, map[string]any{"status": "ignored", "reason": "object " + env.Object + " is not handled"})
		return
	}
	deliveries := s.toDeliveries(env)
	if err := s.signalAll(r.Context(), deliveries); err != nil {
		s.log.Error("Temporal did not accept webhook events; asking Meta to retry", "events", len(deliveries), "error", err)
		writeError(w, http.StatusServiceUnavailable, "events could not be recorded; retry later")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "events": len(deliveries)})
}

// delivery is one event addressed to one conversation.
type delivery struct {
	account, igsid string
	event          workflows.InstagramEvent
}

// toDeliveries flattens a batch (several entries, messaging and standby arrays) into
// conversation events. Events that belong to no conversation (dashboard tests with entry
// id "0", app_roles) are skipped.
func (s *Server) toDeliveries(env *instagram.Envelope) []delivery {
	var out []delivery
	for _, entry := range env.Entry {
		account := string(entry.ID)
		if !identity.ValidID(account) || account == "0" {
			continue
		}
		for _, list := range []struct {
			events  []instagram.Messaging
			standby bool
		}{{entry.Messaging, false}, {entry.Standby, true}} {
			for _, m := range list.events {
				ev, igsid := toEvent(m)
				if ev.Kind == workflows.EventUnknown {
					// Not handled (yet): acknowledged, logged once per kind, never a
					// reason to fail the batch or to start a conversation.
					if _, seen := s.unknownKinds.LoadOrStore(ev.Detail, true); !seen {
						s.log.Warn("Instagram event kind not handled; skipping", "kind", ev.Detail)
					}
					continue
				}
				if !identity.ValidID(igsid) || igsid == account {
					continue
				}
				ev.Standby = list.standby
				out = append(out, delivery{account: account, igsid: igsid, event: ev})
			}
		}
	}
	return out
}

// toEvent reduces a messaging item to the workflow's event and names the customer: the
// sender, except for echoes, where the business is the sender and the customer the
// recipient (spec §2.1).
func toEvent(m instagram.Messaging) (workflows.InstagramEvent, string) {
	ev := workflows.InstagramEvent{Timestamp: m.Timestamp}
	igsid := string(m.Sender.ID)
	switch {
	case m.Message != nil && m.Message.IsEcho:
		ev.Kind, ev.MID, ev.Text = workflows.EventEcho, m.Message.MID, m.Message.Text
		igsid = string(m.Recipient.ID)
	case m.Message != nil && !m.Message.IsDeleted:
		ev.Kind, ev.MID, ev.Text = workflows.EventMessage, m.Message.MID, m.Message.Text
	default:
		ev.Kind, ev.Detail = workflows.EventUnknown, eventName(m)
		if m.Message != nil {
			ev.MID = m.Message.MID
		}
	}
	return ev, igsid
}

func eventName(m instagram.Messaging) string {
	switch {
	case m.Message != nil && m.Message.IsDeleted:
		return "message_deleted"
	case m.Reaction != nil:
		return "reaction"
	case m.Read != nil:
		return "read"
	case m.Postback != nil:
		return "postback"
	case m.Referral != nil:
		return "referral"
	case m.MessageEdit != nil:
		return "message_edit"
	case m.PassThreadControl != nil, m.TakeThreadControl != nil, m.RequestThreadControl != nil:
		return "handover"
	case len(m.Unknown) > 0:
		return "unknown:" + m.Unknown[0]
	}
	return "empty"
}

// signalAll signals every delivery and fails if any failed. Conversations are signalled in
// parallel, but the events of one conversation one after the other, in the order Meta put
// them in the batch: the workflow orders by timestamp only within its reorder window.
func (s *Server) signalAll(ctx context.Context, ds []delivery) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var order []string
	byConversation := map[string][]delivery{}
	for _, d := range ds {
		id := identity.WorkflowID(d.account, d.igsid)
		if _, ok := byConversation[id]; !ok {
			order = append(order, id)
		}
		byConversation[id] = append(byConversation[id], d)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, id := range order {
		g.Go(func() error {
			for _, d := range byConversation[id] {
				if err := s.signalConversation(gctx, d); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// signalConversation records the event in the conversation's workflow, starting the
// workflow if it is not running (a closed conversation gets a new run with the same ID).
func (s *Server) signalConversation(ctx context.Context, d delivery) error {
	id := identity.WorkflowID(d.account, d.igsid)
	_, err := s.temporal.SignalWithStartWorkflow(ctx, id, workflows.SignalInstagram, d.event,
		client.StartWorkflowOptions{
			ID:                       id,
			TaskQueue:                s.cfg.TemporalTaskQueue,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
			StaticSummary:            "Instagram conversation · account " + d.account + " · user " + d.igsid,
			TypedSearchAttributes: temporal.NewSearchAttributes(
				workflows.SAAccount.ValueSet(d.account),
				workflows.SAState.ValueSet(workflows.StateWaitingForAgent),
			),
		},
		workflows.ConversationWorkflowName, workflows.ConversationInput{PageID: d.account, IGSID: d.igsid})
	return err
}
