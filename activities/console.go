package activities

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/igdirect/bridge/rocketchat"
	"github.com/igdirect/bridge/setupguide"
	"github.com/igdirect/bridge/setupguide/gather"
	"github.com/igdirect/bridge/workflows"
)

// Activities behind the console, the doctor and the setup guide (issue 14).

// ListDepartments reads Rocket.Chat's Omnichannel departments with the bot's credentials.
func (a *Admin) ListDepartments(ctx context.Context) ([]workflows.Department, error) {
	deps, err := a.RC.Departments(ctx)
	if err != nil {
		return nil, rcRefusal(err, "the bot user cannot list Omnichannel departments (it needs the view-livechat-departments permission)")
	}
	out := make([]workflows.Department, 0, len(deps))
	for _, d := range deps {
		out = append(out, workflows.Department{ID: d.ID, Name: d.Name, Enabled: d.Enabled})
	}
	return out, nil
}

// rcRefusal makes a Rocket.Chat refusal that retrying cannot fix final, with a hint.
func rcRefusal(err error, hint string) error {
	var e *rocketchat.Error
	if errors.As(err, &e) && (e.HTTPStatus == http.StatusUnauthorized || e.HTTPStatus == http.StatusForbidden || e.HTTPStatus == http.StatusBadRequest) {
		return temporal.NewNonRetryableApplicationError(hint+": "+err.Error(), workflows.ErrRocketChatRefused, err)
	}
	return rcError(err)
}

// SendConsoleLink makes a single-use sign-in link, stores its hash and sends the link to
// the user by direct message. The link is not in the message's text, only in its button:
// Rocket.Chat previews links in texts by fetching them, and only a person should open it
// (opening it does not sign in anyway; the page it shows asks for a click).
func (a *Admin) SendConsoleLink(ctx context.Context, in workflows.ConsoleLinkInput) (workflows.ConsoleLinkResult, error) {
	if in.Username == "" {
		return workflows.ConsoleLinkResult{}, temporal.NewNonRetryableApplicationError("no Rocket.Chat username to send the link to", workflows.ErrRocketChatRefused, nil)
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	token := base64.RawURLEncoding.EncodeToString(raw)
	exp, err := a.Store.CreateConsoleLogin(ctx, token, in.UserID, in.Username, workflows.ConsoleLinkTTL)
	if err != nil {
		return workflows.ConsoleLinkResult{}, err
	}
	link := a.PublicURL + "/console/login?t=" + url.QueryEscape(token)
	text := "Your sign-in link to the Instagram Direct console. It works once, in the browser that opens it, until " +
		exp.UTC().Format("15:04 MST") + ". Do not share it."
	err = a.RC.PostMessage(ctx, "@"+in.Username, text, []rocketchat.PostAttachment{{
		Title: "Instagram Direct console", Color: "#1d74f5", Actions: []rocketchat.Action{{Text: "Open console", URL: link}},
	}})
	if err != nil {
		return workflows.ConsoleLinkResult{}, rcRefusal(err, "the bot could not send @"+in.Username+" a direct message")
	}
	return workflows.ConsoleLinkResult{SentTo: "@" + in.Username, ExpiresAt: exp}, nil
}

// DiagnosePage asks Meta what it knows about a page: our webhook subscription and its
// fields, the token (debug_token: validity, type, scopes, expiry), and the Instagram
// account linked to the page. Each answer is recorded with its own error, so the admin
// sees every finding at once; nothing is changed (the health check repairs, this reports).
func (a *Admin) DiagnosePage(ctx context.Context, ref workflows.PageRef) (workflows.PageDiagnosis, error) {
	d := workflows.PageDiagnosis{PageID: ref.PageID}
	p, token, err := a.pageToken(ctx, ref.PageID)
	if err != nil {
		var app *temporal.ApplicationError
		if errors.As(err, &app) {
			d.Error = app.Message()
			return d, nil
		}
		return d, err
	}
	d.IGUsername = p.IGUsername
	fields, err := a.IG.SubscribedFields(ctx, p.PageID, token)
	d.SubscriptionChecked = err == nil
	if err != nil {
		d.SubscriptionError = err.Error()
	} else {
		d.Subscribed, d.Fields = fields != nil, fields
	}
	info, err := a.IG.DebugToken(ctx, token)
	d.TokenChecked = err == nil
	if err != nil {
		d.TokenError = err.Error()
	} else {
		d.TokenValid, d.TokenType, d.Scopes = info.Valid, info.Type, info.Scopes
		if info.ExpiresAt > 0 {
			d.ExpiresAt = time.Unix(info.ExpiresAt, 0).UTC()
		}
	}
	linked, err := a.IG.PageInstagramAccount(ctx, p.PageID, token)
	d.LinkChecked = err == nil
	if err != nil {
		d.LinkError = err.Error()
	} else {
		d.LinkedAccount = linked
	}
	return d, nil
}

// SetupFacts reads what the setup guide says (package setupguide/gather).
func (a *Admin) SetupFacts(ctx context.Context) (setupguide.Facts, error) {
	return gather.Facts(ctx, a.Store, a.Setup)
}

// MarkSetupGuidePosted records that the first-start guide was posted.
func (a *Admin) MarkSetupGuidePosted(ctx context.Context) error {
	_, err := a.Store.ClaimNotice(ctx, gather.SetupGuideNotice)
	return err
}
