package console

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/igdirect/bridge/appsettings"
	"github.com/igdirect/bridge/commands"
	"github.com/igdirect/bridge/config"
	"github.com/igdirect/bridge/ingress/doctor"
	"github.com/igdirect/bridge/setupguide"
	"github.com/igdirect/bridge/store"
	"github.com/igdirect/bridge/workflows"
)

// Handler tests of the console with an in-memory session store and a backend that records
// what it was asked. The real store's links and sessions are tested in package store, the
// real operations end to end in e2e (also in a browser).

const adminToken = "admin-token-0123456789abcdef0123456789"

type memSessions struct {
	mu       sync.Mutex
	logins   map[string]*store.ConsoleLogin
	used     map[string]bool
	sessions map[string]store.ConsoleSession
}

func newMemSessions() *memSessions {
	return &memSessions{logins: map[string]*store.ConsoleLogin{}, used: map[string]bool{}, sessions: map[string]store.ConsoleSession{}}
}

func (m *memSessions) CreateConsoleSession(_ context.Context, id string, cs store.ConsoleSession, ttl time.Duration) (time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cs.ExpiresAt = time.Now().Add(ttl)
	m.sessions[id] = cs
	return cs.ExpiresAt, nil
}

func (m *memSessions) EndConsoleSessions(context.Context) (store.EndedSessions, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := store.EndedSessions{Sessions: len(m.sessions)}
	for t := range m.logins {
		if !m.used[t] {
			e.Links++
		}
	}
	m.sessions, m.logins = map[string]store.ConsoleSession{}, map[string]*store.ConsoleLogin{}
	return e, nil
}

func (m *memSessions) ConsoleSessionByID(_ context.Context, id string) (store.ConsoleSession, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[id]
	if !ok {
		return s, store.ErrNotFound
	}
	return s, nil
}

func (m *memSessions) DeleteConsoleSession(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sessions, id)
	return nil
}

func (m *memSessions) PeekConsoleLogin(_ context.Context, token string) (store.ConsoleLogin, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.logins[token]
	switch {
	case !ok:
		return store.ConsoleLogin{}, store.ErrLoginUnknown
	case m.used[token]:
		return *l, store.ErrLoginUsed
	}
	return *l, nil
}

func (m *memSessions) ConsumeConsoleLogin(ctx context.Context, token string) (store.ConsoleLogin, error) {
	l, err := m.PeekConsoleLogin(ctx, token)
	if err == nil {
		m.mu.Lock()
		m.used[token] = true
		m.mu.Unlock()
	}
	return l, err
}

type opErr struct {
	status int
	msg    string
}

func (e *opErr) Error() string   { return e.msg }
func (e *opErr) HTTPStatus() int { return e.status }

type fakeBackend struct {
	mu       sync.Mutex
	sessions *memSessions
	rights   map[string]error // MayChange's answer per user id (absent: allowed)
	checks   []string
	page     store.Page
	edits    []commands.PageEdit
	editErr  error
	settings map[string]string
	updates  []map[string]string
	setErr   error
	subs     []string
	whos     []string
	uninst   int
}

