package workflows

import (
	"crypto/rand"
	"encoding/base64"
	"time"

	"go.temporal.io/sdk/workflow"
)

// Authorization connects Instagram business accounts through Meta's OAuth dialog
// (instagram-messaging.md §8.1, temporal-go.md §1.11):
//
//  1. It draws a random reference (SideEffect); an activity stores the state derived from
//     it (identity.OAuthState) single-use with an expiry, and the workflow answers
//     UpdateAuthorizationLink with the reference, from which ingress builds the link
//     PUBLIC_URL/oauth/start?state=…. The state itself never enters history.
//  2. It posts a "Start Authentication" button with that link in the setup channel.
//  3. It waits for SignalOAuthCallback (ingress sends it once, when /oauth/callback
//     consumes the state) or for the state to expire.
//  4. With a code: exchange it for a long-lived user token, store every granted page that
//     has an Instagram professional account with its sealed page token, subscribe each
//     page's webhooks, and post the list of connected accounts.
//
// Tokens, the code and the state never pass through the workflow: the activities keep
// them in the store, keyed by the state's hash, and find them from the reference.
func Authorization(ctx workflow.Context, in AuthorizationInput) (AuthorizationResult, error) {
	a := &authorization{res: AuthorizationResult{Status: AuthWaiting, RequestedBy: in.RequestedBy}}
	ttl := in.TTL
	if ttl <= 0 {
		ttl = DefaultOAuthStateTTL
	}
	if err := workflow.SetQueryHandler(ctx, QueryAuthorization, func() (AuthorizationResult, error) { return a.res, nil }); err != nil {
		return a.res, err
	}
	if err := workflow.SetUpdateHandler(ctx, UpdateAuthorizationLink, a.linkHandler); err != nil {
		return a.res, err
	}
	res, err := a.run(ctx, ttl, in)
	// The link update may still be waiting when the state could not be stored.
	_ = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	return res, err
}

type authorization struct {
	res     AuthorizationResult
	ref     string
	link    *AuthorizationLink
	linkErr error
	// button is the pending post of the Start Authentication button (see post).
	button workflow.Future
}

// linkHandler answers the starter once the state is stored (or could not be).
func (a *authorization) linkHandler(ctx workflow.Context) (AuthorizationLink, error) {
	if err := workflow.Await(ctx, func() bool { return a.link != nil || a.linkErr != nil }); err != nil {
		return AuthorizationLink{}, err
	}
	if a.linkErr != nil {
		return AuthorizationLink{}, a.linkErr
	}
	return *a.link, nil
}

func (a *authorization) run(ctx workflow.Context, ttl time.Duration, in AuthorizationInput) (AuthorizationResult, error) {
	if err := workflow.SideEffect(ctx, func(workflow.Context) any { return newOAuthRef() }).Get(&a.ref); err != nil {
		a.linkErr = err
		return a.res, err
	}
	var link AuthorizationLink
	err := workflow.ExecuteActivity(storeCtx(ctx), ActivityCreateOAuthState, CreateOAuthStateInput{
		Ref: a.ref, WorkflowID: workflow.GetInfo(ctx).WorkflowExecution.ID, TTL: ttl,
	}).Get(ctx, &link)
	if err != nil {
		a.linkErr = err
		a.res.Status, a.res.Detail = AuthFailed, "the authorization state could not be stored: "+errorText(err)
		return a.res, err
	}
	a.link = &link

	// Not awaited here: a Rocket.Chat outage must not keep the workflow from taking the
	// callback and connecting the accounts (the admin API caller has the link already).
	a.button = a.postButton(ctx, link, in)

	cb, ok := a.awaitCallback(ctx, ttl+oauthGrace)
	if !ok {
		a.res.Status = AuthExpired
		a.res.Detail = "the link expired before anyone came back from Meta's dialog"
		a.post(ctx, expiredMessage(link))
		return a.res, nil
	}
	if !cb.CodeStored {
		a.res.Status, a.res.Detail = AuthDenied, denialText(cb)
		a.post(ctx, deniedMessage(a.res.Detail))
		return a.res, nil
	}
	return a.connect(ctx)
}

// buttonByDM is the change that stopped posting the live link in the setup channel (issue
// 20): runs started before it replay as they were recorded.
const buttonByDM = "authorization-button-by-direct-message"

