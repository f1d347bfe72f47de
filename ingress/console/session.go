package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/igdirect/bridge/store"
)

// SessionTTL is how long a sign-in lasts.
const SessionTTL = 8 * time.Hour

// cookieName: behind HTTPS a __Host- cookie (Secure, Path=/, no Domain: no other host or
// plain-HTTP page can set or read it); over plain HTTP (make run on localhost) a host-only
// cookie without Secure, which browsers would drop there.
func (c *Console) cookieName() string {
	if c.secure {
		return "__Host-igdirect-console"
	}
	return "igdirect-console"
}

func (c *Console) cookiePath() string {
	if c.secure {
		return "/" // required of __Host- cookies
	}
	return Prefix
}

func (c *Console) setSessionCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: c.cookieName(), Value: value, Path: c.cookiePath(), MaxAge: maxAge,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteStrictMode})
}

// session is a signed-in admin, as the pages see it.
type session struct {
	id  string
	who string
}

// Grants: what a session rests on, checked on every request (issue 20). A token session
// rests on the ADMIN_API_TOKEN it was opened with (rotating the token ends it); a link
// session on its Rocket.Chat user still being allowed to change things (Backend.MayChange:
// roles and ROCKETCHAT_COMMAND_USERS). Signing out everywhere and an uninstall end both
// kinds (store.EndConsoleSessions).
const (
	grantToken      = "token:"
	grantRocketChat = "rocketchat:"
)

// tokenGrant names the current ADMIN_API_TOKEN without revealing it: a digest under a
// label of its own ("" when no token is set, which no session matches).
func (c *Console) tokenGrant() string {
	t := c.opts.AdminToken.Value()
	if t == "" {
		return ""
	}
	sum := sha256.Sum256([]byte("igdirect console grant\x00" + t))
	return grantToken + base64.RawURLEncoding.EncodeToString(sum[:16])
}

// checkGrant tells whether what granted a session still holds: "" when it does, else why
// the session ends (ended) or why it cannot be told now (status 503, the session stays).
func (c *Console) checkGrant(ctx context.Context, cs store.ConsoleSession) (why string, ended bool) {
	switch {
	case strings.HasPrefix(cs.Grant, grantToken):
		if cur := c.tokenGrant(); cur == "" || cs.Grant != cur {
			return "ADMIN_API_TOKEN has changed since you signed in with it.", true
		}
		return "", false
	case strings.HasPrefix(cs.Grant, grantRocketChat) && cs.UserID != "" && cs.Grant == grantRocketChat+cs.UserID:
		err := c.backend.MayChange(ctx, cs.UserID, cs.Who)
		if err == nil {
			return "", false
		}
		return err.Error(), statusOf(err) == http.StatusForbidden
	}
	return "your session was made before sessions were tied to what granted them.", true
}

