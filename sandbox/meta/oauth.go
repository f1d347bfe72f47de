package meta

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Facebook Login for Business, page-linked Instagram (§8.1):
//
//	GET|POST /{v}/dialog/oauth         the login dialog (HTML), redirects with code or error
//	GET|POST /{v}/oauth/access_token   code → short user token; grant_type=fb_exchange_token → long-lived user token
//	GET      /{v}/me/accounts          granted pages with page tokens and linked IG accounts (paginated)
//	GET      /{v}/me, /{v}/{page-id}   with a user token: the user / a granted page
//	GET      /debug_token, /{v}/debug_token   token introspection with an app token "<app_id>|<app_secret>"
//	GET|DELETE /{v}/me/permissions     list / revoke the user's grant (the app is removed for that user)
//
// Grants are kept per Facebook user (one emulated admin user): a completed
// dialog replaces that user's granted pages and scopes, and every token of
// the user reflects the current grant, like Meta's per-(user, app) permission
// state. Tokens are opaque "EAAG…" strings; expiry uses the emulated clock.

// OAuthMode selects how the emulated login dialog answers.
type OAuthMode string

const (
	// OAuthApprove redirects at once with a code granting every page (default).
	OAuthApprove OAuthMode = "approve"
	// OAuthDeny redirects with error=access_denied (the user cancelled).
	OAuthDeny OAuthMode = "deny"
	// OAuthChoose shows an HTML page selection form; with pages preselected by
	// SetOAuthChosenPages it redirects at once granting exactly those.
	OAuthChoose OAuthMode = "choose"
)

const (
	oauthCodeTTL            = 10 * time.Minute
	shortUserTokenTTL       = 7199 * time.Second
	longUserTokenTTL        = 5183944 * time.Second // ≈ 60 days, as in §8.1's example
	shortPageTokenTTL       = time.Hour             // page token from a short-lived user token (§8.1)
	dataAccessTTL           = 90 * 24 * time.Hour
	defaultAccountsPageSize = 25
	maxAccountsPageSize     = 100
	oauthUserID             = "1000000000000001"
	oauthUserName           = "Sandbox Admin"
	sandboxAppName          = "Instagram Sandbox App"
	tokenUser               = "USER"
	tokenPage               = "PAGE"
)

// flfbScopes are the permissions a config_id (FLfB configuration) grants.
// Spec gap: configurations are set up in the dashboard; the emulator uses
// Chatwoot's scope list from §8.1 for every config_id.
var flfbScopes = []string{"pages_manage_metadata", "business_management", "pages_messaging", "instagram_basic",
	"pages_show_list", "pages_read_engagement", "instagram_manage_messages"}

// pageTasks are the tasks of the admin user on every page (§8.1 example).
var pageTasks = []any{"ANALYZE", "ADVERTISE", "MODERATE", "CREATE_CONTENT", "MANAGE"}

type oauthState struct {
	mode     OAuthMode
	chosen   []string // preselected pages for OAuthChoose (nil = show the form)
	pageSize int

	codes      map[string]*oauthCode
	tokens     map[string]*oauthToken
	grants     map[string]*oauthGrant // by Facebook user id
	pageTokens map[string]string      // user token + "/" + page id -> page token

	subFields map[string][]string // page id -> fields set by POST subscribed_apps
	unsubNoIG map[string]bool     // unsubscribed pages without an IG account
}

func newOAuthState() oauthState {
	return oauthState{
		mode:       OAuthApprove,
		pageSize:   defaultAccountsPageSize,
		codes:      map[string]*oauthCode{},
		tokens:     map[string]*oauthToken{},
		grants:     map[string]*oauthGrant{},
		pageTokens: map[string]string{},
		subFields:  map[string][]string{},
		unsubNoIG:  map[string]bool{},
	}
}

type oauthGrant struct {
	userID, userName string
	pages            []string
	scopes           []string
}

type oauthCode struct {
	userID      string
	redirectURI string
	expires     time.Time
	used        bool
}

type oauthToken struct {
	kind    string // tokenUser or tokenPage
	userID  string
	pageID  string // tokenPage only
	issued  time.Time
	expires time.Time // zero = never
	long    bool      // long-lived user token / page token derived from one
}

// SetOAuthMode sets how the login dialog answers (default OAuthApprove).
func (s *Server) SetOAuthMode(mode OAuthMode) {
	if mode == "" {
		mode = OAuthApprove
	}
	s.mu.Lock()
	s.oauth.mode = mode
	s.mu.Unlock()
}

// SetOAuthChosenPages preselects the pages the user ticks in OAuthChoose
// mode: the dialog then redirects at once with a code granting exactly those
// (unknown ids are ignored). No arguments = show the HTML form again.
func (s *Server) SetOAuthChosenPages(pageIDs ...string) {
	s.mu.Lock()
	s.oauth.chosen = nil
	if len(pageIDs) > 0 {
		s.oauth.chosen = append([]string{}, pageIDs...)
	}
	s.mu.Unlock()
}

// SetAccountsPageSize sets the default page size of GET /me/accounts
// (default 25; n <= 0 restores it). A request's own ?limit= wins.
func (s *Server) SetAccountsPageSize(n int) {
	if n <= 0 {
		n = defaultAccountsPageSize
	}
	s.mu.Lock()
	s.oauth.pageSize = n
	s.mu.Unlock()
}

