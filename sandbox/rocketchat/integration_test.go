package rocketchat

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Compile-time check of the outgoing integration API.
var (
	_ func(*Server, context.Context, string, string, string, string, string) (CommandReply, error) = (*Server).SendCommand
	_ func(*Server, OutgoingIntegration)                                                           = (*Server).SetOutgoingIntegration
	_ func(*Server, string) bool                                                                   = (*Server).OutgoingIntegrationDisabled
	_ func(*Server, string)                                                                        = (*Server).EnableOutgoingIntegration
	_ func(Message) []Attachment                                                                   = Message.ParsedAttachments
	_ func(Message, string) (string, bool)                                                         = Message.ButtonURL
)

// cmdTarget is an outgoing-integration endpoint answering with a fixed
// status, content type and body, recording what it received.
type cmdTarget struct {
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []cmdReq
	status int
	ctype  string
	body   string
}

type cmdReq struct {
	header  http.Header
	payload map[string]any
}

func newCmdTarget(t *testing.T, status int, ctype, body string) *cmdTarget {
	c := &cmdTarget{status: status, ctype: ctype, body: body}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		var p map[string]any
		_ = json.Unmarshal(raw, &p)
		c.mu.Lock()
		c.reqs = append(c.reqs, cmdReq{header: r.Header.Clone(), payload: p})
		status, ctype, body := c.status, c.ctype, c.body
		c.mu.Unlock()
		if ctype != "" {
			w.Header().Set("Content-Type", ctype)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *cmdTarget) requests() []cmdReq {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]cmdReq(nil), c.reqs...)
}

func (c *cmdTarget) set(status int, ctype, body string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.status, c.ctype, c.body = status, ctype, body
}

func cmdCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

const authReply = `{"text":"Connect your Instagram account","attachments":[{"title":"Instagram","title_link":"https://bridge.example/oauth/start?s=abc","text":"Authorize the bridge","color":"#36a64f","actions":[{"type":"button","text":"Start Authentication","url":"https://bridge.example/oauth/start?s=abc","is_webview":true}]}]}`

func TestSendCommandResponses(t *testing.T) {
	cases := []struct {
		name      string
		status    int
		ctype     string
		body      string
		posted    bool
		inChannel string // channel the answer lands in
		text      string
	}{
		{name: "json reply posted", status: 200, ctype: "application/json", body: authReply, posted: true, inChannel: "ig-admin", text: "Connect your Instagram account"},
		{name: "201 posted", status: 201, ctype: "application/json; charset=utf-8", body: `{"text":"created"}`, posted: true, inChannel: "ig-admin", text: "created"},
		{name: "202 javascript type posted", status: 202, ctype: "text/javascript", body: `{"text":"later"}`, posted: true, inChannel: "ig-admin", text: "later"},
		{name: "attachments only posted", status: 200, ctype: "application/json", body: `{"attachments":[]}`, posted: true, inChannel: "ig-admin"},
		{name: "channel redirect", status: 200, ctype: "application/json", body: `{"text":"moved","channel":"#general"}`, posted: true, inChannel: "general", text: "moved"},
		{name: "redirect to unknown channel dropped", status: 200, ctype: "application/json", body: `{"text":"lost","channel":"#nope"}`, text: "lost"},
		{name: "text/plain ignored", status: 200, ctype: "text/plain", body: `{"text":"plain"}`},
		{name: "json without text or attachments ignored", status: 200, ctype: "application/json", body: `{"ok":true}`},
		{name: "empty body ignored", status: 200, ctype: "application/json", body: ""},
		{name: "invalid json ignored", status: 200, ctype: "application/json", body: `{"text":`},
		{name: "500 ignored", status: 500, ctype: "application/json", body: `{"text":"boom"}`},
		{name: "204 ignored", status: 204, ctype: "application/json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, nil)
			e.s.AddChannel("ig-admin")
			e.s.SetSiteURL("https://chat.example.com")
			target := newCmdTarget(t, c.status, c.ctype, c.body)

			rep, err := e.s.SendCommand(cmdCtx(t), target.srv.URL, "oUtGoInGtOkEn", "#ig-admin", "admin", "/instagram connect")
			require.NoError(t, err)
			require.Equal(t, c.status, rep.Status)
			require.Equal(t, c.posted, rep.Posted)
			require.Equal(t, c.text, rep.Text)

			// The command itself is a message of the channel.
			admin := e.s.ChannelMessages("ig-admin")
			require.NotEmpty(t, admin)
			require.Equal(t, "/instagram connect", admin[0].Msg)
			require.Equal(t, "admin", admin[0].Username)
			require.Equal(t, rep.CommandID, admin[0].ID)

			// Exactly one §12 payload was sent.
			reqs := target.requests()
			require.Len(t, reqs, 1)
			p := reqs[0].payload
			require.Equal(t, "oUtGoInGtOkEn", p["token"])
			require.Equal(t, false, p["bot"])
			require.NotContains(t, p, "trigger_word", "no trigger words configured")
			require.Equal(t, "ig-admin", p["channel_name"])
			require.NotEmpty(t, p["channel_id"])
			require.Equal(t, rep.CommandID, p["message_id"])
			require.Equal(t, "admin", p["user_name"])
			require.NotEmpty(t, p["user_id"])
			require.Equal(t, "/instagram connect", p["text"])
			require.Equal(t, "https://chat.example.com", p["siteUrl"])
			ts, err := time.Parse(time.RFC3339Nano, p["timestamp"].(string))
			require.NoError(t, err)
			require.WithinDuration(t, time.Now(), ts, time.Minute)
			require.Equal(t, "application/json", reqs[0].header.Get("Content-Type"))
			require.Contains(t, reqs[0].header.Get("User-Agent"), "Mozilla/5.0")
			require.Empty(t, reqs[0].header.Get("Authorization"), "no auth header: the token is in the body")

			general := e.s.ChannelMessages("general")
			if !c.posted {
				require.Len(t, admin, 1, "nothing posted")
				require.Empty(t, general)
				return
			}
			got := admin[len(admin)-1]
			if c.inChannel == "general" {
				require.Len(t, admin, 1)
				require.Len(t, general, 1)
				got = general[0]
			} else {
				require.Len(t, admin, 2)
			}
			require.Equal(t, rep.MessageID, got.ID)
			require.Equal(t, c.inChannel, rep.Channel)
			require.Equal(t, c.text, got.Msg)
			require.Equal(t, "bot", got.Username, "posted as the integration's user")
			if c.name == "json reply posted" {
				require.Len(t, rep.Attachments, 1)
				require.Equal(t, "Start Authentication", rep.Attachments[0].Actions[0].Text)
				u, ok := got.ButtonURL("Start Authentication")
				require.True(t, ok)
				require.Equal(t, "https://bridge.example/oauth/start?s=abc", u)
				att := got.ParsedAttachments()[0]
				require.Equal(t, "Instagram", att.Title)
				require.Equal(t, "https://bridge.example/oauth/start?s=abc", att.TitleLink)
				require.Equal(t, "#36a64f", att.Color)
			}
		})
	}
}

