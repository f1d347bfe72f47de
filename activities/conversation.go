package activities

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/igdirect/bridge/identity"
	"github.com/igdirect/bridge/instagram"
	"github.com/igdirect/bridge/rocketchat"
	"github.com/igdirect/bridge/workflows"
)

// RegisterVisitor registers (upserts) the Livechat visitor of a conversation, named after
// the customer's Instagram profile, in the page's department.
func (a *Activities) RegisterVisitor(ctx context.Context, in workflows.RegisterVisitorInput) (workflows.VisitorInfo, error) {
	page, err := a.Store.PageByAccount(ctx, in.PageID)
	if err != nil {
		_, _, err = a.pageToken(ctx, in.PageID) // same error shape for "not connected"
		return workflows.VisitorInfo{}, err
	}
	_, token, err := a.pageToken(ctx, in.PageID)
	if err != nil {
		return workflows.VisitorInfo{}, err
	}
	info := workflows.VisitorInfo{Name: in.IGSID, Department: page.Department, PageID: page.PageID}
	// The profile is a nicety: a customer whose profile cannot be read (consent, blocked,
	// API down) is still served, under their IGSID.
	if p, err := a.IG.Profile(ctx, token, in.IGSID); err != nil {
		activity.GetLogger(ctx).Warn("Instagram profile unavailable; using the IGSID as name", "class", instagram.Classify(err).String(), "error", err)
	} else {
		info.Username = p.Username
		switch {
		case p.Name != "":
			info.Name = p.Name
		case p.Username != "":
			info.Name = p.Username
		}
	}
	fields := []rocketchat.CustomField{{Key: "instagram_id", Value: in.IGSID, Overwrite: true}}
	if info.Username != "" {
		fields = append(fields, rocketchat.CustomField{Key: "instagram_username", Value: info.Username, Overwrite: true})
	}
	v, err := a.RC.RegisterVisitor(ctx, rocketchat.Visitor{
		Token: a.visitorToken(in.PageID, in.IGSID), Name: info.Name, Department: info.Department, CustomFields: fields,
	})
	if err != nil {
		return workflows.VisitorInfo{}, rcError(err)
	}
	info.DepartmentID = v.Department // Rocket.Chat answers with the ID, whichever form we sent
	return info, nil
}

// OpenRoom gets the visitor's open room or creates one. "No agent online" is an answer, not
// an error: livechat/config says so up front, and room creation can still race into
// no-agent-online (spec rocketchat §8.1, §4).
func (a *Activities) OpenRoom(ctx context.Context, in workflows.OpenRoomInput) (workflows.OpenRoomResult, error) {
	token := a.visitorToken(in.PageID, in.IGSID)
	cfg, err := a.RC.Config(ctx, token, in.DepartmentID)
	if err != nil {
		return workflows.OpenRoomResult{}, rcError(err)
	}
	if cfg.RoomID == "" && (!cfg.Enabled || !cfg.Online) {
		return workflows.OpenRoomResult{NoAgent: true}, nil
	}
	room, _, err := a.RC.Room(ctx, token)
	switch {
	case rocketchat.IsNoAgentOnline(err):
		return workflows.OpenRoomResult{NoAgent: true}, nil
	case rocketchat.IsInvalidToken(err):
		// The visitor was removed in Rocket.Chat: register it again, then retry.
		if _, rerr := a.RegisterVisitor(ctx, workflows.RegisterVisitorInput{PageID: in.PageID, IGSID: in.IGSID}); rerr != nil {
			return workflows.OpenRoomResult{}, rerr
		}
		return workflows.OpenRoomResult{}, fmt.Errorf("visitor re-registered, room not yet open: %w", err)
	case err != nil:
		return workflows.OpenRoomResult{}, rcError(err)
	}
	return workflows.OpenRoomResult{RoomID: room.ID, Agent: room.ServedByUsername}, nil
}