// csrf is the form token of a session: derived from its id, which only the browser holds
// (the database has its hash), so it needs no storage and dies with the session.
func (s session) csrf() string {
	m := hmac.New(sha256.New, []byte(s.id))
	m.Write([]byte("igdirect console csrf"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

type ctxKey struct{}

func sessionOf(r *http.Request) session {
	s, _ := r.Context().Value(ctxKey{}).(session)
	return s
}

// authed lets a request through with a session; a POST also needs the session's CSRF
// token and a same-origin Origin. Without a session a GET goes to the sign-in page (and
// comes back after it), a POST is refused.
func (c *Console) authed(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var sess session
		if ck, err := r.Cookie(c.cookieName()); err == nil && ck.Value != "" {
			cs, err := c.sessions.ConsoleSessionByID(r.Context(), ck.Value)
			switch {
			case err == nil:
				if why, ended := c.checkGrant(r.Context(), cs); ended {
					c.endSession(w, ck.Value, cs.Who, why)
					return
				} else if why != "" {
					c.opts.Log.Warn("Console request refused: the user's rights cannot be checked", "who", cs.Who, "error", why)
					c.render(w, http.StatusServiceUnavailable, "message", view{Title: "Rights not checked", Data: message{
						Text: "Nothing was done: " + why, Link: Prefix + "/"}})
					return
				}
				sess = session{id: ck.Value, who: cs.Who}
			case !errors.Is(err, store.ErrNotFound):
				c.opts.Log.Error("Console session not readable", "error", err)
				http.Error(w, "The console cannot read its sessions just now (database unreachable). Try again in a moment.", http.StatusServiceUnavailable)
				return
			}
		}
		if sess.id == "" {
			if r.Method != http.MethodGet {
				c.render(w, http.StatusForbidden, "message", view{Title: "Signed out", Data: message{
					Text: "Your session has ended (sign-ins last 8 hours), so nothing was changed. Sign in again and repeat the change.", Link: Prefix + "/login"}})
				return
			}
			// SameSite=Strict cookies stay home on a cross-site navigation (a click on a
			// console button in Rocket.Chat): reload once from our own page, which sends them.
			if r.Header.Get("Sec-Fetch-Site") == "cross-site" && r.URL.Query().Get("reloaded") == "" {
				q := r.URL.Query()
				q.Set("reloaded", "1")
				c.render(w, http.StatusOK, "reload", view{Title: "Opening the console", Data: r.URL.Path + "?" + q.Encode()})
				return
			}
			http.Redirect(w, r, Prefix+"/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if !c.sameOrigin(r) || !hmac.Equal([]byte(r.PostFormValue("csrf")), []byte(sess.csrf())) {
				c.opts.Log.Warn("Console form refused: CSRF token or origin wrong", "who", sess.who, "path", r.URL.Path, "origin", r.Header.Get("Origin"))
				c.render(w, http.StatusForbidden, "message", view{Title: "Form refused", Who: sess.who, CSRF: sess.csrf(), Data: message{
					Text: "This form did not come from this console's page (or the page was older than your sign-in), so nothing was changed. Open the page again and repeat the change.", Link: Prefix + "/"}})
				return
			}
		}
		next(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, sess)))
	})
}

// sameOrigin: a form POST comes from PUBLIC_URL's origin. Browsers send Origin on every
// POST; a request without one (not a browser) is judged by the CSRF token alone.
func (c *Console) sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return r.Header.Get("Sec-Fetch-Site") == "" || r.Header.Get("Sec-Fetch-Site") == "same-origin"
	}
	return c.origin != "" && normalOrigin(o) == c.origin
}

// normalOrigin is the origin of a URL as browsers send it in Origin: scheme and host in
// lower case, the port only when it is not the scheme's default ("" for anything else
// than an absolute http or https URL). PUBLIC_URL may be written with :443 or capitals.
func normalOrigin(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return ""
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return ""
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if scheme == "https" && port == "443" || scheme == "http" && port == "80" {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host
}

// safeNext keeps a return address inside the console.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(u.Path, Prefix+"/") ||
		strings.Contains(next, "//") || strings.Contains(next, "\\") || strings.HasPrefix(u.Path, Prefix+"/login") {
		return Prefix + "/"
	}
	q := u.Query()
	q.Del("reloaded")
	u.RawQuery = q.Encode()
	return u.String()
}

type loginView struct {
	Token     string // a sign-in link's token, to confirm
	For       string // whom the link is for
	ExpiresAt time.Time
	Next      string
	Error     string
	// Ways: which ways to sign in are open.
	Commands, AdminToken bool
	SetupChannel         string
}

// loginPage shows the sign-in choices, or — for a link from `instagram console` — whom the
// link is for and a button. Opening the link signs nobody in: link previews and
// prefetchers open links too, and must not use up the one sign-in.
func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	v := loginView{Next: safeNext(r.URL.Query().Get("next")), Commands: c.opts.CommandsEnabled,
		AdminToken: c.opts.AdminToken.Value() != "", SetupChannel: c.opts.SetupChannel}
	status := http.StatusOK
	if t := r.URL.Query().Get("t"); t != "" {
		l, err := c.sessions.PeekConsoleLogin(r.Context(), t)
		switch {
		case err == nil:
			v.Token, v.For, v.ExpiresAt = t, l.Username, l.ExpiresAt
		default:
			status, v.Error = c.linkRefusal(err)
		}
	}
	c.render(w, status, "login", view{Title: "Sign in", Data: v})
}

