package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/igdirect/bridge/instagram"
	"github.com/igdirect/bridge/workflows"
)

type pageRow struct {
	Department  string `db:"department"`
	Welcome     string `db:"welcome_message"`
	Finished    string `db:"finished_message"`
	Offline     string `db:"offline_message"`
	HasToken    bool   `db:"has_token"`
	Subscribed  bool   `db:"subscribed"`
	NeedsReauth bool   `db:"needs_reauth"`
	Health      string `db:"health_problem"`
}

func readPage(t *testing.T, s *stack, id string) pageRow {
	t.Helper()
	var p pageRow
	require.NoError(t, s.db(t).Get(&p, `SELECT department, welcome_message, finished_message, offline_message,
		access_token IS NOT NULL AS has_token, subscribed, needs_reauth, health_problem FROM pages WHERE page_id = $1`, id))
	return p
}

func setting(t *testing.T, s *stack, key string) string {
	t.Helper()
	var v []string
	require.NoError(t, s.db(t).Select(&v, `SELECT value FROM app_settings WHERE key = $1`, key))
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// TestCommandsFromRocketChat types every command into the setup channel, where the
// outgoing integration sends it to /rocketchat/command, and checks the answer Rocket.Chat
// posts and the effect in the database and at Meta.
func TestCommandsFromRocketChat(t *testing.T) {
	s := ownStack(t, "commands")

	t.Run("the integration token is checked", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		rep, err := s.rc.SendCommand(ctx, s.ingressURL+"/rocketchat/command", "wrong-token", setupChannel, "mallory", "instagram unauthorize")
		require.NoError(t, err)
		require.Equal(t, http.StatusForbidden, rep.Status)
		require.False(t, rep.Posted)
		require.True(t, readPage(t, s, pageID).HasToken, "nothing happened")
	})

	t.Run("the right token from another channel changes nothing", func(t *testing.T) {
		// An integration scoped wider than the setup channel (e.g. all public channels).
		s.rc.AddChannel("random")
		before := len(s.botMessages())
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		rep, err := s.rc.SendCommand(ctx, s.ingressURL+"/rocketchat/command", s.commandToken, "random", "maria.admin", "instagram unauthorize")
		require.NoError(t, err)
		require.Equal(t, http.StatusForbidden, rep.Status)
		require.False(t, rep.Posted, "nothing posted in the other channel")
		require.True(t, readPage(t, s, pageID).HasToken, "nothing happened")
		require.Len(t, s.botMessages(), before)
	})

	t.Run("the right token from an Omnichannel room changes nothing", func(t *testing.T) {
		// What Rocket.Chat sends when an integration on all private groups sees a customer
		// type a command in a Livechat room: the room has no name, the user is the visitor.
		body := `{"token":"` + s.commandToken + `","bot":false,"channel_id":"hG7xQp2Ws9KeLm3Zr","message_id":"m1","user_id":"kZ3ttd2hrbxzR7YcT","user_name":"guest-42","text":"instagram unauthorize","siteUrl":"` + s.rcHTTP.URL + `"}`
		resp, err := http.Post(s.ingressURL+"/rocketchat/command", "application/json", strings.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		require.True(t, readPage(t, s, pageID).HasToken, "nothing happened")
		require.NotNil(t, s.meta.SubscribedFields(pageID))
	})

	t.Run("bots and other messages are ignored", func(t *testing.T) {
		for _, body := range []string{
			`{"token":"` + s.commandToken + `","bot":{"i":"integration-1"},"user_name":"bot","text":"instagram unauthorize"}`,
			`{"token":"` + s.commandToken + `","bot":false,"user_name":"maria","text":"good morning"}`,
		} {
			status, answer := post(t, s.ingressURL+"/rocketchat/command", "application/json", []byte(body), nil)
			require.Equal(t, http.StatusOK, status)
			require.Equal(t, "{}", strings.TrimSpace(answer), "an empty answer: Rocket.Chat posts nothing")
		}
		require.True(t, readPage(t, s, pageID).HasToken)
	})

	texts := []struct {
		command string
		want    []string
	}{
		{"instagram help", []string{"instagram authorize", "instagram unauthorize", "instagram list", "instagram subscribe <pageId|username>",
			"instagram unsubscribe", "instagram edit", "instagram settings", "instagram help"}},
		{"/instagram", []string{"Instagram Direct commands"}},
		{"instagram frobnicate", []string{"Unknown command `frobnicate`", "instagram help"}},
		{"instagram subscibe " + pageID, []string{"Did you mean `instagram subscribe`?"}},
		{"instagram subscribe", []string{"exactly one page", "Usage: `instagram subscribe <pageId|username>`"}},
		{"instagram subscribe 999999999", []string{"No connected page matches `999999999`"}},
		{"instagram list", []string{"casaazul.store", pageID, account, "token ok", "department: `Instagram`"}},
	}
	for _, tt := range texts {
		t.Run(tt.command, func(t *testing.T) {
			rep := s.command(t, tt.command)
			require.Equal(t, http.StatusOK, rep.Status)
			require.True(t, rep.Posted, "the answer is posted in the channel")
			for _, w := range tt.want {
				require.Contains(t, rep.Text, w)
			}
		})
	}

	t.Run("edit changes the page; bad input changes nothing", func(t *testing.T) {
		rep := s.command(t, `instagram edit casaazul.store department=website welcome="Olá! Como podemos ajudar?" offline="Voltamos já."`)
		require.Contains(t, rep.Text, "Saved.")
		p := readPage(t, s, pageID)
		require.Equal(t, "Website", p.Department, "the department as Rocket.Chat spells it")
		require.Equal(t, "Olá! Como podemos ajudar?", p.Welcome)
		require.Equal(t, "Voltamos já.", p.Offline)

		for cmd, want := range map[string]string{
			`instagram edit casaazul.store colour=blue`:                        "Unknown field `colour`",
			`instagram edit casaazul.store department=Other welcome="unclosed`: "closing quote",
			`instagram edit nosuchpage department=Other`:                       "No connected page matches `nosuchpage`",
			`instagram edit casaazul.store department=Sales`:                   "Rocket.Chat has no department `Sales`",
		} {
			require.Contains(t, s.command(t, cmd).Text, want, cmd)
		}
		require.Equal(t, p, readPage(t, s, pageID), "bad commands changed nothing")

		s.command(t, `instagram edit `+pageID+` department=Instagram welcome=""`)
		p = readPage(t, s, pageID)
		require.Equal(t, "Instagram", p.Department)
		require.Empty(t, p.Welcome, "an empty value clears")
	})

	t.Run("settings shows, validates and stores", func(t *testing.T) {
		rep := s.command(t, "instagram settings")
		require.Contains(t, rep.Text, "`unsend_action` = `mark`")
		rep = s.command(t, "instagram settings unsend_action=delete human_agent_tag=false")
		require.Contains(t, rep.Text, "Saved.")
		require.Equal(t, "delete", setting(t, s, "unsend_action"))
		require.Equal(t, "false", setting(t, s, "human_agent_tag"))

		rep = s.command(t, "instagram settings unsend_action=keep max_upload_bytes=lots")
		require.Contains(t, rep.Text, "Nothing was changed")
		require.Contains(t, rep.Text, "max_upload_bytes must be a number of bytes from 1 to")
		require.Equal(t, "delete", setting(t, s, "unsend_action"), "all or nothing")
	})

	t.Run("unsubscribe and subscribe change the subscription at Meta", func(t *testing.T) {
		rep := s.command(t, "instagram unsubscribe casaazul.store")
		require.Contains(t, rep.Text, "unsubscribed")
		require.Nil(t, s.meta.SubscribedFields(pageID))
		require.False(t, readPage(t, s, pageID).Subscribed)

		rep = s.command(t, "instagram subscribe "+pageID)
		require.Contains(t, rep.Text, "is subscribed")
		require.Equal(t, instagram.DefaultSubscribedFields, s.meta.SubscribedFields(pageID))
		require.True(t, readPage(t, s, pageID).Subscribed)
	})

	// Issue 20, item 2: the link is bound to the first browser that opens it, so it goes
	// only to the admin who typed the command; the channel learns it was sent.
	t.Run("authorize sends the button by direct message", func(t *testing.T) {
		before := len(s.botMessages())
		dms := len(s.rc.ChannelMessages("@maria.admin"))
		rep := s.command(t, "instagram authorize")
		require.Contains(t, rep.Text, "Start Authentication")
		require.Contains(t, rep.Text, "by direct message")
		s.waitBotMessage(t, before, "button was sent to maria.admin by direct message")
		var link string
		eventually(t, 30*time.Second, "the button in maria.admin's direct messages", func() bool {
			msgs := s.rc.ChannelMessages("@maria.admin")
			for _, m := range msgs[min(dms, len(msgs)):] {
				if u, ok := m.ButtonURL("Start Authentication"); ok && strings.Contains(m.Msg, "requested by maria.admin") {
					link = u
					return true
				}
			}
			return false
		})
		require.True(t, strings.HasPrefix(link, s.ingressURL+"/oauth/start?state="), link)
		requireLinkNotInChannel(t, s, link)
	})

	t.Run("unauthorize uninstalls: subscriptions, permissions, tokens", func(t *testing.T) {
		before := len(s.botMessages())
		rep := s.command(t, "instagram unauthorize")
		require.Contains(t, rep.Text, "Instagram uninstalled")
		require.Contains(t, rep.Text, "webhooks unsubscribed")
		require.Nil(t, s.meta.SubscribedFields(pageID))
		p := readPage(t, s, pageID)
		require.False(t, p.HasToken)
		require.False(t, p.Subscribed)
		require.Equal(t, "Instagram", p.Department, "configuration kept for a later authorization")
		require.Zero(t, count(t, s, `SELECT count(*) FROM oauth_states`), "the pending authorization is gone too")
		s.waitBotMessage(t, before, "Instagram uninstalled (requested by maria.admin)")
		require.Contains(t, s.command(t, "instagram list").Text, "removed by the uninstall of", "listed as removed, not as broken")
		require.Contains(t, s.command(t, "instagram subscribe "+pageID).Text, "has no token")
	})
}

// TestAuthorizationAdminAPI exercises the admin API endpoints of the same operations.
func TestAuthorizationAdminAPI(t *testing.T) {
	s := ownStack(t, "adminapi")

	t.Run("requires the bearer token", func(t *testing.T) {
		for _, ep := range []struct{ method, path string }{{http.MethodPost, "/authorize"}, {http.MethodDelete, "/authorization"},
			{http.MethodGet, "/settings"}, {http.MethodPost, "/pages/" + pageID + "/subscribe"}} {
			req, _ := http.NewRequest(ep.method, s.adminURL+"/admin/api"+ep.path, nil)
			req.Header.Set("Authorization", "Bearer wrong")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode, ep.path)
		}
		require.True(t, readPage(t, s, pageID).HasToken)
	})

	t.Run("authorize returns the link and the workflow", func(t *testing.T) {
		link, wf := authorizeLink(t, s)
		require.True(t, strings.HasPrefix(wf, "instagram-authorization:"))
		d, err := s.tc.DescribeWorkflowExecution(context.Background(), wf, "")
		require.NoError(t, err)
		require.Equal(t, workflows.AuthorizationWorkflowName, d.GetWorkflowExecutionInfo().GetType().GetName())
		require.NotEmpty(t, stateOf(t, link))
	})

	t.Run("accounts, unsubscribe and subscribe", func(t *testing.T) {
		var acc struct {
			Accounts []struct {
				PageID     string `json:"page_id"`
				IGUsername string `json:"ig_username"`
				HasToken   bool   `json:"has_token"`
			} `json:"accounts"`
		}
		require.Equal(t, http.StatusOK, s.adminCall(t, http.MethodGet, "/accounts", "", &acc))
		require.Len(t, acc.Accounts, 1)
		require.Equal(t, "casaazul.store", acc.Accounts[0].IGUsername)

		var page struct {
			Subscribed bool `json:"subscribed"`
		}
		require.Equal(t, http.StatusOK, s.adminCall(t, http.MethodDelete, "/pages/casaazul.store/subscription", "", &page))
		require.False(t, page.Subscribed)
		require.Nil(t, s.meta.SubscribedFields(pageID))
		require.Equal(t, http.StatusOK, s.adminCall(t, http.MethodPost, "/pages/"+pageID+"/subscribe", "", &page))
		require.True(t, page.Subscribed)
		require.Equal(t, instagram.DefaultSubscribedFields, s.meta.SubscribedFields(pageID))

		var e struct {
			Error string `json:"error"`
		}
		require.Equal(t, http.StatusNotFound, s.adminCall(t, http.MethodPost, "/pages/nosuchpage/subscribe", "", &e))
		require.Contains(t, e.Error, "No connected page")
	})

	t.Run("page fields are validated as the command validates them", func(t *testing.T) {
		before := readPage(t, s, pageID)
		var e map[string]string
		for _, tt := range []struct{ method, path, body, want string }{
			{http.MethodPatch, "/pages/" + pageID, `{"welcome_message":"` + strings.Repeat("a", 1001) + `"}`, "1000 bytes"},
			{http.MethodPatch, "/pages/" + pageID, `{"department":"Sales\nSupport"}`, "one line"},
			{http.MethodPatch, "/pages/" + pageID, `{"department":"` + strings.Repeat("d", 201) + `"}`, "200 characters"},
			{http.MethodPatch, "/pages/" + pageID, `{"offline_message":"ok","finished_message":"` + strings.Repeat("é", 501) + `"}`, "1000 bytes"},
			{http.MethodPut, "/pages/" + pageID, `{"ig_account_id":"` + account + `","ig_username":"casa azul/../x","access_token":"EAAGx"}`, "ig_username"},
			{http.MethodPut, "/pages/" + pageID, `{"ig_account_id":"` + account + `","access_token":"EAAG with spaces"}`, "access_token"},
			{http.MethodPut, "/pages/" + pageID, `{"ig_account_id":"` + account + `","access_token":"EAAGx","welcome_message":"` + strings.Repeat("w", 1001) + `"}`, "1000 bytes"},
		} {
			require.Equal(t, http.StatusBadRequest, s.adminCall(t, tt.method, tt.path, tt.body, &e), tt.body)
			require.Contains(t, e["error"], tt.want)
		}
		require.Equal(t, before, readPage(t, s, pageID), "nothing changed")
	})

	t.Run("settings", func(t *testing.T) {
		var got struct {
			Settings map[string]string `json:"settings"`
			Docs     []struct {
				Key, Allowed string
			} `json:"docs"`
		}
		require.Equal(t, http.StatusOK, s.adminCall(t, http.MethodGet, "/settings", "", &got))
		require.Equal(t, "mark", got.Settings["unsend_action"])
		require.NotEmpty(t, got.Docs)

		require.Equal(t, http.StatusOK, s.adminCall(t, http.MethodPut, "/settings", `{"unsend_action":"Delete","file_upload_enabled":false,"max_upload_bytes":1048576}`, &got))
		require.Equal(t, "delete", got.Settings["unsend_action"])
		require.Equal(t, "false", setting(t, s, "file_upload_enabled"))
		require.Equal(t, "1048576", setting(t, s, "max_upload_bytes"))

		var e struct {
			Error string `json:"error"`
		}
		require.Equal(t, http.StatusBadRequest, s.adminCall(t, http.MethodPut, "/settings", `{"unsend_action":"keep","nonsense":"1"}`, &e))
		require.Contains(t, e.Error, `unknown setting "nonsense"`)
		require.Equal(t, "delete", setting(t, s, "unsend_action"), "all or nothing")
		require.Equal(t, http.StatusBadRequest, s.adminCall(t, http.MethodPut, "/settings", `["not an object"]`, &e))
	})

	t.Run("DELETE authorization uninstalls", func(t *testing.T) {
		var res workflows.UnauthorizeResult
		require.Equal(t, http.StatusOK, s.adminCall(t, http.MethodDelete, "/authorization", "", &res))
		require.Len(t, res.Pages, 1)
		require.True(t, res.Pages[0].Unsubscribed)
		require.Equal(t, 1, res.Deleted.PageTokens)
		require.False(t, readPage(t, s, pageID).HasToken)
		require.Nil(t, s.meta.SubscribedFields(pageID))
	})
}