// ---- routing ----

// serveOAuthGraph handles the login dialog, the token endpoints and every
// Graph call made with a user token. It returns false for requests it does
// not own.
func (s *Server) serveOAuthGraph(w http.ResponseWriter, r *http.Request, version string, segs []string) bool {
	get, post, del := r.Method == http.MethodGet, r.Method == http.MethodPost, r.Method == http.MethodDelete
	switch {
	case len(segs) == 2 && segs[0] == "dialog" && segs[1] == "oauth" && (get || post):
		s.handleDialog(w, r)
	case len(segs) == 2 && segs[0] == "oauth" && segs[1] == "access_token" && (get || post):
		s.handleAccessToken(w, r, version)
	case len(segs) == 1 && segs[0] == "debug_token" && get:
		s.handleDebugToken(w, r, version)
	case len(segs) == 2 && segs[1] == "accounts" && get:
		s.handleAccounts(w, r, version, segs[0])
	case len(segs) == 2 && segs[1] == "permissions" && (get || del):
		s.handlePermissions(w, r, version, segs[0])
	case len(segs) == 1 && get && s.isUserToken(requestToken(r, nil)):
		s.handleUserNode(w, r, version, segs[0])
	default:
		return false
	}
	return true
}

// requestToken reads access_token from the query, the body params or an
// Authorization: Bearer/OAuth header.
func requestToken(r *http.Request, params map[string]any) string {
	token := r.URL.Query().Get("access_token")
	if token == "" && params != nil {
		token, _ = params["access_token"].(string)
	}
	if token == "" {
		if h := r.Header.Get("Authorization"); h != "" {
			if k, v, ok := strings.Cut(h, " "); ok && (strings.EqualFold(k, "Bearer") || strings.EqualFold(k, "OAuth")) {
				token = strings.TrimSpace(v)
			}
		}
	}
	return token
}

func (s *Server) isUserToken(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.oauth.tokens[token]
	return t != nil && t.kind == tokenUser
}

// graphNode returns the node id of a Graph path ("/v23.0/me/messages" → "me").
func graphNode(path string) string {
	if m := versionRe.FindString(path); m != "" {
		path = strings.TrimPrefix(path, strings.TrimSuffix(m, "/"))
	}
	node, _, _ := strings.Cut(strings.Trim(path, "/"), "/")
	return node
}

// ---- token state ----

type tokenStatus struct {
	kind  string      // tokenUser, tokenPage, "" = unknown token
	t     *oauthToken // nil for static page tokens (AddPage)
	page  *Page       // page of a page token
	valid bool
	err   *graphError // the 190 error when !valid
}

// tokenStatusLocked classifies a token: OAuth-minted user/page tokens, static
// page tokens from AddPage, or unknown.
func (s *Server) tokenStatusLocked(token string) tokenStatus {
	st := tokenStatus{t: s.oauth.tokens[token], page: s.byToken[token]}
	switch {
	case st.t != nil:
		st.kind = st.t.kind
	case st.page != nil:
		st.kind = tokenPage
	}
	if sub, bad := s.badTokens[token]; bad {
		msg := tokenSubcodeMsg[sub]
		if msg == "" {
			msg = "Error validating access token: The session is invalid."
		}
		st.err = gerr(400, 190, sub, "OAuthException", msg)
		return st
	}
	if st.kind == "" {
		st.err = gerr(400, 190, 0, "OAuthException", "Invalid OAuth access token - Cannot parse access token")
		return st
	}
	if t := st.t; t != nil {
		now := s.nowLocked()
		g := s.oauth.grants[t.userID]
		switch {
		case !t.expires.IsZero() && !now.Before(t.expires):
			st.err = gerr(400, 190, 463, "OAuthException", fmt.Sprintf(
				"Error validating access token: Session has expired on %s. The current time is %s.", fbTime(t.expires), fbTime(now)))
			return st
		case g == nil:
			st.err = gerr(400, 190, 458, "OAuthException", tokenSubcodeMsg[458])
			return st
		case t.kind == tokenPage && !slices.Contains(g.pages, t.pageID):
			// Spec gap: what a page token does after its page was dropped from
			// the grant by a later login is undocumented; it is treated like an
			// app removal for that page (190/458).
			st.err = gerr(400, 190, 458, "OAuthException", tokenSubcodeMsg[458])
			return st
		case t.kind == tokenPage && st.page == nil:
			st.err = gerr(400, 190, 0, "OAuthException", "Error validating access token: The session is invalid.")
			return st
		}
	}
	st.valid = true
	return st
}

func fbTime(t time.Time) string { return t.UTC().Format("Monday, 02-Jan-06 15:04:05 MST") }

// oauthAuthErr is consulted by auth for every page-scoped Graph call: tokens
// minted by the OAuth flow are checked for expiry / revocation, and user
// tokens are refused where a page token is needed (§10: 100/33 "wrong token
// kind").
func (s *Server) oauthAuthErr(r *http.Request, token string) *graphError {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.oauth.tokens[token] == nil {
		return nil
	}
	st := s.tokenStatusLocked(token)
	if !st.valid {
		return st.err
	}
	if st.kind == tokenUser {
		return errNoObject(strings.ToLower(r.Method), graphNode(r.URL.Path))
	}
	return nil
}

