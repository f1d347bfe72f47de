package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/igdirect/bridge/instagram"
	"github.com/igdirect/bridge/sandbox/meta"
	"github.com/igdirect/bridge/workflows"
)

// A second business page with an Instagram account, and a page without one.
const (
	page2ID  = "102030405060709"
	account2 = "17841400000000002"
	page3ID  = "102030405060710"
)

// authorizeLink asks the admin API for an authorization, and checks that the setup
// channel is told of it without the link (the caller has it).
func authorizeLink(t *testing.T, s *stack) (link, workflowID string) {
	t.Helper()
	before := len(s.botMessages())
	var res struct {
		WorkflowID string    `json:"workflow_id"`
		URL        string    `json:"authorization_url"`
		ExpiresAt  time.Time `json:"expires_at"`
		Channel    string    `json:"setup_channel"`
	}
	require.Equal(t, http.StatusOK, s.adminCall(t, http.MethodPost, "/authorize", "", &res))
	require.True(t, strings.HasPrefix(res.URL, s.ingressURL+"/oauth/start?state="), res.URL)
	require.WithinDuration(t, time.Now().Add(15*time.Minute), res.ExpiresAt, time.Minute)
	require.Equal(t, setupChannel, res.Channel)
	s.waitBotMessage(t, before, "the link went to whoever started it, not here")
	requireLinkNotInChannel(t, s, res.URL)
	return res.URL, res.WorkflowID
}

// requireLinkNotInChannel: no message of the setup channel carries the authorization link,
// in its text or a button.
func requireLinkNotInChannel(t *testing.T, s *stack, link string) {
	t.Helper()
	for _, m := range s.rc.ChannelMessages(setupChannel) {
		require.NotContains(t, m.Msg, stateOf(t, link), "the link in the setup channel: %s", m.Msg)
		if u, ok := m.ButtonURL("Start Authentication"); ok {
			require.NotContains(t, u, "/oauth/start", "a live authorization button in the setup channel")
		}
	}
}

func stateOf(t *testing.T, link string) string {
	u, err := url.Parse(link)
	require.NoError(t, err)
	return u.Query().Get("state")
}

func count(t *testing.T, s *stack, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, s.db(t).Get(&n, query, args...))
	return n
}

// walkToCallback opens link in a fresh browser and follows the redirects up to Meta's
// redirect to the callback, without loading it; it returns the callback URL and the
// browser's cookies.
func walkToCallback(t *testing.T, link string) (string, http.CookieJar) {
	t.Helper()
	b := newBrowser()
	noFollow := &http.Client{Timeout: 10 * time.Second, Jar: b.jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	next := link
	for !strings.Contains(next, "/oauth/callback") {
		resp, err := noFollow.Get(next)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusFound, resp.StatusCode, next)
		next = resp.Header.Get("Location")
	}
	return next, b.jar
}