func (f *fakeBackend) Accounts(context.Context) ([]Account, error) {
	return []Account{{Page: f.page}}, nil
}
func (f *fakeBackend) Page(_ context.Context, ref string) (store.Page, error) {
	if ref != f.page.PageID && ref != f.page.IGUsername {
		return store.Page{}, &opErr{404, "No connected page matches `" + ref + "`"}
	}
	return f.page, nil
}
func (f *fakeBackend) Departments(context.Context) ([]workflows.Department, error) {
	return []workflows.Department{{ID: "d1", Name: "Instagram", Enabled: true}, {ID: "d2", Name: "Website"}}, nil
}
func (f *fakeBackend) EditPage(_ context.Context, ref string, e commands.PageEdit, who string) (store.Page, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.whos = append(f.whos, who)
	if f.editErr != nil {
		return store.Page{}, f.editErr
	}
	f.edits = append(f.edits, e)
	return f.page, nil
}
func (f *fakeBackend) SetSubscription(_ context.Context, ref string, subscribe bool, who string) (store.Page, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs = append(f.subs, ref+map[bool]string{true: "+", false: "-"}[subscribe])
	f.whos = append(f.whos, who)
	p := f.page
	p.Subscribed = subscribe
	return p, nil
}
func (f *fakeBackend) Authorize(context.Context, string) (Authorization, error) {
	return Authorization{URL: "http://bridge.test/oauth/start?state=abc"}, nil
}
func (f *fakeBackend) Uninstall(_ context.Context, who string) (workflows.UnauthorizeResult, error) {
	f.uninst++
	return workflows.UnauthorizeResult{Pages: []workflows.PageOutcome{{PageID: f.page.PageID, Unsubscribed: true}}}, nil
}
func (f *fakeBackend) Settings(context.Context) ([]Setting, error) {
	var out []Setting
	for _, d := range appsettings.Docs {
		v, ok := f.settings[d.Key]
		if !ok {
			v = d.Default
		}
		out = append(out, Setting{Doc: d, Value: v})
	}
	return out, nil
}
func (f *fakeBackend) UpdateSettings(ctx context.Context, values map[string]string, who string) ([]Setting, error) {
	f.mu.Lock()
	f.whos = append(f.whos, who)
	if f.setErr != nil {
		f.mu.Unlock()
		return nil, f.setErr
	}
	f.updates = append(f.updates, values)
	f.mu.Unlock()
	return f.Settings(ctx)
}
func (f *fakeBackend) Attention(context.Context) ([]doctor.Conversation, error) {
	return []doctor.Conversation{{WorkflowID: "instagram:1784:42", State: workflows.StateBlocked, Reason: "<b>the department</b>",
		UILink: "http://localhost:8233/namespaces/default/workflows/instagram%3A1784%3A42/run/history"}}, nil
}
func (f *fakeBackend) Doctor(context.Context) (doctor.Report, error) { return doctor.Report{}, nil }
func (f *fakeBackend) MayChange(_ context.Context, userID, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checks = append(f.checks, userID)
	return f.rights[userID]
}
func (f *fakeBackend) SignOutEverywhere(ctx context.Context, _ string) (store.EndedSessions, error) {
	return f.sessions.EndConsoleSessions(ctx)
}
func (f *fakeBackend) SetupFacts(context.Context) (setupguide.Facts, error) {
	return setupguide.Facts{PublicURL: "https://bridge.test", SetupChannel: "omnichannel-instagram-setup"}, nil
}

type env struct {
	t        *testing.T
	h        http.Handler
	sessions *memSessions
	backend  *fakeBackend
	origin   string
}

