package meta

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

const (
	tRedirect  = "https://app.example.com/meta/callback?tenant=7"
	tPageNoIG  = "102030405060710"
	tAppID     = "910000000000001"
	fieldsAcct = "id,name,access_token,tasks,instagram_business_account{id,username}"
)

// Compile-time check of the OAuth / subscription API.
var (
	_ func(*Server, OAuthMode)       = (*Server).SetOAuthMode
	_ func(*Server, ...string)       = (*Server).SetOAuthChosenPages
	_ func(*Server, int)             = (*Server).SetAccountsPageSize
	_ func(*Server, string) []string = (*Server).SubscribedFields
	_ func(*Server, string)          = (*Server).DropSubscription
	_                                = []OAuthMode{OAuthApprove, OAuthDeny, OAuthChoose}
)

// noRedirect is a client that returns 302s instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// oauthSetup is setup plus a third page without a linked IG account.
func oauthSetup(t *testing.T) *env {
	t.Helper()
	e := setup(t, Options{})
	e.s.AddPage(Page{PageID: tPageNoIG, Name: "Blog Page", AccessToken: "EAAGpagetoken3"})
	return e
}

type dialogResp struct {
	status   int
	location *url.URL
	body     string
}

func (e *env) dialog(t *testing.T, method string, q url.Values) dialogResp {
	t.Helper()
	var req *http.Request
	if method == http.MethodPost {
		req, _ = http.NewRequest(method, e.g.URL+"/v23.0/dialog/oauth", strings.NewReader(q.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req, _ = http.NewRequest(method, e.g.URL+"/v23.0/dialog/oauth?"+q.Encode(), nil)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	dr := dialogResp{status: resp.StatusCode, body: string(b)}
	if loc := resp.Header.Get("Location"); loc != "" {
		dr.location, _ = url.Parse(loc)
	}
	return dr
}

func dialogQuery(state string) url.Values {
	return url.Values{"client_id": {tAppID}, "redirect_uri": {tRedirect}, "state": {state}, "response_type": {"code"},
		"scope": {"instagram_basic,instagram_manage_messages,pages_manage_metadata,pages_show_list,pages_messaging,business_management"}}
}

// code runs the dialog in the current mode and returns the code from the redirect.
func (e *env) code(t *testing.T) string {
	t.Helper()
	r := e.dialog(t, http.MethodGet, dialogQuery("st"))
	if r.status != http.StatusFound || r.location.Query().Get("code") == "" {
		t.Fatalf("dialog: %d %v %s", r.status, r.location, r.body)
	}
	return r.location.Query().Get("code")
}

func (e *env) exchangeCode(t *testing.T, code, redirect, secret string) graphResp {
	t.Helper()
	q := url.Values{"client_id": {tAppID}, "redirect_uri": {redirect}, "client_secret": {secret}, "code": {code}}
	return e.get(t, "/v23.0/oauth/access_token?"+q.Encode())
}

func (e *env) longLived(t *testing.T, short string) graphResp {
	t.Helper()
	q := url.Values{"grant_type": {"fb_exchange_token"}, "client_id": {tAppID}, "client_secret": {tSecret}, "fb_exchange_token": {short}}
	return e.get(t, "/v23.0/oauth/access_token?"+q.Encode())
}

// userToken runs dialog → code → short token → long-lived token.
func (e *env) userToken(t *testing.T) (short, long string) {
	t.Helper()
	r := e.exchangeCode(t, e.code(t), tRedirect, tSecret)
	if r.status != 200 {
		t.Fatalf("code exchange: %s", r.raw)
	}
	short = r.body["access_token"].(string)
	l := e.longLived(t, short)
	if l.status != 200 {
		t.Fatalf("long-lived: %s", l.raw)
	}
	return short, l.body["access_token"].(string)
}

type account struct {
	id, name, token, igID, igUser string
	tasks                         []any
}

// accounts follows paging.next from /me/accounts until the end and returns
// every page plus the number of HTTP pages fetched.
func (e *env) accounts(t *testing.T, userToken string) ([]account, int) {
	t.Helper()
	next := e.g.URL + "/v23.0/me/accounts?" + url.Values{"fields": {fieldsAcct}, "access_token": {userToken}}.Encode()
	var out []account
	calls := 0
	for next != "" {
		calls++
		if calls > 20 {
			t.Fatal("pagination does not end")
		}
		req, _ := http.NewRequest(http.MethodGet, next, nil)
		r := do(t, req)
		if r.status != 200 {
			t.Fatalf("me/accounts: %s", r.raw)
		}
		for _, d := range r.body["data"].([]any) {
			m := d.(map[string]any)
			a := account{id: m["id"].(string), name: m["name"].(string), token: m["access_token"].(string)}
			a.tasks, _ = m["tasks"].([]any)
			if ig, ok := m["instagram_business_account"].(map[string]any); ok {
				a.igID, a.igUser = ig["id"].(string), ig["username"].(string)
			}
			out = append(out, a)
		}
		next = ""
		if p, ok := r.body["paging"].(map[string]any); ok {
			if c, ok := p["cursors"].(map[string]any); !ok || c["after"] == "" || c["before"] == "" {
				t.Fatalf("paging without cursors: %s", r.raw)
			}
			next, _ = p["next"].(string)
			if next != "" && !strings.HasPrefix(next, e.g.URL+"/v23.0/me/accounts?") {
				t.Fatalf("paging.next not an absolute URL on this host: %s", next)
			}
		}
	}
	return out, calls
}

func ids(as []account) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.id)
	}
	return out
}

