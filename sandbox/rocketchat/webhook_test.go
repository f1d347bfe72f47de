package rocketchat

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func msgEntries(r hookReq) []map[string]any {
	var out []map[string]any
	for _, m := range r.Body["messages"].([]any) {
		out = append(out, m.(map[string]any))
	}
	return out
}

// §10.2–10.4, traps 5, 11, 12, 13, 16.
func TestWebhookMessageEnvelope(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.WebhookSecret = "s3cret"
		o.OnVisitorMessage = true
	}).withAgent()
	e.hook.respBody = func(n int, body map[string]any) string { return fmt.Sprintf(`{"n":%d}`, n) }
	rid := e.chat("tok")
	taken := e.hook.waitType(t, "LivechatSessionTaken", 1)[0]
	require.Equal(t, "s3cret", taken.Header.Get("X-RocketChat-Livechat-Token"))
	require.Equal(t, "application/json", taken.Header.Get("Content-Type"))
	require.Equal(t, "D1", taken.Body["departmentId"])
	require.Equal(t, "ana", taken.Body["servedBy"].(map[string]any)["username"])
	require.Empty(t, e.hook.ofType("LivechatSessionStart"), "on_start is off by default")
	require.Eventually(t, func() bool { r, _ := e.s.Room(rid); return r.CRMData != "" }, 2*time.Second, 5*time.Millisecond)

	require.Equal(t, 200, e.send("tok", rid, "Olá!").status)
	vm := e.hook.waitType(t, "Message", 1)[0]
	require.Equal(t, rid, vm.Body["_id"])
	vis := vm.Body["visitor"].(map[string]any)
	require.Equal(t, "tok", vis["token"])
	require.Equal(t, []any{map[string]any{"address": "tok@example.com"}}, vis["email"])
	require.Equal(t, []any{map[string]any{"phoneNumber": "+55tok"}}, vis["phone"])
	require.Equal(t, "ana", vm.Body["agent"].(map[string]any)["username"])
	require.Equal(t, "Maria tok", vm.Body["label"])
	entries := msgEntries(vm)
	require.Len(t, entries, 1)
	require.Equal(t, "Olá!", entries[0]["msg"])
	require.NotContains(t, entries[0], "agentId", "visitor messages carry no agentId")
	require.Contains(t, vm.Body, "crmData", "crmData echoes the previous response body")
	require.Regexp(t, `^\{"n":\d+\}$`, vm.Body["crmData"])

	// an edit re-sends the same _id with editedAt (trap 15)
	mid := entries[0]["_id"].(string)
	require.Equal(t, 200, e.do("PUT", "/api/v1/livechat/message/"+mid, map[string]any{"token": "tok", "rid": rid, "msg": "Olá!!"}, nil).status)
	edited := msgEntries(e.hook.waitType(t, "Message", 2)[1])[0]
	require.Equal(t, mid, edited["_id"])
	require.Equal(t, "Olá!!", edited["msg"])
	require.NotEmpty(t, edited["editedAt"])

	_, err := e.s.AgentSend(rid, "ana", "Oi Maria!")
	require.NoError(t, err)
	msgs := e.hook.waitType(t, "Message", 3)
	var am hookReq
	for _, m := range msgs {
		if msgEntries(m)[0]["msg"] == "Oi Maria!" {
			am = m
		}
	}
	require.NotNil(t, am.Body)
	ae := msgEntries(am)
	require.Len(t, ae, 1)
	require.Equal(t, "agent-ana", ae[0]["agentId"])
	require.Equal(t, "ana", ae[0]["username"])
	require.Equal(t, "agent-ana", ae[0]["u"].(map[string]any)["_id"])
}

func TestWebhookNoSecretNoHeaderAndSwitches(t *testing.T) {
	e := newEnv(t, func(o *Options) {
		o.OnAgentMessage = false
		o.OnStart = true
		o.OnQueued = true
		o.AcceptChatsWithNoAgents = true
	})
	e.s.AddAgent(Agent{ID: "agent-ana", Username: "ana", Available: false})
	rid := e.chat("tok")
	start := e.hook.waitType(t, "LivechatSessionStart", 1)[0]
	_, has := start.Header[http.CanonicalHeaderKey("X-RocketChat-Livechat-Token")]
	require.False(t, has)
	e.hook.waitType(t, "LivechatSessionQueued", 1)
	require.Equal(t, 200, e.send("tok", rid, "hi").status)
	// agent takes the queued room by answering
	_, err := e.s.AgentSend(rid, "ana", "hello")
	require.NoError(t, err)
	e.hook.waitType(t, "LivechatSessionTaken", 1)
	time.Sleep(50 * time.Millisecond)
	require.Empty(t, e.hook.ofType("Message"), "on_visitor_message and on_agent_message off")
}

