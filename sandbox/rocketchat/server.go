package rocketchat

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a Server. Zero values of the additions fall back to the
// defaults documented on each field.
type Options struct {
	WebhookURL, WebhookSecret string // Omnichannel webhook target and X-RocketChat-Livechat-Token value ("" = header not sent)

	OnAgentMessage, OnVisitorMessage, OnClose, OnStart, OnTaken, OnForward, OnQueued bool // Livechat_webhook_on_* switches

	AcceptChatsWithNoAgents bool // Livechat_accept_chats_with_no_agents

	RateLimit bool // enable the real per-(IP, route+method) limiter with the real budgets (§2.4); off by default

	WebhookTimeout time.Duration // Livechat_http_timeout (default 5s); retry delay = 4× this, up to 5 attempts, only on network error/5xx/429

	BotUserID, BotAuthToken string // credentials accepted on authenticated endpoints (X-User-Id / X-Auth-Token)

	SiteURL string // used for fileUpload.publicFilePath ("" = scheme://host of the latest REST request, else http://localhost:3000)

	Logger *slog.Logger

	// --- Additions ---

	// BotUsername / BotPassword are the bot's login name and password for
	// POST login (defaults "bot" / "bot-password").
	BotUsername, BotPassword string
	// WebhookRetryDelay overrides the delay between webhook attempts (0 = 4×WebhookTimeout).
	WebhookRetryDelay time.Duration
	// WebhookMaxAttempts overrides the number of attempts (0 = 5, the newest server's value).
	WebhookMaxAttempts int
	// VisitorCustomFields lists the visitor-scope custom fields defined in the
	// workspace; customFields with other keys are ignored like the real server
	// does. Spec gap / convenience: nil accepts every key.
	VisitorCustomFields []string
	// Now is the server's clock (nil: time.Now); SetClockOffset still skews it.
	Now func() time.Time
	// Random is the source of the ids the server makes up (nil: crypto/rand). A seeded
	// source with Now and WebhookSink makes a run repeatable (the conversation simulator).
	Random io.Reader
	// WebhookSink, when set, receives every Omnichannel webhook the server would send,
	// synchronously and once, instead of the server POSTing it (with its retries) to
	// WebhookURL: the caller delivers it as it likes. It must not call back into the
	// server.
	WebhookSink func(WebhookDelivery)
	// Outgoing configures the outgoing WebHook integration driven by
	// SendCommand (trigger words, "Post as" user, alias/emoji/avatar) (§12).
	Outgoing OutgoingIntegration
}

// DefaultOptions returns the options used by the demo: webhook switches
// OnAgentMessage, OnClose, OnTaken and OnForward on, bot "bot-user-id"/"bot-auth-token".
func DefaultOptions() Options {
	return Options{
		OnAgentMessage: true,
		OnClose:        true,
		OnTaken:        true,
		OnForward:      true,
		WebhookTimeout: 5 * time.Second,
		BotUserID:      "bot-user-id",
		BotAuthToken:   "bot-auth-token",
		BotUsername:    "bot",
		BotPassword:    "bot-password",
	}
}

// WebhookEvents are the Livechat_webhook_on_* switches. (Addition.)
type WebhookEvents struct {
	OnAgentMessage, OnVisitorMessage, OnClose, OnStart, OnTaken, OnForward, OnQueued bool
	// OnCloseMessage also sends a `Message` webhook for the livechat-close
	// system message (subject to the agent/visitor message switch of its author).
	// Spec gap (§16): whether the real server does this depends on the version;
	// default off.
	OnCloseMessage bool
}

// UploadSettings are the file upload settings. (Addition.)
type UploadSettings struct {
	Enabled         bool   // FileUpload_Enabled (default true)
	LivechatEnabled bool   // Livechat_fileupload_enabled (default true)
	MaxFileSize     int64  // FileUpload_MaxFileSize (default 104857600; -1 unlimited; 0 = default)
	WhiteList       string // FileUpload_MediaTypeWhiteList (default "" = all)
	BlackList       string // FileUpload_MediaTypeBlackList (default "image/svg+xml")
	ProtectFiles    bool   // FileUpload_ProtectFiles (default true)
	JWT             bool   // FileUpload_Enable_json_web_token_for_files (default true)
}