func TestSendCommand410DisablesIntegration(t *testing.T) {
	e := newEnv(t, nil)
	target := newCmdTarget(t, http.StatusGone, "application/json", `{"error":"gone"}`)

	rep, err := e.s.SendCommand(cmdCtx(t), target.srv.URL, "tok", "general", "admin", "hello")
	require.NoError(t, err)
	require.Equal(t, http.StatusGone, rep.Status)
	require.True(t, rep.Disabled)
	require.False(t, rep.Posted)
	require.True(t, e.s.OutgoingIntegrationDisabled(target.srv.URL))

	target.set(200, "application/json", `{"text":"back"}`)
	_, err = e.s.SendCommand(cmdCtx(t), target.srv.URL, "tok", "general", "admin", "again")
	require.ErrorIs(t, err, ErrIntegrationDisabled)
	require.Len(t, target.requests(), 1, "a disabled integration sends nothing")

	e.s.EnableOutgoingIntegration(target.srv.URL)
	rep, err = e.s.SendCommand(cmdCtx(t), target.srv.URL, "tok", "general", "admin", "third")
	require.NoError(t, err)
	require.True(t, rep.Posted)

	// 410 without a body does not disable (§12: "410 with body").
	other := newCmdTarget(t, http.StatusGone, "", "")
	rep, err = e.s.SendCommand(cmdCtx(t), other.srv.URL, "tok", "general", "admin", "x")
	require.NoError(t, err)
	require.False(t, rep.Disabled)
	require.False(t, e.s.OutgoingIntegrationDisabled(other.srv.URL))
}

