package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/igdirect/bridge/identity"
	"github.com/igdirect/bridge/instagram"
	"github.com/igdirect/bridge/rocketchat"
	"github.com/igdirect/bridge/safetext"
	"github.com/igdirect/bridge/store"
	"github.com/igdirect/bridge/workflows"
)

// LoadConversation returns the conversation tunables and the current application settings
// the workflow decides on, and for a fresh run the memory of the last completed run (its
// dedup keys, and the notes for the agents it could not show).
func (a *Activities) LoadConversation(ctx context.Context, in workflows.LoadConversationInput) (workflows.LoadConversationResult, error) {
	s := a.Settings
	app, err := a.appSettings(ctx)
	if err != nil {
		return workflows.LoadConversationResult{}, err
	}
	s.UnsendAction = app.UnsendAction
	res := workflows.LoadConversationResult{Settings: s}
	if in.Memory {
		seen, notes, err := a.Store.ConversationMemory(ctx, identity.WorkflowID(in.PageID, in.IGSID))
		if err != nil {
			return workflows.LoadConversationResult{}, err
		}
		if seen != nil {
			if err := decodeMemory(seen, &res); err != nil {
				a.logger(ctx).Warn("Conversation memory unreadable; starting without it", "error", err)
			}
		}
		if notes != nil {
			if err := json.Unmarshal(notes, &res.Notes); err != nil {
				a.logger(ctx).Warn("Conversation notes unreadable; dropped", "error", err)
			}
		}
	}
	return res, nil
}

// SaveConversation keeps a completed run's memory for the conversation's next run, and
// deletes what is left of its inbound overflow (rows read back already: the run held them).
func (a *Activities) SaveConversation(ctx context.Context, in workflows.SaveConversationInput) error {
	seen, err := encodeMemory(in)
	if err != nil {
		return err
	}
	var notes []byte
	if len(in.Notes) > 0 {
		if notes, err = json.Marshal(in.Notes); err != nil {
			return err
		}
	}
	id := identity.WorkflowID(in.PageID, in.IGSID)
	if err := a.Store.SaveConversationMemory(ctx, id, seen, notes); err != nil {
		return err
	}
	return a.Store.DropSpool(ctx, id)
}

// memoryHashes is the conversation memory's dedup part (conversation_memory.seen): the run's
// dedup keys and the unsends still waiting for their message. A first version's row holds
// the dedup keys alone (a JSON string); both are read.
type memoryHashes struct {
	Seen   workflows.Hashes `json:"seen"`
	Unsent workflows.Hashes `json:"unsent,omitzero"`
}

func encodeMemory(in workflows.SaveConversationInput) ([]byte, error) {
	return json.Marshal(memoryHashes{Seen: in.Seen, Unsent: in.Unsent})
}

func decodeMemory(raw []byte, res *workflows.LoadConversationResult) error {
	if t := bytes.TrimSpace(raw); len(t) > 0 && t[0] != '{' {
		return json.Unmarshal(raw, &res.Seen) // a first version's row
	}
	var m memoryHashes
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	res.Seen, res.Unsent = m.Seen, m.Unsent
	return nil
}

// SpoolEvents writes events of a conversation's inbound overflow to PostgreSQL (and deletes
// those read back up to Acked).
func (a *Activities) SpoolEvents(ctx context.Context, in workflows.SpoolEventsInput) error {
	rows := make([]store.SpooledEvent, 0, len(in.Events))
	for _, ev := range in.Events {
		data, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		rows = append(rows, store.SpooledEvent{TS: ev.Timestamp, Key: ev.DedupKey(), Data: data})
	}
	return a.Store.SpoolEvents(ctx, identity.WorkflowID(in.PageID, in.IGSID), rows, in.Acked.TS, in.Acked.Key)
}

// UnspoolEvents reads back the first events of a conversation's inbound overflow.
func (a *Activities) UnspoolEvents(ctx context.Context, in workflows.UnspoolEventsInput) (workflows.UnspoolEventsResult, error) {
	rows, remaining, next, err := a.Store.UnspoolEvents(ctx, identity.WorkflowID(in.PageID, in.IGSID), in.After.TS, in.After.Key, in.Limit)
	if err != nil {
		return workflows.UnspoolEventsResult{}, err
	}
	res := workflows.UnspoolEventsResult{Remaining: remaining, Next: workflows.EventKey{TS: next.TS, Key: next.Key}}
	for _, r := range rows {
		var ev workflows.InstagramEvent
		if err := json.Unmarshal(r.Data, &ev); err != nil {
			return workflows.UnspoolEventsResult{}, temporal.NewNonRetryableApplicationError(
				"an overflow event does not decode: "+err.Error(), "SpoolUnreadable", nil)
		}
		res.Events = append(res.Events, ev)
	}
	return res, nil
}

// defaultProfileTimeout: see Activities.ProfileTimeout.
const defaultProfileTimeout = 3 * time.Second