func TestWebhookSessionTranscript(t *testing.T) {
	e := newEnv(t, nil).withAgent()
	rid := e.chat("tok")
	e.send("tok", rid, "Olá!")
	_, err := e.s.AgentSend(rid, "ana", "Oi!")
	require.NoError(t, err)
	require.NoError(t, e.s.CloseRoom(rid, "ana", "Resolved"))
	require.ErrorIs(t, e.s.CloseRoom(rid, "ana", "again"), ErrRoomClosed)
	_, err = e.s.AgentSend(rid, "ana", "late")
	require.ErrorIs(t, err, ErrRoomClosed)

	sess := e.hook.waitType(t, "LivechatSession", 1)[0]
	require.Equal(t, "user", sess.Body["closer"])
	require.Equal(t, map[string]any{"_id": "agent-ana", "username": "ana"}, sess.Body["closedBy"])
	require.NotEmpty(t, sess.Body["closedAt"])
	require.Equal(t, "ana", sess.Body["servedBy"].(map[string]any)["username"])
	entries := msgEntries(sess)
	require.Len(t, entries, 3)
	require.Equal(t, "Olá!", entries[0]["msg"])
	require.NotContains(t, entries[0], "agentId")
	require.Equal(t, "agent-ana", entries[1]["agentId"])
	require.Equal(t, "Resolved", entries[2]["msg"])
	require.Equal(t, true, entries[2]["closingMessage"])
	require.Equal(t, "agent-ana", entries[2]["agentId"])

	// visitor close: closer visitor, closing message without agentId
	rid2 := e.room("tok")["_id"].(string)
	require.Equal(t, 200, e.do("POST", "/api/v1/livechat/room.close", map[string]any{"rid": rid2, "token": "tok"}, nil).status)
	sessions := e.hook.waitType(t, "LivechatSession", 2)
	var vs hookReq
	for _, s := range sessions {
		if s.Body["_id"] == rid2 {
			vs = s
		}
	}
	require.Equal(t, "visitor", vs.Body["closer"])
	ve := msgEntries(vs)
	require.Len(t, ve, 1)
	require.Equal(t, true, ve[0]["closingMessage"])
	require.NotContains(t, ve[0], "agentId")
	require.Equal(t, "Closed by visitor", ve[0]["msg"])
}

func TestWebhookForward(t *testing.T) {
	e := newEnv(t, nil).withAgent()
	e.s.AddAgent(Agent{ID: "agent-bob", Username: "bob", Departments: []string{"D1"}, Available: false})
	rid := e.chat("tok")
	require.ErrorIs(t, e.s.Forward(rid, "bob"), ErrAgentOffline)
	require.ErrorIs(t, e.s.Forward(rid, "ana"), ErrSameAgent)
	e.s.SetAgentAvailable("bob", true)
	require.NoError(t, e.s.Forward(rid, "bob"))
	fw := e.hook.waitType(t, "LivechatSessionForwarded", 1)[0]
	require.Equal(t, "bob", fw.Body["servedBy"].(map[string]any)["username"])
	require.Equal(t, "ana", fw.Body["oldServedBy"].(map[string]any)["username"])
	require.Equal(t, "bob", fw.Body["agent"].(map[string]any)["username"])
	require.Empty(t, msgEntries(fw), "transfer system message is filtered")
	room, _ := e.s.Room(rid)
	require.Equal(t, "bob", room.ServedBy)
}

// trap 14.
func TestWebhookFileMessage(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.SiteURL = "https://chat.example.com/" }).withAgent()
	rid := e.chat("tok")
	m, err := e.s.AgentSendFile(rid, "ana", File{Name: "boleto final.pdf", Type: "application/pdf", Data: []byte("%PDF-1.4")}, "")
	require.NoError(t, err)
	require.NotNil(t, m.File)
	var entry map[string]any
	for _, r := range e.hook.waitType(t, "Message", 1) {
		entry = msgEntries(r)[0]
	}
	require.NotContains(t, entry, "msg", "file messages without text have no msg key")
	require.Equal(t, "agent-ana", entry["agentId"])
	att := entry["attachments"].([]any)[0].(map[string]any)
	require.Equal(t, "/file-upload/"+m.File.ID+"/boleto%20final.pdf", att["title_link"])
	require.Equal(t, "pdf", att["format"])
	fu := entry["fileUpload"].(map[string]any)
	pub := fu["publicFilePath"].(string)
	require.True(t, strings.HasPrefix(pub, "https://chat.example.com/file-upload/"+m.File.ID+"/boleto%20final.pdf?token="), pub)
	require.Equal(t, "application/pdf", fu["type"])
	require.Equal(t, float64(8), fu["size"])

	// the JWT grants download without headers
	tok := pub[strings.Index(pub, "?token=")+len("?token="):]
	r := e.do("GET", "/file-upload/"+m.File.ID+"/x?token="+tok, nil, nil)
	require.Equal(t, 200, r.status)
	require.Equal(t, "%PDF-1.4", r.raw)
	require.Equal(t, 403, e.do("GET", "/file-upload/"+m.File.ID+"/x?token=a.b.c", nil, nil).status)
}

