package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"

	"github.com/igdirect/bridge/sandbox/rocketchat"
)

// Helpers of the authorization and administration tests.

// ownStack starts a stack of its own for a test that changes what every test relies on
// (tokens, subscriptions), and stops it afterwards.
func ownStack(t *testing.T, name string) *stack {
	t.Helper()
	requireStack(t)
	s, err := startStack(name, stackOptions{})
	require.NoError(t, err)
	t.Cleanup(s.stop)
	return s
}

// db opens the stack's database, as an operator (or an attacker with a dump) would see it.
func (s *stack) db(t *testing.T) *sqlx.DB {
	t.Helper()
	db, err := sqlx.Open("postgres", databaseURL(s.dbName))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// admin calls the admin API and decodes the JSON answer into out (when non-nil).
func (s *stack) adminCall(t *testing.T, method, path, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, s.adminURL+"/admin/api"+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+s.adminToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 40 * time.Second}).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if out != nil {
		require.NoError(t, json.Unmarshal(raw, out), "%s %s answered %d %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode
}

// command types text in the setup channel, which fires the outgoing integration.
func (s *stack) command(t *testing.T, text string) rocketchat.CommandReply {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := s.rc.SendCommand(ctx, s.ingressURL+"/rocketchat/command", s.commandToken, setupChannel, "maria.admin", text)
	require.NoError(t, err)
	return rep
}

// botMessages returns what the bridge's bot user posted in the setup channel (its
// messages and the integration's answers to commands, which Rocket.Chat posts as it too).
func (s *stack) botMessages() []rocketchat.Message {
	var out []rocketchat.Message
	for _, m := range s.rc.ChannelMessages(setupChannel) {
		if m.Username == "bot" {
			out = append(out, m)
		}
	}
	return out
}

// waitBotMessage waits for a bot message, after the first `after`, that contains text.
func (s *stack) waitBotMessage(t *testing.T, after int, text string) rocketchat.Message {
	t.Helper()
	var found rocketchat.Message
	eventually(t, 30*time.Second, "a setup-channel message containing "+text, func() bool {
		msgs := s.botMessages()
		for _, m := range msgs[min(after, len(msgs)):] {
			if strings.Contains(m.Msg, text) {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

// browser is an admin's browser: it follows redirects, keeps cookies and remembers where
// it went.
type browser struct {
	c       *http.Client
	jar     http.CookieJar
	visited []*url.URL
}

func newBrowser() *browser {
	inner, _ := cookiejar.New(nil)
	b := &browser{jar: loopbackSecureJar{inner}}
	b.c = &http.Client{Timeout: 45 * time.Second, Jar: b.jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		b.visited = append(b.visited, req.URL)
		return nil
	}}
	return b
}

// loopbackSecureJar treats http://127.0.0.1 and http://localhost as secure, as browsers
// do (they are "potentially trustworthy" origins): Secure cookies, such as ingress's
// __Host- OAuth cookie, are kept and sent there. Go's cookiejar would drop them over http.
type loopbackSecureJar struct{ http.CookieJar }

func asSecure(u *url.URL) *url.URL {
	if h := u.Hostname(); u.Scheme == "http" && (h == "127.0.0.1" || h == "localhost") {
		c := *u
		c.Scheme = "https"
		return &c
	}
	return u
}

func (j loopbackSecureJar) SetCookies(u *url.URL, cs []*http.Cookie) {
	j.CookieJar.SetCookies(asSecure(u), cs)
}
func (j loopbackSecureJar) Cookies(u *url.URL) []*http.Cookie {
	return j.CookieJar.Cookies(asSecure(u))
}

// open loads a URL, following redirects, and returns the final status and page.
func (b *browser) open(t *testing.T, u string) (int, string) {
	t.Helper()
	parsed, err := url.Parse(u)
	require.NoError(t, err)
	b.visited = append(b.visited, parsed)
	resp, err := b.c.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(raw)
}

// last returns the last visited URL whose path is path.
func (b *browser) last(path string) *url.URL {
	for i := len(b.visited) - 1; i >= 0; i-- {
		if b.visited[i].Path == path {
			return b.visited[i]
		}
	}
	return nil
}

// stateHash is how the bridge keys a state in the database.
func stateHash(state string) []byte {
	sum := sha256.Sum256([]byte(state))
	return sum[:]
}

// requireNoClearSecrets checks every row of the tables that hold secrets, as text (bytea
// shows as hex), for sandbox tokens (they all start with EAAG) and for given secrets.
func requireNoClearSecrets(t *testing.T, s *stack, secrets ...string) {
	t.Helper()
	db := s.db(t)
	needles := []string{"EAAG", "45414147"} // "EAAG" and its hex form
	for _, sec := range secrets {
		needles = append(needles, sec, strings.ToLower(hexOf(sec)))
	}
	for _, table := range []string{"pages", "meta_user_tokens", "oauth_states", "app_settings"} {
		var rows []string
		require.NoError(t, db.Select(&rows, `SELECT t::text FROM `+table+` t`))
		for _, r := range rows {
			for _, n := range needles {
				require.NotContains(t, r, n, "a secret in clear in table %s", table)
			}
		}
	}
}

func hexOf(s string) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(s))
	for i := 0; i < len(s); i++ {
		out = append(out, digits[s[i]>>4], digits[s[i]&15])
	}
	return string(out)
}
