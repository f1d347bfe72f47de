package activities

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/igdirect/bridge/appsettings"
	"github.com/igdirect/bridge/instagram"
	"github.com/igdirect/bridge/rocketchat"
	"github.com/igdirect/bridge/workflows"
)

// Reading a room's agent messages (livechat/messages.history, newest first).
const (
	historyPage = 50
	// historyPagesLocal: a local activity reads at most this many pages (1000 messages) of
	// a room's history; a longer walk is a regular activity's (errLongHistory).
	historyPagesLocal = 20
	// historyReserve: the walk stops with this much of the activity's time left, so what
	// was read is never half-handled.
	historyReserve = 15 * time.Second
	// localSendBudget: a local activity starts a send only with this much of its budget
	// left; otherwise it hands over to a regular activity.
	localSendBudget = 2 * time.Second
)

// SyncReplies sends the room's agent messages that were not handled yet, in Rocket.Chat's
// order. The room's history is the truth for order and content, so webhooks that come late,
// twice, out of order or not at all change nothing. Each part of each reply is sent under a
// delivery intent (exactly once); a part whose outcome is unknown stops the sync until
// Meta's echo (or its absence) settles it.
func (a *Activities) SyncReplies(ctx context.Context, in workflows.SyncRepliesInput) (workflows.SyncRepliesResult, error) {
	defer keepAlive(ctx)()
	res := workflows.SyncRepliesResult{Cursor: in.Cursor}
	unconfirmed, err := a.settle(ctx, in.PageID, in.IGSID, in.Resolved)
	if err != nil {
		return res, err
	}
	msgs, closed, newest, err := a.repliesAfter(ctx, in)
	if errors.Is(err, errLongHistory) && in.Local {
		res.Stop = &workflows.Stop{Kind: workflows.StopContinue, Regular: true}
		return res, nil
	}
	if rocketchat.IsInvalidRoom(err) || rocketchat.IsInvalidToken(err) {
		res.RoomGone = true
		return res, nil
	}
	if err != nil {
		return res, rcError(err)
	}
	res.RoomClosed = closed
	if len(msgs) == 0 {
		res.Cursor.ReadUpTo(newest, a.now())
		return res, nil
	}
	settings, err := a.appSettings(ctx)
	if err != nil {
		return res, err
	}
	for _, m := range msgs {
		if in.Discard != "" {
			res.Refused = append(res.Refused, workflows.RefusedReply{ID: m.ID, What: replySummary(m), Reason: in.Discard})
			res.Cursor.Advance(m.ID, m.TS, a.now())
			continue
		}
		if in.Local && (m.File != nil || a.budgetLeft(ctx) < localSendBudget) {
			res.Stop = &workflows.Stop{Kind: workflows.StopContinue, Regular: true}
			return res, nil
		}
		sent, stop, refusal, err := a.sendReply(ctx, in, settings, m)
		if refusal != nil && unconfirmedPart(unconfirmed, m.ID) {
			refusal.Unconfirmed = true // it may have reached the customer before
		}
		switch {
		case err != nil:
			res.PartMIDs = sent.MIDs
			return res, err
		case stop != nil:
			res.Stop = stop
			res.PartMIDs = sent.MIDs // the parts sent before it stopped: their echoes are ours
			return res, nil
		case refusal != nil:
			res.Refused = append(res.Refused, *refusal)
		case sent.MIDs != nil:
			res.Sent = append(res.Sent, sent)
			if a.Metrics != nil && !m.TS.IsZero() {
				a.Metrics.OutboundLatency.Observe(a.since(m.TS).Seconds())
			}
		}
		res.Cursor.Advance(m.ID, m.TS, a.now())
	}
	res.Cursor.ReadUpTo(newest, a.now()) // every reply read was handled
	return res, nil
}

// closeMessage is the type of the system message Rocket.Chat adds when a room is closed.
const closeMessage = "livechat-close"

// errLongHistory: the room's messages since the cursor are more than this activity may
// read; nothing of them is handled (the cursor stays), a regular activity reads them.
var errLongHistory = errors.New("the room's history since the last reply handled is too long to read in this activity")

