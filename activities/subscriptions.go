package activities

import (
	"context"
	"errors"
	"slices"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/igdirect/bridge/instagram"
	"github.com/igdirect/bridge/workflows"
)

// Webhook subscriptions, token health and revocation (instagram-messaging.md §8.1).

// SubscribePage subscribes our app to the page's webhooks with the fields the bridge
// handles, and records the page as subscribed.
func (a *Admin) SubscribePage(ctx context.Context, ref workflows.PageRef) (workflows.SubscriptionResult, error) {
	p, token, err := a.pageToken(ctx, ref.PageID)
	if err != nil {
		return workflows.SubscriptionResult{}, err
	}
	if err := a.IG.Subscribe(ctx, p.PageID, token, instagram.DefaultSubscribedFields); err != nil {
		a.noteAuthError(ctx, p.PageID, err)
		return workflows.SubscriptionResult{}, adminGraphError(err, workflows.ErrGraphRefused)
	}
	if err := a.Store.SetSubscribed(ctx, p.PageID, true); err != nil {
		return workflows.SubscriptionResult{}, err
	}
	return workflows.SubscriptionResult{PageID: p.PageID, IGUsername: p.IGUsername, Subscribed: true,
		Fields: instagram.DefaultSubscribedFields}, nil
}

// UnsubscribePage removes our app's subscription from the page and records it, so the
// health check leaves the page alone.
func (a *Admin) UnsubscribePage(ctx context.Context, ref workflows.PageRef) (workflows.SubscriptionResult, error) {
	p, token, err := a.pageToken(ctx, ref.PageID)
	if err != nil {
		return workflows.SubscriptionResult{}, err
	}
	if err := a.IG.Unsubscribe(ctx, p.PageID, token); err != nil {
		a.noteAuthError(ctx, p.PageID, err)
		return workflows.SubscriptionResult{}, adminGraphError(err, workflows.ErrGraphRefused)
	}
	if err := a.Store.SetSubscribed(ctx, p.PageID, false); err != nil {
		return workflows.SubscriptionResult{}, err
	}
	return workflows.SubscriptionResult{PageID: p.PageID, IGUsername: p.IGUsername}, nil
}

// noteAuthError marks the page when Meta says its token is dead.
func (a *Admin) noteAuthError(ctx context.Context, pageID string, err error) {
	if isAuthError(err) {
		if merr := a.Store.MarkNeedsReauth(ctx, pageID); merr != nil {
			activity.GetLogger(ctx).Warn("Could not mark page as needing re-authorization", "page", pageID, "error", merr)
		}
	}
}

// tokenExpiryWarning is how long before a token's expiry the health check warns.
const tokenExpiryWarning = 7 * 24 * time.Hour

// CheckPageHealth checks one page: the token (debug_token), and, for a page meant to be
// subscribed, that Meta still lists our app with every field we handle; a dropped
// subscription is renewed on the spot. What is wrong is recorded on the page, and the
// previous finding returned, so the workflow reports changes only.
func (a *Admin) CheckPageHealth(ctx context.Context, ref workflows.PageRef) (workflows.PageHealth, error) {
	p, token, err := a.pageToken(ctx, ref.PageID)
	if err != nil {
		// Disconnected since it was listed: nothing to check, nothing to report.
		return workflows.PageHealth{PageID: ref.PageID}, nil
	}
	h := workflows.PageHealth{PageID: p.PageID, IGUsername: p.IGUsername}
	problem, err := a.tokenProblem(ctx, token)
	if err != nil {
		return h, err
	}
	if problem == "" && p.Subscribed {
		problem, err = a.ensureSubscribed(ctx, p.PageID, token, &h)
		if err != nil {
			return h, err
		}
	}
	if problem == authProblem {
		if err := a.Store.MarkNeedsReauth(ctx, p.PageID); err != nil {
			return h, err
		}
	}
	prev, err := a.Store.RecordHealth(ctx, p.PageID, problem)
	if err != nil {
		return h, err
	}
	h.Problem, h.PreviousProblem = problem, prev
	return h, nil
}