// TestAuthorizationHealthCheck: the scheduled check re-subscribes a page Meta dropped
// silently, reports a dead token once, and stays quiet when nothing changed.
func TestAuthorizationHealthCheck(t *testing.T) {
	s := ownStack(t, "health")
	ctx := context.Background()
	require.Contains(t, s.command(t, "instagram subscribe "+pageID).Text, "is subscribed")

	run := func(t *testing.T) workflows.HealthCheckResult {
		t.Helper()
		r, err := s.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: "e2e-" + s.name}, workflows.HealthCheckWorkflowName)
		require.NoError(t, err)
		var res workflows.HealthCheckResult
		require.NoError(t, r.Get(ctx, &res))
		return res
	}

	t.Run("healthy: nothing to report", func(t *testing.T) {
		before := len(s.botMessages())
		res := run(t)
		require.Equal(t, 1, res.Checked)
		require.False(t, res.Reported)
		require.Len(t, s.botMessages(), before)
	})

	t.Run("the schedule re-subscribes a silently dropped page", func(t *testing.T) {
		s.meta.DropSubscription(pageID)
		require.Nil(t, s.meta.SubscribedFields(pageID))
		before := len(s.botMessages())
		h := s.tc.ScheduleClient().GetHandle(ctx, workflows.HealthCheckScheduleID)
		require.NoError(t, h.Trigger(ctx, client.ScheduleTriggerOptions{}))
		msg := s.waitBotMessage(t, before, "subscribed again")
		require.Contains(t, msg.Msg, "casaazul.store")
		require.Equal(t, instagram.DefaultSubscribedFields, s.meta.SubscribedFields(pageID))
	})

	t.Run("a dead token is reported once and marks the page", func(t *testing.T) {
		s.meta.InvalidateToken(pageToken, 460)
		before := len(s.botMessages())
		res := run(t)
		require.True(t, res.Reported)
		s.waitBotMessage(t, before, "no longer accepts the page token")
		p := readPage(t, s, pageID)
		require.True(t, p.NeedsReauth)
		require.Contains(t, p.Health, "authorize again")
		require.Contains(t, s.command(t, "instagram list").Text, "needs re-authorization")

		before = len(s.botMessages())
		require.False(t, run(t).Reported, "a known problem is not repeated")
		time.Sleep(200 * time.Millisecond)
		for _, m := range s.botMessages()[before:] {
			require.NotContains(t, m.Msg, "health check")
		}
	})
}