func TestOAuthFlowModes(t *testing.T) {
	all := []string{tPage, tPage2, tPageNoIG}
	cases := []struct {
		name   string
		mode   OAuthMode
		chosen []string
		form   []string // choose mode without preselection: pages ticked in the HTML form
		want   []string
	}{
		{name: "approve grants every page", mode: OAuthApprove, want: all},
		{name: "choose preselected", mode: OAuthChoose, chosen: []string{tPage2, "999"}, want: []string{tPage2}},
		{name: "choose via HTML form", mode: OAuthChoose, form: []string{tPage, tPageNoIG}, want: []string{tPage, tPageNoIG}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := oauthSetup(t)
			e.s.SetOAuthMode(c.mode)
			e.s.SetOAuthChosenPages(c.chosen...)
			e.s.SetAccountsPageSize(1) // forces clients to follow paging.next

			r := e.dialog(t, http.MethodGet, dialogQuery("xyz"))
			if c.form != nil {
				if r.status != 200 || !strings.Contains(r.body, "Casa Azul Store") || !strings.Contains(r.body, "@side.store") ||
					!strings.Contains(r.body, `name="pages" value="`+tPageNoIG+`"`) {
					t.Fatalf("chooser page: %d %s", r.status, r.body)
				}
				form := url.Values{}
				for _, m := range regexp.MustCompile(`<input type="hidden" name="(\w+)" value="([^"]*)">`).FindAllStringSubmatch(r.body, -1) {
					form.Set(m[1], html.UnescapeString(m[2]))
				}
				if form.Get("redirect_uri") != tRedirect || form.Get("state") != "xyz" {
					t.Fatalf("hidden fields: %v", form)
				}
				form["pages"] = c.form
				r = e.dialog(t, http.MethodPost, form)
			}
			if r.status != http.StatusFound {
				t.Fatalf("dialog: %d %s", r.status, r.body)
			}
			loc := r.location
			if got := loc.Scheme + "://" + loc.Host + loc.Path; got != "https://app.example.com/meta/callback" ||
				loc.Query().Get("tenant") != "7" || loc.Query().Get("state") != "xyz" || loc.Query().Get("code") == "" {
				t.Fatalf("redirect: %s", loc)
			}

			tok := e.exchangeCode(t, loc.Query().Get("code"), tRedirect, tSecret)
			if tok.status != 200 || tok.body["token_type"] != "bearer" || tok.body["expires_in"] != float64(7199) ||
				!strings.HasPrefix(tok.body["access_token"].(string), "EAAG") {
				t.Fatalf("code exchange: %s", tok.raw)
			}
			short := tok.body["access_token"].(string)
			ll := e.longLived(t, short)
			exp, _ := ll.body["expires_in"].(float64)
			if ll.status != 200 || exp < 59*24*3600 || exp > 61*24*3600 || ll.body["access_token"] == short {
				t.Fatalf("long-lived: %s", ll.raw)
			}
			long := ll.body["access_token"].(string)

			accts, calls := e.accounts(t, long)
			if !slices.Equal(ids(accts), c.want) || calls != len(c.want) {
				t.Fatalf("accounts = %v in %d calls, want %v", ids(accts), calls, c.want)
			}
			for _, a := range accts {
				switch a.id {
				case tPage:
					if a.igID != tAcct || a.igUser != "casaazul.store" || a.name != "Casa Azul Store" || !slices.Contains(a.tasks, "MODERATE") {
						t.Errorf("page 1: %+v", a)
					}
				case tPageNoIG:
					if a.igID != "" {
						t.Errorf("page without IG has instagram_business_account: %+v", a)
					}
				}
				if a.token == tToken || a.token == tToken2 || !strings.HasPrefix(a.token, "EAAG") {
					t.Errorf("page token not minted for the grant: %q", a.token)
				}
				// The page token works on page endpoints.
				if r := e.get(t, "/v23.0/"+a.id+"/subscribed_apps?access_token="+url.QueryEscape(a.token)); r.status != 200 {
					t.Errorf("page token on subscribed_apps: %s", r.raw)
				}
			}
			// A user token is the wrong kind for page endpoints (§10 100/33).
			if r := e.sendJSON(t, long, textMsg(tUser, "x")); r.code() != 100 || r.subcode() != 33 {
				t.Errorf("send with user token: %s", r.raw)
			}
			// /me with the user token is the user.
			if r := e.get(t, "/v23.0/me?fields=id,name&access_token="+url.QueryEscape(long)); r.status != 200 || r.body["id"] != oauthUserID {
				t.Errorf("/me: %s", r.raw)
			}
		})
	}
}