func (s *Server) checkAppSecretProof(r *http.Request, params map[string]any, token string) *graphError {
	proof := r.URL.Query().Get("appsecret_proof")
	if proof == "" && params != nil {
		proof, _ = params["appsecret_proof"].(string)
	}
	if proof == "" {
		return nil
	}
	m := hmac.New(sha256.New, []byte(s.opts.AppSecret))
	m.Write([]byte(token))
	if !hmac.Equal([]byte(strings.ToLower(proof)), []byte(hex.EncodeToString(m.Sum(nil)))) {
		return gerr(400, 100, 0, "GraphMethodException", "Invalid appsecret_proof provided in the API argument")
	}
	return nil
}

// userAuth authenticates a call that needs a user token. pageErr is the
// error for a valid page token. The grant must be read under s.mu by the
// caller (s.oauth.grants[t.userID]); it may be gone after a revocation.
func (s *Server) userAuth(r *http.Request, params map[string]any, pageErr *graphError) (string, *oauthToken, *graphError) {
	token := requestToken(r, params)
	if token == "" {
		return "", nil, gerr(400, 190, 0, "OAuthException", "An active access token must be used to query information about the current user.")
	}
	s.mu.Lock()
	st := s.tokenStatusLocked(token)
	s.mu.Unlock()
	if !st.valid {
		return "", nil, st.err
	}
	if st.kind != tokenUser {
		return "", nil, pageErr
	}
	if e := s.checkAppSecretProof(r, params, token); e != nil {
		return "", nil, e
	}
	return token, st.t, nil
}

// grantLocked returns the user's grant, or the 190/458 error if it was revoked meanwhile.
func (s *Server) grantLocked(userID string) (*oauthGrant, *graphError) {
	if g := s.oauth.grants[userID]; g != nil {
		return g, nil
	}
	return nil, gerr(400, 190, 458, "OAuthException", tokenSubcodeMsg[458])
}

// mintLocked creates and records a token.
func (s *Server) mintLocked(t *oauthToken) string {
	n := 120
	if t.kind == tokenPage {
		n = 150
	}
	token := "EAAG" + s.randToken(n)
	s.oauth.tokens[token] = t
	return token
}

// pageTokenLocked returns the page token derived from a user token (stable
// for that user token): it never expires when derived from a long-lived user
// token, else it lives 1 hour (§8.1, trap 28).
func (s *Server) pageTokenLocked(userToken string, ut *oauthToken, p *Page) string {
	key := userToken + "/" + p.PageID
	if tok, ok := s.oauth.pageTokens[key]; ok {
		if st := s.tokenStatusLocked(tok); st.valid {
			return tok
		}
	}
	now := s.nowLocked()
	t := &oauthToken{kind: tokenPage, userID: ut.userID, pageID: p.PageID, issued: now, long: ut.long}
	if !ut.long {
		t.expires = now.Add(shortPageTokenTTL)
	}
	tok := s.mintLocked(t)
	s.byToken[tok] = p
	s.oauth.pageTokens[key] = tok
	return tok
}

// ---- dialog ----

var (
	dialogErrorTmpl = template.Must(template.New("err").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Facebook</title></head>
<body><div id="error"><h2>{{.Title}}</h2><p>{{.Message}}</p></div></body></html>
`))
	dialogChooseTmpl = template.Must(template.New("choose").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Log in with Facebook</title></head>
<body>
<h2>{{.App}} is requesting access to:</h2>
<p>Choose the Pages you want {{.App}} to access.</p>
<form method="POST" action="{{.Action}}">
{{range .Hidden}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<ul>
{{range .Pages}}<li><label><input type="checkbox" name="pages" value="{{.PageID}}" checked> {{.Name}}{{if .IGAccountID}} (Instagram @{{.Username}}){{else}} (no linked Instagram account){{end}}</label></li>
{{end}}</ul>
<button type="submit" name="continue" value="1">Continue</button>
<button type="submit" name="cancel" value="1">Cancel</button>
</form>
</body></html>
`))
)

func dialogError(w http.ResponseWriter, title, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusBadRequest)
	_ = dialogErrorTmpl.Execute(w, struct{ Title, Message string }{title, msg})
}

