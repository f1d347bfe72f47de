package ingress

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/igdirect/bridge/instagram"
	"github.com/igdirect/bridge/store"
	"github.com/igdirect/bridge/workflows"
)

// The browser side of the OAuth flow (instagram-messaging.md §8.1). /oauth/start checks
// the state and redirects to Meta's dialog; /oauth/callback consumes the state once,
// stores the code sealed and signals the AuthorizationWorkflow, then shows the outcome.
// Both answer with a page a person can read, also when the link is stale.

// callbackWait is how long the callback page waits for the accounts to be connected
// before saying the result will be posted in the setup channel.
const callbackWait = 20 * time.Second

func (s *Server) redirectURI() string { return s.cfg.PublicURL + workflows.OAuthCallbackPath }

func (s *Server) oauthStart(w http.ResponseWriter, r *http.Request) {
	if s.store == nil {
		s.oauthPage(w, http.StatusServiceUnavailable, page{Title: "Not available", Text: "The bridge has no database connection. Try again later."})
		return
	}
	state := r.URL.Query().Get("state")
	if state == "" {
		s.oauthPage(w, http.StatusBadRequest, page{Title: "Incomplete link", Text: "This authorization link has no state. Use the Start Authentication button posted in Rocket.Chat."})
		return
	}
	if _, err := s.store.CheckOAuthState(r.Context(), state); err != nil {
		s.staleState(w, state, err)
		return
	}
	if s.cfg.MetaAppID == "" {
		s.log.Error("OAuth start refused: META_APP_ID is not set")
		s.oauthPage(w, http.StatusServiceUnavailable, page{Title: "Not configured", Text: "The bridge has no Meta app ID (META_APP_ID), so it cannot open Meta's login dialog."})
		return
	}
	// The dialog needs only the app ID and version; no call to Meta happens here.
	dialog := instagram.NewClient(s.cfg.MetaGraphURL, s.cfg.MetaGraphVersion, s.cfg.MetaAppID, "", nil).
		DialogURL(s.cfg.MetaDialogURL, s.redirectURI(), state, instagram.DefaultScopes)
	noStore(w)
	http.Redirect(w, r, dialog, http.StatusFound)
}

// errWorkflowGone: the state is valid in the database but its workflow no longer waits
// (it expired a moment earlier, or was terminated).
var errWorkflowGone = errors.New("authorization workflow no longer running")

func (s *Server) oauthCallback(w http.ResponseWriter, r *http.Request) {
	if s.store == nil {
		s.oauthPage(w, http.StatusServiceUnavailable, page{Title: "Not available", Text: "The bridge has no database connection. Try again later."})
		return
	}
	q := r.URL.Query()
	state, code := q.Get("state"), q.Get("code")
	cb := workflows.OAuthCallback{CodeStored: code != "", Error: q.Get("error"), ErrorReason: q.Get("error_reason"),
		ErrorDescription: q.Get("error_description")}
	switch {
	case state == "":
		s.oauthPage(w, http.StatusBadRequest, page{Title: "Incomplete answer", Text: "Meta's answer has no state, so it cannot be matched to an authorization. Nothing was stored."})
		return
	case code == "" && cb.Error == "":
		s.oauthPage(w, http.StatusBadRequest, page{Title: "Incomplete answer", Text: "Meta's answer has neither a code nor an error. Nothing was stored."})
		return
	case code != "":
		cb.Error, cb.ErrorReason, cb.ErrorDescription = "", "", "" // a code wins
	}
	wfID, err := s.store.ConsumeOAuthState(r.Context(), state, code, func(wfID string) error {
		ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
		defer cancel()
		err := s.temporal.SignalWorkflow(ctx, wfID, "", workflows.SignalOAuthCallback, cb)
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return errWorkflowGone
		}
		return err
	})
	switch {
	case errors.Is(err, errWorkflowGone):
		s.staleState(w, state, store.ErrStateExpired)
		return
	case errors.Is(err, store.ErrStateUnknown), errors.Is(err, store.ErrStateExpired), errors.Is(err, store.ErrStateUsed):
		s.staleState(w, state, err)
		return
	case err != nil:
		s.log.Error("OAuth callback not delivered; the link stays usable", "error", err)
		s.oauthPage(w, http.StatusServiceUnavailable, page{Title: "Please try again", Text: "The bridge could not record Meta's answer just now. Reload this page in a moment; the link is still valid."})
		return
	}
	s.log.Info("OAuth callback accepted", "workflow_id", wfID, "approved", cb.CodeStored)
	s.showOutcome(w, r.Context(), wfID)
}