func TestOAuthDeny(t *testing.T) {
	for _, via := range []string{"go", "control"} {
		t.Run(via, func(t *testing.T) {
			e := oauthSetup(t)
			if via == "go" {
				e.s.SetOAuthMode(OAuthDeny)
			} else if st := e.ctl(t, "POST", "/sandbox/oauth", map[string]any{"mode": "deny"}, nil); st != 200 {
				t.Fatalf("control: %d", st)
			}
			r := e.dialog(t, http.MethodGet, dialogQuery("s1"))
			q := r.location.Query()
			if r.status != http.StatusFound || q.Get("code") != "" || q.Get("error") != "access_denied" || q.Get("error_code") != "200" ||
				q.Get("error_description") != "Permissions error" || q.Get("error_reason") != "user_denied" || q.Get("state") != "s1" {
				t.Fatalf("deny redirect: %d %v", r.status, r.location)
			}
			if !strings.Contains(r.location.RawQuery, "error_description=Permissions+error") {
				t.Errorf("raw query: %s", r.location.RawQuery)
			}
		})
	}
	// Cancel on the chooser form denies too.
	e := oauthSetup(t)
	e.s.SetOAuthMode(OAuthChoose)
	f := dialogQuery("s2")
	f.Set("cancel", "1")
	if r := e.dialog(t, http.MethodPost, f); r.location == nil || r.location.Query().Get("error") != "access_denied" {
		t.Fatalf("cancel: %+v", r)
	}
}

func TestOAuthDialogValidation(t *testing.T) {
	e := oauthSetup(t)
	cases := []struct {
		name   string
		mutate func(url.Values)
	}{
		{"wrong client_id", func(q url.Values) { q.Set("client_id", "123") }},
		{"missing redirect_uri", func(q url.Values) { q.Del("redirect_uri") }},
		{"relative redirect_uri", func(q url.Values) { q.Set("redirect_uri", "/callback") }},
		{"implicit flow", func(q url.Values) { q.Set("response_type", "token") }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := dialogQuery("s")
			c.mutate(q)
			r := e.dialog(t, http.MethodGet, q)
			if r.status != http.StatusBadRequest || r.location != nil || !strings.Contains(r.body, "<html>") {
				t.Fatalf("got %d %v %s", r.status, r.location, r.body)
			}
		})
	}
	// config_id instead of scope is accepted and grants the FLfB permissions.
	q := dialogQuery("s")
	q.Del("scope")
	q.Set("config_id", "1624000000000001")
	r := e.dialog(t, http.MethodGet, q)
	if r.status != http.StatusFound || r.location.Query().Get("code") == "" {
		t.Fatalf("config_id: %d %s", r.status, r.body)
	}
	tok := e.exchangeCode(t, r.location.Query().Get("code"), tRedirect, tSecret)
	accts, _ := e.accounts(t, tok.body["access_token"].(string))
	if len(accts) != 3 {
		t.Fatalf("config_id grant: %v", ids(accts))
	}
}

