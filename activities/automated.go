package activities

import (
	"context"
	"errors"
	"time"

	"github.com/igdirect/bridge/instagram"
	"github.com/igdirect/bridge/store"
	"github.com/igdirect/bridge/workflows"
)

// automatedWindow: automated messages may only be sent within 24 hours of the customer's
// last message (spec instagram §4.4; the HUMAN_AGENT tag is for humans only).
const automatedWindow = 24 * time.Hour

// SendAutomated sends one of the page's automated messages, with its text as configured
// right now, at most once per room (the delivery key). A page without that message, a
// customer outside the window, or an account that is no longer connected is not an error:
// the result says why nothing was sent.
func (a *Activities) SendAutomated(ctx context.Context, in workflows.SendAutomatedInput) (workflows.SendAutomatedResult, error) {
	if in.Resolved != nil {
		if _, err := a.settle(ctx, in.PageID, in.IGSID, []workflows.Resolution{*in.Resolved}); err != nil {
			return workflows.SendAutomatedResult{}, err
		}
	}
	page, err := a.Store.PageByAccount(ctx, in.PageID)
	if errors.Is(err, store.ErrNotFound) {
		return workflows.SendAutomatedResult{Skipped: errNotConnected.Error()}, nil
	}
	if err != nil {
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
	if !in.LastCustomerAt.IsZero() && a.since(in.LastCustomerAt) > automatedWindow {
		return workflows.SendAutomatedResult{Skipped: "outside the 24-hour messaging window"}, nil
	}
	pageID, token, stop, err := a.sendGate(ctx, in.PageID, false)
	switch {
	case errors.Is(err, errNotConnected):
		return workflows.SendAutomatedResult{Skipped: err.Error()}, nil
	case err != nil:
		return workflows.SendAutomatedResult{}, err
	case stop != nil:
		return workflows.SendAutomatedResult{Stop: stop}, nil
	}
	send := func() (delivery, error) {
		return a.once(ctx, in.Key, in.PageID, in.IGSID, func() (string, error) {
			res, err := a.IG.Send(ctx, pageID, token, instagram.SendRequest{Recipient: in.IGSID, Text: text, MessagingType: "RESPONSE"})
			a.sendResult(in.PageID, err)
			if err != nil && outcomeUnknown(err) {
				return "", errors.Join(errOutcomeUnknown, err)
			}
			return res.MessageID, err
		})
	}
	d, err := send()
	if err == nil && d.refused != nil && a.regainControl(ctx, pageID, token, in.IGSID, d.refused, false) {
		d, err = send()
	}
	switch {
	case err != nil:
		return workflows.SendAutomatedResult{}, err // the database: retried, never a reason to skip the message
	case d.unknown:
		return workflows.SendAutomatedResult{Stop: &workflows.Stop{Kind: workflows.StopUnknown,
			Expect: &workflows.Expectation{Key: in.Key, Text: text, At: d.since, Attempt: d.attempt}, Reason: "the Send API's answer is missing"}}, nil
	case d.refused != nil:
		stop, refusal := a.sendFailure(ctx, in.PageID, d.refused, false)
		if stop != nil {
			return workflows.SendAutomatedResult{Stop: stop}, nil
		}
		return workflows.SendAutomatedResult{Skipped: refusal.Error()}, nil
	}
	a.delivered("to_instagram", "automated")
	return workflows.SendAutomatedResult{Text: text, MessageIDs: []string{d.id}}, nil
}