func newEnv(t *testing.T, publicURL string) *env {
	t.Helper()
	e := &env{t: t, sessions: newMemSessions(), origin: publicURL,
		backend: &fakeBackend{page: store.Page{PageID: "1020", IGAccountID: "1784", IGUsername: "casa", HasToken: true, Subscribed: true, Department: "Instagram"}}}
	e.backend.sessions = e.sessions
	c := New(Options{PublicURL: publicURL, AdminToken: config.Secret(adminToken), SetupChannel: "omnichannel-instagram-setup",
		CommandsEnabled: true, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, e.backend, e.sessions)
	e.h = c.Handler()
	return e
}

// do serves a request; headers are pairs.
func (e *env) do(method, path string, form url.Values, cookie *http.Cookie, headers ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.from("", method, path, form, cookie, headers...)
}

// from serves a request as if it came from the peer remote (host:port; "" for
// httptest's), with headers as pairs.
func (e *env) from(remote, method, path string, form url.Values, cookie *http.Cookie, headers ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	if remote != "" {
		req.RemoteAddr = remote
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", e.origin)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	return rec
}

// signIn signs in with the admin token and returns the session cookie and a CSRF token.
func (e *env) signIn() (*http.Cookie, string) {
	e.t.Helper()
	rec := e.do(http.MethodPost, "/console/login", url.Values{"token": {adminToken}, "next": {"/console/settings"}}, nil)
	require.Equal(e.t, http.StatusSeeOther, rec.Code, rec.Body.String())
	require.Equal(e.t, "/console/settings", rec.Header().Get("Location"))
	ck := rec.Result().Cookies()[0]
	page := e.do(http.MethodGet, "/console/accounts", nil, ck)
	require.Equal(e.t, http.StatusOK, page.Code)
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page.Body.String())
	require.NotNil(e.t, m)
	return ck, m[1]
}

func TestSignInWithAOneTimeLink(t *testing.T) {
	e := newEnv(t, "https://bridge.test")
	e.sessions.logins["link-token"] = &store.ConsoleLogin{UserID: "u-maria", Username: "maria", ExpiresAt: time.Now().Add(10 * time.Minute)}

	// Opening the link (a person, or a link preview) only shows whom it is for.
	for range 3 {
		rec := e.do(http.MethodGet, "/console/login?t=link-token", nil, nil)
		require.Equal(t, http.StatusOK, rec.Code)
		require.Contains(t, rec.Body.String(), "Sign in as maria")
		require.Empty(t, rec.Result().Cookies(), "no session from a GET")
	}
	rec := e.do(http.MethodPost, "/console/login", url.Values{"t": {"link-token"}, "next": {"/console/pages/1020"}}, nil)
	require.Equal(t, http.StatusSeeOther, rec.Code)
	require.Equal(t, "/console/pages/1020", rec.Header().Get("Location"))
	ck := rec.Result().Cookies()[0]
	require.Equal(t, "__Host-igdirect-console", ck.Name)
	require.True(t, ck.HttpOnly)
	require.True(t, ck.Secure, "Secure behind HTTPS")
	require.Equal(t, http.SameSiteStrictMode, ck.SameSite)
	require.Equal(t, "/", ck.Path)
	require.Equal(t, int(8*time.Hour/time.Second), ck.MaxAge)
	require.Equal(t, "maria", e.sessions.sessions[ck.Value].Who)

	page := e.do(http.MethodGet, "/console/accounts", nil, ck)
	require.Equal(t, http.StatusOK, page.Code)
	require.Contains(t, page.Body.String(), "Signed in as <b>maria</b>")

	// The link works once.
	rec = e.do(http.MethodPost, "/console/login", url.Values{"t": {"link-token"}}, nil)
	require.Equal(t, http.StatusConflict, rec.Code)
	require.Contains(t, rec.Body.String(), "already used")
	require.Contains(t, e.do(http.MethodGet, "/console/login?t=nope", nil, nil).Body.String(), "not valid")
}

func TestSignInWithTheAdminToken(t *testing.T) {
	e := newEnv(t, "http://localhost:8080")
	rec := e.do(http.MethodPost, "/console/login", url.Values{"token": {adminToken}}, nil)
	require.Equal(t, http.StatusSeeOther, rec.Code)
	ck := rec.Result().Cookies()[0]
	require.Equal(t, "igdirect-console", ck.Name, "no __Host- prefix over plain HTTP")
	require.False(t, ck.Secure)
	require.Equal(t, "/console", ck.Path)
	require.Equal(t, "ADMIN_API_TOKEN", e.sessions.sessions[ck.Value].Who)

	// Wrong tokens: refused, and after ten a minute, slowed down.
	for i := 0; i < 10; i++ {
		require.Equal(t, http.StatusUnauthorized, e.do(http.MethodPost, "/console/login", url.Values{"token": {"guess"}}, nil).Code)
	}
	rec = e.do(http.MethodPost, "/console/login", url.Values{"token": {adminToken}}, nil)
	require.Equal(t, http.StatusTooManyRequests, rec.Code, "even the right token waits")
	require.Len(t, e.sessions.sessions, 1)

	// A sign-in form posted from another site is refused (login CSRF).
	e2 := newEnv(t, "http://localhost:8080")
	rec = e2.do(http.MethodPost, "/console/login", url.Values{"token": {adminToken}}, nil, "Origin", "https://evil.test")
	require.Equal(t, http.StatusForbidden, rec.Code)
	require.Empty(t, e2.sessions.sessions)
}

func TestPagesNeedASession(t *testing.T) {
	e := newEnv(t, "https://bridge.test")
	for _, p := range []string{"/console/", "/console/accounts", "/console/pages/1020", "/console/settings", "/console/attention", "/console/doctor", "/console/authorize", "/console/uninstall"} {
		rec := e.do(http.MethodGet, p, nil, nil)
		require.Equal(t, http.StatusSeeOther, rec.Code, p)
		require.Equal(t, "/console/login?next="+url.QueryEscape(p), rec.Header().Get("Location"), p)
	}
	rec := e.do(http.MethodPost, "/console/pages/1020", url.Values{"welcome_message": {"x"}}, nil)
	require.Equal(t, http.StatusForbidden, rec.Code)
	rec = e.do(http.MethodGet, "/console/accounts", nil, &http.Cookie{Name: "__Host-igdirect-console", Value: "forged"})
	require.Equal(t, http.StatusSeeOther, rec.Code)
	require.Empty(t, e.backend.edits)

	// A click on a console button in Rocket.Chat is a cross-site navigation: the Strict
	// cookie is not sent, so the page reloads itself once from our origin.
	rec = e.do(http.MethodGet, "/console/authorize", nil, nil, "Sec-Fetch-Site", "cross-site")
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), `http-equiv="refresh" content="0; url=/console/authorize?reloaded=1"`)

	for next, want := range map[string]string{"https://evil.test/x": "/console/", "//evil.test/console/": "/console/",
		"/console/pages/1020": "/console/pages/1020", "/console/login?next=x": "/console/", "/other": "/console/"} {
		require.Equal(t, want, safeNext(next), next)
	}
}