// repliesAfter reads the room's agent messages after the cursor, oldest first, whether the
// history shows the room closed (its close webhook may never come), and the newest message's
// time (the cursor moves up to it once every reply read is handled, so the next read stops
// there instead of walking the customer's messages again). It reads back to
// the cursor's floor however far that is (issue 19: it stopped after 20 pages, and replies
// older than those were never sent): a local activity hands a long walk to a regular one,
// which reads until its time runs short and then fails (Temporal retries it).
func (a *Activities) repliesAfter(ctx context.Context, in workflows.SyncRepliesInput) ([]rocketchat.HistoryMessage, bool, time.Time, error) {
	token := a.visitorToken(in.PageID, in.IGSID)
	floor := in.Cursor.Floor()
	seen := map[string]bool{}
	var out []rocketchat.HistoryMessage
	closed := false
	var end, newest time.Time
	for page := 0; ; page++ {
		if in.Local && page == historyPagesLocal || page > 0 && a.budgetLeft(ctx) < historyReserve {
			return nil, false, time.Time{}, fmt.Errorf("%w (%d pages read)", errLongHistory, page)
		}
		batch, raw, err := a.RC.HistoryPage(ctx, token, in.RoomID, end, historyPage)
		if err != nil {
			return nil, false, time.Time{}, err
		}
		if page == 0 && len(batch) > 0 {
			newest = batch[0].TS // newest first
		}
		for _, m := range batch {
			closed = closed || m.T == closeMessage
			if seen[m.ID] || in.Cursor.Handled(m.ID, m.TS) || !a.isAgentReply(m) {
				continue
			}
			seen[m.ID] = true
			out = append(out, m)
		}
		// The end is a page shorter than asked, counted before unreadable messages were left
		// out (a page with one of them is not the last).
		if raw < historyPage || len(batch) == 0 || batch[len(batch)-1].TS.Before(floor) {
			break
		}
		// Messages stamped in the same millisecond as the page's oldest are read again
		// (end excludes its own instant); seen skips them.
		end = batch[len(batch)-1].TS.Add(time.Millisecond)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].TS.Equal(out[j].TS) {
			return out[i].TS.Before(out[j].TS)
		}
		return out[i].ID < out[j].ID
	})
	return out, closed, newest, nil
}

// isAgentReply: a message written in the room by an agent (or a bot app) for the customer —
// not the visitor's own (they carry the visitor token), not a system message, not this
// service's notes (posted as the bot user), and with something to send.
func (a *Activities) isAgentReply(m rocketchat.HistoryMessage) bool {
	if m.Token != "" || m.T != "" || m.U.ID == a.RC.UserID() {
		return false
	}
	// A message with nothing Instagram can show (a quote alone, an attachment of a shape
	// not known) is still the agent's: sendReply tells them it was not sent.
	return m.Msg != "" || m.File != nil || len(m.Blocks) > 0 || len(m.Attachments) > 0 || len(m.Unreadable) > 0
}

// nothingToSend is why an agent message without text or file was not sent ("": it has some).
func nothingToSend(m rocketchat.HistoryMessage) string {
	text, buttons := rocketchat.AgentContent(m.Msg, m.Blocks)
	switch {
	case strings.TrimSpace(text) != "" || len(buttons) > 0 || m.File != nil:
		return ""
	case len(m.Attachments) > 0:
		return "it has no text of its own (a quote or attachment alone); Instagram shows only text and files: write the reply's text"
	default:
		return fmt.Sprintf("its %s could not be read (a shape this bridge does not know); send the text or the file again", strings.Join(m.Unreadable, " and "))
	}
}

func replySummary(m rocketchat.HistoryMessage) string {
	if m.File != nil && m.Msg == "" {
		return "file " + m.File.Name
	}
	text, _ := rocketchat.AgentContent(m.Msg, m.Blocks)
	if strings.TrimSpace(text) == "" {
		for _, a := range m.Attachments {
			if t := strings.TrimSpace(a.Text + " " + a.Title); t != "" {
				return fmt.Sprintf("quote %q", truncateRunes(t, 80))
			}
		}
	}
	return fmt.Sprintf("%q", truncateRunes(text, 80))
}

// unconfirmedPart: a part of the reply had an outcome nobody could settle.
func unconfirmedPart(keys map[string]bool, id string) bool {
	for k := range keys {
		if strings.HasPrefix(k, "rc:"+id+"#") {
			return true
		}
	}
	return false
}

