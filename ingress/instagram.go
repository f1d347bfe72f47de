package ingress

import (
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

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"golang.org/x/sync/errgroup"

	"github.com/igdirect/bridge/identity"
	"github.com/igdirect/bridge/instagram"
	"github.com/igdirect/bridge/store"
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

// receiveInstagram takes a webhook delivery. The order of checks matters: the signature
// header's presence and form (before a body of up to MAX_WEBHOOK_BODY is read), the size,
// then the signature over the raw bytes (nothing is parsed before the sender is
// authenticated), then the JSON. Every event of the batch is signalled to its conversation
// before the 200; if Temporal refuses any, the answer is 503 and Meta redelivers the whole
// batch, which the workflows deduplicate.
func (s *Server) receiveInstagram(w http.ResponseWriter, r *http.Request) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return
	}
	sigs := r.Header.Values("X-Hub-Signature-256")
	switch {
	case len(sigs) == 0:
		msg := "missing X-Hub-Signature-256"
		if r.Header.Get("X-Hub-Signature") != "" {
			msg += " (the legacy sha1 X-Hub-Signature alone is not accepted)"
		}
		writeError(w, http.StatusUnauthorized, msg)
		return
	case len(sigs) > 1:
		writeError(w, http.StatusBadRequest, "more than one X-Hub-Signature-256 header")
		return
	}
	if _, err := instagram.ParseSignatureHeader(sigs[0]); err != nil {
		s.log.Warn("Instagram webhook with a malformed signature header refused", "remote", r.RemoteAddr)
		writeError(w, http.StatusForbidden, "signature header malformed: X-Hub-Signature-256 must be sha256= and 64 lowercase hex digits")
		return
	}
	if r.ContentLength > s.cfg.MaxWebhookBody {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", s.cfg.MaxWebhookBody))
		return
	}
	body, release, err := s.readUnauthenticated(w, r)
	if errors.Is(err, errBodyBudget) {
		s.log.Warn("Instagram webhook deferred: too many unverified bodies being read at once", "remote", r.RemoteAddr)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "too many requests being read; retry later")
		return
	}
	defer release()
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", s.cfg.MaxWebhookBody))
			return
		}
		writeError(w, http.StatusBadRequest, "could not read body")
		return
	}
	switch err := instagram.VerifySignature(s.cfg.MetaAppSecret.Value(), body, sigs[0]); {
	case err != nil:
		s.activity.note(store.SourceInstagram, "", store.RefusedPrefix+"signature")
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
		s.activity.note(store.SourceInstagram, "", "other")
		s.log.Info("Webhook object not handled", "object", env.Object)
		writeJSON(w, http.StatusOK, map[string]any{"status": "ignored", "reason": "object " + env.Object + " is not handled"})
		return
	}
	deliveries := s.toDeliveries(env)
	if err := s.signalAll(r.Context(), deliveries); err != nil {
		s.log.Error("Temporal did not accept webhook events; asking Meta to retry", "events", len(deliveries), "error", err)
		s.countEvents("instagram", "any", "refused", len(deliveries))
		writeError(w, http.StatusServiceUnavailable, "events could not be recorded; retry later")
		return
	}
	for _, d := range deliveries {
		s.countEvents("instagram", d.Event.Kind, "recorded", 1)
		s.activity.note(store.SourceInstagram, d.Account, d.Event.Kind)
	}
	if len(deliveries) == 0 {
		// A signed delivery with nothing for a conversation (a dashboard test, app_roles)
		// still proves Meta reaches us.
		s.activity.note(store.SourceInstagram, "", "other")
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "events": len(deliveries)})
}

// Delivery is one Instagram event addressed to one conversation (account, IGSID).
type Delivery struct {
	Account, IGSID string
	Event          workflows.InstagramEvent
}

// toDeliveries flattens a batch into conversation events (InstagramDeliveries), counting
// and logging once per kind the events it does not handle.
func (s *Server) toDeliveries(env *instagram.Envelope) []Delivery {
	out, unknown := InstagramDeliveries(env, s.cfg.MetaAppID)
	for _, kind := range unknown {
		// Not handled (yet): acknowledged, logged once per kind, never a reason to fail
		// the batch or to start a conversation.
		s.countEvents("instagram", "unknown", "skipped", 1)
		if _, seen := s.unknownKinds.LoadOrStore(kind, true); !seen {
			s.log.Warn("Instagram event kind not handled; skipping", "kind", kind)
		}
	}
	return out
}