func TestOAuthCodeExchangeErrors(t *testing.T) {
	cases := []struct {
		name          string
		prepare       func(t *testing.T, e *env, code string) (useCode, redirect, secret string)
		code, subcode int
		msg           string
	}{
		{name: "reused code", prepare: func(t *testing.T, e *env, code string) (string, string, string) {
			if r := e.exchangeCode(t, code, tRedirect, tSecret); r.status != 200 {
				t.Fatalf("first use: %s", r.raw)
			}
			return code, tRedirect, tSecret
		}, code: 100, subcode: 36009, msg: "This authorization code has been used."},
		{name: "expired code", prepare: func(t *testing.T, e *env, code string) (string, string, string) {
			e.s.AdvanceClock(10*time.Minute + time.Second)
			return code, tRedirect, tSecret
		}, code: 100, subcode: 36007, msg: "This authorization code has expired."},
		{name: "unknown code", prepare: func(t *testing.T, e *env, code string) (string, string, string) {
			return "AQnope", tRedirect, tSecret
		}, code: 100, subcode: 36008},
		{name: "redirect_uri mismatch", prepare: func(t *testing.T, e *env, code string) (string, string, string) {
			return code, strings.TrimSuffix(tRedirect, "?tenant=7"), tSecret
		}, code: 100, msg: "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request"},
		{name: "wrong client_secret", prepare: func(t *testing.T, e *env, code string) (string, string, string) {
			return code, tRedirect, "nope"
		}, code: 1, msg: "Error validating client secret."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := oauthSetup(t)
			code := e.code(t)
			useCode, redirect, secret := c.prepare(t, e, code)
			r := e.exchangeCode(t, useCode, redirect, secret)
			if r.status != 400 || r.code() != c.code || r.subcode() != c.subcode || r.errField("type") != "OAuthException" ||
				(c.msg != "" && r.errField("message") != c.msg) {
				t.Fatalf("got %d %s", r.status, r.raw)
			}
			if c.name == "redirect_uri mismatch" || c.name == "wrong client_secret" {
				// A failed exchange does not consume the code.
				if r := e.exchangeCode(t, code, tRedirect, tSecret); r.status != 200 {
					t.Fatalf("code unusable after a failed attempt: %s", r.raw)
				}
			}
		})
	}
	// Wrong client_id on the exchange.
	e := oauthSetup(t)
	q := url.Values{"client_id": {"42"}, "redirect_uri": {tRedirect}, "client_secret": {tSecret}, "code": {e.code(t)}}
	if r := e.get(t, "/v23.0/oauth/access_token?"+q.Encode()); r.code() != 101 {
		t.Fatalf("wrong client_id: %s", r.raw)
	}
	// fb_exchange_token with a wrong secret / a page token.
	short, _ := e.userToken(t)
	q = url.Values{"grant_type": {"fb_exchange_token"}, "client_id": {tAppID}, "client_secret": {"x"}, "fb_exchange_token": {short}}
	if r := e.get(t, "/v23.0/oauth/access_token?"+q.Encode()); r.code() != 1 {
		t.Fatalf("long-lived with wrong secret: %s", r.raw)
	}
	if r := e.longLived(t, tToken); r.code() != 100 {
		t.Fatalf("long-lived from a page token: %s", r.raw)
	}
	if r := e.longLived(t, "EAAGgarbage"); r.code() != 190 {
		t.Fatalf("long-lived from garbage: %s", r.raw)
	}
}

