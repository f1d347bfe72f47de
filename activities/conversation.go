package activities

import (
	"context"
	"errors"
	"fmt"

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

// PostVisitorMessage posts a customer message with an _id derived from the Instagram event,
// so a retry after a lost response cannot post it twice.
func (a *Activities) PostVisitorMessage(ctx context.Context, in workflows.PostVisitorMessageInput) error {
	_, err := a.RC.SendMessage(ctx, a.visitorToken(in.PageID, in.IGSID), in.RoomID, identity.MessageID(in.Kind, in.MID), in.Text)
	if rocketchat.IsRoomClosed(err) || rocketchat.IsInvalidRoom(err) {
		return temporal.NewNonRetryableApplicationError("room "+in.RoomID+" is closed", workflows.ErrRoomClosed, err)
	}
	return rcError(err)
}

// SendToInstagram sends an agent's reply through the Send API.
func (a *Activities) SendToInstagram(ctx context.Context, in workflows.SendInput) (workflows.SendResult, error) {
	pageID, token, err := a.pageToken(ctx, in.PageID)
	if err != nil {
		return workflows.SendResult{}, err
	}
	res, err := a.IG.Send(ctx, pageID, token, instagram.SendRequest{Recipient: in.IGSID, Text: in.Text, MessagingType: "RESPONSE"})
	if err != nil {
		return workflows.SendResult{}, graphError(err)
	}
	return workflows.SendResult{MessageIDs: []string{res.MessageID}}, nil
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

// PostNote writes a note for the agent into the room as the bot user.
func (a *Activities) PostNote(ctx context.Context, in workflows.NoteInput) error {
	return rcError(a.RC.PostMessage(ctx, in.RoomID, in.Text, nil))
}