// InstagramDeliveries flattens a webhook batch (several entries, messaging and standby
// arrays) into conversation events, in the batch's order; unknown lists the kinds of the
// events it skipped because it does not handle them. Events that belong to no
// conversation (dashboard tests with entry id "0", app_roles) are skipped too. Pure: the
// conversation simulator (package sim) turns its deliveries into signals with it.
func InstagramDeliveries(env *instagram.Envelope, ourAppID string) (out []Delivery, unknown []string) {
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
				ev, igsid := toEvent(m, ourAppID)
				if ev.Kind == workflows.EventUnknown {
					unknown = append(unknown, ev.Detail)
					continue
				}
				if !identity.ValidID(igsid) || igsid == account {
					continue
				}
				ev.Standby = list.standby
				out = append(out, Delivery{Account: account, IGSID: igsid, Event: ev})
			}
		}
	}
	return out, unknown
}

// toEvent reduces a messaging item to the workflow's event and names the customer: the
// sender, except for echoes, where the business is the sender and the customer the
// recipient (spec §2.1).
func toEvent(m instagram.Messaging, ourApp string) (workflows.InstagramEvent, string) {
	ev := workflows.InstagramEvent{Timestamp: m.Timestamp}
	igsid := string(m.Sender.ID)
	switch {
	case m.Message != nil && m.Message.IsEcho:
		igsid = string(m.Recipient.ID)
		ev.Kind, ev.MID = workflows.EventEcho, m.Message.MID
		if m.Message.IsDeleted {
			// The business unsent one of its own messages: nothing to show for it.
			ev.Kind, ev.Detail = workflows.EventUnknown, "echo_deleted"
		}
		fillMessage(&ev, m.Message)
	case m.Message != nil && m.Message.IsDeleted:
		ev.Kind, ev.MID = workflows.EventUnsend, m.Message.MID
	case m.Message != nil:
		ev.Kind, ev.MID = workflows.EventMessage, m.Message.MID
		fillMessage(&ev, m.Message)
	case m.MessageEdit != nil:
		ev.Kind, ev.MID, ev.Text, ev.NumEdit = workflows.EventEdit, m.MessageEdit.MID, m.MessageEdit.Text, m.MessageEdit.NumEdit
	case m.Reaction != nil:
		ev.Kind, ev.MID = workflows.EventReaction, m.Reaction.MID
		ev.Action, ev.Emoji, ev.Reaction = m.Reaction.Action, m.Reaction.Emoji, m.Reaction.Reaction
	case m.Read != nil:
		ev.Kind, ev.MID = workflows.EventRead, m.Read.MID
	case m.Postback != nil:
		ev.Kind, ev.MID = workflows.EventPostback, m.Postback.MID
		ev.Title, ev.Payload, ev.Referral = m.Postback.Title, m.Postback.Payload, toReferral(m.Postback.Referral)
	case m.Referral != nil:
		ev.Kind, ev.Referral = workflows.EventReferral, toReferral(m.Referral)
	case m.PassThreadControl != nil && string(m.PassThreadControl.NewOwnerAppID) == ourApp:
		ev.Kind, ev.Action, ev.AppID, ev.Metadata = workflows.EventHandover, workflows.HandoverControlBack,
			string(m.PassThreadControl.PreviousOwnerAppID), m.PassThreadControl.Metadata
	case m.TakeThreadControl != nil:
		// Meta sends take_thread_control to the app losing control (spec §3.16).
		ev.Kind, ev.Action, ev.AppID, ev.Metadata = workflows.EventHandover, workflows.HandoverTaken,
			string(m.TakeThreadControl.NewOwnerAppID), m.TakeThreadControl.Metadata
	case m.PassThreadControl != nil:
		// Passed between other apps while we were the owner of record: we lost it.
		ev.Kind, ev.Action, ev.AppID, ev.Metadata = workflows.EventHandover, workflows.HandoverTaken,
			string(m.PassThreadControl.NewOwnerAppID), m.PassThreadControl.Metadata
	case m.RequestThreadControl != nil:
		ev.Kind, ev.Action, ev.AppID, ev.Metadata = workflows.EventHandover, workflows.HandoverRequested,
			string(m.RequestThreadControl.RequestedOwnerAppID), m.RequestThreadControl.Metadata
	default:
		ev.Kind, ev.Detail = workflows.EventUnknown, eventName(m)
	}
	return ev, igsid
}

