package doctor

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/igdirect/bridge/instagram"
	"github.com/igdirect/bridge/store"
	"github.com/igdirect/bridge/workflows"
)

var now = time.Date(2026, 5, 2, 12, 0, 0, 0, time.UTC)

func healthy(pageID, account string) workflows.PageDiagnosis {
	return workflows.PageDiagnosis{PageID: pageID, SubscriptionChecked: true, Subscribed: true, Fields: instagram.DefaultSubscribedFields,
		TokenChecked: true, TokenValid: true, TokenType: "PAGE", Scopes: RequiredScopes, LinkChecked: true, LinkedAccount: account}
}

func texts(fs []Finding) string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Level+": "+f.Text)
	}
	return strings.Join(out, "\n")
}

func TestHealthyAccountThatReceivesMessages(t *testing.T) {
	r := Build(Input{Now: now,
		Pages:     []store.Page{{PageID: "1020", IGAccountID: "1784", IGUsername: "casa", HasToken: true, Subscribed: true, Department: "Instagram"}},
		Diagnoses: []workflows.PageDiagnosis{healthy("1020", "1784")},
		Activity: []store.Activity{
			{Source: store.SourceInstagram, Account: "1784", Kind: "message", LastAt: now.Add(-3 * time.Minute), Count: 12},
			{Source: store.SourceInstagram, Account: "1784", Kind: "read", LastAt: now.Add(-time.Minute), Count: 3},
			{Source: store.SourceRocketChat, Kind: "Message", LastAt: now.Add(-2 * time.Minute), Count: 4},
		}})
	g := texts(r.Global)
	require.Contains(t, g, "ok: Meta's webhooks reach us: the last one 1 minute ago")
	require.Contains(t, g, "ok: Rocket.Chat's Omnichannel webhook reaches us: the last call 2 minutes ago")
	require.Len(t, r.Accounts, 1)
	a := r.Accounts[0]
	for _, f := range a.Findings {
		require.Equal(t, OK, f.Level, f.Text)
	}
	require.Empty(t, a.Causes, "messages arrive: no causes to list")
	require.Equal(t, "read", a.Events[0].Kind, "newest first")
	md := Markdown(r, now, "https://bridge.example.com/console/doctor")
	require.Contains(t, md, "*casa (page 1020)*")
	require.Contains(t, md, "message 3 minutes ago")
	require.Contains(t, md, "The same in the console: https://bridge.example.com/console/doctor")
}

func TestAccountThatReceivesNothingGetsTheUsualCauses(t *testing.T) {
	d := healthy("1020", "1784")
	d.Subscribed, d.Fields = false, nil
	d.LinkedAccount = ""
	d.Scopes = []string{"instagram_basic", "pages_messaging"}
	r := Build(Input{Now: now,
		Pages:     []store.Page{{PageID: "1020", IGAccountID: "1784", IGUsername: "casa", HasToken: true, Subscribed: true}},
		Diagnoses: []workflows.PageDiagnosis{d},
		Activity: []store.Activity{
			{Source: store.SourceInstagram, Kind: store.RefusedPrefix + "signature", LastAt: now.Add(-time.Minute), Count: 9},
		},
		Blocked: []Conversation{{WorkflowID: "instagram:1784:42", Account: "1784", State: workflows.StateBlocked, Reason: "the department \"Sales\" does not exist"}},
	})
	g := texts(r.Global)
	require.Contains(t, g, "bad: Meta has never delivered a webhook")
	require.Contains(t, g, "META_APP_SECRET is not this app's secret")
	require.Contains(t, g, "bad: Rocket.Chat's Omnichannel webhook has never reached us")
	a := texts(r.Accounts[0].Findings)
	require.Contains(t, a, "bad: Meta lists no webhook subscription for our app on this page although it was subscribed")
	require.Contains(t, a, "without instagram_manage_messages, pages_manage_metadata")
	require.Contains(t, a, "bad: The page is no longer linked to an Instagram professional account")
	require.Contains(t, a, "1 conversation(s) blocked")
	require.Contains(t, a, "No department")
	causes := strings.Join(r.Accounts[0].Causes, "\n")
	for _, want := range []string{"never called the webhook", "subscription is missing", "unlinked", "Development mode", "Allow access to messages"} {
		require.Contains(t, causes, want)
	}
	md := Markdown(r, now, "")
	require.Contains(t, md, "No customer message from this account has reached us.")
	require.Contains(t, md, "`instagram:1784:42`: the department")
}

func TestRemovedAndUncheckedAccounts(t *testing.T) {
	removed := now.Add(-2 * time.Hour)
	d := workflows.PageDiagnosis{PageID: "2", Error: "no answer in time"}
	r := Build(Input{Now: now, Pages: []store.Page{
		{PageID: "1", IGAccountID: "11", IGUsername: "gone", RemovedAt: &removed},
		{PageID: "2", IGAccountID: "22", HasToken: true, NeedsReauth: true},
		{PageID: "3", IGAccountID: "33", HasToken: true},
	}, Diagnoses: []workflows.PageDiagnosis{d}, DiagnoseError: ""})
	require.True(t, r.Accounts[0].Removed)
	require.Contains(t, texts(r.Accounts[0].Findings), "Removed by an uninstall 2 hours ago")
	require.Empty(t, r.Accounts[0].Causes, "a removed account is not expected to receive anything")
	require.Contains(t, texts(r.Accounts[1].Findings), "Meta could not be asked: no answer in time")
	require.Contains(t, texts(r.Accounts[1].Findings), "needing re-authorization")
	require.Contains(t, texts(r.Accounts[2].Findings), "Meta was not asked about this page")
}

func TestMarkdownFitsInARocketChatMessage(t *testing.T) {
	var pages []store.Page
	for i := 0; i < 80; i++ {
		pages = append(pages, store.Page{PageID: strings.Repeat("9", 15), IGAccountID: "1", HasToken: true})
	}
	md := Markdown(Build(Input{Now: now, Pages: pages}), now, "https://x/console/doctor")
	require.LessOrEqual(t, len(md), 5000)
	require.True(t, strings.HasSuffix(md, "https://x/console/doctor"))
}

// TestSaysWhoMayChangeThings (issue 20, item 1): the doctor says who may change things.
func TestSaysWhoMayChangeThings(t *testing.T) {
	g := texts(Build(Input{Now: now}).Global)
	require.Contains(t, g, "info: Who may change things (commands that change something, `instagram console`): Rocket.Chat users with the `admin` or `livechat-manager` role")
	require.Contains(t, g, "everyone in the setup channel may read")
	g = texts(Build(Input{Now: now, CommandUsers: 3}).Global)
	require.Contains(t, g, "and of those only the 3 user ids in `ROCKETCHAT_COMMAND_USERS`")
}
