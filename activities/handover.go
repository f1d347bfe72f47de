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
// Meta's inbox, 1217981644879628) when a conversation closes; nothing when unset.
func (a *Activities) PassThreadControlBack(ctx context.Context, in workflows.PassBackInput) error {
	s, err := a.appSettings(ctx)
	if err != nil || s.PassBackAppID == "" {
		return err
	}
	pageID, token, err := a.pageToken(ctx, in.PageID)
	if err != nil {
		return err
	}
	err = a.IG.PassThreadControl(ctx, pageID, token, in.IGSID, s.PassBackAppID, s.HandoverMetadata)
	if err != nil && instagram.Classify(err) != instagram.Transient && instagram.Classify(err) != instagram.RateLimited {
		a.logger(ctx).Warn("Passing thread control back refused", "app", s.PassBackAppID, "error", err)
		return nil
	}
	return err
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