// RegisterVisitor registers (upserts) the Livechat visitor of a conversation, named after
// the customer's Instagram profile, in the page's department. Final refusals: the account
// is not connected (ErrPageNotConnected), the department does not exist
// (ErrDepartmentNotFound).
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
	// The profile is a nicety: a customer whose profile cannot be read in time (consent,
	// blocked, API slow or down) is still served, under their IGSID.
	timeout := a.ProfileTimeout
	if timeout <= 0 {
		timeout = defaultProfileTimeout
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	p, perr := a.IG.Profile(pctx, token, in.IGSID)
	cancel()
	if perr != nil {
		a.logger(ctx).Warn("Instagram profile unavailable; using the IGSID as name", "class", instagram.Classify(perr).String(), "error", perr)
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
	if hasCode(err, "error-invalid-department") {
		return workflows.VisitorInfo{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("the department %q of Instagram account %s does not exist in Rocket.Chat", info.Department, in.PageID),
			workflows.ErrDepartmentNotFound, err)
	}
	if err != nil {
		return workflows.VisitorInfo{}, rcError(err)
	}
	info.DepartmentID = v.Department // Rocket.Chat answers with the ID, whichever form we sent
	return info, nil
}

func hasCode(err error, code string) bool {
	var e *rocketchat.Error
	return errors.As(err, &e) && e.Code() == code
}

// OpenRoom gets the visitor's open room or creates one. "No agent online" is an answer, not
// an error: livechat/config says so up front, and room creation can still race into
// no-agent-online (spec rocketchat §8.1, §4).
func (a *Activities) OpenRoom(ctx context.Context, in workflows.OpenRoomInput) (workflows.OpenRoomResult, error) {
	token := a.visitorToken(in.PageID, in.IGSID)
	// The page may point at another department since the visitor was registered (an admin's
	// edit): registered there first, the customer waits for that department's agents.
	var visitor *workflows.VisitorInfo
	if page, err := a.Store.PageByAccount(ctx, in.PageID); err == nil && in.Department != nil && page.Department != *in.Department {
		v, err := a.RegisterVisitor(ctx, workflows.RegisterVisitorInput{PageID: in.PageID, IGSID: in.IGSID})
		if err != nil {
			return workflows.OpenRoomResult{}, err
		}
		visitor, in.DepartmentID = &v, v.DepartmentID
	}
	res, err := a.openRoom(ctx, token, in)
	res.Visitor = visitor
	return res, err
}

func (a *Activities) openRoom(ctx context.Context, token string, in workflows.OpenRoomInput) (workflows.OpenRoomResult, error) {
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

// PostNote writes a note for the agent into a room as the bot user, under an _id derived
// from its key (a retry cannot post it twice). Only transient failures are retried: a
// refusal (room closed, bot without access to Omnichannel rooms) is final, and a note is
// never worth holding anything up for.
func (a *Activities) PostNote(ctx context.Context, in workflows.NoteInput) error {
	err := a.RC.SendNote(ctx, in.RoomID, noteMessageID(in.Key), safetext.Neutralize(in.Text))
	if err != nil && !rocketchat.IsTransient(err) {
		a.logger(ctx).Warn("Note not posted to the room", "room", in.RoomID, "error", err)
		return nil
	}
	return rcError(err)
}

// NotifyAdmins posts a notice in the setup channel once per key until the key is cleared,
// however many conversations run into the same cause; Clear forgets the notices of a cause
// that is gone, so a recurrence is reported again. Counts blocked conversations by reason.
func (a *Activities) NotifyAdmins(ctx context.Context, in workflows.NoticeInput) error {
	if in.Clear {
		return a.Store.ClearNotices(ctx, in.Key)
	}
	if in.Reason != "" && a.Metrics != nil {
		a.Metrics.ConversationsBlocked.WithLabelValues(in.Reason).Inc()
	}
	if in.Key == "" || in.Text == "" {
		return nil // a count only
	}
	first, err := a.Store.ClaimNotice(ctx, in.Key)
	if err != nil || !first || a.SetupChannel == "" {
		return err
	}
	if err := a.RC.PostMessage(ctx, "#"+a.SetupChannel, safetext.Neutralize(in.Text), nil); err != nil {
		if rocketchat.IsTransient(err) {
			_ = a.Store.ClearNotices(context.WithoutCancel(ctx), in.Key) // let the retry post it
			return rcError(err)
		}
		a.logger(ctx).Warn("Notice not posted in the setup channel", "channel", a.SetupChannel, "error", err)
	}
	return nil
}

// roomMessageID is the Rocket.Chat _id of a customer message (or one of its parts).
func roomMessageID(key string) string { return identity.MessageID(workflows.ItemMessage, key) }

// noteMessageID is the Rocket.Chat _id of a note.
func noteMessageID(key string) string { return identity.MessageID(workflows.ItemNote, key) }

// rcErrorCode names a Rocket.Chat refusal for a note.
func rcErrorCode(err error) string {
	var e *rocketchat.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return err.Error()
}