// TestOAuthAuthorization drives the whole OAuth flow as an admin's browser would: from the
// button's link through ingress's redirect, Meta's dialog (the sandbox) and back to
// /oauth/callback, with every way it can go wrong.
func TestOAuthAuthorization(t *testing.T) {
	s := ownStack(t, "oauth")
	s.meta.AddPage(meta.Page{PageID: page2ID, IGAccountID: account2, Username: "casaverde.shop", Name: "Casa Verde", AccessToken: "EAAGstaticpagetoken2"})
	s.meta.AddPage(meta.Page{PageID: page3ID, Name: "Side Page", AccessToken: "EAAGstaticpagetoken3"})

	t.Run("declined on Meta's dialog stores nothing", func(t *testing.T) {
		s.meta.SetOAuthMode(meta.OAuthDeny)
		defer s.meta.SetOAuthMode(meta.OAuthApprove)
		link, _ := authorizeLink(t, s)
		before := len(s.botMessages())
		b := newBrowser()
		status, page := b.open(t, link)
		require.Equal(t, http.StatusOK, status, page)
		require.Contains(t, page, "Authorization declined")
		require.Contains(t, page, "access_denied")
		require.NotNil(t, b.last("/oauth/callback"), "came back through the callback")
		s.waitBotMessage(t, before, "declined on Meta's dialog")
		require.Zero(t, count(t, s, `SELECT count(*) FROM meta_user_tokens`))
		require.Zero(t, count(t, s, `SELECT count(*) FROM pages WHERE page_id <> $1`, pageID))
	})

	var callback *url.URL
	t.Run("round trip connects every account with its Instagram business account", func(t *testing.T) {
		link, _ := authorizeLink(t, s)
		before := len(s.botMessages())
		b := newBrowser()
		status, page := b.open(t, link)
		require.Equal(t, http.StatusOK, status, page)

		// ingress → Meta's dialog → ingress.
		require.GreaterOrEqual(t, len(b.visited), 3)
		dialog := b.visited[1]
		require.Equal(t, "/v23.0/dialog/oauth", dialog.Path)
		q := dialog.Query()
		require.Equal(t, "910000000000001", q.Get("client_id"))
		require.Equal(t, s.ingressURL+"/oauth/callback", q.Get("redirect_uri"))
		require.Equal(t, stateOf(t, link), q.Get("state"))
		require.Equal(t, strings.Join(instagram.DefaultScopes, ","), q.Get("scope"))
		callback = b.last("/oauth/callback")
		require.NotNil(t, callback)
		require.NotEmpty(t, callback.Query().Get("code"))

		for _, want := range []string{"Instagram connected", "casaazul.store", pageID, "casaverde.shop", page2ID, "Side Page", "no Instagram professional account"} {
			require.Contains(t, page, want)
		}
		done := s.waitBotMessage(t, before, "authorization complete")
		for _, want := range []string{"casaazul.store", pageID, "casaverde.shop", page2ID, "webhooks subscribed", "Side Page"} {
			require.Contains(t, done.Msg, want)
		}

		// Both pages stored with sealed tokens and subscribed; the first keeps the
		// department it had before re-authorizing.
		db := s.db(t)
		var pages []struct {
			PageID     string `db:"page_id"`
			Username   string `db:"ig_username"`
			HasToken   bool   `db:"has_token"`
			Subscribed bool   `db:"subscribed"`
			Department string `db:"department"`
		}
		require.NoError(t, db.Select(&pages, `SELECT page_id, ig_username, access_token IS NOT NULL AS has_token, subscribed, department FROM pages ORDER BY page_id`))
		require.Len(t, pages, 2)
		require.Equal(t, pageID, pages[0].PageID)
		require.Equal(t, "Instagram", pages[0].Department)
		require.Equal(t, page2ID, pages[1].PageID)
		require.Equal(t, "casaverde.shop", pages[1].Username)
		for _, p := range pages {
			require.True(t, p.HasToken && p.Subscribed, "%+v", p)
		}
		require.Equal(t, 1, count(t, s, `SELECT count(*) FROM meta_user_tokens WHERE long_lived`))
		require.Zero(t, count(t, s, `SELECT count(*) FROM oauth_states WHERE code IS NOT NULL`), "the code is forgotten once exchanged")
		for _, id := range []string{pageID, page2ID} {
			require.Equal(t, instagram.DefaultSubscribedFields, s.meta.SubscribedFields(id), "page %s subscribed at Meta", id)
		}
		requireNoClearSecrets(t, s, callback.Query().Get("code"), stateOf(t, link))
	})

	t.Run("the stored page token serves conversations", func(t *testing.T) {
		igsid := uniqueIGSID()
		s.meta.AddUser(account2, meta.User{IGSID: igsid, Name: "Vera"})
		s.meta.UserSendsText(account2, igsid, "Olá, Casa Verde!")
		var rid string
		eventually(t, 20*time.Second, "a room for the customer of the new page", func() bool {
			for _, r := range s.rc.AllRooms() {
				if strings.Contains(r.VisitorToken, igsid) {
					rid = r.ID
					return true
				}
			}
			return false
		})
		_, err := s.rc.AgentSend(rid, agentName, "Olá Vera!")
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		sent, err := s.meta.WaitForSent(ctx, account2, igsid, 1)
		require.NoError(t, err, "the reply went out with the OAuth page token")
		require.Contains(t, sent[0].Text, "Olá Vera!")
	})

	t.Run("a replayed callback is refused and stores nothing", func(t *testing.T) {
		require.NotNil(t, callback)
		before := len(s.botMessages())
		tokens := count(t, s, `SELECT count(*) FROM meta_user_tokens`)
		status, page := newBrowser().open(t, callback.String())
		require.Equal(t, http.StatusConflict, status)
		require.Contains(t, page, "already used")
		s.waitBotMessage(t, before, "used again")
		require.Equal(t, tokens, count(t, s, `SELECT count(*) FROM meta_user_tokens`))
		require.Zero(t, count(t, s, `SELECT count(*) FROM oauth_states WHERE code IS NOT NULL`))
	})

	t.Run("an expired link is refused at start and at callback", func(t *testing.T) {
		link, _ := authorizeLink(t, s)
		state := stateOf(t, link)
		_, err := s.db(t).Exec(`UPDATE oauth_states SET expires_at = now() - interval '1 second' WHERE state_hash = $1`, stateHash(state))
		require.NoError(t, err)
		before := len(s.botMessages())
		b := newBrowser()
		status, page := b.open(t, link)
		require.Equal(t, http.StatusGone, status)
		require.Contains(t, page, "expired")
		require.Len(t, b.visited, 1, "no redirect to Meta")
		s.waitBotMessage(t, before, "expired")

		// A callback for it (a slow user, or a forged one) is refused the same way.
		status, _ = newBrowser().open(t, s.ingressURL+"/oauth/callback?code=AQforged&state="+url.QueryEscape(state))
		require.Equal(t, http.StatusGone, status)
		require.Equal(t, 1, count(t, s, `SELECT count(*) FROM oauth_states WHERE state_hash = $1 AND used_at IS NULL AND code IS NULL`, stateHash(state)),
			"nothing stored for the expired state")
	})

	t.Run("an unknown or missing state is refused", func(t *testing.T) {
		for u, want := range map[string]string{
			"/oauth/start?state=forged":             "not valid",
			"/oauth/start":                          "no state",
			"/oauth/callback?state=forged&code=AQx": "not valid",
			"/oauth/callback?code=AQx":              "no state",
		} {
			status, page := newBrowser().open(t, s.ingressURL+u)
			require.Equal(t, http.StatusBadRequest, status, u)
			require.Contains(t, page, want, u)
		}
	})

	t.Run("the link belongs to the browser that opened it", func(t *testing.T) {
		link, wfID := authorizeLink(t, s)
		state := stateOf(t, link)
		callback, adminJar := walkToCallback(t, link)
		before := len(s.botMessages())

		// Someone else with the link (a leaked message, a shoulder-surfed URL) cannot open it.
		status, page := newBrowser().open(t, link)
		require.Equal(t, http.StatusForbidden, status)
		require.Contains(t, page, "another browser")
		// Nor complete it with the callback URL, without the admin's cookie; a made-up
		// cookie does not help either.
		status, page = newBrowser().open(t, callback)
		require.Equal(t, http.StatusForbidden, status, page)
		forged, _ := http.NewRequest(http.MethodGet, callback, nil)
		forged.AddCookie(&http.Cookie{Name: "__Host-igdirect-oauth-" + hexOf(string(stateHash(state)))[:16], Value: "guessed"})
		resp, err := http.DefaultClient.Do(forged)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		s.waitBotMessage(t, before, "browser other than the one that opened it")
		require.Equal(t, 1, count(t, s, `SELECT count(*) FROM oauth_states WHERE state_hash = $1 AND used_at IS NULL AND code IS NULL`, stateHash(state)),
			"nothing consumed or stored by the refused callbacks")

		// The admin's browser still completes it.
		resp, err = (&http.Client{Timeout: 40 * time.Second, Jar: adminJar}).Get(callback)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		require.Contains(t, string(body), "Instagram connected")
		var cleared bool
		for _, c := range resp.Cookies() {
			cleared = cleared || (strings.HasPrefix(c.Name, "__Host-igdirect-oauth-") && c.MaxAge < 0)
		}
		require.True(t, cleared, "the binding cookie is removed once used")

		// The state is nowhere in the workflow's history, not even decrypted: it holds a
		// reference the state is derived from with a key only worker and ingress have.
		requireNotInHistory(t, s, wfID, state)
	})

	t.Run("of two simultaneous callbacks exactly one is accepted", func(t *testing.T) {
		link, _ := authorizeLink(t, s)
		next, jar := walkToCallback(t, link)
		statuses := make(chan int, 2)
		for range 2 {
			go func() {
				resp, err := (&http.Client{Timeout: 40 * time.Second, Jar: jar}).Get(next)
				if err != nil {
					statuses <- 0
					return
				}
				resp.Body.Close()
				statuses <- resp.StatusCode
			}()
		}
		got := []int{<-statuses, <-statuses}
		require.ElementsMatch(t, []int{http.StatusOK, http.StatusConflict}, got)
	})

	t.Run("choosing pages on the dialog connects only those", func(t *testing.T) {
		s.meta.SetOAuthMode(meta.OAuthChoose)
		s.meta.SetOAuthChosenPages(page2ID)
		defer s.meta.SetOAuthMode(meta.OAuthApprove)
		link, _ := authorizeLink(t, s)
		before := len(s.botMessages())
		status, page := newBrowser().open(t, link)
		require.Equal(t, http.StatusOK, status, page)
		require.Contains(t, page, "casaverde.shop")
		require.NotContains(t, page, "casaazul.store")
		done := s.waitBotMessage(t, before, "authorization complete")
		require.Contains(t, done.Msg, page2ID)
		require.NotContains(t, done.Msg, pageID)
	})

	t.Run("uninstall revokes the login at Meta and deletes every token", func(t *testing.T) {
		var res workflows.UnauthorizeResult
		require.Equal(t, http.StatusOK, s.adminCall(t, http.MethodDelete, "/authorization", "", &res))
		require.Equal(t, 1, res.Revoke.Revoked, "the one Facebook login is revoked: %+v", res)
		require.Empty(t, res.Revoke.Failed)
		// The last login granted only page 2, so Meta no longer accepts page 1's token: its
		// subscription cannot be removed, which the uninstall says instead of failing.
		require.Len(t, res.Pages, 2)
		require.Equal(t, pageID, res.Pages[0].PageID)
		require.False(t, res.Pages[0].Unsubscribed)
		require.Contains(t, res.Pages[0].Error, "190")
		require.Equal(t, page2ID, res.Pages[1].PageID)
		require.True(t, res.Pages[1].Unsubscribed)
		require.Equal(t, 2, res.Deleted.PageTokens)
		var grants struct {
			Grants []any `json:"grants"`
		}
		resp, err := http.Get(s.metaHTTP.URL + "/sandbox/oauth")
		require.NoError(t, err)
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&grants))
		resp.Body.Close()
		require.Empty(t, grants.Grants, "Meta no longer has a grant for the app")
		require.Nil(t, s.meta.SubscribedFields(page2ID))
		require.Zero(t, count(t, s, `SELECT count(*) FROM pages WHERE access_token IS NOT NULL`))
		require.Zero(t, count(t, s, `SELECT count(*) FROM meta_user_tokens`))
		require.Zero(t, count(t, s, `SELECT count(*) FROM oauth_states`))
	})
}