// PostToRoom does the items in the room in order: customer messages as the visitor, with an
// _id derived from the Instagram event so a retry cannot post one twice; notes as the bot
// user; edits and deletions of earlier customer messages; visitor custom fields. Progress is
// recorded in heartbeats, so a retried call resumes after the last item done instead of
// repeating notes (which have no idempotency key).
func (a *Activities) PostToRoom(ctx context.Context, in workflows.PostToRoomInput) (workflows.PostToRoomResult, error) {
	token := a.visitorToken(in.PageID, in.IGSID)
	done := 0
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &done)
	}
	for i := done; i < len(in.Items); i++ {
		err := a.doRoomItem(ctx, token, in, in.Items[i])
		if rocketchat.IsRoomClosed(err) || rocketchat.IsInvalidRoom(err) {
			return workflows.PostToRoomResult{Posted: i, RoomClosed: true}, nil
		}
		if err != nil {
			return workflows.PostToRoomResult{}, rcError(err)
		}
		a.delivered("to_rocketchat", in.Items[i].Kind)
		if it := in.Items[i]; a.Metrics != nil && it.TS > 0 && (it.Kind == workflows.ItemMessage || it.Kind == workflows.ItemUpload) {
			a.Metrics.InboundLatency.Observe(time.Since(time.UnixMilli(it.TS)).Seconds())
		}
		activity.RecordHeartbeat(ctx, i+1)
	}
	return workflows.PostToRoomResult{Posted: len(in.Items)}, nil
}