// tokenProblem asks debug_token about a page token. Transient failures are returned as
// errors (the activity is retried); a refusal to check is itself a problem worth reporting.
func (a *Admin) tokenProblem(ctx context.Context, token string) (string, error) {
	info, err := a.IG.DebugToken(ctx, token)
	switch {
	case err != nil && retryable(err):
		return "", err
	case err != nil:
		return "the token could not be checked: " + err.Error(), nil
	case !info.Valid:
		return authProblem, nil
	case info.ExpiresAt > 0 && time.Unix(info.ExpiresAt, 0).Before(time.Now().Add(tokenExpiryWarning)):
		return "the page token expires on " + time.Unix(info.ExpiresAt, 0).UTC().Format("2006-01-02 15:04 MST") +
			"; authorize again with `instagram authorize` before then", nil
	}
	return "", nil
}

// ensureSubscribed compares our subscription with the fields we handle and renews it when
// Meta dropped it (entirely, or some fields).
func (a *Admin) ensureSubscribed(ctx context.Context, pageID, token string, h *workflows.PageHealth) (string, error) {
	fields, err := a.IG.SubscribedFields(ctx, pageID, token)
	switch {
	case err != nil && retryable(err):
		return "", err
	case err != nil && isAuthError(err):
		return authProblem, nil
	case err != nil:
		return "the webhook subscription could not be checked: " + err.Error(), nil
	}
	var missing []string
	for _, f := range instagram.DefaultSubscribedFields {
		if !slices.Contains(fields, f) {
			missing = append(missing, f)
		}
	}
	if len(missing) == 0 {
		return "", nil
	}
	if err := a.IG.Subscribe(ctx, pageID, token, instagram.DefaultSubscribedFields); err != nil {
		if retryable(err) {
			return "", err
		}
		if isAuthError(err) {
			return authProblem, nil
		}
		return "Meta dropped the webhook subscription and it could not be renewed: " + err.Error(), nil
	}
	h.Resubscribed = true
	if fields != nil { // subscribed, but without some fields
		h.MissingFields = missing
	}
	activity.GetLogger(ctx).Info("Webhook subscription renewed", "page", pageID, "missing_fields", missing)
	return "", nil
}

// RevokeAuthorizations revokes the app's permissions (DELETE me/permissions) for every
// stored user token, forgetting each token once revoked, so a retry does not revoke twice.
func (a *Admin) RevokeAuthorizations(ctx context.Context) (workflows.RevokeResult, error) {
	tokens, err := a.Store.UserTokens(ctx)
	if err != nil {
		return workflows.RevokeResult{}, err
	}
	var res workflows.RevokeResult
	for _, t := range tokens {
		if t.Err != nil {
			res.Failed = append(res.Failed, "a stored user token cannot be decrypted (TOKEN_ENCRYPTION_KEY changed?)")
			continue
		}
		err := a.IG.RevokePermissions(ctx, t.Token)
		switch {
		case err == nil:
			res.Revoked++
		case appNotInstalled(err):
			res.AlreadyRevoked++
		case retryable(err):
			return res, err
		default:
			res.Failed = append(res.Failed, err.Error()+" — remove the app in Facebook's settings (Business Integrations) by hand")
			continue
		}
		if err := a.Store.DeleteUserToken(ctx, t.ID); err != nil {
			return res, err
		}
	}
	return res, nil
}

// appNotInstalled: Graph 190/458, the user has not authorized the app (any more), so
// there is nothing left to revoke through this token.
func appNotInstalled(err error) bool {
	var ge *instagram.Error
	return errors.As(err, &ge) && ge.Code == 190 && ge.Subcode == 458
}

// retryable: the Graph failure may go away by itself.
func retryable(err error) bool {
	c := instagram.Classify(err)
	return c == instagram.Transient || c == instagram.RateLimited
}