// handleDialog serves the login dialog. GET applies the configured mode; a
// POST is the submitted page-selection form.
func (s *Server) handleDialog(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		dialogError(w, "Invalid request", err.Error())
		return
	}
	f := r.Form
	if f.Get("client_id") != s.opts.AppID {
		dialogError(w, "Invalid App ID", "The provided app ID does not look like a valid app ID.")
		return
	}
	redirectURI := f.Get("redirect_uri")
	if redirectURI == "" {
		dialogError(w, "URL blocked", "The redirect_uri parameter is required.")
		return
	}
	ru, err := url.Parse(redirectURI)
	if err != nil || (ru.Scheme != "http" && ru.Scheme != "https") || ru.Host == "" {
		dialogError(w, "URL blocked", "This redirect failed because the redirect URI is not an absolute http(s) URL.")
		return
	}
	// Spec gap: only the code flow of §8.1 is emulated; response_type=token
	// (implicit flow) and others are refused with the dialog error page.
	if rt := f.Get("response_type"); rt != "" && rt != "code" {
		dialogError(w, "Unsupported response_type", "The sandbox only supports response_type=code.")
		return
	}
	scopes := dialogScopes(f)
	state := f.Get("state")

	s.mu.Lock()
	mode, chosen := s.oauth.mode, s.oauth.chosen
	var pages []string
	switch {
	case r.Method == http.MethodPost:
		if f.Get("cancel") != "" {
			s.mu.Unlock()
			denyRedirect(w, ru, state)
			return
		}
		pages = s.knownPagesLocked(f["pages"])
	case mode == OAuthDeny:
		s.mu.Unlock()
		denyRedirect(w, ru, state)
		return
	case mode == OAuthChoose && chosen == nil:
		all := make([]Page, 0, len(s.pages))
		for _, p := range s.pages {
			all = append(all, *p)
		}
		s.mu.Unlock()
		s.renderChooser(w, r, f, all)
		return
	case mode == OAuthChoose:
		pages = s.knownPagesLocked(chosen)
	default:
		for _, p := range s.pages {
			pages = append(pages, p.PageID)
		}
	}
	// The grant happens when the user confirms the dialog: it replaces the
	// user's previous grant (pages not selected any more are dropped).
	g := s.oauth.grants[oauthUserID]
	if g == nil {
		g = &oauthGrant{userID: oauthUserID, userName: oauthUserName}
		s.oauth.grants[oauthUserID] = g
	}
	g.pages, g.scopes = pages, scopes
	code := "AQ" + s.randToken(180)
	s.oauth.codes[code] = &oauthCode{userID: oauthUserID, redirectURI: redirectURI, expires: s.nowLocked().Add(oauthCodeTTL)}
	s.mu.Unlock()

	v := url.Values{"code": {code}}
	if state != "" {
		v.Set("state", state)
	}
	redirectWith(w, ru, v)
}