func TestFormsNeedTheCSRFTokenAndOrigin(t *testing.T) {
	e := newEnv(t, "https://bridge.test")
	ck, csrf := e.signIn()
	for name, tc := range map[string]struct {
		form    url.Values
		headers []string
	}{
		"no token":     {url.Values{"welcome_message": {"x"}}, nil},
		"wrong token":  {url.Values{"welcome_message": {"x"}, "csrf": {"AAAA"}}, nil},
		"other origin": {url.Values{"welcome_message": {"x"}, "csrf": {csrf}}, []string{"Origin", "https://evil.test"}},
		"cross-site":   {url.Values{"welcome_message": {"x"}, "csrf": {csrf}}, []string{"Origin", "", "Sec-Fetch-Site", "cross-site"}},
	} {
		rec := e.do(http.MethodPost, "/console/pages/1020", tc.form, ck, tc.headers...)
		require.Equal(t, http.StatusForbidden, rec.Code, name)
		require.Contains(t, rec.Body.String(), "nothing was changed", name)
	}
	require.Empty(t, e.backend.edits)
	rec := e.do(http.MethodPost, "/console/pages/1020", url.Values{"welcome_message": {"Olá!\r\nComo vai?"}, "csrf": {csrf}}, ck)
	require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
	require.Len(t, e.backend.edits, 1)
	require.Equal(t, "Olá!\nComo vai?", *e.backend.edits[0].Welcome, "textarea CRLF becomes LF")
	require.Nil(t, e.backend.edits[0].Department, "fields the form did not send stay as they are")
	require.Equal(t, []string{"ADMIN_API_TOKEN"}, e.backend.whos, "the change is made as the signed-in admin")

	// Sign out ends the session.
	require.Equal(t, http.StatusSeeOther, e.do(http.MethodPost, "/console/logout", url.Values{"csrf": {csrf}}, ck).Code)
	require.Equal(t, http.StatusSeeOther, e.do(http.MethodGet, "/console/accounts", nil, ck).Code)
}

func TestEditPageConfig(t *testing.T) {
	e := newEnv(t, "https://bridge.test")
	ck, csrf := e.signIn()
	e.backend.page.WelcomeMessage = "Olá <script>alert(1)</script>"
	rec := e.do(http.MethodGet, "/console/pages/casa", nil, ck)
	require.Equal(t, http.StatusOK, rec.Code)
	body := rec.Body.String()
	for _, label := range []string{"Department", "Welcome Message", "Conversation Finished Message", "Default message for offline service"} {
		require.Contains(t, body, label)
	}
	require.Contains(t, body, `<option value="Instagram" selected>Instagram</option>`)
	require.Contains(t, body, `Website (disabled in Rocket.Chat)`)
	require.Contains(t, body, `data-max-bytes="1000"`)
	require.Contains(t, body, "30 of 1000 bytes", "bytes, not characters (á is two)")
	require.NotContains(t, body, "<script>alert", "values are escaped")

	// A refusal re-renders the form with what was typed and the reason.
	e.backend.editErr = &opErr{400, "Rocket.Chat has no department `Sales`. Nothing was changed."}
	rec = e.do(http.MethodPost, "/console/pages/1020", url.Values{"department": {"Sales"}, "welcome_message": {"typed text"}, "csrf": {csrf}}, ck)
	require.Equal(t, http.StatusBadRequest, rec.Code)
	require.Contains(t, rec.Body.String(), "Rocket.Chat has no department <code>Sales</code>. Nothing was changed.")
	require.Contains(t, rec.Body.String(), ">typed text</textarea>")
	require.Contains(t, rec.Body.String(), `Sales — not a department in Rocket.Chat!`)

	rec = e.do(http.MethodGet, "/console/pages/nosuch", nil, ck)
	require.Equal(t, http.StatusNotFound, rec.Code)
}

