// Package console is the bridge's web console: the admin screens of Rocket.Chat's own
// Instagram Direct app (accounts with Subscribe/Unsubscribe, Start Authentication, Edit Page
// Config, the app's settings) and more (conversations that need attention, the doctor, the
// setup checklist). Server-rendered html/template pages that work without JavaScript; a
// small script only counts the bytes of a message as the admin types.
//
// It lives on ingress's public listener under PUBLIC_URL/console: admins open its sign-in
// link from Rocket.Chat in their own browsers, which cannot reach the internal listener.
// So every page needs a session (a one-time link from `instagram console`, or
// ADMIN_API_TOKEN), every form a CSRF token, and every change is made through the same
// operations as the commands and the admin API (Backend), which validate and log it with
// who made it. The package itself holds no business rule.
package console

import (
	"context"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/igdirect/bridge/appsettings"
	"github.com/igdirect/bridge/commands"
	"github.com/igdirect/bridge/config"
	"github.com/igdirect/bridge/ingress/doctor"
	"github.com/igdirect/bridge/safetext"
	"github.com/igdirect/bridge/setupguide"
	"github.com/igdirect/bridge/store"
	"github.com/igdirect/bridge/workflows"
)

// Prefix is where the console is served.
const Prefix = "/console"

// Account is a page as the accounts list shows it (also the admin API's account).
type Account struct {
	store.Page
	HealthProblem string     `json:"health_problem,omitempty"`
	CheckedAt     *time.Time `json:"health_checked_at,omitempty"`
}

// Setting is an application setting with its value and documentation (also the admin
// API's settings docs).
type Setting struct {
	appsettings.Doc
	Value string `json:"value"`
}

// Authorization is a started authorization: the link to Meta's dialog, or Pending when
// the worker did not hand it out in time.
type Authorization struct {
	URL       string
	ExpiresAt time.Time
	Pending   bool
}

// Backend is what the console does: the administration operations the commands and the
// admin API share. Errors carry the message an admin should read.
type Backend interface {
	Accounts(ctx context.Context) ([]Account, error)
	Page(ctx context.Context, ref string) (store.Page, error)
	Departments(ctx context.Context) ([]workflows.Department, error)
	EditPage(ctx context.Context, ref string, e commands.PageEdit, who string) (store.Page, error)
	SetSubscription(ctx context.Context, ref string, subscribe bool, who string) (store.Page, error)
	Authorize(ctx context.Context, who string) (Authorization, error)
	Uninstall(ctx context.Context, who string) (workflows.UnauthorizeResult, error)
	Settings(ctx context.Context) ([]Setting, error)
	UpdateSettings(ctx context.Context, values map[string]string, who string) ([]Setting, error)
	Attention(ctx context.Context) ([]doctor.Conversation, error)
	Doctor(ctx context.Context) (doctor.Report, error)
	SetupFacts(ctx context.Context) (setupguide.Facts, error)
	// MayChange says whether a Rocket.Chat user may still change things (what a session
	// from a sign-in link rests on): nil, or an error whose HTTPStatus is 403 when the user
	// may not (the session ends), anything else when it cannot be told now (the request is
	// refused, the session kept).
	MayChange(ctx context.Context, userID, username string) error
	// SignOutEverywhere ends every console session and unused sign-in link.
	SignOutEverywhere(ctx context.Context, who string) (store.EndedSessions, error)
}

// Sessions keeps sign-in links and sessions (store.Store).
type Sessions interface {
	CreateConsoleSession(ctx context.Context, id string, cs store.ConsoleSession, ttl time.Duration) (time.Time, error)
	ConsoleSessionByID(ctx context.Context, id string) (store.ConsoleSession, error)
	DeleteConsoleSession(ctx context.Context, id string) error
	PeekConsoleLogin(ctx context.Context, token string) (store.ConsoleLogin, error)
	ConsumeConsoleLogin(ctx context.Context, token string) (store.ConsoleLogin, error)
}

// Options configure the console.
type Options struct {
	// PublicURL is how browsers reach ingress (no trailing slash): the origin forms must
	// come from, and whether cookies are Secure (https).
	PublicURL string
	// AdminToken signs in without Rocket.Chat (ADMIN_API_TOKEN); unset: that way is closed.
	AdminToken   config.Secret
	SetupChannel string
	// CommandsEnabled: `instagram console` can hand out links (ROCKETCHAT_COMMAND_TOKEN).
	CommandsEnabled bool
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names the client
	// (TRUSTED_PROXIES); from any other peer the peer itself is the client.
	TrustedProxies []netip.Prefix
	Log            *slog.Logger
}