func TestOAuthTokenLifetimes(t *testing.T) {
	e := oauthSetup(t)
	short, long := e.userToken(t)
	fromShort, _ := e.accounts(t, short)
	fromLong, _ := e.accounts(t, long)
	pageShort, pageLong := fromShort[0].token, fromLong[0].token
	if pageShort == pageLong {
		t.Fatal("page tokens from short and long user tokens are the same")
	}
	// Page token from the same user token is stable.
	if again, _ := e.accounts(t, long); again[0].token != pageLong {
		t.Error("page token changed between calls")
	}
	send := func(tok string) graphResp {
		return e.get(t, "/v23.0/"+tPage+"/subscribed_apps?access_token="+url.QueryEscape(tok))
	}

	e.s.AdvanceClock(61 * time.Minute) // page token from a short-lived user token: 1 h
	if r := send(pageShort); r.code() != 190 || r.subcode() != 463 || !strings.Contains(r.header.Get("WWW-Authenticate"), "invalid_token") {
		t.Fatalf("page token from short token after 1h: %s", r.raw)
	}
	if r := send(pageLong); r.status != 200 {
		t.Fatalf("page token from long token: %s", r.raw)
	}
	e.s.AdvanceClock(time.Hour) // short user token: 7199 s
	if r := e.get(t, "/v23.0/me/accounts?access_token="+url.QueryEscape(short)); r.code() != 190 || r.subcode() != 463 {
		t.Fatalf("short user token after 2h: %s", r.raw)
	}
	e.s.AdvanceClock(61 * 24 * time.Hour) // long user token: ~60 days; its page tokens never expire
	if r := e.get(t, "/v23.0/me/accounts?access_token="+url.QueryEscape(long)); r.code() != 190 || r.subcode() != 463 {
		t.Fatalf("long user token after 61 days: %s", r.raw)
	}
	if r := send(pageLong); r.status != 200 {
		t.Fatalf("page token from long token after 61 days: %s", r.raw)
	}
}

func TestDebugToken(t *testing.T) {
	e := oauthSetup(t)
	e.s.SetOAuthMode(OAuthChoose)
	e.s.SetOAuthChosenPages(tPage, tPageNoIG)
	_, long := e.userToken(t)
	accts, _ := e.accounts(t, long)
	appToken := tAppID + "|" + tSecret
	debug := func(path, input, app string) graphResp {
		return e.get(t, path+"?"+url.Values{"input_token": {input}, "access_token": {app}}.Encode())
	}
	data := func(r graphResp) map[string]any {
		t.Helper()
		if r.status != 200 {
			t.Fatalf("debug_token: %s", r.raw)
		}
		return r.body["data"].(map[string]any)
	}
	granular := func(d map[string]any, scope string) []any {
		for _, g := range d["granular_scopes"].([]any) {
			if g.(map[string]any)["scope"] == scope {
				return g.(map[string]any)["target_ids"].([]any)
			}
		}
		return nil
	}

	for _, path := range []string{"/debug_token", "/v23.0/debug_token"} {
		d := data(debug(path, long, appToken))
		if d["type"] != "USER" || d["is_valid"] != true || d["app_id"] != tAppID || d["user_id"] != oauthUserID ||
			d["expires_at"].(float64) <= float64(e.s.Now().Unix()) || d["application"] == "" {
			t.Fatalf("%s user token: %v", path, d)
		}
		if got := granular(d, "pages_messaging"); !slices.Equal(got, []any{tPage, tPageNoIG}) {
			t.Errorf("pages_messaging targets = %v", got)
		}
		if got := granular(d, "instagram_manage_messages"); !slices.Equal(got, []any{tAcct}) {
			t.Errorf("instagram_manage_messages targets = %v", got)
		}
		if !slices.Contains(d["scopes"].([]any), any("instagram_manage_messages")) {
			t.Errorf("scopes = %v", d["scopes"])
		}
	}
	d := data(debug("/debug_token", accts[0].token, appToken))
	if d["type"] != "PAGE" || d["profile_id"] != tPage || d["expires_at"] != float64(0) || d["is_valid"] != true {
		t.Fatalf("page token: %v", d)
	}
	d = data(debug("/debug_token", tToken2, appToken))
	if d["type"] != "PAGE" || d["profile_id"] != tPage2 || d["is_valid"] != true {
		t.Fatalf("static page token: %v", d)
	}
	d = data(debug("/debug_token", "EAAGunknown", appToken))
	if d["is_valid"] != false || d["error"] == nil {
		t.Fatalf("unknown token: %v", d)
	}

	errCases := []struct {
		name, app string
		code      int
	}{
		{"wrong secret", tAppID + "|nope", 190},
		{"wrong app id", "123|" + tSecret, 190},
		{"user token instead of app token", long, 100},
		{"missing", "", 190},
	}
	for _, c := range errCases {
		if r := debug("/debug_token", long, c.app); r.status != 400 || r.code() != c.code {
			t.Errorf("%s: %s", c.name, r.raw)
		}
	}
}

