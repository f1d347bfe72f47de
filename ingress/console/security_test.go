package console

import (
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/igdirect/bridge/config"
	"github.com/igdirect/bridge/store"
)

// Issue 20: the console's remaining gaps, each reproduced here.

// TestTokenGuessesAreLimitedPerClient (item 4): ten wrong ADMIN_API_TOKEN guesses a
// minute lock out the client that made them, not every admin; X-Forwarded-For counts only
// from a configured trusted proxy; a generous global cap still bounds a guesser with many
// addresses.
func TestTokenGuessesAreLimitedPerClient(t *testing.T) {
	e := newEnv(t, "https://bridge.test")
	guess := url.Values{"token": {"guess"}}
	right := url.Values{"token": {adminToken}}
	for range 10 {
		require.Equal(t, http.StatusUnauthorized, e.from("198.51.100.7:40000", http.MethodPost, "/console/login", guess, nil).Code)
	}
	require.Equal(t, http.StatusTooManyRequests, e.from("198.51.100.7:40001", http.MethodPost, "/console/login", right, nil).Code,
		"the guesser waits, even with the right token")
	// Forged X-Forwarded-For from a peer that is no trusted proxy changes nothing.
	require.Equal(t, http.StatusTooManyRequests, e.from("198.51.100.7:40002", http.MethodPost, "/console/login", right, nil,
		"X-Forwarded-For", "203.0.113.50").Code)
	rec := e.from("203.0.113.9:50000", http.MethodPost, "/console/login", right, nil)
	require.Equal(t, http.StatusSeeOther, rec.Code, "another admin signs in: %s", rec.Body.String())

	// Behind a trusted proxy, the client is what the proxy says (its nearest untrusted hop).
	p := newEnvWith(t, "https://bridge.test", func(o *Options) { o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")} })
	for range 10 {
		require.Equal(t, http.StatusUnauthorized, p.from("10.0.0.2:1", http.MethodPost, "/console/login", guess, nil,
			"X-Forwarded-For", "198.51.100.7, 10.0.0.9").Code)
	}
	require.Equal(t, http.StatusTooManyRequests, p.from("10.0.0.3:1", http.MethodPost, "/console/login", right, nil,
		"X-Forwarded-For", "203.0.113.50, 198.51.100.7").Code, "a client cannot pick its own address in front of the proxy's")
	require.Equal(t, http.StatusSeeOther, p.from("10.0.0.2:1", http.MethodPost, "/console/login", right, nil,
		"X-Forwarded-For", "203.0.113.9").Code)
	// A guesser with many addresses hits the global cap; then everyone waits for a while.
	g := newEnv(t, "https://bridge.test")
	for i := range globalFailures {
		require.Equal(t, http.StatusUnauthorized, g.from(fmt.Sprintf("198.18.%d.%d:1", i/250, i%250+1), http.MethodPost, "/console/login", guess, nil).Code)
	}
	require.Equal(t, http.StatusTooManyRequests, g.from("203.0.113.9:1", http.MethodPost, "/console/login", right, nil).Code)
}

// newEnvWith is newEnv with the console's options changed.
func newEnvWith(t *testing.T, publicURL string, change func(*Options)) *env {
	t.Helper()
	e := newEnv(t, publicURL)
	opts := Options{PublicURL: publicURL, AdminToken: config.Secret(adminToken), SetupChannel: "omnichannel-instagram-setup",
		CommandsEnabled: true, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if change != nil {
		change(&opts)
	}
	e.h = New(opts, e.backend, e.sessions).Handler()
	return e
}

// TestOriginIsComparedNormalised (item 9): PUBLIC_URL written with its default port or in
// capitals names the same origin browsers send; forms from it are accepted, others not.
func TestOriginIsComparedNormalised(t *testing.T) {
	for _, publicURL := range []string{"https://bridge.test:443", "https://Bridge.Test", "HTTPS://bridge.test/", "http://localhost:80"} {
		t.Run(publicURL, func(t *testing.T) {
			e := newEnvWith(t, publicURL, nil)
			e.origin = "https://bridge.test"
			if strings.HasPrefix(publicURL, "http://") {
				e.origin = "http://localhost"
			}
			rec := e.do(http.MethodPost, "/console/login", url.Values{"token": {adminToken}}, nil)
			require.Equal(t, http.StatusSeeOther, rec.Code, "sign-in from %s: %s", e.origin, rec.Body.String())
			rec = e.do(http.MethodPost, "/console/login", url.Values{"token": {adminToken}}, nil, "Origin", "https://bridge.test:8443")
			require.Equal(t, http.StatusForbidden, rec.Code, "another port is another origin")
			rec = e.do(http.MethodPost, "/console/login", url.Values{"token": {adminToken}}, nil, "Origin", "https://bridge.test.evil.example")
			require.Equal(t, http.StatusForbidden, rec.Code)
		})
	}
}

// TestFlashCookieIsHostPrefixedAndSigned (item 9): the message a page shows once after a
// form lives in a __Host- cookie behind HTTPS (no sibling host or plain-HTTP page can set
// it), signed for the session it was set in: a flash planted by anyone else is not shown.
func TestFlashCookieIsHostPrefixedAndSigned(t *testing.T) {
	e := newEnv(t, "https://bridge.test")
	ck, csrf := e.signIn()
	rec := e.do(http.MethodPost, "/console/settings", url.Values{"csrf": {csrf}, "agent_display_name": {"none"}}, ck)
	require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
	var flash *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if strings.Contains(c.Name, "flash") {
			flash = c
		}
	}
	require.NotNil(t, flash)
	require.Equal(t, "__Host-igdirect-console-flash", flash.Name)
	require.Equal(t, "/", flash.Path)
	require.True(t, flash.Secure && flash.HttpOnly)
	show := func(c *http.Cookie) string {
		req := httptest.NewRequest(http.MethodGet, "/console/settings", nil)
		req.AddCookie(ck)
		req.AddCookie(c)
		page := httptest.NewRecorder()
		e.h.ServeHTTP(page, req)
		return page.Body.String()
	}
	require.Contains(t, show(flash), "Saved: agent_display_name")
	planted := "ORe-authorize now at bridge-login.example"
	for _, name := range []string{flash.Name, "igdirect-console-flash"} {
		for _, value := range []string{base64.RawURLEncoding.EncodeToString([]byte(planted)),
			base64.RawURLEncoding.EncodeToString([]byte(planted)) + "." + strings.Split(flash.Value+".", ".")[1]} {
			require.NotContains(t, show(&http.Cookie{Name: name, Value: value}), "bridge-login.example", "planted flash %s=%s shown", name, value)
		}
	}
	// Another session's genuine flash is not shown here either.
	other := newEnv(t, "https://bridge.test")
	ock, ocsrf := other.signIn()
	_ = ock
	orec := other.do(http.MethodPost, "/console/settings", url.Values{"csrf": {ocsrf}, "agent_display_name": {"name"}}, ock)
	for _, c := range orec.Result().Cookies() {
		if strings.Contains(c.Name, "flash") {
			require.NotContains(t, show(c), "Saved:", "a flash signed for another session")
		}
	}
}

// TestSessionsEndWithWhatGrantedThem (item 5): a session rests on what granted it. A token
// session ends when ADMIN_API_TOKEN is rotated; a link session when its Rocket.Chat user
// may no longer change things (and is refused, not ended, while that cannot be told);
// "Sign out everywhere" ends every session. Nothing is done by a request of an ended one.
func TestSessionsEndWithWhatGrantedThem(t *testing.T) {
	t.Run("token rotated", func(t *testing.T) {
		e := newEnv(t, "https://bridge.test")
		ck, csrf := e.signIn()
		rotated := newEnvWith(t, "https://bridge.test", func(o *Options) { o.AdminToken = config.Secret("rotated-" + adminToken) })
		rotated.sessions, rotated.backend = e.sessions, e.backend
		rotated.h = New(Options{PublicURL: "https://bridge.test", AdminToken: config.Secret("rotated-" + adminToken),
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, e.backend, e.sessions).Handler()
		rec := rotated.do(http.MethodPost, "/console/pages/1020", url.Values{"welcome_message": {"x"}, "csrf": {csrf}}, ck)
		require.Equal(t, http.StatusForbidden, rec.Code, rec.Body.String())
		require.Contains(t, rec.Body.String(), "ADMIN_API_TOKEN has changed")
		require.Empty(t, e.backend.edits)
		require.Empty(t, e.sessions.sessions, "the session is deleted")
		require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/console/login", nil, nil).Code)
	})
	t.Run("rights removed", func(t *testing.T) {
		e := newEnv(t, "https://bridge.test")
		e.sessions.logins["link"] = &store.ConsoleLogin{UserID: "u-maria", Username: "maria", ExpiresAt: time.Now().Add(time.Minute)}
		rec := e.do(http.MethodPost, "/console/login", url.Values{"t": {"link"}}, nil)
		require.Equal(t, http.StatusSeeOther, rec.Code)
		ck := rec.Result().Cookies()[0]
		require.Equal(t, http.StatusOK, e.do(http.MethodGet, "/console/accounts", nil, ck).Code)
		require.Contains(t, e.backend.checks, "u-maria", "every request checks the user's rights")
		e.backend.rights = map[string]error{"u-maria": &opErr{503, "Rocket.Chat did not answer: could not read your roles."}}
		rec = e.do(http.MethodGet, "/console/accounts", nil, ck)
		require.Equal(t, http.StatusServiceUnavailable, rec.Code, "cannot tell: refused")
		require.Contains(t, rec.Body.String(), "could not read your roles")
		require.Len(t, e.sessions.sessions, 1, "… but the session stays")
		e.backend.rights = map[string]error{"u-maria": &opErr{403, "maria holds neither the admin nor the livechat-manager role."}}
		rec = e.do(http.MethodGet, "/console/accounts", nil, ck)
		require.Equal(t, http.StatusForbidden, rec.Code)
		require.Contains(t, rec.Body.String(), "neither the admin nor the livechat-manager role")
		require.Empty(t, e.sessions.sessions)
		e.backend.rights = nil
		require.Equal(t, http.StatusSeeOther, e.do(http.MethodGet, "/console/accounts", nil, ck).Code, "ended for good")
	})
	t.Run("sign out everywhere", func(t *testing.T) {
		e := newEnv(t, "https://bridge.test")
		ck1, csrf1 := e.signIn()
		ck2, _ := e.signIn()
		e.sessions.logins["unused"] = &store.ConsoleLogin{UserID: "u-ana", Username: "ana", ExpiresAt: time.Now().Add(time.Minute)}
		page := e.do(http.MethodGet, "/console/accounts", nil, ck1).Body.String()
		require.Contains(t, page, `formaction="/console/logout-everywhere"`)
		rec := e.do(http.MethodPost, "/console/logout-everywhere", url.Values{"csrf": {csrf1}}, ck1)
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.Contains(t, rec.Body.String(), "2 session(s) and 1 unused sign-in link(s) ended")
		for _, ck := range []*http.Cookie{ck1, ck2} {
			require.Equal(t, http.StatusSeeOther, e.do(http.MethodGet, "/console/accounts", nil, ck).Code)
		}
		require.Equal(t, http.StatusBadRequest, e.do(http.MethodPost, "/console/login", url.Values{"t": {"unused"}}, nil).Code)
	})
}

// TestConsoleNeutralisesWhatMetaWrote (item 3): a page name, username or problem Meta
// reports is shown through safetext in every console page: no bidi override makes it read
// otherwise, no mention or link survives a copy into Rocket.Chat.
func TestConsoleNeutralisesWhatMetaWrote(t *testing.T) {
	e := newEnv(t, "https://bridge.test")
	e.backend.page.Name = "Casa \u202egnp.exe @all"
	e.backend.page.IGUsername = "casa\u202e"
	ck, _ := e.signIn()
	for _, path := range []string{"/console/accounts", "/console/pages/1020", "/console/uninstall"} {
		body := e.do(http.MethodGet, path, nil, ck).Body.String()
		require.NotContains(t, body, "\u202e", path)
		require.NotContains(t, body, "@all", path)
	}
}