// trap 10 + §10.2 retries.
func TestWebhookRetryPolicy(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	deadURL := closed.URL
	closed.Close()
	cases := []struct {
		name     string
		statuses []int
		url      string
		attempts int
		ok       bool
	}{
		{"200 first time", []int{200}, "", 1, true},
		{"201 is a failure, not retried", []int{201}, "", 1, false},
		{"204 is a failure, not retried", []int{204}, "", 1, false},
		{"400 dropped", []int{400}, "", 1, false},
		{"302 dropped", []int{302}, "", 1, false},
		{"500 then 200", []int{500, 503, 200}, "", 3, true},
		{"429 then 200", []int{429, 200}, "", 2, true},
		{"always 500 → 5 attempts", []int{500, 500, 500, 500, 500, 500}, "", 5, false},
		{"network error → 5 attempts", nil, deadURL, 5, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, func(o *Options) {
				o.OnTaken = false
				o.WebhookTimeout = 100 * time.Millisecond
				o.WebhookRetryDelay = 5 * time.Millisecond
			}).withAgent()
			if tc.url != "" {
				e.s.SetWebhook(tc.url, "")
			}
			e.hook.setStatuses(tc.statuses...)
			rid := e.chat("tok")
			_, err := e.s.AgentSend(rid, "ana", "hi")
			require.NoError(t, err)
			deadline := time.Now().Add(3 * time.Second)
			for time.Now().Before(deadline) && len(e.s.WebhookDeliveries()) < tc.attempts {
				time.Sleep(5 * time.Millisecond)
			}
			time.Sleep(40 * time.Millisecond) // no extra attempts
			ds := e.s.WebhookDeliveries()
			require.Len(t, ds, tc.attempts)
			for i, d := range ds {
				require.Equal(t, "Message", d.Type)
				require.Equal(t, i+1, d.Attempt)
			}
			last := ds[len(ds)-1]
			require.Equal(t, tc.ok, last.Status == 200)
			if tc.url != "" {
				require.Equal(t, 0, last.Status)
				require.NotEmpty(t, last.Err)
			}
			room, _ := e.s.Room(rid)
			if tc.ok {
				require.Equal(t, "{}", room.CRMData)
			} else {
				require.Empty(t, room.CRMData)
			}
		})
	}
}

func TestAutoReplyAndWaitForMessages(t *testing.T) {
	e := newEnv(t, nil).withAgent()
	e.s.SetAutoReply(true, 10*time.Millisecond)
	rid := e.chat("tok")
	require.Equal(t, 200, e.send("tok", rid, "ping").status)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	msgs, err := e.s.WaitForMessages(ctx, rid, 2)
	require.NoError(t, err)
	require.Equal(t, "ping", msgs[0].Msg)
	require.Equal(t, "tok", msgs[0].Token)
	require.Equal(t, "Hi! You wrote: ping", msgs[1].Msg)
	require.Equal(t, "ana", msgs[1].Username)
	require.Equal(t, "agent-ana", msgs[1].AgentID)
	e.hook.waitType(t, "Message", 1)

	ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel2()
	_, err = e.s.WaitForMessages(ctx2, rid, 5)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestIntegrationsAndWebhookTest(t *testing.T) {
	e := newEnv(t, nil)
	e.s.SetWebhook("", "")
	expectErr(t, e.do("POST", "/api/v1/livechat/webhook.test", map[string]any{}, botHdr), 400, "Webhook_URL_not_set", nil)
	r := e.do("POST", "/api/v1/omnichannel/integrations", map[string]any{"LivechatWebhookUrl": e.hook.srv.URL, "LivechatSecretToken": "abc",
		"LivechatWebhookOnStart": true}, botHdr)
	require.Equal(t, 200, r.status, r.raw)
	expectErr(t, e.do("POST", "/api/v1/omnichannel/integrations", map[string]any{"Nope": 1}, botHdr), 400, "", "invalid-params")
	require.Equal(t, 200, e.do("POST", "/api/v1/livechat/webhook.test", map[string]any{}, botHdr).status)
	got := e.hook.all()
	require.Equal(t, "abc", got[len(got)-1].Header.Get("X-RocketChat-Livechat-Token"))
	e.hook.setStatuses(400)
	expectErr(t, e.do("POST", "/api/v1/livechat/webhook.test", map[string]any{}, botHdr), 400, "error-invalid-webhook-response", nil)
	r = e.do("GET", "/api/v1/livechat/integrations.settings", nil, botHdr)
	require.Len(t, r.body["settings"].([]any), 11)
}