func TestPermissionsDeleteRevokesGrant(t *testing.T) {
	e := oauthSetup(t)
	e.openWindow(t)
	short, long := e.userToken(t)
	accts, _ := e.accounts(t, long)
	pageTok := accts[0].token
	if r := e.sendJSON(t, pageTok, textMsg(tUser, "before")); r.status != 200 {
		t.Fatalf("send before revoke: %s", r.raw)
	}
	if r := e.get(t, "/v23.0/me/permissions?access_token="+url.QueryEscape(long)); r.status != 200 || len(r.body["data"].([]any)) == 0 {
		t.Fatalf("GET permissions: %s", r.raw)
	}
	req, _ := http.NewRequest(http.MethodDelete, e.g.URL+"/v23.0/me/permissions?access_token="+url.QueryEscape(long), nil)
	if r := do(t, req); r.status != 200 || r.body["success"] != true {
		t.Fatalf("DELETE permissions: %s", r.raw)
	}

	checks := []struct {
		name string
		r    func() graphResp
	}{
		{"long user token", func() graphResp { return e.get(t, "/v23.0/me/accounts?access_token="+url.QueryEscape(long)) }},
		{"short user token", func() graphResp { return e.get(t, "/v23.0/me?access_token="+url.QueryEscape(short)) }},
		{"page token send", func() graphResp { return e.sendJSON(t, pageTok, textMsg(tUser, "after")) }},
		{"page token profile", func() graphResp { return e.get(t, "/v23.0/"+tUser+"?access_token="+url.QueryEscape(pageTok)) }},
		{"long-lived exchange", func() graphResp { return e.longLived(t, short) }},
	}
	for _, c := range checks {
		if r := c.r(); r.code() != 190 || r.subcode() != 458 {
			t.Errorf("%s after revoke: %s", c.name, r.raw)
		}
	}
	// The app's subscriptions of the granted pages are gone, silently.
	for _, p := range []string{tPage, tPage2, tPageNoIG} {
		if f := e.s.SubscribedFields(p); f != nil {
			t.Errorf("page %s still subscribed: %v", p, f)
		}
	}
	if r := e.get(t, "/v23.0/"+tPage+"/subscribed_apps?access_token="+tToken); r.status != 200 || len(r.body["data"].([]any)) != 0 {
		t.Errorf("subscribed_apps after revoke: %s", r.raw)
	}
	// Let deliveries already in flight before the revocation land, then count.
	n := len(e.hook.requests())
	for settled := time.Now().Add(2 * time.Second); time.Now().Before(settled); {
		time.Sleep(50 * time.Millisecond)
		if m := len(e.hook.requests()); m == n {
			break
		} else {
			n = m
		}
	}
	e.s.UserSendsText(tAcct, tUser, "lost")
	time.Sleep(20 * time.Millisecond)
	if len(e.hook.requests()) != n {
		t.Error("webhook delivered after the app was removed")
	}
	d := e.get(t, "/debug_token?"+url.Values{"input_token": {long}, "access_token": {tAppID + "|" + tSecret}}.Encode())
	if dd := d.body["data"].(map[string]any); dd["is_valid"] != false {
		t.Errorf("debug_token after revoke: %s", d.raw)
	}
	// A new login works again with fresh tokens.
	_, long2 := e.userToken(t)
	if accts, _ := e.accounts(t, long2); len(accts) != 3 {
		t.Errorf("re-login: %v", ids(accts))
	}
}

func TestReloginShrinksGrant(t *testing.T) {
	e := oauthSetup(t)
	_, long := e.userToken(t)
	accts, _ := e.accounts(t, long)
	var page2Tok string
	for _, a := range accts {
		if a.id == tPage2 {
			page2Tok = a.token
		}
	}
	// The user logs in again and ticks only the first page: every token of
	// the user sees the new grant (trap 29).
	e.s.SetOAuthMode(OAuthChoose)
	e.s.SetOAuthChosenPages(tPage)
	e.userToken(t)
	if got, _ := e.accounts(t, long); !slices.Equal(ids(got), []string{tPage}) {
		t.Fatalf("old token after re-login: %v", ids(got))
	}
	if r := e.get(t, "/v23.0/"+tPage2+"/subscribed_apps?access_token="+url.QueryEscape(page2Tok)); r.code() != 190 {
		t.Fatalf("page token of a page dropped from the grant: %s", r.raw)
	}
}