func (a *Activities) doRoomItem(ctx context.Context, token string, in workflows.PostToRoomInput, it workflows.RoomItem) error {
	log := activity.GetLogger(ctx)
	msgID := roomMessageID(it.MID)
	switch it.Kind {
	case workflows.ItemMessage:
		_, err := a.RC.SendMessage(ctx, token, in.RoomID, msgID, it.Text)
		return err
	case workflows.ItemNote:
		err := a.RC.PostMessage(ctx, in.RoomID, it.Text, nil)
		if err != nil && !rocketchat.IsTransient(err) && !rocketchat.IsRoomClosed(err) {
			// A note is information for the agent; one Rocket.Chat refuses for good (the
			// bot lacks access to Omnichannel rooms) is logged and skipped, never allowed
			// to hold up the customer's messages.
			log.Warn("Note not posted to the room", "room", in.RoomID, "error", err)
			return nil
		}
		return err
	case workflows.ItemEdit, workflows.ItemDelete:
		var err error
		if it.Kind == workflows.ItemEdit {
			_, err = a.RC.UpdateMessage(ctx, token, in.RoomID, msgID, it.Text)
		} else {
			err = a.RC.DeleteMessage(ctx, token, in.RoomID, msgID)
		}
		if err == nil || rocketchat.IsTransient(err) || rocketchat.IsRoomClosed(err) || rocketchat.IsInvalidRoom(err) {
			return err
		}
		var rcErr *rocketchat.Error
		if errors.As(err, &rcErr) && rcErr.Code() == "invalid-message" {
			return nil // that part was never posted (e.g. a message without text)
		}
		// Rocket.Chat does not allow it (Message_AllowEditing / Message_AllowDeleting off):
		// tell the agent instead.
		what := "edited"
		if it.Kind == workflows.ItemDelete || it.Text == "" {
			what = "unsent"
		}
		log.Warn("Customer message could not be changed in the room", "kind", it.Kind, "error", err)
		return a.RC.PostMessage(ctx, in.RoomID, fmt.Sprintf("The customer %s a message (Rocket.Chat did not allow changing it here): %s", what, it.Text), nil)
	case workflows.ItemUpload:
		return a.uploadMedia(ctx, token, in, it)
	case workflows.ItemVisitorFields:
		var fields []rocketchat.CustomField
		for _, k := range sortedKeys(it.Fields) {
			fields = append(fields, rocketchat.CustomField{Key: k, Value: it.Fields[k], Overwrite: true})
		}
		_, err := a.RC.RegisterVisitor(ctx, rocketchat.Visitor{Token: token, Name: it.Text, CustomFields: fields})
		return err
	}
	log.Warn("Unknown room item kind skipped", "kind", it.Kind)
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Meta's messaging window (spec instagram §4.4): standard replies within 24 hours of the
// customer's last message; human agents' replies with the HUMAN_AGENT tag up to 7 days.
const (
	standardWindow = 24 * time.Hour
	humanWindow    = 7 * 24 * time.Hour
)

// SendToInstagram sends an agent's reply through the Send API: signed with the agent's name
// or username as the agent_display_name setting says, typed [[buttons]] and Rocket.Chat
// action buttons as quick replies, texts over 1000 bytes in several messages, files as
// attachments. Progress is kept in heartbeats, so a retry never resends a part Meta took.
func (a *Activities) SendToInstagram(ctx context.Context, in workflows.SendInput) (workflows.SendResult, error) {
	pageID, token, err := a.sendPage(ctx, in.PageID, false)
	if err != nil {
		return workflows.SendResult{}, err
	}
	settings, err := a.appSettings(ctx)
	if err != nil {
		return workflows.SendResult{}, err
	}
	req := instagram.SendRequest{Recipient: in.IGSID, MessagingType: "RESPONSE"}
	if !in.LastCustomerAt.IsZero() {
		switch since := time.Since(in.LastCustomerAt); {
		case since > humanWindow:
			return workflows.SendResult{}, temporal.NewNonRetryableApplicationError(
				"more than 7 days since the customer's last message; Instagram allows no reply until they write again", workflows.ErrOutsideWindow, nil)
		case since > standardWindow && !settings.HumanAgentTag:
			return workflows.SendResult{}, temporal.NewNonRetryableApplicationError(
				"more than 24 hours since the customer's last message and the HUMAN_AGENT tag is turned off", workflows.ErrOutsideWindow, nil)
		case since > standardWindow:
			req.MessagingType, req.Tag = "MESSAGE_TAG", "HUMAN_AGENT"
		}
	}
	text, qrs := quickReplies(in.Text, in.Buttons)
	if len(qrs) > maxQuickReplies {
		return workflows.SendResult{}, rejected(fmt.Sprintf("Instagram allows at most %d quick replies; this message has %d", maxQuickReplies, len(qrs)))
	}
	if text != "" || in.File == nil {
		text = signed(text, in.AgentName, in.AgentUsername, settings.AgentDisplayName)
	}
	parts := []string{}
	if text != "" {
		parts = splitText(text, maxTextBytes)
	}
	if len(qrs) > 0 && len(parts) > 1 {
		return workflows.SendResult{}, rejected("a message with quick replies must fit in 1000 bytes (Instagram's limit)")
	}

	var progress workflows.SendResult
	if activity.HasHeartbeatDetails(ctx) {
		_ = activity.GetHeartbeatDetails(ctx, &progress)
	}
	if len(progress.MessageIDs) == 0 {
		a.takeControl(ctx, pageID, token, in, settings)
	}
	for i := in.SkipParts + len(progress.MessageIDs); i < len(parts); i++ {
		r := req
		r.Text = parts[i]
		if i == len(parts)-1 {
			r.QuickReplies = qrs
		}
		res, err := a.IG.Send(ctx, pageID, token, r)
		a.sendResult(in.PageID, err)
		if err != nil {
			if in.OtherAppOwns && notThreadOwner(err) {
				return workflows.SendResult{}, temporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrNoThreadControl, nil)
			}
			if outcomeUnknown(err) {
				// Meta may have taken it: the workflow checks for its echo before sending again.
				return workflows.SendResult{}, temporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrSendUnknown, err,
					workflows.SendUnknown{Sent: progress.MessageIDs, Expect: r.Text})
			}
			return workflows.SendResult{}, a.sendError(ctx, in.PageID, err)
		}
		a.delivered("to_instagram", "text")
		progress.MessageIDs = append(progress.MessageIDs, res.MessageID)
		activity.RecordHeartbeat(ctx, progress)
	}
	if in.File != nil && in.SkipParts+len(progress.MessageIDs) >= len(parts) {
		mid, err := a.sendFile(ctx, pageID, token, in, settings, req)
		if err != nil {
			return workflows.SendResult{}, err
		}
		progress.MessageIDs = append(progress.MessageIDs, mid)
	}
	return progress, nil
}

// signed prefixes a reply with the agent's display name: "Ana: text".
func signed(text, name, username, mode string) string {
	who := ""
	switch mode {
	case "name":
		who = name
		if who == "" {
			who = username
		}
	case "username":
		who = username
	}
	if who == "" {
		return text
	}
	return who + ": " + text
}