func TestSendCommandTriggerWordsAndDefaults(t *testing.T) {
	e := newEnv(t, nil)
	e.s.AddAgent(Agent{ID: "agent-ana", Username: "ana", Name: "Ana Souza"})
	e.s.SetOutgoingIntegration(OutgoingIntegration{TriggerWords: []string{"!ig", "/instagram"}, PostAs: "ana", Alias: "IG Bridge", Emoji: ":camera:"})
	target := newCmdTarget(t, 200, "application/json", `{"text":"ok"}`)

	rep, err := e.s.SendCommand(cmdCtx(t), target.srv.URL, "tok", "general", "ana", "/instagram status")
	require.NoError(t, err)
	require.True(t, rep.Posted)
	p := target.requests()[0].payload
	require.Equal(t, "/instagram", p["trigger_word"])
	require.Equal(t, "agent-ana", p["user_id"], "known users keep their id")
	msgs := e.s.ChannelMessages("general")
	require.Equal(t, "ana", msgs[len(msgs)-1].Username)
	require.Equal(t, "IG Bridge", msgs[len(msgs)-1].Alias)
	require.Equal(t, ":camera:", msgs[len(msgs)-1].Emoji)

	// The answer's alias overrides the integration default.
	target.set(200, "application/json", `{"text":"ok","alias":"Other"}`)
	_, err = e.s.SendCommand(cmdCtx(t), target.srv.URL, "tok", "general", "ana", "!ig x")
	require.NoError(t, err)
	msgs = e.s.ChannelMessages("general")
	require.Equal(t, "Other", msgs[len(msgs)-1].Alias)

	// Not triggered: stored, nothing sent.
	before := len(target.requests())
	_, err = e.s.SendCommand(cmdCtx(t), target.srv.URL, "tok", "general", "ana", "hello /instagram")
	require.ErrorIs(t, err, ErrNotTriggered)
	require.Len(t, target.requests(), before)
	msgs = e.s.ChannelMessages("general")
	require.Equal(t, "hello /instagram", msgs[len(msgs)-1].Msg)

	// "Trigger Words Anywhere".
	e.s.SetOutgoingIntegration(OutgoingIntegration{TriggerWords: []string{"/instagram"}, TriggerWordsAnywhere: true})
	_, err = e.s.SendCommand(cmdCtx(t), target.srv.URL, "tok", "general", "ana", "hello /instagram")
	require.NoError(t, err)
	require.Len(t, target.requests(), before+1)

	// Unknown channel and transport failure.
	_, err = e.s.SendCommand(cmdCtx(t), target.srv.URL, "tok", "#nope", "ana", "/instagram")
	require.ErrorIs(t, err, ErrChannelNotFound)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	_, err = e.s.SendCommand(cmdCtx(t), dead.URL, "tok", "general", "ana", "/instagram")
	require.Error(t, err)
}

func TestSendCommandControlAPI(t *testing.T) {
	e := newEnv(t, nil)
	target := newCmdTarget(t, 200, "application/json", authReply)
	r := e.do("POST", "/sandbox/integration", map[string]any{"triggerWords": []string{"/instagram"}, "timeoutMs": 2000}, nil)
	require.Equal(t, 200, r.status, r.raw)
	r = e.do("POST", "/sandbox/commands", map[string]any{"url": target.srv.URL, "token": "tok", "channel": "general", "user": "admin", "text": "/instagram connect"}, nil)
	require.Equal(t, 200, r.status, r.raw)
	reply := r.body["reply"].(map[string]any)
	require.Equal(t, true, reply["posted"])
	require.Equal(t, "Start Authentication", reply["attachments"].([]any)[0].(map[string]any)["actions"].([]any)[0].(map[string]any)["text"])
	r = e.do("POST", "/sandbox/commands", map[string]any{"url": target.srv.URL, "token": "tok", "channel": "general", "user": "admin", "text": "hi"}, nil)
	require.Equal(t, http.StatusConflict, r.status, r.raw)
}

func TestPostMessageKeepsAttachments(t *testing.T) {
	e := newEnv(t, nil)
	e.s.AddChannel("ig-admin")
	var atts []any
	require.NoError(t, json.Unmarshal([]byte(`[{"title":"Connect Instagram","title_link":"https://bridge.example/oauth/start?s=1","text":"Click to authorize","color":"#E1306C","actions":[{"type":"button","text":"Start Authentication","url":"https://bridge.example/oauth/start?s=1"}]}]`), &atts))
	r := e.do("POST", "/api/v1/chat.postMessage", map[string]any{"channel": "#ig-admin", "text": "Authorize", "attachments": atts}, botHdr)
	require.Equal(t, 200, r.status, r.raw)
	got := r.body["message"].(map[string]any)["attachments"].([]any)[0].(map[string]any)
	require.Equal(t, "Connect Instagram", got["title"])

	msgs := e.s.ChannelMessages("ig-admin")
	require.Len(t, msgs, 1)
	a := msgs[0].ParsedAttachments()
	require.Len(t, a, 1)
	require.Equal(t, Attachment{Title: "Connect Instagram", TitleLink: "https://bridge.example/oauth/start?s=1", Text: "Click to authorize", Color: "#E1306C",
		Actions: []AttachmentAction{{Type: "button", Text: "Start Authentication", URL: "https://bridge.example/oauth/start?s=1"}}}, a[0])
	u, ok := msgs[0].ButtonURL("Start Authentication")
	require.True(t, ok)
	require.Equal(t, "https://bridge.example/oauth/start?s=1", u)
	_, ok = msgs[0].ButtonURL("Cancel")
	require.False(t, ok)
}