func TestSubscribedFieldsValidation(t *testing.T) {
	cases := []struct {
		name  string
		body  any
		query string
		code  int
		want  []string
	}{
		{name: "missing", body: map[string]any{}, code: 100},
		{name: "empty", query: "subscribed_fields=", code: 100},
		{name: "instagram spelling", query: "subscribed_fields=messages,messaging_referral", code: 100},
		{name: "unknown", body: map[string]any{"subscribed_fields": []string{"messages", "bogus"}}, code: 100},
		{name: "query list", query: "subscribed_fields=messages,messaging_postbacks,standby", want: []string{"messages", "messaging_postbacks", "standby"}},
		{name: "json array", body: map[string]any{"subscribed_fields": []string{"messages", "message_echoes", "messages"}}, want: []string{"messages", "message_echoes"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := oauthSetup(t)
			path := "/v23.0/" + tPage + "/subscribed_apps?access_token=" + tToken
			if c.query != "" {
				path += "&" + c.query
			}
			var r graphResp
			if c.body != nil {
				r = e.post(t, "/v23.0/"+tPage+"/subscribed_apps", tToken, c.body)
			} else {
				r = e.postForm(t, path, "")
			}
			if c.code != 0 {
				if r.status != 400 || r.code() != c.code {
					t.Fatalf("got %s", r.raw)
				}
				if got := e.s.SubscribedFields(tPage); !slices.Equal(got, defaultSubscribedFields) {
					t.Fatalf("failed POST changed the subscription: %v", got)
				}
				return
			}
			if r.status != 200 || r.body["success"] != true {
				t.Fatalf("got %s", r.raw)
			}
			if got := e.s.SubscribedFields(tPage); !slices.Equal(got, c.want) {
				t.Fatalf("SubscribedFields = %v, want %v", got, c.want)
			}
			g := e.get(t, "/v23.0/"+tPage+"/subscribed_apps?access_token="+tToken)
			app := g.body["data"].([]any)[0].(map[string]any)
			if app["id"] != tAppID || len(app["subscribed_fields"].([]any)) != len(c.want) {
				t.Fatalf("GET subscribed_apps: %s", g.raw)
			}
		})
	}
}