func TestSettingsSendOnlyWhatChanged(t *testing.T) {
	e := newEnv(t, "https://bridge.test")
	ck, csrf := e.signIn()
	rec := e.do(http.MethodGet, "/console/settings", nil, ck)
	body := rec.Body.String()
	for _, d := range appsettings.Docs {
		require.Contains(t, body, htmlEscaped(d.Label), d.Key)
	}
	form := url.Values{"csrf": {csrf}}
	for _, d := range appsettings.Docs {
		form.Set(d.Key, d.Default)
	}
	form.Set("agent_display_name", "none")
	form.Set("file_upload_enabled", "false")
	rec = e.do(http.MethodPost, "/console/settings", form, ck)
	require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
	require.Equal(t, []map[string]string{{"agent_display_name": "none", "file_upload_enabled": "false"}}, e.backend.updates)
	flash := rec.Result().Cookies()[0]
	require.Equal(t, "__Host-"+flashCookie, flash.Name)
	req := httptest.NewRequest(http.MethodGet, "/console/settings", nil)
	req.AddCookie(ck)
	req.AddCookie(flash)
	page := httptest.NewRecorder()
	e.h.ServeHTTP(page, req)
	require.Contains(t, page.Body.String(), "Saved: agent_display_name, file_upload_enabled. Changes apply to the next message.")

	e.backend.setErr = &opErr{400, "Nothing was changed: max_upload_bytes must be a number of bytes from 1 to 104857600 (100 MiB), not \"lots\"."}
	form.Set("max_upload_bytes", "lots")
	rec = e.do(http.MethodPost, "/console/settings", form, ck)
	require.Equal(t, http.StatusBadRequest, rec.Code)
	require.Contains(t, rec.Body.String(), "must be a number of bytes")
	require.Contains(t, rec.Body.String(), `value="lots"`, "what was typed stays in the form")
}

// htmlEscaped escapes a label as html/template writes it.
func htmlEscaped(s string) string { return strings.ReplaceAll(s, `"`, "&#34;") }

func TestAccountsSubscriptionAndUninstall(t *testing.T) {
	e := newEnv(t, "https://bridge.test")
	ck, csrf := e.signIn()
	body := e.do(http.MethodGet, "/console/accounts", nil, ck).Body.String()
	for _, want := range []string{"casa", "1020", "1784", "subscribed", "Unsubscribe", "Edit Page Config", "Start Authentication", "Uninstall…", "Instagram"} {
		require.Contains(t, body, want)
	}
	rec := e.do(http.MethodPost, "/console/accounts/1020/subscription", url.Values{"csrf": {csrf}, "action": {"unsubscribe"}}, ck)
	require.Equal(t, http.StatusSeeOther, rec.Code)
	require.Equal(t, []string{"1020-"}, e.backend.subs)

	page := e.do(http.MethodGet, "/console/uninstall", nil, ck).Body.String()
	require.Contains(t, page, "unsubscribe the webhooks of <b>casa</b>")
	require.Contains(t, page, "revoke this app's permissions at Meta")
	rec = e.do(http.MethodPost, "/console/uninstall", url.Values{"csrf": {csrf}}, ck)
	require.Equal(t, http.StatusSeeOther, rec.Code)
	require.Zero(t, e.backend.uninst, "not without the confirmation")
	rec = e.do(http.MethodPost, "/console/uninstall", url.Values{"csrf": {csrf}, "confirm": {"uninstall"}}, ck)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, 1, e.backend.uninst)
	require.Contains(t, rec.Body.String(), "webhooks unsubscribed")

	rec = e.do(http.MethodPost, "/console/authorize", url.Values{"csrf": {csrf}}, ck)
	require.Equal(t, http.StatusSeeOther, rec.Code)
	require.Equal(t, "http://bridge.test/oauth/start?state=abc", rec.Header().Get("Location"), "straight to Meta's dialog")
}

func TestAttentionEscapesAndLinks(t *testing.T) {
	e := newEnv(t, "https://bridge.test")
	ck, _ := e.signIn()
	body := e.do(http.MethodGet, "/console/attention", nil, ck).Body.String()
	require.Contains(t, body, "1 blocked · 0 waiting")
	require.Contains(t, body, "&lt;b&gt;the department&lt;/b&gt;")
	require.Contains(t, body, `href="http://localhost:8233/namespaces/default/workflows/instagram%3A1784%3A42/run/history"`)
	rec := e.do(http.MethodGet, "/console/doctor", nil, ck)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Contains(t, rec.Body.String(), "No Instagram account is connected")
	require.Equal(t, "DENY", rec.Header().Get("X-Frame-Options"))
	require.Contains(t, rec.Header().Get("Content-Security-Policy"), "script-src 'self'")
	require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
}

func TestStatusOf(t *testing.T) {
	require.Equal(t, http.StatusBadGateway, statusOf(&opErr{502, "x"}))
	require.Equal(t, http.StatusBadRequest, statusOf(&commands.Error{Msg: "x"}))
	require.Equal(t, http.StatusInternalServerError, statusOf(errors.New("x")))
	require.True(t, stillRunning(&opErr{202, "x"}))
}