// dialogScopes: scope=a,b (comma or space separated) and/or config_id.
// Spec gap: a dialog without scope and config_id grants only public_profile.
func dialogScopes(f url.Values) []string {
	var out []string
	add := func(sc string) {
		if sc != "" && !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	for _, sc := range strings.FieldsFunc(f.Get("scope"), func(r rune) bool { return r == ',' || r == ' ' }) {
		add(strings.TrimSpace(sc))
	}
	if f.Get("config_id") != "" {
		for _, sc := range flfbScopes {
			add(sc)
		}
	}
	add("public_profile")
	return out
}

func (s *Server) knownPagesLocked(ids []string) []string {
	out := []string{}
	for _, id := range ids {
		if s.byPageID[id] != nil && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

func (s *Server) renderChooser(w http.ResponseWriter, r *http.Request, f url.Values, pages []Page) {
	type hidden struct{ Name, Value string }
	var hs []hidden
	for _, k := range []string{"client_id", "redirect_uri", "state", "response_type", "scope", "config_id"} {
		if v := f.Get(k); v != "" {
			hs = append(hs, hidden{k, v})
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_ = dialogChooseTmpl.Execute(w, map[string]any{"App": sandboxAppName, "Action": r.URL.Path, "Hidden": hs, "Pages": pages})
}

// denyRedirect: the user cancelled (§8.1).
func denyRedirect(w http.ResponseWriter, ru *url.URL, state string) {
	v := url.Values{
		"error":             {"access_denied"},
		"error_code":        {"200"},
		"error_description": {"Permissions error"},
		"error_reason":      {"user_denied"},
	}
	if state != "" {
		v.Set("state", state)
	}
	redirectWith(w, ru, v)
}

// redirectWith appends v to the redirect URI's query (keeping its own
// parameters) and answers 302.
func redirectWith(w http.ResponseWriter, ru *url.URL, v url.Values) {
	u := *ru
	if u.RawQuery != "" {
		u.RawQuery += "&" + v.Encode()
	} else {
		u.RawQuery = v.Encode()
	}
	w.Header().Set("Location", u.String())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusFound)
}

// ---- oauth/access_token ----

// Spec gap: the error codes of the token endpoint are not in the spec. The
// emulator uses the bodies Graph is widely reported to return: wrong/missing
// client_id → 101, wrong client_secret → 1 "Error validating client secret.",
// code problems → 100 (subcodes 36007 expired, 36008 invalid, 36009 used;
// none for a redirect_uri mismatch). A failed exchange does not consume the
// code.
func (s *Server) handleAccessToken(w http.ResponseWriter, r *http.Request, version string) {
	if f := s.takeFault("oauth"); f != nil && s.applyPlainFault(w, r, version, f) {
		return
	}
	params, err := readParams(r)
	if err != nil {
		s.writeError(w, version, errParam(err.Error()))
		return
	}
	p := func(k string) string { v, _ := params[k].(string); return v }
	if e := s.checkClient(p("client_id"), p("client_secret")); e != nil {
		s.writeError(w, version, e)
		return
	}
	switch p("grant_type") {
	case "fb_exchange_token":
		s.exchangeLongLived(w, version, p("fb_exchange_token"))
		return
	case "client_credentials":
		// App access token (used for debug_token).
		s.writeGraphJSON(w, version, http.StatusOK, object{{"access_token", s.opts.AppID + "|" + s.opts.AppSecret}, {"token_type", "bearer"}})
		return
	case "", "authorization_code":
	default:
		s.writeError(w, version, errParam("Unsupported grant_type: "+p("grant_type")))
		return
	}
	code := p("code")
	if code == "" {
		s.writeError(w, version, errParam("The parameter code is required"))
		return
	}
	s.mu.Lock()
	c := s.oauth.codes[code]
	now := s.nowLocked()
	var e *graphError
	switch {
	case c == nil:
		e = gerr(400, 100, 36008, "OAuthException", "Invalid verification code format.")
	case c.used:
		e = gerr(400, 100, 36009, "OAuthException", "This authorization code has been used.")
	case !now.Before(c.expires):
		e = gerr(400, 100, 36007, "OAuthException", "This authorization code has expired.")
	case c.redirectURI != p("redirect_uri"):
		e = gerr(400, 100, 0, "OAuthException", "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request")
	case s.oauth.grants[c.userID] == nil:
		e = gerr(400, 100, 36007, "OAuthException", "This authorization code has expired.")
	}
	if e != nil {
		s.mu.Unlock()
		s.writeError(w, version, e)
		return
	}
	c.used = true
	// Spec gap: §8.1 notes code-flow tokens are sometimes already long-lived;
	// the emulator always issues a short-lived (2 h) token so clients must
	// exchange it.
	tok := s.mintLocked(&oauthToken{kind: tokenUser, userID: c.userID, issued: now, expires: now.Add(shortUserTokenTTL)})
	s.mu.Unlock()
	s.writeGraphJSON(w, version, http.StatusOK, object{{"access_token", tok}, {"token_type", "bearer"}, {"expires_in", int(shortUserTokenTTL / time.Second)}})
}

func (s *Server) checkClient(clientID, secret string) *graphError {
	switch {
	case clientID == "":
		return gerr(400, 101, 0, "OAuthException", "Missing client_id parameter.")
	case clientID != s.opts.AppID:
		return gerr(400, 101, 0, "OAuthException", "Error validating application. Invalid application ID.")
	case !hmac.Equal([]byte(secret), []byte(s.opts.AppSecret)):
		return gerr(400, 1, 0, "OAuthException", "Error validating client secret.")
	}
	return nil
}

// exchangeLongLived: grant_type=fb_exchange_token (§8.1).
// Spec gap: only user tokens can be exchanged (page tokens → 100); a
// long-lived token may be exchanged again and gets a fresh 60 days.
func (s *Server) exchangeLongLived(w http.ResponseWriter, version, short string) {
	if short == "" {
		s.writeError(w, version, errParam("The parameter fb_exchange_token is required"))
		return
	}
	s.mu.Lock()
	st := s.tokenStatusLocked(short)
	if !st.valid {
		s.mu.Unlock()
		s.writeError(w, version, st.err)
		return
	}
	if st.kind != tokenUser {
		s.mu.Unlock()
		s.writeError(w, version, errParam("fb_exchange_token must be a user access token"))
		return
	}
	now := s.nowLocked()
	tok := s.mintLocked(&oauthToken{kind: tokenUser, userID: st.t.userID, issued: now, expires: now.Add(longUserTokenTTL), long: true})
	s.mu.Unlock()
	s.writeGraphJSON(w, version, http.StatusOK, object{{"access_token", tok}, {"token_type", "bearer"}, {"expires_in", int(longUserTokenTTL / time.Second)}})
}

// ---- me/accounts ----

var cursorPrefix = "AQH" // base64 "QVFI…", like Graph cursors

func encodeCursor(pageID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + pageID))
}

func decodeCursor(c string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(c, "="))
	if err != nil || !strings.HasPrefix(string(b), cursorPrefix) {
		return "", false
	}
	return strings.TrimPrefix(string(b), cursorPrefix), true
}

// handleAccounts: GET /{v}/me/accounts with a user token (§8.1). Only the
// granted pages are listed; paging.next is an absolute URL on this host.
func (s *Server) handleAccounts(w http.ResponseWriter, r *http.Request, version, node string) {
	if f := s.takeFault("oauth"); f != nil && s.applyPlainFault(w, r, version, f) {
		return
	}
	token, ut, e := s.userAuth(r, nil, errNoField("accounts", "Page"))
	if e != nil {
		s.writeError(w, version, e)
		return
	}
	if node != "me" && node != ut.userID {
		s.writeError(w, version, errNoObject("get", node))
		return
	}
	q := r.URL.Query()
	fields := parseFields(q.Get("fields"))
	if len(fields) == 0 {
		// Spec gap: Graph's default field set for /me/accounts.
		fields = parseFields("access_token,category,category_list,name,id,tasks")
	}
	limit := 0
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n <= 0 {
			s.writeError(w, version, errParam("Param limit must be a positive integer"))
			return
		}
		limit = min(n, maxAccountsPageSize)
	}
	out, e := s.accounts(r, token, ut, fields, limit)
	if e != nil {
		s.writeError(w, version, e)
		return
	}
	s.writeGraphJSON(w, version, http.StatusOK, out)
}