func fillMessage(ev *workflows.InstagramEvent, msg *instagram.Message) {
	ev.Text, ev.Unsupported = msg.Text, msg.IsUnsupported
	for _, a := range msg.Attachments {
		ev.Attachments = append(ev.Attachments, workflows.Attachment{Type: a.Type, URL: a.URL(), Title: a.Title()})
	}
	if msg.QuickReply != nil {
		ev.QuickReplyPayload = msg.QuickReply.Payload
	}
	if msg.ReplyTo != nil {
		ev.ReplyToMID = msg.ReplyTo.MID
		if msg.ReplyTo.Story != nil {
			ev.ReplyToStoryURL = msg.ReplyTo.Story.URL
		}
	}
	ev.Referral = toReferral(msg.Referral)
}

func toReferral(r *instagram.Referral) *workflows.Referral {
	if r == nil {
		return nil
	}
	out := &workflows.Referral{Ref: r.Ref, Source: r.Source, Type: r.Type, AdID: string(r.AdID)}
	if r.Product != nil {
		out.ProductID = string(r.Product.ID)
	}
	if len(r.AdsContextData) > 0 {
		var ctx struct {
			AdTitle string `json:"ad_title"`
		}
		if json.Unmarshal(r.AdsContextData, &ctx) == nil {
			out.AdTitle = ctx.AdTitle
		}
	}
	return out
}

func eventName(m instagram.Messaging) string {
	switch {
	case m.AppRoles != nil:
		return "app_roles"
	case len(m.Optin) > 0:
		return "optin"
	case len(m.Unknown) > 0:
		return "unknown:" + strings.Join(m.Unknown, ",")
	}
	return "empty"
}

// signalAll records the deliveries in their conversations: one signal per conversation,
// carrying that conversation's events in the order Meta put them in the batch, so a
// delivery costs one history event per conversation however many events it holds.
// Conversations are signalled in parallel. Echoes of our own sends whose mid is recorded
// are dropped first: the conversation knows them already.
func (s *Server) signalAll(ctx context.Context, ds []Delivery) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ds, err := s.dropOwnEchoes(ctx, ds)
	if err != nil {
		return err
	}
	var order []string
	byConversation := map[string][]Delivery{}
	for _, d := range ds {
		id := identity.WorkflowID(d.Account, d.IGSID)
		if _, ok := byConversation[id]; !ok {
			order = append(order, id)
		}
		byConversation[id] = append(byConversation[id], d)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for _, id := range order {
		g.Go(func() error { return s.signalConversation(gctx, byConversation[id]) })
	}
	return g.Wait()
}

// dropOwnEchoes removes the echoes of messages this service sent and recorded (the
// delivery intents hold their mids). Meta may deliver an echo before the send's answer
// reached the worker, so an echo not recognised while its conversation has a send in flight
// waits up to echoWait for the answer to be recorded. Only a recorded mid drops an echo:
// one still unknown after the wait goes to the conversation, which tells its own sends
// from other tools' (and settles unknown outcomes with it).
func (s *Server) dropOwnEchoes(ctx context.Context, ds []Delivery) ([]Delivery, error) {
	if s.store == nil {
		return ds, nil
	}
	var mids []string
	for _, d := range ds {
		if d.Event.Kind == workflows.EventEcho && d.Event.MID != "" {
			mids = append(mids, d.Event.MID)
		}
	}
	if len(mids) == 0 {
		return ds, nil
	}
	known, err := s.ourMessages(ctx, mids)
	if err != nil {
		return nil, err
	}
	// lookAgain marks what the intents now record and returns the mids still unknown.
	lookAgain := func(mids []string) ([]string, error) {
		found, err := s.ourMessages(ctx, mids)
		for m := range found {
			known[m] = true
		}
		return slices.DeleteFunc(mids, func(m string) bool { return known[m] }), err
	}
	if len(known) < len(mids) {
		// Not recognised yet. The send's answer may have been recorded between the lookup
		// and the in-flight check (which then finds the call done): look once more, then
		// wait for the answers of the sends still in flight.
		waiting := s.echoesOfSendsInFlight(ctx, ds, known)
		if _, err := lookAgain(mids); err != nil {
			return nil, err
		}
		waiting = slices.DeleteFunc(waiting, func(m string) bool { return known[m] })
		for deadline := time.Now().Add(echoWait); len(waiting) > 0 && time.Now().Before(deadline); {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(echoPoll):
			}
			if waiting, err = lookAgain(waiting); err != nil {
				return nil, err
			}
		}
	}
	kept := ds[:0:0]
	for _, d := range ds {
		if d.Event.Kind == workflows.EventEcho && known[d.Event.MID] {
			s.countEvents("instagram", "echo", "skipped", 1)
			continue
		}
		kept = append(kept, d)
	}
	return kept, nil
}