// deliveredEarlier reports whether every part of the reply was delivered by an earlier call.
func (a *Activities) deliveredEarlier(ctx context.Context, m rocketchat.HistoryMessage, settings appsettings.Settings) (bool, error) {
	text, _ := replyContent(m, settings.AgentDisplayName)
	var keys []string
	if text != "" {
		for i := range splitText(text, maxTextBytes) {
			keys = append(keys, fmt.Sprintf("rc:%s#%d", m.ID, i))
		}
	}
	if m.File != nil {
		keys = append(keys, "rc:"+m.ID+"#file")
	}
	for _, k := range keys {
		id, err := a.Store.DeliveredAs(ctx, k)
		if err != nil || id == "" {
			return false, err
		}
	}
	return len(keys) > 0, nil
}

// Meta's messaging window (spec instagram §4.4): standard replies within 24 hours of the
// customer's last message; human agents' replies with the HUMAN_AGENT tag up to 7 days.
const (
	standardWindow = 24 * time.Hour
	humanWindow    = 7 * 24 * time.Hour
)

// sendReply sends one agent message: signed with the agent's name or username as the
// agent_display_name setting says, typed [[buttons]] and UI-kit buttons as quick replies,
// texts over 1000 bytes in several messages, a file as an attachment. It returns a Stop
// when the reply must wait, a refusal when it cannot be sent at all.
func (a *Activities) sendReply(ctx context.Context, in workflows.SyncRepliesInput, settings appsettings.Settings,
	m rocketchat.HistoryMessage) (workflows.SentReply, *workflows.Stop, *workflows.RefusedReply, error) {
	refuse := func(why string) (workflows.SentReply, *workflows.Stop, *workflows.RefusedReply, error) {
		return workflows.SentReply{}, nil, &workflows.RefusedReply{ID: m.ID, What: replySummary(m), Reason: why}, nil
	}
	if why := nothingToSend(m); why != "" {
		return refuse(why)
	}
	// A reply whose every part an earlier call delivered (its outcome was settled by Meta's
	// echo or the thread) is done, whatever has changed since (the account disconnected, a
	// setting): it must not come back to the agent as "not delivered" (issue 19).
	if done, err := a.deliveredEarlier(ctx, m, settings); err != nil {
		return workflows.SentReply{}, nil, nil, &bookkeepingError{err}
	} else if done {
		return workflows.SentReply{}, nil, nil, nil
	}
	req := instagram.SendRequest{Recipient: in.IGSID, MessagingType: "RESPONSE"}
	if !in.LastCustomerAt.IsZero() {
		switch since := a.since(in.LastCustomerAt); {
		case since > humanWindow:
			return refuse("more than 7 days since the customer's last message; Instagram allows no reply until they write again")
		case since > standardWindow && !settings.HumanAgentTag:
			return refuse("more than 24 hours since the customer's last message and the HUMAN_AGENT tag is turned off")
		case since > standardWindow:
			req.MessagingType, req.Tag = "MESSAGE_TAG", "HUMAN_AGENT"
		}
	}
	text, qrs := replyContent(m, settings.AgentDisplayName)
	if len(qrs) > maxQuickReplies {
		return refuse(fmt.Sprintf("Instagram allows at most %d quick replies; this message has %d", maxQuickReplies, len(qrs)))
	}
	var parts []string
	if text != "" {
		parts = splitText(text, maxTextBytes)
	}
	if len(qrs) > 0 && len(parts) > 1 {
		return refuse("a message with quick replies must fit in 1000 bytes (Instagram's limit)")
	}
	var file *agentFile
	if m.File != nil {
		f, why, err := a.prepareAgentFile(ctx, m, settings)
		if err != nil {
			return workflows.SentReply{}, nil, nil, err
		}
		if why != "" {
			return refuse(why)
		}
		file = &f
	}
	pageID, token, stop, err := a.sendGate(ctx, in.PageID, file != nil && (file.kind == "video" || file.kind == "audio"))
	switch {
	case errors.Is(err, errNotConnected):
		return refuse(errNotConnected.Error())
	case err != nil:
		return workflows.SentReply{}, nil, nil, err
	case stop != nil:
		return workflows.SentReply{}, stop, nil, nil
	}
	a.takeControl(ctx, pageID, token, in.IGSID, in.OtherAppOwns, settings)

	sent := workflows.SentReply{ID: m.ID, Text: text}
	var mids []string // MIDs of parts sent by this call; a reply an earlier call sent is not reported again
	send := func(key string, r instagram.SendRequest, expect workflows.Expectation) (*workflows.Stop, error) {
		if in.Local && a.budgetLeft(ctx) < localSendBudget {
			return &workflows.Stop{Kind: workflows.StopContinue, Regular: true}, nil
		}
		call := func() (delivery, error) {
			return a.once(ctx, key, in.PageID, in.IGSID, func() (string, error) {
				res, err := a.IG.Send(ctx, pageID, token, r)
				a.sendResult(in.PageID, err)
				if err != nil && outcomeUnknown(err) {
					return "", fmt.Errorf("%w: %w", errOutcomeUnknown, err)
				}
				return res.MessageID, err
			})
		}
		d, err := call()
		if err == nil && d.refused != nil && a.regainControl(ctx, pageID, token, in.IGSID, d.refused, in.OtherAppOwns) {
			d, err = call()
		}
		if err != nil {
			return nil, &bookkeepingError{err}
		}
		if d.unknown {
			expect.At, expect.Attempt = d.since, d.attempt
			return &workflows.Stop{Kind: workflows.StopUnknown, Expect: &expect, Reason: "the Send API's answer is missing"}, nil
		}
		if d.refused != nil {
			return a.sendFailure(ctx, in.PageID, d.refused, in.OtherAppOwns)
		}
		if !d.before || mids != nil {
			mids = append(mids, d.id)
		}
		return nil, nil
	}
	for i, part := range parts {
		r := req
		r.Text = part
		if i == len(parts)-1 {
			r.QuickReplies = qrs
		}
		key := fmt.Sprintf("rc:%s#%d", m.ID, i)
		stop, err := send(key, r, workflows.Expectation{Key: key, Text: part})
		if stop != nil {
			return workflows.SentReply{MIDs: mids}, stop, nil, nil
		}
		if failed, ok := asBookkeeping(err); ok {
			return workflows.SentReply{MIDs: mids}, nil, nil, failed
		}
		if err != nil {
			return refuse(err.Error())
		}
		a.delivered("to_instagram", "text")
	}
	if file != nil {
		r := req
		r.Attachment = &instagram.Attachment{Type: file.kind, URL: file.url}
		key := "rc:" + m.ID + "#file"
		stop, err := send(key, r, workflows.Expectation{Key: key, Type: file.kind})
		if stop != nil {
			return workflows.SentReply{MIDs: mids}, stop, nil, nil
		}
		if failed, ok := asBookkeeping(err); ok {
			return workflows.SentReply{MIDs: mids}, nil, nil, failed
		}
		if err != nil {
			return refuse(err.Error())
		}
		a.delivered("to_instagram", file.kind)
	}
	sent.MIDs = mids
	return sent, nil, nil, nil
}

