package activities

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/igdirect/bridge/activities/instagram"
	"github.com/igdirect/bridge/activities/rocketchat"
	"github.com/igdirect/bridge/identity"
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
		activity.RecordHeartbeat(ctx, i+1)
	}
	return workflows.PostToRoomResult{Posted: len(in.Items)}, nil
}

func (a *Activities) doRoomItem(ctx context.Context, token string, in workflows.PostToRoomInput, it workflows.RoomItem) error {
	log := activity.GetLogger(ctx)
	msgID := identity.MessageID(workflows.ItemMessage, it.MID)
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

// SendToInstagram sends an agent's reply through the Send API, signed with the agent's name
// or username as the agent_display_name setting says.
func (a *Activities) SendToInstagram(ctx context.Context, in workflows.SendInput) (workflows.SendResult, error) {
	pageID, token, err := a.pageToken(ctx, in.PageID)
	if err != nil {
		return workflows.SendResult{}, err
	}
	settings, err := a.appSettings(ctx)
	if err != nil {
		return workflows.SendResult{}, err
	}
	text := signed(in.Text, in.AgentName, in.AgentUsername, settings.AgentDisplayName)
	res, err := a.IG.Send(ctx, pageID, token, instagram.SendRequest{Recipient: in.IGSID, Text: text, MessagingType: "RESPONSE"})
	if err != nil {
		return workflows.SendResult{}, graphError(err)
	}
	return workflows.SendResult{MessageIDs: []string{res.MessageID}}, nil
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
	pageID, token, err := a.pageToken(ctx, in.PageID)
	if err != nil {
		return workflows.SendAutomatedResult{}, err
	}
	res, err := a.IG.Send(ctx, pageID, token, instagram.SendRequest{Recipient: in.IGSID, Text: text, MessagingType: "RESPONSE"})
	if err != nil {
		return workflows.SendAutomatedResult{}, graphError(err)
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