// echoWait bounds how long an echo waits for its send's answer to be recorded (the worker
// records it right after Meta answers, so the wait is usually a few milliseconds); echoPoll
// is how often the intents are read meanwhile. The webhook's answer waits with it, only for
// an echo whose conversation has a send in flight.
const (
	echoWait = 500 * time.Millisecond
	echoPoll = 20 * time.Millisecond
)

// ourMessages: which of mids the delivery intents record as sent by this service.
func (s *Server) ourMessages(ctx context.Context, mids []string) (map[string]bool, error) {
	ours, err := s.store.OurMessages(ctx, mids)
	if err != nil {
		return nil, fmt.Errorf("look up echoes: %w", err)
	}
	known := make(map[string]bool, len(ours))
	for _, m := range ours {
		known[m] = true
	}
	return known, nil
}

// echoesOfSendsInFlight: the mids of the unrecognised echoes whose conversation has a send
// in flight. A failed lookup waits for nothing (the echo goes to the conversation).
func (s *Server) echoesOfSendsInFlight(ctx context.Context, ds []Delivery, known map[string]bool) []string {
	var mids []string
	inFlight := map[[2]string]bool{}
	for _, d := range ds {
		if d.Event.Kind != workflows.EventEcho || d.Event.MID == "" || known[d.Event.MID] {
			continue
		}
		conv := [2]string{d.Account, d.IGSID}
		busy, checked := inFlight[conv]
		if !checked {
			var err error
			if busy, err = s.store.SendInFlight(ctx, d.Account, d.IGSID); err != nil {
				s.log.Warn("Could not tell whether a send is in flight", "error", err)
			}
			inFlight[conv] = busy
		}
		if busy {
			mids = append(mids, d.Event.MID)
		}
	}
	return mids
}

// StartsConversation reports whether a conversation's events of one delivery start its
// workflow when it is not running (see signalConversation).
func StartsConversation(events []workflows.InstagramEvent) bool {
	for _, ev := range events {
		if k := ev.Kind; workflows.OpensConversation(k) || k == workflows.EventUnsend || k == workflows.EventEdit {
			return true
		}
	}
	return false
}

// signalConversation records one conversation's events of a delivery in its workflow.
// Events a customer starts a conversation with (a message, a tapped button, a referral)
// start the workflow if it is not running — a closed conversation gets a new run with the
// same ID. So may an unsend or edit, which Meta can deliver before the message it refers
// to: the run then stays dormant until that message arrives. Seen receipts, reactions,
// echoes and thread-control events only concern a running conversation: without one there
// is nothing to update, and starting one would greet the customer for a reaction.
func (s *Server) signalConversation(ctx context.Context, ds []Delivery) error {
	account, igsid := ds[0].Account, ds[0].IGSID
	id := identity.WorkflowID(account, igsid)
	batch := workflows.InstagramBatch{}
	for _, d := range ds {
		batch.Events = append(batch.Events, d.Event)
	}
	if !StartsConversation(batch.Events) {
		err := s.temporal.SignalWorkflow(ctx, id, "", workflows.SignalInstagram, batch)
		var notFound *serviceerror.NotFound
		if errors.As(err, &notFound) {
			s.log.Info("Instagram events for no running conversation dropped", "events", len(batch.Events))
			return nil
		}
		return err
	}
	_, err := s.temporal.SignalWithStartWorkflow(ctx, id, workflows.SignalInstagram, batch,
		client.StartWorkflowOptions{
			ID:                       id,
			TaskQueue:                s.cfg.TemporalTaskQueue,
			WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
			StaticSummary:            "Instagram conversation · account " + account + " · user " + igsid,
			TypedSearchAttributes: temporal.NewSearchAttributes(
				workflows.SAAccount.ValueSet(account),
				workflows.SAState.ValueSet(workflows.StateWaitingForAgent),
			),
		},
		workflows.ConversationWorkflowName, workflows.ConversationInput{PageID: account, IGSID: igsid})
	return err
}