// automatedWindow: automated messages may only be sent within 24 hours of the customer's
// last message (spec instagram §4.4; the HUMAN_AGENT tag is for humans only).
const automatedWindow = 24 * time.Hour

// SendAutomated sends one of the page's automated messages, with its text as configured
// right now. A page without that message configured, or a customer outside the window, is
// not an error: the result says why nothing was sent.
func (a *Activities) SendAutomated(ctx context.Context, in workflows.SendAutomatedInput) (workflows.SendAutomatedResult, error) {
	page, err := a.Store.PageByAccount(ctx, in.PageID)
	if err != nil {
		_, _, err = a.pageToken(ctx, in.PageID)
		return workflows.SendAutomatedResult{}, err
	}
	text := map[string]string{
		workflows.AutoWelcome:  page.WelcomeMessage,
		workflows.AutoOffline:  page.OfflineMessage,
		workflows.AutoFinished: page.FinishedMessage,
	}[in.Which]
	if text == "" {
		return workflows.SendAutomatedResult{Skipped: "no " + in.Which + " message configured for the page"}, nil
	}
	if !in.LastCustomerAt.IsZero() && time.Since(in.LastCustomerAt) > automatedWindow {
		return workflows.SendAutomatedResult{Skipped: "outside the 24-hour messaging window"}, nil
	}
	pageID, token, err := a.sendPage(ctx, in.PageID, false)
	if err != nil {
		return workflows.SendAutomatedResult{}, err
	}
	res, err := a.IG.Send(ctx, pageID, token, instagram.SendRequest{Recipient: in.IGSID, Text: text, MessagingType: "RESPONSE"})
	a.sendResult(in.PageID, err)
	if err != nil {
		return workflows.SendAutomatedResult{}, a.sendError(ctx, in.PageID, err)
	}
	return workflows.SendAutomatedResult{Text: text, MessageIDs: []string{res.MessageID}}, nil
}

// graphError maps a Graph API error to the outcome the spec's table gives its class.
func graphError(err error) error {
	switch instagram.Classify(err) {
	case instagram.Transient:
		return err
	case instagram.RateLimited:
		opts := temporal.ApplicationErrorOptions{}
		var e *instagram.Error
		if errors.As(err, &e) && e.RetryAfter > 0 {
			opts.NextRetryDelay = e.RetryAfter
		}
		return temporal.NewApplicationErrorWithOptions(err.Error(), "GraphRateLimited", opts)
	case instagram.AuthExpired:
		return temporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrAuthExpired, nil)
	case instagram.OutsideWindow:
		return temporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrOutsideWindow, nil)
	default:
		return temporal.NewNonRetryableApplicationError(err.Error(), workflows.ErrSendRejected, nil)
	}
}

// PostNote writes a note for the agent into the room as the bot user. Only transient
// failures are retried: a refusal (room closed, bot without access to Omnichannel rooms) is
// final, and a note is never worth holding up the conversation for.
func (a *Activities) PostNote(ctx context.Context, in workflows.NoteInput) error {
	err := a.RC.PostMessage(ctx, in.RoomID, in.Text, nil)
	if err != nil && !rocketchat.IsTransient(err) {
		activity.GetLogger(ctx).Warn("Note not posted to the room", "room", in.RoomID, "error", err)
		return nil
	}
	return rcError(err)
}

// roomMessageID is the Rocket.Chat _id of a customer message (or one of its parts).
func roomMessageID(key string) string { return identity.MessageID(workflows.ItemMessage, key) }

// rcErrorCode names a Rocket.Chat refusal for a note.
func rcErrorCode(err error) string {
	var e *rocketchat.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return err.Error()
}

// outcomeUnknown reports a send failure after which Meta may still have delivered the
// message (spec §10: "A timeout or 5xx after the request was accepted can mean the message
// was sent"): timeouts, cut connections and server errors; not refusals Meta answered with
// an error body, and not failures to connect at all.
func outcomeUnknown(err error) bool {
	var e *instagram.Error
	if errors.As(err, &e) {
		return e.HTTPStatus >= 500 || e.Code == 1 && e.Subcode == 1357046
	}
	if instagram.Classify(err) != instagram.Transient {
		return false
	}
	msg := err.Error()
	return !strings.Contains(msg, "connection refused") && !strings.Contains(msg, "no such host")
}