func (s *Server) accounts(r *http.Request, token string, ut *oauthToken, fields []field, limit int) (object, *graphError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, e := s.grantLocked(ut.userID)
	if e != nil {
		return nil, e
	}
	if limit == 0 {
		limit = s.oauth.pageSize
	}
	var pages []*Page
	// Spec gap: without pages_show_list the edge is empty rather than an error.
	if slices.Contains(g.scopes, "pages_show_list") {
		for _, id := range g.pages {
			if p := s.byPageID[id]; p != nil {
				pages = append(pages, p)
			}
		}
	}
	index := func(c string) (int, *graphError) {
		if id, ok := decodeCursor(c); ok {
			for i, p := range pages {
				if p.PageID == id {
					return i, nil
				}
			}
		}
		// Spec gap: an unknown cursor is rejected with (#100).
		return 0, errParam("Invalid cursor")
	}
	q := r.URL.Query()
	start, end := 0, min(limit, len(pages))
	switch {
	case q.Get("after") != "":
		i, e := index(q.Get("after"))
		if e != nil {
			return nil, e
		}
		start, end = i+1, min(i+1+limit, len(pages))
	case q.Get("before") != "":
		i, e := index(q.Get("before"))
		if e != nil {
			return nil, e
		}
		start, end = max(0, i-limit), i
	}
	data := []any{}
	for _, p := range pages[start:end] {
		o, e := s.accountLocked(token, ut, p, fields)
		if e != nil {
			return nil, e
		}
		data = append(data, o)
	}
	out := object{{"data", data}}
	if len(data) > 0 {
		before, after := encodeCursor(pages[start].PageID), encodeCursor(pages[end-1].PageID)
		paging := object{{"cursors", object{{"before", before}, {"after", after}}}}
		if start > 0 {
			paging = append(paging, kv{"previous", pagingURL(r, "before", before, limit)})
		}
		if end < len(pages) {
			paging = append(paging, kv{"next", pagingURL(r, "after", after, limit)})
		}
		out = append(out, kv{"paging", paging})
	}
	return out, nil
}

// pagingURL is the request's absolute URL with the cursor replaced.
func pagingURL(r *http.Request, key, cursor string, limit int) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	q := r.URL.Query()
	q.Del("after")
	q.Del("before")
	q.Set("limit", strconv.Itoa(limit))
	q.Set(key, cursor)
	return (&url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawQuery: q.Encode()}).String()
}

// accountLocked renders one page of /me/accounts (or GET /{page-id} with a
// user token), fields in request order, id always present.
func (s *Server) accountLocked(userToken string, ut *oauthToken, p *Page, fields []field) (object, *graphError) {
	var out object
	hasID := false
	for _, f := range fields {
		switch f.name {
		case "id":
			out = append(out, kv{"id", p.PageID})
			hasID = true
		case "name":
			out = append(out, kv{"name", p.Name})
		case "access_token":
			out = append(out, kv{"access_token", s.pageTokenLocked(userToken, ut, p)})
		case "tasks":
			out = append(out, kv{"tasks", pageTasks})
		case "category":
			out = append(out, kv{"category", "Shopping & retail"})
		case "category_list":
			out = append(out, kv{"category_list", []any{object{{"id", "2200"}, {"name", "Shopping & retail"}}}})
		case "instagram_business_account":
			if p.IGAccountID == "" {
				continue // pages without a linked IG account omit the field (§8.1)
			}
			subFields := parseFields(f.sub)
			sub, e := igNode(p, subFields)
			if e != nil {
				return nil, e
			}
			out = append(out, kv{"instagram_business_account", idInRequestedPlace(sub, subFields)})
		default:
			return nil, errNoField(f.name, "Page")
		}
	}
	if !hasID {
		out = append(out, kv{"id", p.PageID})
	}
	return out, nil
}

// idInRequestedPlace moves the trailing "id" of o to where ?fields= asked
// for it (Graph answers in the requested order).
func idInRequestedPlace(o object, fields []field) object {
	i := slices.IndexFunc(fields, func(f field) bool { return f.name == "id" })
	if i < 0 || len(o) == 0 || o[len(o)-1].k != "id" {
		return o
	}
	id := o[len(o)-1]
	rest := o[:len(o)-1]
	pos := 0
	for _, f := range fields[:i] {
		if slices.ContainsFunc(rest, func(x kv) bool { return x.k == f.name }) {
			pos++
		}
	}
	return slices.Insert(slices.Clone(rest), pos, id)
}

// handleUserNode: GET /me, /{user-id} or /{granted page-id} with a user token.
func (s *Server) handleUserNode(w http.ResponseWriter, r *http.Request, version, node string) {
	if f := s.takeFault("oauth"); f != nil && s.applyPlainFault(w, r, version, f) {
		return
	}
	token, ut, e := s.userAuth(r, nil, nil)
	if e != nil {
		s.writeError(w, version, e)
		return
	}
	fields := parseFields(r.URL.Query().Get("fields"))
	if len(fields) == 0 {
		fields = []field{{name: "name"}}
	}
	out, e := func() (object, *graphError) {
		s.mu.Lock()
		defer s.mu.Unlock()
		g, e := s.grantLocked(ut.userID)
		if e != nil {
			return nil, e
		}
		if node == "me" || node == ut.userID {
			var out object
			for _, f := range fields {
				switch f.name {
				case "id":
				case "name":
					out = append(out, kv{"name", g.userName})
				default:
					return nil, errNoField(f.name, "User")
				}
			}
			return append(out, kv{"id", ut.userID}), nil
		}
		p := s.byPageID[node]
		if p == nil || !slices.Contains(g.pages, p.PageID) {
			return nil, errNoObject("get", node)
		}
		return s.accountLocked(token, ut, p, fields)
	}()
	if e != nil {
		s.writeError(w, version, e)
		return
	}
	s.writeGraphJSON(w, version, http.StatusOK, out)
}