// showOutcome waits for the workflow's result and renders it.
func (s *Server) showOutcome(w http.ResponseWriter, ctx context.Context, wfID string) {
	ctx, cancel := context.WithTimeout(ctx, callbackWait)
	defer cancel()
	var res workflows.AuthorizationResult
	if err := s.temporal.GetWorkflow(ctx, wfID, "").Get(ctx, &res); err != nil {
		s.oauthPage(w, http.StatusAccepted, page{Title: "Connecting…", Text: fmt.Sprintf(
			"Meta's answer was received. The accounts are still being connected; the result will be posted in #%s.", s.cfg.RocketChatSetupChannel)})
		return
	}
	switch res.Status {
	case workflows.AuthConnected:
		p := page{Title: "Instagram connected", Text: "These accounts now deliver their Instagram Direct messages to Rocket.Chat:"}
		for _, a := range res.Accounts {
			s.wakeBlocked(a.IGAccountID, "account authorized")
			item := a.IGUsername + " — page " + a.PageID
			if a.PageName != "" {
				item += " (" + a.PageName + ")"
			}
			if !a.Subscribed {
				item += " — webhook subscription failed: " + a.SubscribeError
			}
			p.Items = append(p.Items, item)
		}
		for _, sk := range res.Skipped {
			p.Notes = append(p.Notes, "Not connected: "+sk.Name+" (page "+sk.PageID+"): "+sk.Reason)
		}
		s.oauthPage(w, http.StatusOK, p)
	case workflows.AuthDenied:
		s.oauthPage(w, http.StatusOK, page{Title: "Authorization declined", Text: "You declined the authorization on Meta's dialog (" + res.Detail + "). Nothing was stored."})
	default:
		p := page{Title: "Authorization failed", Text: "No account was connected: " + res.Detail + "."}
		for _, sk := range res.Skipped {
			p.Notes = append(p.Notes, sk.Name+" (page "+sk.PageID+"): "+sk.Reason)
		}
		s.oauthPage(w, http.StatusBadGateway, p)
	}
}

// staleState answers a link that cannot be used and, for an expired or replayed one, tells
// the setup channel (once per link and kind).
func (s *Server) staleState(w http.ResponseWriter, state string, why error) {
	switch {
	case errors.Is(why, store.ErrStateExpired):
		s.notice(state, "expired", "⌛ Someone opened an Instagram authorization link that has expired. Nothing was stored; start again with `instagram authorize`.")
		s.oauthPage(w, http.StatusGone, page{Title: "Link expired", Text: "This authorization link has expired. Nothing was stored. Ask for a new one in Rocket.Chat with `instagram authorize`."})
	case errors.Is(why, store.ErrStateUsed):
		s.notice(state, "replayed", "⚠️ An Instagram authorization link was used again after it had been used, and was refused. Nothing was stored. If nobody just reloaded that page, someone else has the link.")
		s.oauthPage(w, http.StatusConflict, page{Title: "Link already used", Text: "This authorization link was already used; a link works once. Nothing was stored. Ask for a new one with `instagram authorize` if needed."})
	case errors.Is(why, store.ErrStateUnknown):
		s.oauthPage(w, http.StatusBadRequest, page{Title: "Invalid link", Text: "This authorization link is not valid. Use the Start Authentication button posted in Rocket.Chat."})
	default:
		s.log.Error("OAuth state check failed", "error", why)
		s.oauthPage(w, http.StatusServiceUnavailable, page{Title: "Please try again", Text: "The bridge could not check this link just now. Reload the page in a moment."})
	}
}

// notice posts a message in the setup channel through the SetupNotice workflow. The
// workflow ID names the link and the kind, with reuse rejected, so reloading the page does
// not repeat the message. Best effort: the page is answered either way.
func (s *Server) notice(state, kind, text string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err := s.temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       "instagram-oauth-notice:" + kind + ":" + store.StateHashHex(state),
		TaskQueue:                s.cfg.TemporalTaskQueue,
		WorkflowIDReusePolicy:    enumspb.WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE,
		WorkflowIDConflictPolicy: enumspb.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING,
		WorkflowExecutionTimeout: time.Hour,
	}, workflows.SetupNoticeWorkflowName, workflows.SetupMessage{Text: text})
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if err != nil && !errors.As(err, &started) {
		s.log.Warn("Setup-channel notice not started", "kind", kind, "error", err)
	}
}

// page is what the OAuth endpoints show a person.
type page struct {
	Title string
	Text  string
	Items []string
	Notes []string
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · Instagram for Rocket.Chat</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#1f2329}h1{font-size:1.5rem}li{margin:.3rem 0}.note{color:#6c727a}</style>
</head><body>
<h1>{{.Title}}</h1>
<p>{{.Text}}</p>
{{if .Items}}<ul>{{range .Items}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{range .Notes}}<p class="note">{{.}}</p>{{end}}
<p class="note">You can close this window.</p>
</body></html>
`))

// oauthPage renders a page. Never cached, never sent as a referrer: the URL of the callback
// holds the code.
func (s *Server) oauthPage(w http.ResponseWriter, status int, p page) {
	noStore(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.WriteHeader(status)
	if err := pageTemplate.Execute(w, p); err != nil {
		s.log.Warn("OAuth page not rendered", "error", err)
	}
}

func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
}
