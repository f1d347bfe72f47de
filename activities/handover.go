package activities

import (
	"context"
	"errors"

	"github.com/igdirect/bridge/appsettings"
	"github.com/igdirect/bridge/instagram"
	"github.com/igdirect/bridge/workflows"
)

// takeControl runs the handover_action setting before a reply to a thread another app owns
// (spec instagram §6): take thread control, or ask the owner for it. A refusal is not final
// by itself: the send that follows tells whether we may write.
func (a *Activities) takeControl(ctx context.Context, pageID, token, igsid string, otherAppOwns bool, s appsettings.Settings) {
	if !otherAppOwns {
		return
	}
	var err error
	switch s.HandoverAction {
	case "take":
		err = a.IG.TakeThreadControl(ctx, pageID, token, igsid, s.HandoverMetadata)
	case "request":
		err = a.IG.RequestThreadControl(ctx, pageID, token, igsid, s.HandoverMetadata)
	default:
		return
	}
	if err != nil {
		a.logger(ctx).Warn("Thread control action refused", "action", s.HandoverAction, "error", err)
	}
}

// PassThreadControlBack passes thread control to the app set in pass_back_app_id (e.g.
// Meta's inbox, 1217981644879628) when a conversation closes; nothing when unset. The result
// names the app that got control (the conversation's next room takes it back first).
func (a *Activities) PassThreadControlBack(ctx context.Context, in workflows.PassBackInput) (workflows.PassBackResult, error) {
	s, err := a.appSettings(ctx)
	if err != nil || s.PassBackAppID == "" {
		return workflows.PassBackResult{}, err
	}
	pageID, token, err := a.pageToken(ctx, in.PageID)
	if err != nil {
		return workflows.PassBackResult{}, err
	}
	err = a.IG.PassThreadControl(ctx, pageID, token, in.IGSID, s.PassBackAppID, s.HandoverMetadata)
	switch {
	case err == nil:
		return workflows.PassBackResult{To: s.PassBackAppID}, nil
	case instagram.Classify(err) != instagram.Transient && instagram.Classify(err) != instagram.RateLimited:
		a.logger(ctx).Warn("Passing thread control back refused", "app", s.PassBackAppID, "error", err)
		return workflows.PassBackResult{}, nil
	}
	return workflows.PassBackResult{}, err
}

// regainControl is for a send Meta refused because another app owns the thread while the
// conversation did not know it (the handover webhook is late or lost, or the last room
// passed the thread to the inbox app in an earlier run): the handover action is applied at
// once, and it reports whether control was taken, so the send may be tried again now.
func (a *Activities) regainControl(ctx context.Context, pageID, token, igsid string, refused error, knew bool) bool {
	if knew || !ownedByAnotherApp(refused) {
		return false
	}
	s, err := a.appSettings(ctx)
	if err != nil {
		return false
	}
	if s.HandoverAction != "take" {
		a.takeControl(ctx, pageID, token, igsid, true, s) // "request" asks; the reply waits
		return false
	}
	if err := a.IG.TakeThreadControl(ctx, pageID, token, igsid, s.HandoverMetadata); err != nil {
		a.logger(ctx).Warn("Thread control not taken", "error", err)
		return false
	}
	return true
}

// subcodeNotOwner is the subcode integrators report for a send refused because another app
// controls the thread under Conversation Routing (code 10). Spec gap: undocumented (§6).
const subcodeNotOwner = 2018300

// ownedByAnotherApp recognises that refusal whether or not the conversation knew another
// app had taken the thread (its handover webhook may be late or lost): the reply waits for
// control instead of being refused (issue 19).
func ownedByAnotherApp(err error) bool {
	var e *instagram.Error
	return errors.As(err, &e) && e.Code == 10 && e.Subcode == subcodeNotOwner
}

// notThreadOwner recognises Meta's refusal of a send because another app owns the thread.
//
// Spec gap: the error codes for sends by a non-owner are not documented (spec instagram §6,
// §11). Any refusal that is not transient, a rate limit, an expired token or the documented
// messaging-window error (10/2534022, 10/2018278) counts as "not the owner" while another
// app is known to own the thread.
func notThreadOwner(err error) bool {
	var e *instagram.Error
	if !errors.As(err, &e) {
		return false
	}
	switch instagram.Classify(err) {
	case instagram.Transient, instagram.RateLimited, instagram.AuthExpired:
		return false
	case instagram.OutsideWindow:
		return e.Subcode != 2534022 && e.Subcode != 2018278
	}
	return true
}