// buttonsOnlyText is the text of a reply that is only buttons: Instagram shows quick
// replies under a text and refuses them without one, and with agent_display_name "none"
// there is not even a signature to carry them. A pointing hand reads the same in every
// language the customers may write in.
const buttonsOnlyText = "👇"

// replyContent is what an agent's message says on Instagram: its text signed as
// agent_display_name says, and its buttons as quick replies. A file without text goes
// unsigned (the file is the message).
func replyContent(m rocketchat.HistoryMessage, displayName string) (string, []instagram.QuickReply) {
	text, buttons := rocketchat.AgentContent(m.Msg, m.Blocks)
	text, qrs := quickReplies(text, buttons)
	if text == "" && len(qrs) > 0 {
		text = buttonsOnlyText
	}
	if text != "" || m.File == nil {
		text = signed(text, m.U.Name, m.U.Username, displayName)
	}
	return text, qrs
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

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// bookkeepingError is a failure of our own bookkeeping (the database), not of the send: the
// activity fails with it and is retried; it never becomes a refusal of the reply.
type bookkeepingError struct{ err error }

func (e *bookkeepingError) Error() string { return e.err.Error() }
func (e *bookkeepingError) Unwrap() error { return e.err }

func asBookkeeping(err error) (error, bool) {
	var b *bookkeepingError
	if errors.As(err, &b) {
		return b.err, true
	}
	return nil, false
}
