package activities

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/igdirect/bridge/rocketchat"
	"github.com/igdirect/bridge/safetext"
	"github.com/igdirect/bridge/workflows"
)

// PostToRoom does the items in the room in order: customer messages as the visitor, with an
// _id derived from the Instagram event, and notes as the bot user, with an _id derived from
// the note's key — so a retried call posts nothing twice (Rocket.Chat refuses or skips an
// _id that exists); edits and deletions of earlier customer messages; visitor custom fields.
// Media (ItemUpload) never comes here: see UploadToRoom.
func (a *Activities) PostToRoom(ctx context.Context, in workflows.PostToRoomInput) (workflows.PostToRoomResult, error) {
	token := a.visitorToken(in.PageID, in.IGSID)
	for i, it := range in.Items {
		if i > 0 && a.budgetLeft(ctx) < time.Second {
			return workflows.PostToRoomResult{Posted: i}, nil // a slow Rocket.Chat: the rest in the next call
		}
		err := a.doRoomItem(ctx, token, in, it)
		if rocketchat.IsRoomClosed(err) || rocketchat.IsInvalidRoom(err) {
			return workflows.PostToRoomResult{Posted: i, RoomClosed: true}, nil
		}
		if err != nil {
			if i > 0 {
				// Report the progress; the workflow posts the rest in its next call.
				a.logger(ctx).Warn("Room post interrupted", "posted", i, "error", err)
				return workflows.PostToRoomResult{Posted: i}, nil
			}
			return workflows.PostToRoomResult{}, rcError(err)
		}
		a.delivered("to_rocketchat", it.Kind)
		if a.Metrics != nil && it.TS > 0 && it.Kind == workflows.ItemMessage {
			a.Metrics.InboundLatency.Observe(a.since(time.UnixMilli(it.TS)).Seconds())
		}
	}
	return workflows.PostToRoomResult{Posted: len(in.Items)}, nil
}

func (a *Activities) doRoomItem(ctx context.Context, token string, in workflows.PostToRoomInput, it workflows.RoomItem) error {
	log := a.logger(ctx)
	msgID := roomMessageID(it.MID)
	// Whatever the room shows came from a customer or from Meta, or quotes them: links,
	// images, mentions and bidi controls are made inert before Rocket.Chat renders them.
	it.Text = safetext.Neutralize(it.Text)
	switch it.Kind {
	case workflows.ItemMessage:
		_, err := a.RC.SendMessage(ctx, token, in.RoomID, msgID, it.Text)
		return err
	case workflows.ItemNote:
		err := a.RC.SendNote(ctx, in.RoomID, noteMessageID(it.MID), it.Text)
		if err != nil && !rocketchat.IsTransient(err) && !rocketchat.IsRoomClosed(err) {
			// A note is information for the agent; one Rocket.Chat refuses for good (the
			// bot lacks access to Omnichannel rooms, the _id exists already) is logged and
			// skipped, never allowed to hold up the customer's messages.
			log.Warn("Note not posted to the room", "room", in.RoomID, "error", err)
			return nil
		}
		return err
	case workflows.ItemEdit, workflows.ItemDelete:
		// A file the customer sent is a message whose _id Rocket.Chat chose (its upload API
		// takes none): the upload's delivery intent says which (issue 19).
		if id, err := a.Store.DeliveredAs(ctx, uploadKey(it.MID)); err != nil {
			return err
		} else if id != "" {
			msgID = id
		}
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
		note := fmt.Sprintf("The customer %s a message (Rocket.Chat did not allow changing it here): %s", what, it.Text)
		if nerr := a.RC.SendNote(ctx, in.RoomID, noteMessageID("refused-change:"+it.Kind+":"+it.MID), note); nerr != nil && rocketchat.IsTransient(nerr) {
			return nerr
		}
		return nil
	case workflows.ItemVisitorFields:
		var fields []rocketchat.CustomField
		for _, k := range slices.Sorted(maps.Keys(it.Fields)) {
			fields = append(fields, rocketchat.CustomField{Key: k, Value: it.Fields[k], Overwrite: true})
		}
		_, err := a.RC.RegisterVisitor(ctx, rocketchat.Visitor{Token: token, Name: it.Text, CustomFields: fields})
		return err
	}
	log.Warn("Unknown room item kind skipped", "kind", it.Kind)
	return nil
}