// DefaultUploadSettings returns the Rocket.Chat defaults. (Addition.)
func DefaultUploadSettings() UploadSettings {
	return UploadSettings{Enabled: true, LivechatEnabled: true, MaxFileSize: 104857600,
		BlackList: "image/svg+xml", ProtectFiles: true, JWT: true}
}

// User is a non-agent REST user (login, chat.postMessage, departments, users.info).
// (Addition.) Permissions nil = every permission (like the bot); empty = none. Roles are
// the user's roles (`admin`, `livechat-manager`, …); nil = ["user"].
type User struct {
	ID, Username, Name, AuthToken, Password string
	Permissions                             []string
	Roles                                   []string
}

type settingsState struct {
	livechatEnabled     bool
	allowVisitorClose   bool
	allowEditing        bool
	allowDeleting       bool
	charLimit           int
	requireCloseComment bool
	acceptNoAgents      bool
	upload              UploadSettings
	autoReply           bool
	autoReplyDelay      time.Duration
	rateLimit           bool
}

// Server is an in-process Rocket.Chat Omnichannel emulator.
type Server struct {
	randMu  sync.Mutex // guards opts.Random
	mu      sync.Mutex
	opts    Options
	log     *slog.Logger
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	closed  bool
	started time.Time
	client  *http.Client
	jwtKey  []byte
	// clockOffset skews this server's clock (SetClockOffset): Rocket.Chat stamps messages
	// with its own clock, which need not agree with ours.
	clockOffset atomic.Int64

	routes  []*route
	control http.Handler

	set           settingsState
	events        WebhookEvents
	webhookURL    string
	webhookSecret string
	webhookTO     time.Duration

	visitors     map[string]*visitorRec // by _id
	tokens       map[string]string      // token → visitor _id
	guestCount   int
	rooms        map[string]*roomRec
	roomList     []*roomRec
	msgs         map[string][]*msgRec // rid → ascending
	msgByID      map[string]*msgRec
	files        map[string]*fileRec
	agents       map[string]*agentRec // by username
	agentOrder   []string
	depts        map[string]*deptRec
	deptOrder    []string
	users        map[string]*userRec // by _id
	channels     map[string]*channelRec
	customFields map[string]bool // nil = any

	faults     []*faultRec
	down       bool
	limits     map[string]*rlRule
	limitSpecs map[string]rlSpec
	deliveries []WebhookDelivery
	calls      []RESTCall
	changed    chan struct{}
	lastBase   string
	outgoing   outgoingState // outgoing integration (integration.go)
}

