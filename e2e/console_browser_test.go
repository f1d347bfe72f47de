package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/igdirect/bridge/sandbox/meta"
	"github.com/igdirect/bridge/sandbox/rocketchat"
	"github.com/igdirect/bridge/workflows"
)

// TestConsoleInABrowser drives the console in headless Chromium (Debian's package; `make
// test` installs it when missing): an admin signs in through the one-time link the bot sent
// by direct message, edits a page, changes a setting and unsubscribes a page — and the same
// changes show through `instagram list`, `instagram settings` and the admin API. It also
// looks at every page (with CONSOLE_SCREENSHOTS=docs/console it saves them, for the README).
func TestConsoleInABrowser(t *testing.T) {
	requireStack(t)
	chrome := chromiumPath(t)
	s := ownStack(t, "browser")
	shots := os.Getenv("CONSOLE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if !filepath.IsAbs(shots) {
		shots = filepath.Join("..", shots) // relative to the repository, as make runs it
	}
	require.NoError(t, os.MkdirAll(shots, 0o755))

	alloc, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 900))...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(alloc)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 4*time.Minute)
	defer cancel()

	do := func(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx, steps...))
	}
	// click submits a form and waits for the page it leads to.
	click := func(t *testing.T, sel string) {
		t.Helper()
		_, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
		require.NoError(t, err, "click %s", sel)
	}
	text := func(t *testing.T, sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, sel)
		return v
	}
	shot := func(t *testing.T, name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644))
	}
	// setValue sets a form field as a person's edit would end (an input event, so the byte
	// counter follows); SendKeys types after it.
	setValue := func(t *testing.T, id, v string) {
		t.Helper()
		js := `(function(){var e=document.getElementById(` + strconv.Quote(id) + `);e.value=` + strconv.Quote(v) +
			`;e.dispatchEvent(new Event("input",{bubbles:true}));return e.value})()`
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		require.NoError(t, err, id)
		require.Equal(t, v, got, id)
	}
	location := func(t *testing.T) string {
		t.Helper()
		u, err := chromedp.Run(ctx, chromedp.Location())
		require.NoError(t, err)
		return u
	}

	// Something for the attention page and the doctor: a customer who wrote, and one whose
	// conversation is blocked on a department Rocket.Chat no longer has.
	require.Contains(t, s.command(t, "instagram subscribe "+pageID).Text, "is subscribed")
	happy := uniqueIGSID()
	s.meta.AddUser(account, meta.User{IGSID: happy, Name: "Happy", Username: "happy.customer"})
	s.meta.UserSendsText(account, happy, "hello!")
	waitRoom(t, s, happy, 1)

	t.Run("sign in through the one-time link", func(t *testing.T) {
		s.rc.AddUser(rocketchat.User{Username: "maria.admin", Name: "Maria", Roles: []string{"user", "admin"}})
		require.Contains(t, s.command(t, "instagram console").Text, "by direct message")
		var link string
		eventually(t, 10*time.Second, "the sign-in link by direct message", func() bool {
			for _, m := range s.rc.ChannelMessages("@maria.admin") {
				link, _ = m.ButtonURL("Open console")
			}
			return link != ""
		})
		do(t, chromedp.Navigate(link))
		require.Contains(t, text(t, "#use-link"), "Sign in as maria.admin")
		shot(t, "login")
		click(t, "#use-link")
		require.Equal(t, s.ingressURL+"/console/", location(t), text(t, "main"))
		require.Contains(t, text(t, "form.who"), "Signed in as maria.admin")
		shot(t, "overview")
		// The link is used up: opening it again says so.
		do(t, chromedp.Navigate(link))
		require.Contains(t, text(t, "main"), "This sign-in link was already used")
	})

	t.Run("a click in Rocket.Chat on a console button opens the console signed in", func(t *testing.T) {
		// Rocket.Chat is another site: the SameSite=Strict cookie stays home on that click,
		// and the console reloads itself once from its own origin to get it.
		other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte(`<a id="btn" href="` + s.ingressURL + `/console/accounts">Open console</a>`))
		}))
		defer other.Close()
		do(t, chromedp.Navigate(strings.Replace(other.URL, "127.0.0.1", "localhost", 1))) // another site than 127.0.0.1
		_, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.ID("btn")))
		require.NoError(t, err)
		do(t, chromedp.WaitVisible(chromedp.CSS("form.who")))
		require.Contains(t, text(t, "h1"), "Instagram accounts")
		require.Contains(t, text(t, "form.who"), "maria.admin")
	})

	t.Run("edit a page", func(t *testing.T) {
		do(t, chromedp.Navigate(s.ingressURL+"/console/accounts"))
		shot(t, "accounts")
		click(t, `a[href="/console/pages/`+pageID+`"]`)
		// The byte counter follows the typing (two bytes for ã, four for the emoji).
		setValue(t, "welcome_message", "")
		do(t, chromedp.SendKeys(chromedp.ID("welcome_message"), "Olá! Estamos aqui 🙂"))
		require.Equal(t, "23 of 1000 bytes", text(t, `[data-counter-for="welcome_message"]`))
		setValue(t, "department", "Website")
		do(t, chromedp.SendKeys(chromedp.ID("offline_message"), "Voltamos às 9h."))
		shot(t, "edit-page")
		click(t, "#save-page")
		require.Contains(t, text(t, ".flash"), "Saved the page config of casaazul.store")

		p := readPage(t, s, pageID)
		require.Equal(t, "Website", p.Department)
		require.Equal(t, "Olá! Estamos aqui 🙂", p.Welcome)
		require.Equal(t, "Voltamos às 9h.", p.Offline)
		require.Contains(t, s.command(t, "instagram list").Text, "department: `Website`")
		var page struct {
			Department string `json:"department"`
			Welcome    string `json:"welcome_message"`
		}
		require.Equal(t, http.StatusOK, s.adminCall(t, http.MethodGet, "/pages/casaazul.store", "", &page))
		require.Equal(t, "Website", page.Department)
		require.Equal(t, "Olá! Estamos aqui 🙂", page.Welcome)

		// Too long for Instagram: the counter says so as it is typed, the save is refused
		// with the reason and nothing changes.
		setValue(t, "finished_message", strings.Repeat("é", 501))
		do(t, chromedp.SendKeys(chromedp.ID("finished_message"), "!"))
		require.Contains(t, text(t, `[data-counter-for="finished_message"]`), "1003 of 1000 bytes — too long for Instagram")
		click(t, "#save-page")
		require.Contains(t, text(t, "[role=alert]"), "Conversation Finished Message (finished) is 1003 bytes long")
		require.Equal(t, p, readPage(t, s, pageID), "nothing changed")
	})

	t.Run("change a setting", func(t *testing.T) {
		t.Cleanup(func() { _ = s.setSetting("agent_display_name", "name") })
		do(t, chromedp.Navigate(s.ingressURL+"/console/settings"))
		require.Contains(t, text(t, "main form"), "Agents Display Name")
		require.Contains(t, text(t, "main form"), `Delete messages once it has been "Unsend" from Instagram`)
		shot(t, "settings")
		setValue(t, "agent_display_name", "username")
		click(t, "#save-settings")
		require.Contains(t, text(t, ".flash"), "Saved: agent_display_name")
		require.Equal(t, "username", setting(t, s, "agent_display_name"))
		require.Contains(t, s.command(t, "instagram settings").Text, "`agent_display_name` = `username`")
		var got struct {
			Settings map[string]string `json:"settings"`
		}
		require.Equal(t, http.StatusOK, s.adminCall(t, http.MethodGet, "/settings", "", &got))
		require.Equal(t, "username", got.Settings["agent_display_name"])

		// A bad value: the reason, what was typed, and nothing stored.
		setValue(t, "max_upload_bytes", "lots")
		setValue(t, "agent_display_name", "none")
		click(t, "#save-settings")
		require.Contains(t, text(t, "[role=alert]"), "max_upload_bytes must be a number of bytes")
		require.Equal(t, "username", setting(t, s, "agent_display_name"), "all or nothing")
	})

	t.Run("unsubscribe", func(t *testing.T) {
		do(t, chromedp.Navigate(s.ingressURL+"/console/accounts"))
		click(t, `button[value="unsubscribe"]`)
		require.Contains(t, text(t, ".flash"), "casaazul.store (page "+pageID+") is unsubscribed")
		require.Nil(t, s.meta.SubscribedFields(pageID), "Meta no longer sends its messages")
		require.Contains(t, s.command(t, "instagram list").Text, "webhooks *not* subscribed")
		var acc struct {
			Accounts []struct {
				Subscribed bool `json:"subscribed"`
			} `json:"accounts"`
		}
		require.Equal(t, http.StatusOK, s.adminCall(t, http.MethodGet, "/accounts", "", &acc))
		require.False(t, acc.Accounts[0].Subscribed)
		require.NotEmpty(t, text(t, `button[value="subscribe"]`))
	})

	t.Run("conversations needing attention and the doctor", func(t *testing.T) {
		require.Contains(t, s.command(t, "instagram subscribe "+pageID).Text, "is subscribed")
		_, err := s.db(t).Exec(`UPDATE pages SET department = 'Vendas' WHERE page_id = $1`, pageID)
		require.NoError(t, err)
		blocked := newCustomer(s, account, "Blocked Customer")
		blocked.writes(s, "is anyone there?")
		eventually(t, 20*time.Second, "the conversation blocked on the department", func() bool {
			return blocked.state(s).Status == workflows.StateBlocked
		})
		do(t, chromedp.Navigate(s.ingressURL+"/console/attention"))
		body := text(t, "main")
		require.Contains(t, body, "1 blocked")
		require.Contains(t, body, "Vendas")
		href, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS("tr.blocked a"), "href"))
		require.NoError(t, err)
		require.Contains(t, href.Value, "http://localhost:8233/namespaces/default/workflows/instagram:"+account+":")
		shot(t, "attention")

		do(t, chromedp.Navigate(s.ingressURL+"/console/doctor"))
		body = text(t, "main")
		require.Contains(t, body, "Linked to Instagram account "+account)
		require.Contains(t, body, "1 conversation(s) blocked")
		shot(t, "doctor")
		_, err = s.db(t).Exec(`UPDATE pages SET department = 'Instagram' WHERE page_id = $1`, pageID)
		require.NoError(t, err)
	})

	t.Run("uninstall names what it removes", func(t *testing.T) {
		do(t, chromedp.Navigate(s.ingressURL+"/console/uninstall"))
		body := text(t, "main")
		require.Contains(t, body, "unsubscribe the webhooks of casaazul.store")
		require.Contains(t, body, "delete every page token (1)")
		shot(t, "uninstall")
		do(t, chromedp.Click(chromedp.CSS(`input[name="confirm"]`)))
		click(t, "#uninstall")
		require.Contains(t, text(t, "h1"), "Uninstalled")
		require.False(t, readPage(t, s, pageID).HasToken)
		require.Contains(t, s.command(t, "instagram list").Text, "removed by the uninstall")
		// An uninstall ends every console session, this one too (issue 20).
		do(t, chromedp.Navigate(s.ingressURL+"/console/accounts"))
		require.Contains(t, location(t), "/console/login?next=")
	})

	signInWithToken := func(t *testing.T) {
		t.Helper()
		do(t, chromedp.Navigate(s.ingressURL+"/console/login"), chromedp.SendKeys(chromedp.ID("token"), s.adminToken))
		click(t, `form[action="/console/login"] button.primary`)
		require.Contains(t, text(t, "form.who"), "Signed in as ADMIN_API_TOKEN")
	}

	t.Run("sign out everywhere", func(t *testing.T) {
		signInWithToken(t)
		click(t, `button[formaction="/console/logout-everywhere"]`)
		require.Contains(t, text(t, "main"), "Everyone is signed out of the console")
		do(t, chromedp.Navigate(s.ingressURL+"/console/accounts"))
		require.Contains(t, location(t), "/console/login?next=")
	})

	t.Run("sign out", func(t *testing.T) {
		signInWithToken(t)
		do(t, chromedp.Navigate(s.ingressURL+"/console/"))
		click(t, "form.who button")
		require.True(t, strings.HasPrefix(location(t), s.ingressURL+"/console/login"))
		do(t, chromedp.Navigate(s.ingressURL+"/console/accounts"))
		require.Contains(t, location(t), "/console/login?next=")
	})
}

// chromiumPath finds the browser: E2E_CHROMIUM (make test sets it), or one on PATH.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("E2E_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium for the console's browser test: `make test` installs Debian's chromium when it runs as root; otherwise install it or set E2E_CHROMIUM")
	return ""
}