func (c *Console) linkRefusal(err error) (int, string) {
	switch {
	case errors.Is(err, store.ErrLoginUsed):
		return http.StatusConflict, "This sign-in link was already used; a link works once. Type `instagram console` in #" + c.opts.SetupChannel + " for a new one."
	case errors.Is(err, store.ErrLoginExpired):
		return http.StatusGone, "This sign-in link has expired (links work for 10 minutes). Type `instagram console` in #" + c.opts.SetupChannel + " for a new one."
	case errors.Is(err, store.ErrLoginUnknown):
		return http.StatusBadRequest, "This sign-in link is not valid. Type `instagram console` in #" + c.opts.SetupChannel + " for a new one."
	}
	c.opts.Log.Error("Console sign-in link not readable", "error", err)
	return http.StatusServiceUnavailable, "The console cannot check sign-in links just now (database unreachable). Try again in a moment."
}

// login signs in with a link's token (t) or ADMIN_API_TOKEN (token).
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	next := safeNext(r.PostFormValue("next"))
	v := loginView{Next: next, Commands: c.opts.CommandsEnabled, AdminToken: c.opts.AdminToken.Value() != "", SetupChannel: c.opts.SetupChannel}
	// A sign-in form posted from another site would sign the admin into someone else's
	// session (login CSRF).
	if !c.sameOrigin(r) {
		v.Error = "This sign-in did not come from the console's own page."
		c.render(w, http.StatusForbidden, "login", view{Title: "Sign in", Data: v})
		return
	}
	var grant store.ConsoleSession
	switch t, token := r.PostFormValue("t"), r.PostFormValue("token"); {
	case t != "":
		l, err := c.sessions.ConsumeConsoleLogin(r.Context(), t)
		if err != nil {
			status, msg := c.linkRefusal(err)
			v.Error = msg
			c.render(w, status, "login", view{Title: "Sign in", Data: v})
			return
		}
		grant = store.ConsoleSession{Who: l.Username, Via: "link", UserID: l.UserID, Grant: grantRocketChat + l.UserID, Generation: l.Generation}
	case token != "":
		client := c.limiter.client(r)
		if !c.limiter.allow(client) {
			v.Error = "Too many wrong tokens in the last minute; wait a minute and try again."
			c.render(w, http.StatusTooManyRequests, "login", view{Title: "Sign in", Data: v})
			return
		}
		if !c.opts.AdminToken.Matches(strings.TrimSpace(token)) {
			c.limiter.fail(client)
			c.opts.Log.Warn("Console sign-in with a wrong ADMIN_API_TOKEN refused", "remote", r.RemoteAddr)
			v.Error = "That is not the ADMIN_API_TOKEN."
			c.render(w, http.StatusUnauthorized, "login", view{Title: "Sign in", Data: v})
			return
		}
		grant = store.ConsoleSession{Who: "ADMIN_API_TOKEN", Via: "token", Grant: c.tokenGrant()}
	default:
		v.Error = "Paste the ADMIN_API_TOKEN, or use a sign-in link from `instagram console`."
		c.render(w, http.StatusBadRequest, "login", view{Title: "Sign in", Data: v})
		return
	}
	id := randomID()
	if _, err := c.sessions.CreateConsoleSession(r.Context(), id, grant, SessionTTL); err != nil {
		c.opts.Log.Error("Console session not stored", "error", err)
		v.Error = "The console cannot store sessions just now (database unreachable). Try again in a moment."
		c.render(w, http.StatusServiceUnavailable, "login", view{Title: "Sign in", Data: v})
		return
	}
	c.opts.Log.Info("Console sign-in", "who", grant.Who, "user_id", grant.UserID, "via", grant.Via, "remote", r.RemoteAddr)
	c.setSessionCookie(w, id, int(SessionTTL/time.Second))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	if err := c.sessions.DeleteConsoleSession(r.Context(), s.id); err != nil {
		c.opts.Log.Warn("Console session not deleted", "error", err)
	}
	c.opts.Log.Info("Console sign-out", "who", s.who)
	c.setSessionCookie(w, "", -1)
	http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
}

