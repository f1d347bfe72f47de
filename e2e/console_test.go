package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/igdirect/bridge/sandbox/meta"
	"github.com/igdirect/bridge/sandbox/rocketchat"
)

// Issue 14 end to end, without a browser (console_browser_test.go drives one): commands
// that match Rocket.Chat's own Instagram Direct app, the one validation every way in goes
// through, the sign-in link, the setup guide and the doctor.

// TestCommandsMatchTheOriginalApp types what admins of the original app type.
func TestCommandsMatchTheOriginalApp(t *testing.T) {
	s := ownStack(t, "original")

	t.Run("the setup guide was posted at first start", func(t *testing.T) {
		var guide rocketchat.Message
		for _, m := range s.botMessages() {
			if strings.Contains(m.Msg, "is running") {
				guide = m
			}
		}
		require.NotEmpty(t, guide.ID, "the first-start guide is in the setup channel")
		for _, want := range []string{s.ingressURL + "/webhooks/rocketchat", s.ingressURL + "/webhooks/instagram", s.ingressURL + "/oauth/callback",
			s.ingressURL + "/rocketchat/command", "ROCKETCHAT_WEBHOOK_TOKEN", "META_VERIFY_TOKEN", "the Omnichannel webhook has not called us yet",
			"Trigger Words `instagram,/instagram`", "*Still missing:*"} {
			require.Contains(t, guide.Msg, want)
		}
		link, ok := guide.ButtonURL("Start Authentication")
		require.True(t, ok)
		require.Equal(t, s.ingressURL+"/console/authorize", link)
		link, ok = guide.ButtonURL("Open console")
		require.True(t, ok)
		require.Equal(t, s.ingressURL+"/console/", link)
		// The sign-in button types `instagram console` as whoever clicks it (Rocket.Chat's
		// msg_in_chat_window), so the link goes to them by direct message.
		var signIn rocketchat.AttachmentAction
		for _, a := range guide.ParsedAttachments() {
			for _, act := range a.Actions {
				if act.Text == "Send me a sign-in link" {
					signIn = act
				}
			}
		}
		require.Equal(t, rocketchat.AttachmentAction{Type: "button", Text: "Send me a sign-in link", Msg: "instagram console", MsgInChatWindow: true}, signIn)
		// A restart does not post it again.
		before := len(s.botMessages())
		s.stopProcess("worker", 15)
		require.NoError(t, s.startProcess("worker"))
		require.Contains(t, s.command(t, "instagram list").Text, "casaazul.store", "the worker is back")
		for _, m := range s.botMessages()[before:] {
			require.NotContains(t, m.Msg, "is running", "posted once per installation")
		}
	})

	t.Run("/instagram with the trigger words the README configures", func(t *testing.T) {
		s.rc.SetOutgoingIntegration(rocketchat.OutgoingIntegration{TriggerWords: []string{"instagram", "/instagram"}})
		t.Cleanup(func() { s.rc.SetOutgoingIntegration(rocketchat.OutgoingIntegration{}) })
		rep := s.command(t, "/instagram edit casaazul.store")
		require.True(t, rep.Posted)
		for _, want := range []string{"*Page config* of Instagram `casaazul.store` (page `" + pageID + "`)",
			"*Department* (`department`): `Instagram`", "*Welcome Message* (`welcome`): —", "*Conversation Finished Message*",
			"*Default message for offline service*", s.ingressURL + "/console/pages/" + pageID} {
			require.Contains(t, rep.Text, want)
		}
		require.Contains(t, s.command(t, "instagram edit "+pageID).Text, "*Page config*", "by page ID too")
		require.Contains(t, s.command(t, "/instagram help").Text, "instagram console")
	})

	t.Run("the original app's labels are keys", func(t *testing.T) {
		rep := s.command(t, `instagram edit `+pageID+` "Welcome Message"="Olá! 👋" "Conversation Finished Message"="Até logo" "Default message for offline service"="Voltamos às 9h" Department=website`)
		require.Contains(t, rep.Text, "Saved.", rep.Text)
		p := readPage(t, s, pageID)
		require.Equal(t, "Olá! 👋", p.Welcome)
		require.Equal(t, "Até logo", p.Finished)
		require.Equal(t, "Voltamos às 9h", p.Offline)
		require.Equal(t, "Website", p.Department)
		require.Contains(t, s.command(t, "instagram edit casaazul.store").Text, "*Welcome Message* (`welcome`, 10 of 1000 bytes):\n```\nOlá! 👋\n```")

		rep = s.command(t, `instagram settings "Agents Display Name"=Username "Instagram Handover Protocol Action"="Take Thread Control" "Maximum File Size"=10MB`)
		require.Contains(t, rep.Text, "Saved.")
		require.Equal(t, "username", setting(t, s, "agent_display_name"))
		require.Equal(t, "take", setting(t, s, "handover_action"))
		require.Equal(t, "10485760", setting(t, s, "max_upload_bytes"))
	})

	t.Run("a department Rocket.Chat does not have is refused the same way everywhere", func(t *testing.T) {
		before := readPage(t, s, pageID)
		const want = "Rocket.Chat has no department `Vendas`. Nothing was changed. Departments: `Instagram`, `Website`."
		require.Contains(t, s.command(t, `instagram edit casaazul.store department=Vendas welcome="changed"`).Text, want)
		var e struct {
			Error string `json:"error"`
		}
		require.Equal(t, http.StatusBadRequest, s.adminCall(t, http.MethodPatch, "/pages/"+pageID, `{"department":"Vendas","welcome_message":"changed"}`, &e))
		require.Equal(t, want, e.Error)
		require.Equal(t, http.StatusBadRequest, s.adminCall(t, http.MethodPut, "/pages/"+pageID,
			`{"ig_account_id":"`+account+`","ig_username":"casaazul.store","access_token":"`+pageToken+`","department":"Vendas"}`, &e))
		require.Equal(t, want, e.Error)
		require.Equal(t, before, readPage(t, s, pageID), "nothing changed")
		// Clearing needs no check.
		require.Equal(t, http.StatusOK, s.adminCall(t, http.MethodPatch, "/pages/"+pageID, `{"department":""}`, nil))
		require.Equal(t, http.StatusOK, s.adminCall(t, http.MethodPatch, "/pages/"+pageID, `{"department":"dept-ig"}`, nil))
		require.Equal(t, "dept-ig", readPage(t, s, pageID).Department, "an ID is stored as the ID")
		require.Equal(t, http.StatusOK, s.adminCall(t, http.MethodPatch, "/pages/"+pageID, `{"department":"Instagram"}`, nil))
	})

	t.Run("instagram console sends a one-time sign-in link by direct message", func(t *testing.T) {
		s.rc.AddUser(rocketchat.User{Username: "maria.admin", Name: "Maria", Roles: []string{"user", "admin"}})
		rep := s.command(t, "instagram console")
		require.Contains(t, rep.Text, "by direct message (@maria.admin)", rep.Text)
		require.NotContains(t, rep.Text, "/console/login?t=", "the link is not in the channel")
		var dm rocketchat.Message
		eventually(t, 10*time.Second, "the direct message", func() bool {
			msgs := s.rc.ChannelMessages("@maria.admin")
			if len(msgs) > 0 {
				dm = msgs[len(msgs)-1]
			}
			return len(msgs) > 0
		})
		require.NotContains(t, dm.Msg, "http", "the link is only in the button (Rocket.Chat previews links in texts)")
		link, ok := dm.ButtonURL("Open console")
		require.True(t, ok)
		require.True(t, strings.HasPrefix(link, s.ingressURL+"/console/login?t="), link)

		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		for range 2 { // a link preview, then the person: neither uses it up
			resp, err := c.Get(link)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Contains(t, string(body), "Sign in as maria.admin")
		}
		token := strings.TrimPrefix(link, s.ingressURL+"/console/login?t=")
		token, _ = url.QueryUnescape(token)
		post := func() *http.Response {
			req, _ := http.NewRequest(http.MethodPost, s.ingressURL+"/console/login", strings.NewReader(url.Values{"t": {token}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", s.ingressURL)
			resp, err := c.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			return resp
		}
		resp := post()
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		require.Equal(t, http.StatusConflict, post().StatusCode, "once")
		page, err := c.Get(s.ingressURL + "/console/accounts")
		require.NoError(t, err)
		body, _ := io.ReadAll(page.Body)
		page.Body.Close()
		require.Equal(t, http.StatusOK, page.StatusCode)
		require.Contains(t, string(body), "Signed in as <b>maria.admin</b>")
		require.Zero(t, count(t, s, `SELECT count(*) FROM console_logins WHERE encode(token_hash, 'escape') LIKE '%`+token[:8]+`%'`), "only the hash is stored")
	})

	t.Run("instagram setup posts the guide with what is still missing", func(t *testing.T) {
		before := len(s.botMessages())
		rep := s.command(t, "instagram setup")
		require.Contains(t, rep.Text, "Setup instructions posted above.")
		msg := s.waitBotMessage(t, before, "*Instagram Direct setup* (requested by maria.admin)")
		require.Contains(t, msg.Msg, "✅ *Rocket.Chat — Commands (outgoing integration)*: a command reached us")
		require.Contains(t, msg.Msg, "*Instagram — Instagram accounts*: 1 connected: casaazul.store")
		require.Contains(t, msg.Msg, "⬜ *Bridge — A public HTTPS address*")
		_, ok := msg.ButtonURL("Start Authentication")
		require.True(t, ok)
	})

	t.Run("instagram doctor", func(t *testing.T) {
		rep := s.command(t, "instagram doctor")
		for _, want := range []string{"*Instagram doctor*", "*casaazul.store (page " + pageID + ")*", "Token valid (PAGE, never expires)",
			"Linked to Instagram account " + account, "No customer message from this account has reached us.", "Development mode",
			"Allow access to messages", "Meta has never delivered a webhook", s.ingressURL + "/console/doctor"} {
			require.Contains(t, rep.Text, want)
		}

		require.Contains(t, s.command(t, "instagram subscribe "+pageID).Text, "is subscribed")
		igsid := uniqueIGSID()
		s.meta.AddUser(account, meta.User{IGSID: igsid, Name: "Doctor Who"})
		s.meta.UserSendsText(account, igsid, "hello?")
		waitRoom(t, s, igsid, 1)
		ok := false
		for deadline := time.Now().Add(20 * time.Second); !ok && time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
			rep = s.command(t, "instagram doctor")
			ok = strings.Contains(rep.Text, "Last events from Meta:") && strings.Contains(rep.Text, "message just now") && strings.Contains(rep.Text, "Omnichannel webhook reaches us")
		}
		require.True(t, ok, "the doctor sees the message and the Omnichannel webhook:\n%s", rep.Text)
		require.Contains(t, rep.Text, "Webhooks subscribed: messages, messaging_postbacks")
		require.NotContains(t, rep.Text, "No customer message from this account")

		s.meta.DropSubscription(pageID)
		require.Contains(t, s.command(t, "instagram doctor").Text, "Meta lists no webhook subscription for our app on this page although it was subscribed")
	})
}

// TestSettingsApplyToFilesBothWays: File Upload Enabled and Accepted Media Types act on
// customers' and agents' files alike, and a reply that is only buttons is sent with any
// Agents Display Name (issue 14.4).
func TestSettingsApplyToFilesBothWays(t *testing.T) {
	s := requireStack(t)
	restore := func(t *testing.T, k, v string) { t.Cleanup(func() { _ = s.setSetting(k, v) }) }
	customerUploads := func(rid string) int {
		n := 0
		for _, m := range uploads(s, rid) {
			if m.AgentID == "" {
				n++
			}
		}
		return n
	}
	open := func(t *testing.T, name string) (string, string) {
		igsid := uniqueIGSID()
		s.meta.AddUser(account, meta.User{IGSID: igsid, Name: name})
		s.meta.UserSendsText(account, igsid, "hi")
		room := waitRoom(t, s, igsid, 1)
		waitVisitorMessages(t, s, room.ID, 1)
		return igsid, room.ID
	}
	sendImage := func(igsid string) {
		image, _ := s.meta.NewMediaAttachment(meta.Media{Type: "image", ContentType: "image/png", Data: pngBytes})
		ev := s.meta.NewEvent(account, igsid, time.Now(), "message", map[string]any{"mid": s.meta.NewMID(account, igsid), "attachments": []any{image}})
		require.Equal(t, http.StatusOK, deliver(t, s, entry(ev)))
	}

	t.Run("File Upload Enabled off stops files both ways", func(t *testing.T) {
		restore(t, "file_upload_enabled", "true")
		require.Equal(t, http.StatusOK, s.adminCall(t, http.MethodPut, "/settings", `{"File Upload Enabled":"false"}`, nil))
		igsid, rid := open(t, "NoFiles")
		sendImage(igsid)
		eventually(t, 15*time.Second, "a note instead of the customer's image", func() bool {
			return containsText(roomTexts(s, rid), "not shown here: file sharing is turned off")
		})
		_, err := s.rc.AgentSendFile(rid, agentName, rocketchat.File{Name: "menu.pdf", Type: "application/pdf", Data: pdfBytes}, "")
		require.NoError(t, err)
		eventually(t, 15*time.Second, "a note instead of the agent's file", func() bool {
			return containsText(roomTexts(s, rid), "Not delivered to Instagram: file menu.pdf — file sharing is turned off")
		})
		require.Zero(t, customerUploads(rid), "the customer's image is not in the room")
		require.Empty(t, s.meta.Sent(account, igsid), "the agent's file did not go")
	})

	t.Run("Accepted Media Types refuse a type both ways", func(t *testing.T) {
		restore(t, "accepted_media_types", "image/*,video/*,audio/*,application/pdf")
		require.Equal(t, http.StatusOK, s.adminCall(t, http.MethodPut, "/settings", `{"accepted_media_types":"application/pdf"}`, nil))
		igsid, rid := open(t, "PDFOnly")
		sendImage(igsid)
		eventually(t, 15*time.Second, "a note instead of the customer's image", func() bool {
			return containsText(roomTexts(s, rid), "image/png is not an accepted media type")
		})
		_, err := s.rc.AgentSendFile(rid, agentName, rocketchat.File{Name: "photo.png", Type: "image/png", Data: pngBytes}, "")
		require.NoError(t, err)
		eventually(t, 15*time.Second, "a note instead of the agent's image", func() bool {
			return containsText(roomTexts(s, rid), "Not delivered to Instagram: file photo.png — image/png is not an accepted media type")
		})
		_, err = s.rc.AgentSendFile(rid, agentName, rocketchat.File{Name: "menu.pdf", Type: "application/pdf", Data: pdfBytes}, "")
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		sent, err := s.meta.WaitForSent(ctx, account, igsid, 1)
		require.NoError(t, err)
		require.Equal(t, pdfBytes, sent[0].Media, "an accepted type still goes")
		require.Zero(t, customerUploads(rid))
	})

	t.Run("a reply of buttons only is sent with Agents Display Name none", func(t *testing.T) {
		restore(t, "agent_display_name", "name")
		require.Equal(t, http.StatusOK, s.adminCall(t, http.MethodPut, "/settings", `{"agents_display_name":"none"}`, nil))
		igsid, rid := open(t, "Buttons")
		_, err := s.rc.AgentSend(rid, agentName, "[[Yes]] [[No|NO]]")
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		sent, err := s.meta.WaitForSent(ctx, account, igsid, 1)
		require.NoError(t, err)
		require.Equal(t, "👇", sent[0].Text)
		require.JSONEq(t, `[{"content_type":"text","title":"Yes","payload":"Yes"},{"content_type":"text","title":"No","payload":"NO"}]`, string(sent[0].QuickReplies))
	})
}

// TestUninstallStopsConversationsCleanly: after an uninstall an agent's reply gets a note
// at once — also when Meta had refused the token before, so the account was waiting for a
// re-authorization — and the account is listed as removed (issue 14.5).
func TestUninstallStopsConversationsCleanly(t *testing.T) {
	s := ownStack(t, "uninstall")
	require.Contains(t, s.command(t, "instagram subscribe "+pageID).Text, "is subscribed")
	igsid := uniqueIGSID()
	s.meta.AddUser(account, meta.User{IGSID: igsid, Name: "Left Behind"})
	s.meta.UserSendsText(account, igsid, "are you there?")
	room := waitRoom(t, s, igsid, 1)
	waitVisitorMessages(t, s, room.ID, 1)
	_, err := s.db(t).Exec(`UPDATE pages SET needs_reauth = true, health_problem = 'Meta no longer accepts the page token' WHERE page_id = $1`, pageID)
	require.NoError(t, err)

	require.Contains(t, s.command(t, "instagram unauthorize").Text, "Instagram uninstalled")
	list := s.command(t, "instagram list").Text
	require.Contains(t, list, "🔌 removed by the uninstall of")
	require.NotContains(t, list, "needs re-authorization")
	require.NotContains(t, list, "not subscribed")
	var acc struct {
		Accounts []struct {
			HasToken    bool       `json:"has_token"`
			NeedsReauth bool       `json:"needs_reauth"`
			RemovedAt   *time.Time `json:"removed_at"`
			Health      string     `json:"health_problem"`
		} `json:"accounts"`
	}
	require.Equal(t, http.StatusOK, s.adminCall(t, http.MethodGet, "/accounts", "", &acc))
	require.Len(t, acc.Accounts, 1)
	a := acc.Accounts[0]
	require.False(t, a.HasToken)
	require.False(t, a.NeedsReauth)
	require.NotNil(t, a.RemovedAt)
	require.Empty(t, a.Health)
	require.Contains(t, s.command(t, "instagram doctor").Text, "Removed by an uninstall")

	_, err = s.rc.AgentSend(room.ID, agentName, "yes, how can I help?")
	require.NoError(t, err)
	eventually(t, 20*time.Second, "the note that the account is no longer connected", func() bool {
		return containsText(roomTexts(s, room.ID), "this Instagram account is no longer connected")
	})
	time.Sleep(2 * time.Second)
	require.Empty(t, s.meta.Sent(account, igsid), "nothing reached Instagram, nothing waits to")
	d, err := s.tc.DescribeWorkflowExecution(context.Background(), "instagram:"+account+":"+igsid, "")
	require.NoError(t, err)
	sa := d.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()["ConversationState"]
	require.NotContains(t, string(sa.GetData()), "blocked", "the reply does not leave the conversation blocked")
}

// consoleCSRF reads the CSRF token of a console page.
func consoleCSRF(t *testing.T, body string) string {
	t.Helper()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)
	require.NotNil(t, m, "a CSRF token in the page")
	return m[1]
}
