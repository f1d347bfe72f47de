package activities

import (
	"context"
	"errors"
	"time"

	"github.com/lib/pq"
	"go.temporal.io/sdk/temporal"

	"github.com/igdirect/bridge/identity"
	"github.com/igdirect/bridge/instagram"
	"github.com/igdirect/bridge/internal/keys"
	"github.com/igdirect/bridge/store"
	"github.com/igdirect/bridge/workflows"
)

// Activities of the OAuth authorization (instagram-messaging.md §8.1). Secrets stay here
// and in the store: the state is derived from the workflow's reference, the code and the
// user token are read and written by state, and the workflow only ever sees the
// reference, page IDs and usernames.

// CreateOAuthState derives the state of the workflow's reference with the current
// OAuth-state key, stores it single-use and answers which key it used.
func (a *Admin) CreateOAuthState(ctx context.Context, in workflows.CreateOAuthStateInput) (workflows.AuthorizationLink, error) {
	if !identity.ValidOAuthRef(in.Ref) {
		return workflows.AuthorizationLink{}, temporal.NewNonRetryableApplicationError("malformed OAuth state reference", workflows.ErrOAuthRejected, nil)
	}
	m := a.Keys.Current()
	ref := workflows.OAuthStateRef{Ref: in.Ref, KeyID: m.IDString()}
	exp, err := a.Store.CreateOAuthState(ctx, identity.OAuthState(m.Key(keys.OAuthState), in.Ref), in.WorkflowID, in.TTL)
	if err != nil {
		return workflows.AuthorizationLink{}, err
	}
	return workflows.AuthorizationLink{OAuthStateRef: ref, ExpiresAt: exp}, nil
}

// state derives the state a reference names. A reference that is malformed or names a key
// that is not configured is refused for good.
func (a *Admin) state(ref workflows.OAuthStateRef) (string, error) {
	m, ok := a.Keys.ByIDString(ref.KeyID)
	if !ok || !identity.ValidOAuthRef(ref.Ref) {
		return "", temporal.NewNonRetryableApplicationError("unknown or malformed OAuth state reference (was TOKEN_ENCRYPTION_KEY rotated without keeping the old key?)",
			workflows.ErrOAuthRejected, nil)
	}
	return identity.OAuthState(m.Key(keys.OAuthState), ref.Ref), nil
}

// authorizationURL is the link that starts the authorization of a reference.
func (a *Admin) authorizationURL(ref workflows.OAuthStateRef) (string, error) {
	state, err := a.state(ref)
	if err != nil {
		return "", err
	}
	return identity.OAuthStartURL(a.PublicURL+workflows.OAuthStartPath, state), nil
}

// redirectURI is the OAuth redirect URI; the code exchange must repeat the dialog's byte
// for byte.
func (a *Admin) redirectURI() string { return a.PublicURL + workflows.OAuthCallbackPath }

// ExchangeOAuthCode trades the stored code for a user token, then for a long-lived one,
// storing each as soon as it exists. A code works once, so a retry after a lost answer must
// not exchange it again: it continues from whichever token is already stored.
func (a *Admin) ExchangeOAuthCode(ctx context.Context, ref workflows.OAuthStateRef) (workflows.ExchangeResult, error) {
	state, err := a.state(ref)
	if err != nil {
		return workflows.ExchangeResult{}, err
	}
	token, longLived, err := a.Store.UserTokenForState(ctx, state)
	if errors.Is(err, store.ErrNotFound) {
		code, cerr := a.Store.OAuthCode(ctx, state)
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
		if err := a.Store.SaveUserToken(ctx, state, t.AccessToken, false, t.ExpiresIn); err != nil {
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
	if err := a.Store.SaveUserToken(ctx, state, lt.AccessToken, true, lt.ExpiresIn); err != nil {
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
	state, err := a.state(ref)
	if err != nil {
		return workflows.ConnectPagesResult{}, err
	}
	userToken, _, err := a.Store.UserTokenForState(ctx, state)
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