// endSession ends a session whose grant no longer holds, and says why.
func (c *Console) endSession(w http.ResponseWriter, id, who, why string) {
	if err := c.sessions.DeleteConsoleSession(context.Background(), id); err != nil {
		c.opts.Log.Warn("Console session not deleted", "error", err)
	}
	c.opts.Log.Warn("Console session ended: what granted it no longer holds", "who", who, "why", why)
	c.setSessionCookie(w, "", -1)
	c.render(w, http.StatusForbidden, "message", view{Title: "Signed out", Data: message{
		Text: "Your console session has ended, and nothing was done: " + why + " Sign in again if you still may.", Link: Prefix + "/login"}})
}

// logoutEverywhere ends every console session and unused sign-in link, this one too.
func (c *Console) logoutEverywhere(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	ended, err := c.backend.SignOutEverywhere(r.Context(), s.who)
	if err != nil {
		c.fail(w, r, "Sign out everywhere", err)
		return
	}
	c.setSessionCookie(w, "", -1)
	c.render(w, http.StatusOK, "message", view{Title: "Signed out everywhere", Data: message{
		Text: fmt.Sprintf("Everyone is signed out of the console: %d session(s) and %d unused sign-in link(s) ended.", ended.Sessions, ended.Links),
		Link: Prefix + "/login"}})
}

func randomID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Flash messages survive the redirect after a form (POST, then 303 to a page) in a short
// cookie; the page shows them once. Behind HTTPS it is a __Host- cookie (no sibling host
// or plain-HTTP page can set it), and its value is signed with a key of the session it
// was set in: a flash planted by anyone else, or set for another session, is not shown.
const flashCookie = "igdirect-console-flash"

func (c *Console) flashCookieName() string {
	if c.secure {
		return "__Host-" + flashCookie
	}
	return flashCookie
}

// flashMAC signs a flash value for the session (the session id only the browser holds).
func flashMAC(s session, value string) string {
	m := hmac.New(sha256.New, []byte(s.id))
	m.Write([]byte("igdirect console flash\x00" + value))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (c *Console) setFlashCookie(w http.ResponseWriter, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: c.flashCookieName(), Value: value, Path: c.cookiePath(), MaxAge: maxAge,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteStrictMode})
}

func (c *Console) flash(w http.ResponseWriter, r *http.Request, ok bool, msg string) {
	prefix := "E"
	if ok {
		prefix = "O"
	}
	if len(msg) > 1500 {
		msg = msg[:1500] + "…"
	}
	v := base64.RawURLEncoding.EncodeToString([]byte(prefix + msg))
	c.setFlashCookie(w, v+"."+flashMAC(sessionOf(r), v), 60)
}

func (c *Console) takeFlash(w http.ResponseWriter, r *http.Request) (string, bool) {
	ck, err := r.Cookie(c.flashCookieName())
	if err != nil {
		return "", false
	}
	c.setFlashCookie(w, "", -1)
	v, mac, _ := strings.Cut(ck.Value, ".")
	s := sessionOf(r)
	if s.id == "" || !hmac.Equal([]byte(mac), []byte(flashMAC(s, v))) {
		return "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil || len(raw) < 1 {
		return "", false
	}
	return string(raw[1:]), raw[0] == 'O'
}

// page builds the view of a signed-in page (with its flash message).
func (c *Console) page(w http.ResponseWriter, r *http.Request, title, nav string, data any) view {
	s := sessionOf(r)
	v := view{Title: title, Nav: nav, Who: s.who, CSRF: s.csrf(), Data: data}
	v.Flash, v.FlashOK = c.takeFlash(w, r)
	return v
}
