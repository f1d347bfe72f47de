package activities

import (
	"context"
	"errors"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/igdirect/bridge/instagram"
	"github.com/igdirect/bridge/internal/keys"
	"github.com/igdirect/bridge/rocketchat"
	"github.com/igdirect/bridge/setupguide/gather"
	"github.com/igdirect/bridge/store"
	"github.com/igdirect/bridge/workflows"
)

// Admin holds the activities of authorization and administration (issue 5). It is a
// struct of its own because these need configuration the conversation activities do not
// (PUBLIC_URL for the OAuth redirect URI, the setup channel); it shares their clients.
type Admin struct {
	Store *store.Store
	RC    *rocketchat.Client
	IG    *instagram.Client
	// PublicURL is how browsers reach ingress (no trailing slash).
	PublicURL string
	// SetupChannel is the Rocket.Chat channel name (without '#') for the bot's messages.
	SetupChannel string
	// Keys derive OAuth states from the workflow's references (current key for new states,
	// any key for states made before a rotation).
	Keys *keys.Ring
	// Setup is what the setup guide needs to know of the configuration.
	Setup gather.Config
}

// Register registers every administration activity under the name the workflows use.
func (a *Admin) Register(r worker.ActivityRegistry) {
	for name, fn := range map[string]any{
		workflows.ActivityCreateOAuthState:       a.CreateOAuthState,
		workflows.ActivityExchangeOAuthCode:      a.ExchangeOAuthCode,
		workflows.ActivityConnectAuthorizedPages: a.ConnectAuthorizedPages,
		workflows.ActivitySubscribePage:          a.SubscribePage,
		workflows.ActivityUnsubscribePage:        a.UnsubscribePage,
		workflows.ActivityListConnectedPages:     a.ListConnectedPages,
		workflows.ActivityCheckPageHealth:        a.CheckPageHealth,
		workflows.ActivityRevokeAuthorizations:   a.RevokeAuthorizations,
		workflows.ActivityForgetTokens:           a.ForgetTokens,
		workflows.ActivityPostSetupMessage:       a.PostSetupMessage,
		workflows.ActivityListDepartments:        a.ListDepartments,
		workflows.ActivitySendConsoleLink:        a.SendConsoleLink,
		workflows.ActivityDiagnosePage:           a.DiagnosePage,
		workflows.ActivitySetupFacts:             a.SetupFacts,
		workflows.ActivityMarkSetupGuidePosted:   a.MarkSetupGuidePosted,
		workflows.ActivityReadUserRoles:          a.ReadUserRoles,
	} {
		r.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
}

// PostSetupMessage posts in the setup channel as the bot user, or — with m.To — sends it
// by direct message. A refusal that retrying cannot fix (unknown channel or user, bot not
// allowed) is reported at once.
func (a *Admin) PostSetupMessage(ctx context.Context, m workflows.SetupMessage) error {
	var atts []rocketchat.PostAttachment
	for _, at := range m.Attachments {
		if at.ButtonAuthorization != nil {
			u, err := a.authorizationURL(*at.ButtonAuthorization)
			if err != nil {
				return err
			}
			at.ButtonURL = u
		}
		pa := rocketchat.PostAttachment{Title: at.Title, TitleLink: at.ButtonURL, Text: at.Text, Color: at.Color}
		switch {
		case at.ButtonURL != "":
			pa.Actions = []rocketchat.Action{{Text: at.ButtonText, URL: at.ButtonURL}}
		case at.ButtonMsg != "":
			pa.Actions = []rocketchat.Action{{Text: at.ButtonText, Msg: at.ButtonMsg}}
		}
		atts = append(atts, pa)
	}
	if m.To != "" { // a direct message ("@username"), e.g. the Start Authentication button
		err := a.RC.PostMessage(ctx, m.To, m.Text, atts)
		if err != nil {
			return rcRefusal(err, "the bot could not send "+m.To+" a direct message")
		}
		return nil
	}
	err := a.RC.PostMessage(ctx, "#"+a.SetupChannel, m.Text, atts)
	if err != nil && !rocketchat.IsTransient(err) {
		return temporal.NewNonRetryableApplicationError(
			"cannot post in the setup channel #"+a.SetupChannel+" (ROCKETCHAT_SETUP_CHANNEL; does it exist and is the bot a member?): "+err.Error(),
			"SetupChannelRefused", err)
	}
	return rcError(err)
}

// ListConnectedPages lists every page, without tokens.
func (a *Admin) ListConnectedPages(ctx context.Context) ([]workflows.ConnectedPage, error) {
	pages, err := a.Store.Pages(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]workflows.ConnectedPage, 0, len(pages))
	for _, p := range pages {
		out = append(out, workflows.ConnectedPage{PageID: p.PageID, IGAccountID: p.IGAccountID, IGUsername: p.IGUsername,
			HasToken: p.HasToken, Subscribed: p.Subscribed})
	}
	return out, nil
}

// ForgetTokens deletes every page token, user token and OAuth state.
func (a *Admin) ForgetTokens(ctx context.Context) (workflows.ForgetResult, error) {
	f, err := a.Store.ForgetAllTokens(ctx)
	return workflows.ForgetResult{PageTokens: f.PageTokens, UserTokens: f.UserTokens, OAuthStates: f.OAuthStates}, err
}

// pageToken reads a connected page and its token; a page without one cannot be acted on.
func (a *Admin) pageToken(ctx context.Context, pageID string) (store.Page, string, error) {
	p, token, err := a.Store.PageAndToken(ctx, pageID)
	if errors.Is(err, store.ErrNotFound) {
		return p, "", temporal.NewNonRetryableApplicationError("page "+pageID+" is not connected (no token stored); connect it with `instagram authorize`",
			workflows.ErrUnknownPage, nil)
	}
	if errors.Is(err, store.ErrUndecryptable) {
		return p, "", temporal.NewNonRetryableApplicationError("the token of page "+pageID+" cannot be decrypted (TOKEN_ENCRYPTION_KEY changed?); authorize again",
			workflows.ErrUnknownPage, nil)
	}
	return p, token, err
}

// adminGraphError maps a Graph API error for administration: transient failures and rate
// limits are retried (within the workflow's bounded policy), anything else is reported.
func adminGraphError(err error, errType string) error {
	switch instagram.Classify(err) {
	case instagram.Transient:
		return err
	case instagram.RateLimited:
		opts := temporal.ApplicationErrorOptions{}
		var e *instagram.Error
		if errors.As(err, &e) && e.RetryAfter > 0 {
			opts.NextRetryDelay = e.RetryAfter
		}
		return temporal.NewApplicationErrorWithOptions(err.Error(), "GraphRateLimited", opts)
	}
	return temporal.NewNonRetryableApplicationError(err.Error(), errType, nil)
}