// postButton hands out the Start Authentication button and returns the future of the
// last of its posts. The link is bound to the first browser that opens it, so it goes
// only to the admin who asked, by direct message, and the setup channel is told it was
// sent (or could not be); an authorization whose starter has the link (admin API,
// console) posts no button, only that it started.
func (a *authorization) postButton(ctx workflow.Context, link AuthorizationLink, in AuthorizationInput) workflow.Future {
	if workflow.GetVersion(ctx, buttonByDM, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return postSetupAsync(ctx, buttonMessage(link, in.RequestedBy))
	}
	if in.DirectTo == "" {
		return postSetupAsync(ctx, startedMessage(link, in.RequestedBy))
	}
	dm := buttonMessage(link, in.RequestedBy)
	dm.To = "@" + in.DirectTo
	sent := postSetupAsync(ctx, dm)
	done, settle := workflow.NewFuture(ctx)
	workflow.Go(ctx, func(ctx workflow.Context) {
		err := sent.Get(ctx, nil)
		settle.Set(nil, postSetupAsync(ctx, buttonSentMessage(link, in.DirectTo, err)).Get(ctx, nil))
	})
	return done
}

// awaitCallback waits for the callback signal until the deadline. The signal is consumed
// here, in the workflow's main coroutine.
func (a *authorization) awaitCallback(ctx workflow.Context, wait time.Duration) (OAuthCallback, bool) {
	var cb OAuthCallback
	got := false
	timerCtx, cancelTimer := workflow.WithCancel(ctx)
	defer cancelTimer()
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(workflow.GetSignalChannel(ctx, SignalOAuthCallback), func(c workflow.ReceiveChannel, _ bool) {
		c.Receive(ctx, &cb)
		got = true
	})
	sel.AddFuture(workflow.NewTimer(timerCtx, wait), func(workflow.Future) {})
	sel.Select(ctx)
	return cb, got
}

// connect turns the stored code into connected, subscribed accounts.
func (a *authorization) connect(ctx workflow.Context) (AuthorizationResult, error) {
	a.res.Status = AuthWorking
	ref := a.link.OAuthStateRef
	if err := workflow.ExecuteActivity(graphCtx(ctx), ActivityExchangeOAuthCode, ref).Get(ctx, nil); err != nil {
		return a.fail(ctx, "Meta did not accept the authorization code: "+errorText(err))
	}
	var pages ConnectPagesResult
	if err := workflow.ExecuteActivity(graphCtx(ctx), ActivityConnectAuthorizedPages, ref).Get(ctx, &pages); err != nil {
		return a.fail(ctx, "the pages could not be read from Meta: "+errorText(err))
	}
	a.res.Accounts, a.res.Skipped = pages.Accounts, pages.Skipped
	if len(pages.Accounts) == 0 {
		return a.fail(ctx, "none of the pages granted on Meta's dialog has an Instagram professional account linked")
	}
	// Subscribe all pages concurrently; the futures are read back in list order.
	futures := make([]workflow.Future, len(a.res.Accounts))
	for i, acc := range a.res.Accounts {
		futures[i] = workflow.ExecuteActivity(graphCtx(ctx), ActivitySubscribePage, PageRef{PageID: acc.PageID})
	}
	for i, f := range futures {
		if err := f.Get(ctx, nil); err != nil {
			a.res.Accounts[i].SubscribeError = errorText(err)
		} else {
			a.res.Accounts[i].Subscribed = true
		}
	}
	a.res.Status = AuthConnected
	a.post(ctx, connectedMessage(a.res))
	return a.res, nil
}

func (a *authorization) fail(ctx workflow.Context, detail string) (AuthorizationResult, error) {
	a.res.Status, a.res.Detail = AuthFailed, detail
	a.post(ctx, failedMessage(a.res))
	return a.res, nil
}

// post posts the outcome once the button's post is done, so the channel shows them in
// that order.
func (a *authorization) post(ctx workflow.Context, m SetupMessage) {
	if a.button != nil {
		_ = a.button.Get(ctx, nil) // if the button could not be posted, the outcome still is
		a.button = nil
	}
	postSetup(ctx, m)
}

// newOAuthRef returns 32 random bytes, URL-safe: the reference the state is derived from.
// Only ever called inside SideEffect.
func newOAuthRef() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand panics rather than return short)
	return base64.RawURLEncoding.EncodeToString(b)
}

// denialText words Meta's refusal. Ingress bounds and neutralises these fields already;
// the setup-channel text neutralises them again (deniedMessage), as signal input is not
// trusted either.
func denialText(cb OAuthCallback) string {
	switch {
	case cb.ErrorDescription != "" && cb.Error != "":
		return cb.Error + ": " + cb.ErrorDescription
	case cb.Error != "":
		return cb.Error
	case cb.ErrorDescription != "":
		return cb.ErrorDescription
	}
	return "Meta's dialog returned neither a code nor an error"
}