// ---- debug_token ----

var appTokenRe = regexp.MustCompile(`^(\d+)\|(.+)$`)

// handleDebugToken: GET /debug_token?input_token=&access_token=<app_id>|<app_secret> (§8.1).
//
// Spec gap: only app tokens are accepted as access_token (a wrong secret →
// 190 "Invalid OAuth access token signature.", a user/page token → 100).
// An unknown or dead input_token is not an HTTP error: data carries
// is_valid:false and an error object, as Graph does. granular_scopes lists
// pages_* scopes with the granted page ids and instagram_* scopes with their
// IG account ids; other scopes carry no target_ids and public_profile is
// omitted.
func (s *Server) handleDebugToken(w http.ResponseWriter, r *http.Request, version string) {
	if f := s.takeFault("oauth"); f != nil && s.applyPlainFault(w, r, version, f) {
		return
	}
	q := r.URL.Query()
	app := q.Get("access_token")
	if app == "" {
		app = requestToken(r, nil)
	}
	switch m := appTokenRe.FindStringSubmatch(app); {
	case app == "":
		s.writeError(w, version, gerr(400, 190, 0, "OAuthException", "An access token is required to request this resource."))
		return
	case m == nil:
		s.writeError(w, version, errParam("You must provide an app access token, or a user access token that is an owner or developer of the app"))
		return
	case m[1] != s.opts.AppID || !hmac.Equal([]byte(m[2]), []byte(s.opts.AppSecret)):
		s.writeError(w, version, gerr(400, 190, 0, "OAuthException", "Invalid OAuth access token signature."))
		return
	}
	input := q.Get("input_token")
	if input == "" {
		s.writeError(w, version, errParam("The parameter input_token is required"))
		return
	}
	s.writeGraphJSON(w, version, http.StatusOK, object{{"data", s.debugTokenData(input)}})
}

func (s *Server) debugTokenData(input string) object {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.tokenStatusLocked(input)
	if st.kind == "" {
		return object{{"error", object{{"code", 190}, {"message", "Invalid OAuth access token."}}},
			{"is_valid", false}, {"scopes", []any{}}}
	}
	var scopes, pages []string
	userID := oauthUserID
	issued, expiresAt := s.nowLocked(), int64(0)
	if t := st.t; t != nil {
		userID, issued = t.userID, t.issued
		if !t.expires.IsZero() {
			expiresAt = t.expires.Unix()
		}
		if g := s.oauth.grants[t.userID]; g != nil {
			scopes, pages = g.scopes, g.pages
		}
		if t.kind == tokenPage {
			pages = []string{t.pageID}
		}
	} else {
		// Static page token (AddPage): a page token with the FLfB scopes.
		scopes, pages = append(append([]string{}, flfbScopes...), "public_profile"), []string{st.page.PageID}
	}
	data := object{{"app_id", s.opts.AppID}, {"type", st.kind}, {"application", sandboxAppName},
		{"data_access_expires_at", issued.Add(dataAccessTTL).Unix()}}
	if !st.valid {
		eo := object{{"code", st.err.code}, {"message", st.err.message}}
		if st.err.subcode != 0 {
			eo = append(eo, kv{"subcode", st.err.subcode})
		}
		data = append(data, kv{"error", eo})
	}
	data = append(data, kv{"expires_at", expiresAt}, kv{"is_valid", st.valid})
	if st.kind == tokenPage {
		data = append(data, kv{"profile_id", pageIDOf(st)})
	}
	sc := []any{}
	for _, x := range scopes {
		sc = append(sc, x)
	}
	return append(data, kv{"scopes", sc}, kv{"granular_scopes", s.granularLocked(scopes, pages)}, kv{"user_id", userID})
}

func pageIDOf(st tokenStatus) string {
	if st.t != nil {
		return st.t.pageID
	}
	return st.page.PageID
}

func (s *Server) granularLocked(scopes, pages []string) []any {
	out := []any{}
	for _, sc := range scopes {
		var targets []any
		switch {
		case sc == "public_profile":
			continue
		case strings.HasPrefix(sc, "pages_"):
			for _, id := range pages {
				targets = append(targets, id)
			}
		case strings.HasPrefix(sc, "instagram_"):
			for _, id := range pages {
				if p := s.byPageID[id]; p != nil && p.IGAccountID != "" {
					targets = append(targets, p.IGAccountID)
				}
			}
		default:
			out = append(out, object{{"scope", sc}})
			continue
		}
		if targets == nil {
			targets = []any{}
		}
		out = append(out, object{{"scope", sc}, {"target_ids", targets}})
	}
	return out
}

// ---- me/permissions ----