// Console serves the pages.
type Console struct {
	opts     Options
	backend  Backend
	sessions Sessions
	pages    map[string]*template.Template
	static   http.Handler
	secure   bool
	origin   string
	limiter  *failureLimiter
}

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// New builds the console.
func New(opts Options, backend Backend, sessions Sessions) *Console {
	c := &Console{opts: opts, backend: backend, sessions: sessions,
		limiter: newFailureLimiter(perClientFailures, globalFailures, time.Minute, opts.TrustedProxies)}
	c.secure = strings.HasPrefix(strings.ToLower(opts.PublicURL), "https://")
	c.origin = normalOrigin(opts.PublicURL)
	c.pages = parseTemplates()
	sub, _ := fs.Sub(staticFS, "static")
	c.static = http.StripPrefix(Prefix+"/static/", http.FileServer(http.FS(sub)))
	return c
}

func parseTemplates() map[string]*template.Template {
	funcs := template.FuncMap{
		"ago":     func(t time.Time) string { return setupguide.Ago(t, time.Now()) },
		"agop":    func(t *time.Time) string { return setupguide.Ago(*t, time.Now()) },
		"bytes":   func(s string) int { return len(s) },
		"clock":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 MST") },
		"code":    codeSpans,
		"join":    strings.Join,
		"pathesc": url.PathEscape,
		// safe shows a value Meta or a customer chose (page names, usernames, problems,
		// reasons): html/template escapes the markup, safetext the bidi controls (and the
		// mentions and links, should the text be copied into Rocket.Chat).
		"safe": safetext.Neutralize,
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		out[base] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n))
	}
	return out
}

// codeSpans renders Markdown `code` spans of the texts the bridge shares with Rocket.Chat
// messages (setup steps, doctor findings) as <code>, escaping everything else.
func codeSpans(s string) template.HTML {
	s = safetext.Neutralize(s) // these texts quote Meta's errors and customers' data too
	var b strings.Builder
	parts := strings.Split(s, "`")
	for i, p := range parts {
		esc := template.HTMLEscapeString(p)
		if i%2 == 1 && i < len(parts)-1 {
			b.WriteString("<code>" + esc + "</code>")
		} else {
			if i%2 == 1 {
				b.WriteString("`")
			}
			b.WriteString(esc)
		}
	}
	return template.HTML(b.String()) //nolint:gosec // every part is escaped above
}

// Handler serves everything under Prefix.
func (c *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+Prefix+"/static/", c.static)
	mux.HandleFunc("GET "+Prefix, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Prefix+"/", http.StatusMovedPermanently)
	})
	mux.HandleFunc("GET "+Prefix+"/login", c.loginPage)
	mux.HandleFunc("POST "+Prefix+"/login", c.login)
	mux.Handle("POST "+Prefix+"/logout", c.authed(c.logout))
	mux.Handle("POST "+Prefix+"/logout-everywhere", c.authed(c.logoutEverywhere))
	mux.Handle("GET "+Prefix+"/{$}", c.authed(c.overview))
	mux.Handle("GET "+Prefix+"/accounts", c.authed(c.accounts))
	mux.Handle("POST "+Prefix+"/accounts/{page}/subscription", c.authed(c.subscription))
	mux.Handle("GET "+Prefix+"/authorize", c.authed(c.authorizePage))
	mux.Handle("POST "+Prefix+"/authorize", c.authed(c.authorize))
	mux.Handle("GET "+Prefix+"/uninstall", c.authed(c.uninstallPage))
	mux.Handle("POST "+Prefix+"/uninstall", c.authed(c.uninstall))
	mux.Handle("GET "+Prefix+"/pages/{page}", c.authed(c.pagePage))
	mux.Handle("POST "+Prefix+"/pages/{page}", c.authed(c.savePage))
	mux.Handle("GET "+Prefix+"/settings", c.authed(c.settingsPage))
	mux.Handle("POST "+Prefix+"/settings", c.authed(c.saveSettings))
	mux.Handle("GET "+Prefix+"/attention", c.authed(c.attention))
	mux.Handle("GET "+Prefix+"/doctor", c.authed(c.doctor))
	return securityHeaders(mux)
}

// securityHeaders: no framing, no inline script, never cached, and no referrer to other
// sites (a sign-in link's token is in a URL). Not "no-referrer": browsers then send
// "Origin: null" with forms, and the same-origin check needs the real one.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, Prefix+"/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// view is what every page template gets.
type view struct {
	Title   string
	Nav     string
	Who     string
	CSRF    string
	Flash   string
	FlashOK bool
	Data    any
}

func (c *Console) render(w http.ResponseWriter, status int, page string, v view) {
	t, ok := c.pages[page]
	if !ok {
		http.Error(w, "no such page", http.StatusInternalServerError)
		return
	}
	var b strings.Builder
	if err := t.Execute(&b, v); err != nil {
		c.opts.Log.Error("Console page not rendered", "page", page, "error", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}