// New creates a server. Call Close when done.
func New(o Options) *Server {
	d := DefaultOptions()
	if o.WebhookTimeout <= 0 {
		o.WebhookTimeout = d.WebhookTimeout
	}
	if o.BotUserID == "" {
		o.BotUserID = d.BotUserID
	}
	if o.BotAuthToken == "" {
		o.BotAuthToken = d.BotAuthToken
	}
	if o.BotUsername == "" {
		o.BotUsername = d.BotUsername
	}
	if o.BotPassword == "" {
		o.BotPassword = d.BotPassword
	}
	if o.WebhookMaxAttempts <= 0 {
		o.WebhookMaxAttempts = 5
	}
	lg := o.Logger
	if lg == nil {
		lg = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		opts: o, log: lg, ctx: ctx, cancel: cancel, jwtKey: make([]byte, 32),
		client: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()},
		set: settingsState{
			livechatEnabled: true, allowVisitorClose: true, allowEditing: true, allowDeleting: true,
			requireCloseComment: true, acceptNoAgents: o.AcceptChatsWithNoAgents,
			upload: DefaultUploadSettings(), rateLimit: o.RateLimit,
		},
		events: WebhookEvents{OnAgentMessage: o.OnAgentMessage, OnVisitorMessage: o.OnVisitorMessage,
			OnClose: o.OnClose, OnStart: o.OnStart, OnTaken: o.OnTaken, OnForward: o.OnForward, OnQueued: o.OnQueued},
		webhookURL: o.WebhookURL, webhookSecret: o.WebhookSecret, webhookTO: o.WebhookTimeout,
		visitors: map[string]*visitorRec{}, tokens: map[string]string{}, rooms: map[string]*roomRec{},
		msgs: map[string][]*msgRec{}, msgByID: map[string]*msgRec{}, files: map[string]*fileRec{},
		agents: map[string]*agentRec{}, depts: map[string]*deptRec{}, users: map[string]*userRec{},
		channels: map[string]*channelRec{}, limits: map[string]*rlRule{}, limitSpecs: map[string]rlSpec{},
		changed: make(chan struct{}),
	}
	if o.VisitorCustomFields != nil {
		s.customFields = map[string]bool{}
		for _, k := range o.VisitorCustomFields {
			s.customFields[k] = true
		}
	}
	s.randRead(s.jwtKey)
	s.started = s.nowMS()
	s.users[o.BotUserID] = &userRec{ID: o.BotUserID, Username: o.BotUsername, Name: o.BotUsername,
		Token: o.BotAuthToken, Password: o.BotPassword, Roles: []string{"user", "bot"}}
	s.channels["general"] = &channelRec{ID: "GENERAL", Name: "general"}
	s.registerRoutes()
	s.control = s.controlHandler()
	return s
}

// Handler returns the HTTP handler: REST under /api/v1/..., file downloads
// under /file-upload/..., the control API under /sandbox/.
func (s *Server) Handler() http.Handler { return s }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/sandbox/"):
		s.control.ServeHTTP(w, r)
	case strings.HasPrefix(r.URL.Path, "/api/v1/"):
		s.serveAPI(w, r)
	case strings.HasPrefix(r.URL.Path, "/file-upload/"):
		s.serveFile(w, r)
	default:
		http.NotFound(w, r)
	}
}

// Close stops webhook deliveries and auto replies and waits for their goroutines.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	s.client.CloseIdleConnections()
}

// SetWebhook sets Livechat_webhookUrl and Livechat_secret_token ("" = no header).
func (s *Server) SetWebhook(url, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookURL, s.webhookSecret = url, secret
}

// SetWebhookEvents replaces the Livechat_webhook_on_* switches. (Addition.)
func (s *Server) SetWebhookEvents(e WebhookEvents) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = e
}

// WebhookEventsSet returns the Livechat_webhook_on_* switches now. (Addition.)
func (s *Server) WebhookEventsSet() WebhookEvents {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.events
}

// SetWebhookTimeout sets Livechat_http_timeout (retry delay stays 4× unless
// Options.WebhookRetryDelay is set). (Addition.)
func (s *Server) SetWebhookTimeout(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.webhookTO = d
}

// SetAcceptChatsWithNoAgents sets Livechat_accept_chats_with_no_agents.
func (s *Server) SetAcceptChatsWithNoAgents(v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set.acceptNoAgents = v
}

// SetLivechatEnabled sets Livechat_enabled (default true). (Addition.)
func (s *Server) SetLivechatEnabled(v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set.livechatEnabled = v
}

// SetAllowVisitorsToClose sets Omnichannel_allow_visitors_to_close_conversation (default true). (Addition.)
func (s *Server) SetAllowVisitorsToClose(v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set.allowVisitorClose = v
}

// SetMessageEditing sets Message_AllowEditing / Message_AllowDeleting (default true). (Addition.)
func (s *Server) SetMessageEditing(allowEditing, allowDeleting bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set.allowEditing, s.set.allowDeleting = allowEditing, allowDeleting
}

// SetMessageCharacterLimit sets Livechat_message_character_limit; 0 disables
// Livechat_enable_message_character_limit (the default). (Addition.)
func (s *Server) SetMessageCharacterLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set.charLimit = n
}

// SetRequireCloseComment sets Livechat_request_comment_when_closing_conversation
// (default true: POST livechat/room.closeByUser needs a comment). (Addition.)
func (s *Server) SetRequireCloseComment(v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set.requireCloseComment = v
}