// handlePermissions: GET lists the grant's permissions; DELETE removes the
// app for the user (§8.1): every user and page token of that user dies with
// 190/458, and the app's subscriptions of the granted pages are removed.
//
// Spec gap: revoking a single permission (DELETE /me/permissions/{name}) is
// not emulated; subscriptions are removed even if another grant covers the
// page.
func (s *Server) handlePermissions(w http.ResponseWriter, r *http.Request, version, node string) {
	if f := s.takeFault("oauth"); f != nil && s.applyPlainFault(w, r, version, f) {
		return
	}
	_, ut, e := s.userAuth(r, nil, errNoObject(strings.ToLower(r.Method), node))
	if e != nil {
		s.writeError(w, version, e)
		return
	}
	if node != "me" && node != ut.userID {
		s.writeError(w, version, errNoObject(strings.ToLower(r.Method), node))
		return
	}
	if r.Method == http.MethodGet {
		s.mu.Lock()
		g, e := s.grantLocked(ut.userID)
		data := []any{}
		if g != nil {
			for _, sc := range g.scopes {
				data = append(data, object{{"permission", sc}, {"status", "granted"}})
			}
		}
		s.mu.Unlock()
		if e != nil {
			s.writeError(w, version, e)
			return
		}
		s.writeGraphJSON(w, version, http.StatusOK, object{{"data", data}})
		return
	}
	pages := s.revokeUser(ut.userID)
	for _, id := range pages {
		s.DropSubscription(id)
	}
	s.writeGraphJSON(w, version, http.StatusOK, object{{"success", true}})
}

// revokeUser deletes the user's grant, kills all its tokens (190/458) and
// outstanding codes, and returns the pages that were granted.
func (s *Server) revokeUser(userID string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.oauth.grants[userID]
	if g == nil {
		return nil
	}
	delete(s.oauth.grants, userID)
	for tok, t := range s.oauth.tokens {
		if t.userID == userID {
			if _, bad := s.badTokens[tok]; !bad {
				s.badTokens[tok] = 458
			}
		}
	}
	for key, tok := range s.oauth.pageTokens {
		if t := s.oauth.tokens[tok]; t != nil && t.userID == userID {
			delete(s.oauth.pageTokens, key)
		}
	}
	for code, c := range s.oauth.codes {
		if c.userID == userID {
			delete(s.oauth.codes, code)
		}
	}
	return g.pages
}

// ---- control ----

// serveOAuthControl serves the OAuth / subscription control endpoints:
//
//	GET  /sandbox/oauth                 mode, preselected pages, page size, grants
//	POST /sandbox/oauth                 {"mode":"approve"|"deny"|"choose","pages":[…],"accounts_page_size":n}
//	GET  /sandbox/subscriptions         {"<page id>": [fields] | null}
//	POST /sandbox/subscriptions/drop    {"page":"<page id>"}   silent unsubscription (trap 7)
func (s *Server) serveOAuthControl(w http.ResponseWriter, r *http.Request, route string) bool {
	switch route {
	case "GET /sandbox/oauth":
		writeCtl(w, http.StatusOK, s.oauthControlState())
	case "POST /sandbox/oauth":
		var req struct {
			Mode             OAuthMode `json:"mode"`
			Pages            []string  `json:"pages"`
			AccountsPageSize int       `json:"accounts_page_size"`
		}
		if !readCtl(w, r, &req) {
			return true
		}
		switch req.Mode {
		case OAuthApprove, OAuthDeny, OAuthChoose:
		default:
			ctlError(w, http.StatusBadRequest, fmt.Errorf("mode must be approve, deny or choose, got %q", req.Mode))
			return true
		}
		s.SetOAuthMode(req.Mode)
		s.SetOAuthChosenPages(req.Pages...)
		if req.AccountsPageSize != 0 {
			s.SetAccountsPageSize(req.AccountsPageSize)
		}
		writeCtl(w, http.StatusOK, s.oauthControlState())
	case "GET /sandbox/subscriptions":
		s.mu.Lock()
		ids := make([]string, 0, len(s.pages))
		for _, p := range s.pages {
			ids = append(ids, p.PageID)
		}
		s.mu.Unlock()
		out := map[string][]string{}
		for _, id := range ids {
			out[id] = s.SubscribedFields(id)
		}
		writeCtl(w, http.StatusOK, out)
	case "POST /sandbox/subscriptions/drop":
		var req struct {
			Page string `json:"page"`
		}
		if !readCtl(w, r, &req) {
			return true
		}
		if req.Page == "" {
			ctlError(w, http.StatusBadRequest, fmt.Errorf("page is required"))
			return true
		}
		s.DropSubscription(req.Page)
		writeCtl(w, http.StatusOK, map[string]any{"ok": true})
	default:
		return false
	}
	return true
}

type oauthGrantState struct {
	UserID string   `json:"user_id"`
	Pages  []string `json:"pages"`
	Scopes []string `json:"scopes"`
}

type oauthControlState struct {
	Mode             OAuthMode         `json:"mode"`
	Pages            []string          `json:"pages"`
	AccountsPageSize int               `json:"accounts_page_size"`
	Grants           []oauthGrantState `json:"grants"`
	Tokens           int               `json:"tokens"`
}

func (s *Server) oauthControlState() oauthControlState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := oauthControlState{Mode: s.oauth.mode, Pages: s.oauth.chosen, AccountsPageSize: s.oauth.pageSize,
		Grants: []oauthGrantState{}, Tokens: len(s.oauth.tokens)}
	for _, id := range sortedKeys(s.oauth.grants) {
		g := s.oauth.grants[id]
		st.Grants = append(st.Grants, oauthGrantState{UserID: g.userID, Pages: g.pages, Scopes: g.scopes})
	}
	return st
}