func TestDropSubscriptionIsSilent(t *testing.T) {
	e := oauthSetup(t)
	e.openWindow(t)
	if got := e.s.SubscribedFields(tPage); !slices.Equal(got, defaultSubscribedFields) {
		t.Fatalf("default subscription: %v", got)
	}
	if e.s.SubscribedFields("nope") != nil {
		t.Fatal("unknown page subscribed")
	}
	var subs map[string][]string
	e.ctl(t, "GET", "/sandbox/subscriptions", nil, &subs)
	if len(subs) != 3 || subs[tPageNoIG] == nil {
		t.Fatalf("control subscriptions: %v", subs)
	}

	e.s.DropSubscription(tPage)
	if e.s.SubscribedFields(tPage) != nil {
		t.Fatal("still subscribed")
	}
	// Let deliveries already in flight before the revocation land, then count.
	n := len(e.hook.requests())
	for settled := time.Now().Add(2 * time.Second); time.Now().Before(settled); {
		time.Sleep(50 * time.Millisecond)
		if m := len(e.hook.requests()); m == n {
			break
		} else {
			n = m
		}
	}
	e.s.UserSendsText(tAcct, tUser, "lost")
	time.Sleep(20 * time.Millisecond)
	if len(e.hook.requests()) != n {
		t.Fatal("delivered after drop")
	}
	if r := e.get(t, "/v23.0/"+tPage+"/subscribed_apps?access_token="+tToken); len(r.body["data"].([]any)) != 0 {
		t.Fatalf("GET after drop: %s", r.raw)
	}
	// Other pages are unaffected; the integration re-subscribes and events flow again.
	if e.s.SubscribedFields(tPage2) == nil {
		t.Fatal("drop affected another page")
	}
	if r := e.post(t, "/v23.0/"+tPage+"/subscribed_apps", tToken, map[string]any{"subscribed_fields": "messages"}); r.status != 200 {
		t.Fatalf("resubscribe: %s", r.raw)
	}
	e.s.UserSendsText(tAcct, tUser, "back")
	if err := e.s.WaitDelivered(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if ev := events(e.hook.requests()[n:]); len(ev) != 1 || ev[0]["message"].(map[string]any)["text"] != "back" {
		t.Fatalf("after resubscribe: %v", ev)
	}

	// The control API drops too (page without IG account included).
	if st := e.ctl(t, "POST", "/sandbox/subscriptions/drop", map[string]any{"page": tPageNoIG}, nil); st != 200 || e.s.SubscribedFields(tPageNoIG) != nil {
		t.Fatalf("control drop: %d", st)
	}
	// DELETE subscribed_apps unsubscribes.
	req, _ := http.NewRequest(http.MethodDelete, e.g.URL+"/v23.0/"+tPage2+"/subscribed_apps?access_token="+tToken2, nil)
	if r := do(t, req); r.status != 200 || e.s.SubscribedFields(tPage2) != nil {
		t.Fatalf("DELETE subscribed_apps: %s", r.raw)
	}
}

func TestOAuthControlAPI(t *testing.T) {
	e := oauthSetup(t)
	var st struct {
		Mode             string   `json:"mode"`
		Pages            []string `json:"pages"`
		AccountsPageSize int      `json:"accounts_page_size"`
		Grants           []struct {
			UserID string   `json:"user_id"`
			Pages  []string `json:"pages"`
		} `json:"grants"`
	}
	if code := e.ctl(t, "POST", "/sandbox/oauth", map[string]any{"mode": "choose", "pages": []string{tPage2}, "accounts_page_size": 2}, &st); code != 200 ||
		st.Mode != "choose" || !slices.Equal(st.Pages, []string{tPage2}) || st.AccountsPageSize != 2 {
		t.Fatalf("POST /sandbox/oauth: %d %+v", code, st)
	}
	_, long := e.userToken(t)
	if accts, _ := e.accounts(t, long); !slices.Equal(ids(accts), []string{tPage2}) {
		t.Fatalf("accounts: %v", ids(accts))
	}
	e.ctl(t, "GET", "/sandbox/oauth", nil, &st)
	if len(st.Grants) != 1 || !slices.Equal(st.Grants[0].Pages, []string{tPage2}) {
		t.Fatalf("GET /sandbox/oauth: %+v", st)
	}
	if code := e.ctl(t, "POST", "/sandbox/oauth", map[string]any{"mode": "maybe"}, nil); code != 400 {
		t.Fatalf("bad mode: %d", code)
	}
}

func TestAccountsPagingLimitAndCursors(t *testing.T) {
	e := oauthSetup(t)
	for i := range 30 {
		id := fmt.Sprintf("20000000000%04d", i)
		e.s.AddPage(Page{PageID: id, IGAccountID: fmt.Sprintf("178415000000%05d", i), Username: fmt.Sprintf("p%d", i), Name: "Page " + id})
	}
	_, long := e.userToken(t)
	// Default page size 25: 33 pages in 2 calls.
	accts, calls := e.accounts(t, long)
	if len(accts) != 33 || calls != 2 {
		t.Fatalf("got %d pages in %d calls", len(accts), calls)
	}
	// Fields come back in the requested order.
	if r := e.get(t, "/v23.0/me/accounts?limit=1&fields="+url.QueryEscape(fieldsAcct)+"&access_token="+url.QueryEscape(long)); !strings.Contains(string(r.raw),
		`"tasks":["ANALYZE","ADVERTISE","MODERATE","CREATE_CONTENT","MANAGE"],"instagram_business_account":{"id":"`+tAcct+`","username":"casaazul.store"}}`) ||
		!strings.HasPrefix(string(r.raw), `{"data":[{"id":"`+tPage+`","name":"Casa Azul Store","access_token":"EAAG`) {
		t.Fatalf("field order: %s", r.raw)
	}
	// ?limit= wins; previous appears on later pages; bad cursors fail.
	r := e.get(t, "/v23.0/me/accounts?limit=10&access_token="+url.QueryEscape(long))
	next := r.body["paging"].(map[string]any)["next"].(string)
	req, _ := http.NewRequest(http.MethodGet, next, nil)
	r2 := do(t, req)
	if len(r2.body["data"].([]any)) != 10 || r2.body["paging"].(map[string]any)["previous"] == nil {
		t.Fatalf("second page: %s", r2.raw)
	}
	if r := e.get(t, "/v23.0/me/accounts?after=bogus&access_token="+url.QueryEscape(long)); r.code() != 100 {
		t.Fatalf("bad cursor: %s", r.raw)
	}
	// A page token on /me/accounts is the wrong node type.
	if r := e.get(t, "/v23.0/me/accounts?access_token="+tToken); r.code() != 100 {
		t.Fatalf("page token on me/accounts: %s", r.raw)
	}
}
