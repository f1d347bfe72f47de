package activities

import (
	"context"
	"errors"
	"net/url"
	"time"

	"github.com/lib/pq"
	"go.temporal.io/sdk/temporal"

	"github.com/igdirect/bridge/instagram"
	"github.com/igdirect/bridge/store"
	"github.com/igdirect/bridge/workflows"
)

// Activities of the OAuth authorization (instagram-messaging.md §8.1). Secrets stay here
// and in the store: the code and the user token are read and written by state, and the
// workflow only ever sees page IDs and usernames.

// CreateOAuthState stores the workflow's single-use state and returns the link an admin
// opens to start the dialog.
func (a *Admin) CreateOAuthState(ctx context.Context, in workflows.CreateOAuthStateInput) (workflows.AuthorizationLink, error) {
	exp, err := a.Store.CreateOAuthState(ctx, in.State, in.WorkflowID, in.TTL)
	if err != nil {
		return workflows.AuthorizationLink{}, err
	}
	link := a.PublicURL + workflows.OAuthStartPath + "?" + url.Values{"state": {in.State}}.Encode()
	return workflows.AuthorizationLink{URL: link, ExpiresAt: exp}, nil
}

// redirectURI is the OAuth redirect URI; the code exchange must repeat the dialog's byte
// for byte.
func (a *Admin) redirectURI() string { return a.PublicURL + workflows.OAuthCallbackPath }

// ExchangeOAuthCode trades the stored code for a user token, then for a long-lived one,
// storing each as soon as it exists. A code works once, so a retry after a lost answer must
// not exchange it again: it continues from whichever token is already stored.
func (a *Admin) ExchangeOAuthCode(ctx context.Context, ref workflows.OAuthStateRef) (workflows.ExchangeResult, error) {
	token, longLived, err := a.Store.UserTokenForState(ctx, ref.State)
	if errors.Is(err, store.ErrNotFound) {
		code, cerr := a.Store.OAuthCode(ctx, ref.State)
		if errors.Is(cerr, store.ErrNotFound) {
			return workflows.ExchangeResult{}, temporal.NewNonRetryableApplicationError(
				"no authorization code is stored for this authorization", workflows.ErrOAuthRejected, nil)
		}
		if cerr != nil {
			return workflows.ExchangeResult{}, cerr
		}
		t, xerr := a.IG.ExchangeCode(ctx, code, a.redirectURI())
		if xerr != nil {
			return workflows.ExchangeResult{}, adminGraphError(xerr, workflows.ErrOAuthRejected)
		}
		if err := a.Store.SaveUserToken(ctx, ref.State, t.AccessToken, false, t.ExpiresIn); err != nil {
			return workflows.ExchangeResult{}, err
		}
		token = t.AccessToken
	} else if err != nil {
		return workflows.ExchangeResult{}, err
	}
	if longLived {
		return workflows.ExchangeResult{}, nil
	}
	// Code-flow tokens are sometimes long-lived already (spec §8.1, UNCERTAIN): exchange
	// anyway, as the spec advises; page tokens derived from a long-lived user token do not
	// expire.
	lt, err := a.IG.LongLivedToken(ctx, token)
	if err != nil {
		return workflows.ExchangeResult{}, adminGraphError(err, workflows.ErrOAuthRejected)
	}
	if err := a.Store.SaveUserToken(ctx, ref.State, lt.AccessToken, true, lt.ExpiresIn); err != nil {
		return workflows.ExchangeResult{}, err
	}
	var res workflows.ExchangeResult
	if lt.ExpiresIn > 0 {
		res.ExpiresAt = time.Now().Add(time.Duration(lt.ExpiresIn) * time.Second).UTC().Truncate(time.Second)
	}
	return res, nil
}

// ConnectAuthorizedPages lists the pages the user granted (me/accounts, all pages of
// results) and stores each one that has an Instagram professional account, with its page
// token sealed. Storing is an upsert that keeps a page's configuration, so authorizing
// again (e.g. after a token expired) reconnects without losing settings.
func (a *Admin) ConnectAuthorizedPages(ctx context.Context, ref workflows.OAuthStateRef) (workflows.ConnectPagesResult, error) {
	userToken, _, err := a.Store.UserTokenForState(ctx, ref.State)
	if errors.Is(err, store.ErrNotFound) {
		return workflows.ConnectPagesResult{}, temporal.NewNonRetryableApplicationError(
			"no user token is stored for this authorization", workflows.ErrOAuthRejected, nil)
	}
	if err != nil {
		return workflows.ConnectPagesResult{}, err
	}
	pages, err := a.IG.Pages(ctx, userToken)
	if err != nil {
		return workflows.ConnectPagesResult{}, adminGraphError(err, workflows.ErrGraphRefused)
	}
	res := workflows.ConnectPagesResult{Accounts: []workflows.ConnectedAccount{}}
	for _, p := range pages {
		skip := func(reason string) {
			res.Skipped = append(res.Skipped, workflows.SkippedPage{PageID: p.PageID, Name: p.Name, Reason: reason})
		}
		switch {
		case p.IGAccountID == "":
			skip("no Instagram professional account is linked to this page")
			continue
		case p.AccessToken == "":
			skip("Meta returned no page token (the login needs a task on this page)")
			continue
		}
		if other, err := a.Store.PageByAccount(ctx, p.IGAccountID); err == nil && other.PageID != p.PageID {
			skip("its Instagram account is already connected through page " + other.PageID)
			continue
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return workflows.ConnectPagesResult{}, err
		}
		err := a.Store.ConnectPage(ctx, store.Page{PageID: p.PageID, IGAccountID: p.IGAccountID, IGUsername: p.IGUsername, Name: p.Name}, p.AccessToken)
		var pqErr *pq.Error
		if errors.As(err, &pqErr) && pqErr.Code == "23505" { // unique_violation
			skip("another connected page already uses the Instagram username " + p.IGUsername)
			continue
		}
		if err != nil {
			return workflows.ConnectPagesResult{}, err
		}
		if err := a.Store.ClearHealthProblem(ctx, p.PageID); err != nil {
			return workflows.ConnectPagesResult{}, err
		}
		res.Accounts = append(res.Accounts, workflows.ConnectedAccount{
			PageID: p.PageID, PageName: p.Name, IGAccountID: p.IGAccountID, IGUsername: p.IGUsername,
		})
	}
	return res, nil
}

// authProblem is what admins read when Meta no longer accepts a page token.
const authProblem = "Meta no longer accepts the page token; authorize again with `instagram authorize`"

// isAuthError reports a Graph error that means the token is dead (code 190 and kin).
func isAuthError(err error) bool { return instagram.Classify(err) == instagram.AuthExpired }