// SetUploadSettings replaces the file upload settings. (Addition.)
func (s *Server) SetUploadSettings(u UploadSettings) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set.upload = u
}

// SetAutoReply makes the serving agent answer every visitor text message with
// "Hi! You wrote: <text>" after delay (via AgentSend).
func (s *Server) SetAutoReply(enabled bool, delay time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set.autoReply, s.set.autoReplyDelay = enabled, delay
}

// SetRateLimiting turns the rate limiter on or off at run time. (Addition.)
func (s *Server) SetRateLimiting(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.set.rateLimit = on
}

// SetSiteURL sets Site_Url (used for fileUpload.publicFilePath). (Addition.)
func (s *Server) SetSiteURL(u string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opts.SiteURL = u
}

// AddUser adds a REST user (for login / permission tests). (Addition.)
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.ID == "" {
		u.ID = s.randomID()
	}
	// Usernames are unique in Rocket.Chat: adding one that exists replaces it, same id.
	for id, old := range s.users {
		if old.Username == u.Username && u.Username != "" && id != u.ID {
			delete(s.users, id)
			u.ID = id
		}
	}
	roles := u.Roles
	if roles == nil {
		roles = []string{"user"}
	}
	rec := &userRec{ID: u.ID, Username: u.Username, Name: u.Name, Token: u.AuthToken, Password: u.Password, Roles: append([]string(nil), roles...)}
	if u.Permissions != nil {
		rec.Perms = map[string]bool{}
		for _, p := range u.Permissions {
			rec.Perms[p] = true
		}
	}
	s.users[u.ID] = rec
}

// AddChannel creates a public channel for chat.postMessage and returns its id. (Addition.)
func (s *Server) AddChannel(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	name = strings.TrimPrefix(name, "#")
	if c := s.channels[name]; c != nil {
		return c.ID
	}
	c := &channelRec{ID: s.randomID(), Name: name}
	s.channels[name] = c
	return c.ID
}

func (s *Server) siteURL() string {
	if s.opts.SiteURL != "" {
		return strings.TrimRight(s.opts.SiteURL, "/")
	}
	if s.lastBase != "" {
		return s.lastBase
	}
	return "http://localhost:3000"
}

// ---------------------------------------------------------------------------
// REST framework.

type handlerFunc func(c *reqCtx) (obj, error)

type route struct {
	method, pattern string
	segs            []string
	auth            bool
	perms           []string // hasAny
	limit           int      // 0 = default budget
	rawBody         bool     // handler reads the body itself (multipart)
	h               handlerFunc
}

// key is the route name used by faults and the rate limiter, e.g. "POST /api/v1/livechat/message".
func (rt *route) key() string { return rt.method + " /api/v1/" + rt.pattern }

type reqCtx struct {
	s      *Server
	w      http.ResponseWriter
	r      *http.Request
	params map[string]string
	query  map[string]any
	body   map[string]any
	user   *userRec
	route  *route
}

func (s *Server) add(method, pattern string, h handlerFunc, opts ...func(*route)) {
	rt := &route{method: method, pattern: pattern, segs: strings.Split(pattern, "/"), h: h}
	for _, o := range opts {
		o(rt)
	}
	s.routes = append(s.routes, rt)
}

func withAuth(perms ...string) func(*route) {
	return func(r *route) { r.auth = true; r.perms = perms }
}
func withLimit(n int) func(*route) { return func(r *route) { r.limit = n } }
func withRawBody() func(*route)    { return func(r *route) { r.rawBody = true } }

