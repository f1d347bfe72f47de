package ingress

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/igdirect/bridge/instagram"
	"github.com/igdirect/bridge/safetext"
	"github.com/igdirect/bridge/store"
	"github.com/igdirect/bridge/workflows"
)

// The browser side of the OAuth flow (instagram-messaging.md §8.1). /oauth/start checks
// the state, binds it to the browser (a __Host- cookie, SameSite=Lax so that it comes
// back on Meta's top-level redirect) and redirects to Meta's dialog; /oauth/callback
// requires that cookie, consumes the state once, stores the code sealed and signals the
// AuthorizationWorkflow, then shows the outcome. Both answer with a page a person can
// read, also when the link is stale. Nothing is consumed by a refused request.

// callbackWait is how long the callback page waits for the accounts to be connected
// before saying the result will be posted in the setup channel.
const callbackWait = 20 * time.Second

func (s *Server) redirectURI() string { return s.cfg.PublicURL + workflows.OAuthCallbackPath }

// Bounds of what /oauth/callback accepts from the query (Meta's are far shorter): longer
// values are refused before anything is looked up or stored.
const (
	maxStateLen            = 128
	maxCodeLen             = 2048
	maxErrorFieldLen       = 200
	maxErrorDescriptionLen = 1000
)

// oauthCookieMaxAge outlives the link (15 minutes) a little; the database decides expiry.
const oauthCookieMaxAge = 20 * time.Minute

// oauthCookieName names the binding cookie of one state, so two authorizations open in
// the same browser do not overwrite each other's. __Host-: Secure, Path=/, no Domain, so
// no other host (or http page) can set or read it.
func oauthCookieName(state string) string {
	return "__Host-igdirect-oauth-" + store.StateHashHex(state)
}

// singleQuery returns the one value of each key, refusing a key given twice (which value
// would count is exactly what an attacker would like to choose) or too long.
func singleQuery(q url.Values, limits map[string]int) (map[string]string, string) {
	out := make(map[string]string, len(limits))
	for key, limit := range limits {
		vs := q[key]
		switch {
		case len(vs) > 1:
			return nil, fmt.Sprintf("the parameter %s is given %d times", key, len(vs))
		case len(vs) == 1 && len(vs[0]) > limit:
			return nil, fmt.Sprintf("the parameter %s is longer than %d bytes", key, limit)
		case len(vs) == 1:
			out[key] = vs[0]
		}
	}
	return out, ""
}

func (s *Server) oauthStart(w http.ResponseWriter, r *http.Request) {
	q, bad := singleQuery(r.URL.Query(), map[string]int{"state": maxStateLen})
	if bad != "" {
		s.oauthPage(w, http.StatusBadRequest, page{Title: "Invalid link", Text: "This authorization link is not valid: " + bad + ". Use the Start Authentication button posted in Rocket.Chat."})
		return
	}
	state := q["state"]
	if state == "" {
		s.oauthPage(w, http.StatusBadRequest, page{Title: "Incomplete link", Text: "This authorization link has no state. Use the Start Authentication button posted in Rocket.Chat."})
		return
	}
	if s.store == nil {
		s.oauthPage(w, http.StatusServiceUnavailable, page{Title: "Not available", Text: "The bridge has no database connection. Try again later."})
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
	var presented string
	if c, err := r.Cookie(oauthCookieName(state)); err == nil {
		presented = c.Value
	}
	cookie, err := s.store.BindOAuthBrowser(r.Context(), state, randomToken(), presented)
	if err != nil {
		s.staleState(w, state, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: oauthCookieName(state), Value: cookie, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, MaxAge: int(oauthCookieMaxAge / time.Second)})
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
	q, bad := singleQuery(r.URL.Query(), map[string]int{"state": maxStateLen, "code": maxCodeLen,
		"error": maxErrorFieldLen, "error_reason": maxErrorFieldLen, "error_description": maxErrorDescriptionLen})
	if bad != "" {
		s.oauthPage(w, http.StatusBadRequest, page{Title: "Invalid answer", Text: "Meta's answer is not valid: " + bad + ". Nothing was stored."})
		return
	}
	state, code := q["state"], q["code"]
	// Meta's error texts end up in the setup channel: neutralised here, and again there.
	cb := workflows.OAuthCallback{CodeStored: code != "", Error: safetext.Neutralize(q["error"]),
		ErrorReason: safetext.Neutralize(q["error_reason"]), ErrorDescription: safetext.Neutralize(q["error_description"])}
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
	if s.store == nil {
		s.oauthPage(w, http.StatusServiceUnavailable, page{Title: "Not available", Text: "The bridge has no database connection. Try again later."})
		return
	}
	var cookie string
	if c, err := r.Cookie(oauthCookieName(state)); err == nil {
		cookie = c.Value
	}
	wfID, err := s.store.ConsumeOAuthState(r.Context(), state, cookie, code, func(wfID string) error {
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
	case errors.Is(err, store.ErrStateUnknown), errors.Is(err, store.ErrStateExpired), errors.Is(err, store.ErrStateUsed),
		errors.Is(err, store.ErrStateOtherBrowser):
		s.staleState(w, state, err)
		return
	case err != nil:
		s.log.Error("OAuth callback not delivered; the link stays usable", "error", err)
		s.oauthPage(w, http.StatusServiceUnavailable, page{Title: "Please try again", Text: "The bridge could not record Meta's answer just now. Reload this page in a moment; the link is still valid."})
		return
	}
	s.log.Info("OAuth callback accepted", "workflow_id", wfID, "approved", cb.CodeStored)
	http.SetCookie(w, &http.Cookie{Name: oauthCookieName(state), Value: "", Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
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
	case errors.Is(why, store.ErrStateOtherBrowser):
		s.notice(state, "other-browser", "⚠️ An Instagram authorization link was used from a browser other than the one that opened it, and was refused. Nothing was stored. If nobody just switched browsers, someone else has the link: start again with `instagram authorize`.")
		s.oauthPage(w, http.StatusForbidden, page{Title: "Wrong browser", Text: "This authorization was started in another browser (or this browser refused its cookie). Nothing was stored. Open the Start Authentication button again in the browser you want to use, or ask for a new link with `instagram authorize`."})
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
