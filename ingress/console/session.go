package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
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
	return o == c.origin
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
	var who, via string
	switch t, token := r.PostFormValue("t"), r.PostFormValue("token"); {
	case t != "":
		l, err := c.sessions.ConsumeConsoleLogin(r.Context(), t)
		if err != nil {
			status, msg := c.linkRefusal(err)
			v.Error = msg
			c.render(w, status, "login", view{Title: "Sign in", Data: v})
			return
		}
		who, via = l.Username, "link"
	case token != "":
		if !c.limiter.allow() {
			v.Error = "Too many wrong tokens in the last minute; wait a minute and try again."
			c.render(w, http.StatusTooManyRequests, "login", view{Title: "Sign in", Data: v})
			return
		}
		if !c.opts.AdminToken.Matches(strings.TrimSpace(token)) {
			c.limiter.fail()
			c.opts.Log.Warn("Console sign-in with a wrong ADMIN_API_TOKEN refused", "remote", r.RemoteAddr)
			v.Error = "That is not the ADMIN_API_TOKEN."
			c.render(w, http.StatusUnauthorized, "login", view{Title: "Sign in", Data: v})
			return
		}
		who, via = "ADMIN_API_TOKEN", "token"
	default:
		v.Error = "Paste the ADMIN_API_TOKEN, or use a sign-in link from `instagram console`."
		c.render(w, http.StatusBadRequest, "login", view{Title: "Sign in", Data: v})
		return
	}
	id := randomID()
	if _, err := c.sessions.CreateConsoleSession(r.Context(), id, who, via, SessionTTL); err != nil {
		c.opts.Log.Error("Console session not stored", "error", err)
		v.Error = "The console cannot store sessions just now (database unreachable). Try again in a moment."
		c.render(w, http.StatusServiceUnavailable, "login", view{Title: "Sign in", Data: v})
		return
	}
	c.opts.Log.Info("Console sign-in", "who", who, "via", via, "remote", r.RemoteAddr)
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

func randomID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// failureLimiter bounds wrong ADMIN_API_TOKEN guesses on the public listener: after max
// failures within window, sign-ins by token wait until the oldest failure leaves it. The
// token is long and compared as a digest; this only keeps guessing noisy and slow.
type failureLimiter struct {
	mu       sync.Mutex
	max      int
	window   time.Duration
	failures []time.Time
}

func newFailureLimiter(max int, window time.Duration) *failureLimiter {
	return &failureLimiter{max: max, window: window}
}

func (l *failureLimiter) prune(now time.Time) {
	i := 0
	for i < len(l.failures) && now.Sub(l.failures[i]) > l.window {
		i++
	}
	l.failures = l.failures[i:]
}

func (l *failureLimiter) allow() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.prune(time.Now())
	return len(l.failures) < l.max
}

func (l *failureLimiter) fail() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failures = append(l.failures, time.Now())
}

// Flash messages survive the redirect after a form (POST, then 303 to a page) in a short
// cookie; the page shows them once.
const flashCookie = "igdirect-console-flash"

func (c *Console) flash(w http.ResponseWriter, ok bool, msg string) {
	prefix := "E"
	if ok {
		prefix = "O"
	}
	if len(msg) > 1500 {
		msg = msg[:1500] + "…"
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: base64.RawURLEncoding.EncodeToString([]byte(prefix + msg)),
		Path: Prefix, MaxAge: 60, HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteStrictMode})
}

func (c *Console) takeFlash(w http.ResponseWriter, r *http.Request) (string, bool) {
	ck, err := r.Cookie(flashCookie)
	if err != nil {
		return "", false
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: Prefix, MaxAge: -1, HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteStrictMode})
	raw, err := base64.RawURLEncoding.DecodeString(ck.Value)
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