func (s *Server) registerRoutes() {
	s.add("POST", "livechat/visitor", s.hVisitorPost, withLimit(5))
	s.add("GET", "livechat/visitor/:token", s.hVisitorGet)
	s.add("DELETE", "livechat/visitor/:token", s.hVisitorDelete, withLimit(5))
	s.add("GET", "livechat/room", s.hRoomGet, withLimit(5))
	s.add("POST", "livechat/room.close", s.hRoomClose)
	s.add("POST", "livechat/room.closeByUser", s.hRoomCloseByUser, withAuth("close-livechat-room"))
	s.add("POST", "livechat/message", s.hMessagePost)
	s.add("GET", "livechat/message/:_id", s.hMessageGet)
	s.add("PUT", "livechat/message/:_id", s.hMessagePut)
	s.add("DELETE", "livechat/message/:_id", s.hMessageDelete)
	s.add("GET", "livechat/messages.history/:rid", s.hMessagesHistory)
	s.add("POST", "livechat/messages", s.hMessagesBulk, withAuth("view-livechat-manager"))
	s.add("POST", "livechat/upload/:rid", s.hUpload, withRawBody())
	s.add("GET", "livechat/config", s.hConfig)
	s.add("GET", "livechat/agent.info/:rid/:token", s.hAgentInfo)
	s.add("GET", "livechat/agent.next/:token", s.hAgentNext)
	s.add("GET", "livechat/department", s.hDepartments, withAuth("view-livechat-departments", "view-l-room"))
	s.add("GET", "livechat/department/:_id", s.hDepartment, withAuth("view-livechat-departments", "view-l-room"))
	s.add("GET", "livechat/department/:_id/agents", s.hDepartmentAgents, withAuth("view-livechat-departments", "view-l-room"))
	s.add("POST", "livechat/webhook.test", s.hWebhookTest, withAuth("view-livechat-webhooks"))
	s.add("GET", "livechat/integrations.settings", s.hIntegrationSettings, withAuth("view-livechat-webhooks"))
	s.add("POST", "omnichannel/integrations", s.hIntegrationsSave, withAuth("view-livechat-webhooks"))
	s.add("POST", "login", s.hLogin)
	s.add("POST", "logout", s.hLogout, withAuth())
	s.add("GET", "me", s.hMe, withAuth())
	s.add("POST", "chat.postMessage", s.hPostMessage, withAuth())
	s.add("GET", "users.info", s.hUsersInfo, withAuth())
	s.add("POST", "chat.sendMessage", s.hSendMessage, withAuth())
}

func (s *Server) match(method, path string) (*route, map[string]string, bool) {
	segs := strings.Split(path, "/")
	pathFound := false
	for _, rt := range s.routes {
		if len(rt.segs) != len(segs) {
			continue
		}
		params := map[string]string{}
		ok := true
		for i, p := range rt.segs {
			if strings.HasPrefix(p, ":") {
				if segs[i] == "" {
					ok = false
					break
				}
				params[p[1:]] = segs[i]
			} else if p != segs[i] {
				ok = false
				break
			}
		}
		if !ok {
			continue
		}
		pathFound = true
		if rt.method == method {
			return rt, params, true
		}
	}
	return nil, nil, pathFound
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	if s.isDown() {
		dropConnection(w)
		return
	}
	s.mu.Lock()
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	s.lastBase = scheme + "://" + r.Host
	s.mu.Unlock()

	path := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/v1/"), "/")
	rt, params, _ := s.match(r.Method, path)
	if rt == nil {
		// Spec gap: unknown routes are a framework 404 whose body is not
		// specified; the emulator answers API.v1.notFound()'s JSON.
		if s.applyFault(w, r, r.Method+" "+r.URL.Path, "") {
			return
		}
		writeJSON(w, http.StatusNotFound, obj{{"success", false}, {"error", "Resource not found"}})
		return
	}
	if s.applyFault(w, r, rt.key(), r.Method+" "+r.URL.Path) {
		return
	}
	if f := s.takeFault(rt.key(), r.Method+" "+r.URL.Path, true); f != nil {
		rec := httptest.NewRecorder()
		s.serveRoute(rec, r, rt, params)
		s.afterProcess(w, r, f, rec)
		return
	}
	s.serveRoute(w, r, rt, params)
}

// serveRoute runs a matched REST route: authentication, rate limit, permissions, handler.
func (s *Server) serveRoute(w http.ResponseWriter, r *http.Request, rt *route, params map[string]string) {
	c := &reqCtx{s: s, w: w, r: r, params: params, query: queryMap(r.URL.Query()), route: rt}
	if rt.auth {
		u := s.authenticate(r)
		if u == nil {
			s.respond(w, nil, unauthorizedErr())
			return
		}
		c.user = u
	}
	if err := s.enforceRateLimit(w, r, rt); err != nil {
		s.respond(w, nil, err)
		return
	}
	if len(rt.perms) > 0 && !c.user.can(rt.perms...) {
		s.respond(w, nil, forbiddenPermErr())
		return
	}
	if !rt.rawBody {
		c.body = parseBody(r)
	}
	res, err := rt.h(c)
	s.logCall(rt, c, err)
	s.respond(w, res, err)
}

// RESTCall is one REST call the server handled, for tests that check how a client behaves
// (how often it calls, what it was refused). (Addition.)
type RESTCall struct {
	Route  string // "METHOD /api/v1/<route pattern>"
	RoomID string // the rid the call named (path, query or body), if any
	Error  string // the error code it was refused with ("" = success)
	At     time.Time
}

// maxCalls bounds the call log.
const maxCalls = 20000

func (s *Server) logCall(rt *route, c *reqCtx, err error) {
	rid := c.params["rid"]
	if rid == "" {
		rid = c.str(c.query, "rid")
	}
	if rid == "" {
		rid = c.str(c.body, "rid")
	}
	code := ""
	if err != nil {
		var me *meteorError
		var ce coreError
		switch {
		case errors.As(err, &me):
			code = me.code
		case errors.As(err, &ce):
			code = string(ce)
		default:
			code = err.Error()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.calls) >= maxCalls {
		s.calls = append(s.calls[:0:0], s.calls[maxCalls/2:]...)
	}
	s.calls = append(s.calls, RESTCall{Route: rt.key(), RoomID: rid, Error: code, At: s.nowMS()})
}

// RESTCalls returns the REST calls handled so far (the newest maxCalls). (Addition.)
func (s *Server) RESTCalls() []RESTCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]RESTCall(nil), s.calls...)
}

// parseBody parses JSON only when Content-Type contains application/json
// (router.ts parseBodyParams); anything else becomes {}.
//
// Spec gap: an unparsable JSON body is treated as {} (validation then fails).
func parseBody(r *http.Request) map[string]any {
	body := map[string]any{}
	if r.Body == nil || !strings.Contains(strings.ToLower(r.Header.Get("Content-Type")), "application/json") {
		return body
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	if err != nil || len(data) == 0 {
		return body
	}
	var v any
	if json.Unmarshal(data, &v) != nil {
		return body
	}
	if m, ok := v.(map[string]any); ok {
		return m
	}
	return body
}

func (s *Server) authenticate(r *http.Request) *userRec {
	uid, tok := r.Header.Get("X-User-Id"), r.Header.Get("X-Auth-Token")
	if uid == "" || tok == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[uid]
	if u == nil || u.Token != tok {
		return nil
	}
	return u
}

func (s *Server) respond(w http.ResponseWriter, res obj, err error) {
	if err != nil {
		st, body := errorBody(err)
		writeJSON(w, st, body)
		return
	}
	res = append(res, field{"success", true})
	writeJSON(w, http.StatusOK, res)
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(mustMarshal(body))
}

func (c *reqCtx) str(m map[string]any, k string) string {
	v, _ := m[k].(string)
	return v
}

// dropConnection closes the connection without answering (SetDown and
// Fault.Status < 0). Falls back to a 503 when the writer cannot be hijacked
// (e.g. HTTP/2).
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			_ = conn.Close()
			return
		}
	}
	w.WriteHeader(http.StatusServiceUnavailable)
}

// goBG runs f in a tracked goroutine unless the server is closed. Caller holds s.mu.
func (s *Server) goBG(f func()) bool {
	if s.closed {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
	return true
}

// sleepCtx sleeps d or until the server closes; false when closed.
func (s *Server) sleepCtx(d time.Duration) bool {
	if d <= 0 {
		return s.ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}
