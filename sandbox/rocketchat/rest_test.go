package rocketchat

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// 09-visitors.ts + §3.
func TestVisitorRegistrationErrors(t *testing.T) {
	e := newEnv(t, nil).withAgent()
	cases := []struct {
		name    string
		body    any
		errStr  string
		errType any
	}{
		{"no visitor", map[string]any{}, "Match error: Missing key 'visitor'", nil},
		{"no token", map[string]any{"visitor": map[string]any{"name": "x"}}, "Match error: Missing key 'token' in field visitor", nil},
		{"token not string", map[string]any{"visitor": map[string]any{"token": 5}}, "Match error: Expected string, got number in field visitor.token", nil},
		{"unknown top-level key", map[string]any{"visitor": map[string]any{"token": "a"}, "x": 1}, "Match error: Unknown key in field x", nil},
		{"empty token", map[string]any{"visitor": map[string]any{"token": "  "}}, "Token cannot be empty [error-invalid-token]", "error-invalid-token"},
		{"bad department", map[string]any{"visitor": map[string]any{"token": "a", "department": "nope"}}, "The provided department is invalid [error-invalid-department]", "error-invalid-department"},
		{"bad email", map[string]any{"visitor": map[string]any{"token": "a", "email": "not-an-email"}}, "Invalid email not-an-email [error-invalid-email]", "error-invalid-email"},
		{"customField without overwrite", map[string]any{"visitor": map[string]any{"token": "a", "customFields": []any{map[string]any{"key": "k", "value": "v"}}}},
			"Match error: Missing key 'overwrite' in field visitor.customFields[0]", nil},
		{"JSON without content type is not parsed", `{"visitor":{"token":"abc"}}`, "Match error: Missing key 'visitor'", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do("POST", "/api/v1/livechat/visitor", tc.body, nil)
			expectErr(t, r, 400, tc.errStr, tc.errType)
		})
	}
}

func TestVisitorUpsertRules(t *testing.T) {
	e := newEnv(t, nil).withAgent()
	v1 := e.visitor("tok-1", map[string]any{"name": "Maria", "email": " Maria@Example.com ", "phone": "+5511999990000",
		"department": "Instagram", "customFields": []any{map[string]any{"key": "instagram_id", "value": "178", "overwrite": true}}})
	require.Equal(t, "tok-1", v1["token"])
	require.Equal(t, "guest-1", v1["username"])
	require.Equal(t, "online", v1["status"])
	require.Equal(t, "D1", v1["department"], "department name resolved to id")
	require.Equal(t, []any{map[string]any{"address": "maria@example.com"}}, v1["visitorEmails"])
	require.Equal(t, []any{map[string]any{"phoneNumber": "+5511999990000"}}, v1["phone"])
	require.Equal(t, map[string]any{"instagram_id": "178"}, v1["livechatData"])

	// same token → same visitor updated
	v1b := e.visitor("tok-1", map[string]any{"name": "Maria S", "customFields": []any{map[string]any{"key": "instagram_id", "value": "999", "overwrite": false}}})
	require.Equal(t, v1["_id"], v1b["_id"])
	require.Equal(t, "Maria S", v1b["name"])
	require.Equal(t, map[string]any{"instagram_id": "178"}, v1b["livechatData"], "overwrite:false keeps the value")

	// phone match → existing visitor, its token is kept (response token differs)
	v2 := e.visitor("tok-2", map[string]any{"phone": "+5511999990000"})
	require.Equal(t, v1["_id"], v2["_id"])
	require.Equal(t, "tok-1", v2["token"])
	_, ok := e.s.Visitor("tok-2")
	require.False(t, ok)

	// email match → visitor reused, token overwritten
	e.visitor("tok-3", map[string]any{"email": "other@example.com"})
	v4 := e.visitor("tok-4", map[string]any{"email": "other@example.com"})
	require.Equal(t, "tok-4", v4["token"])
	_, ok = e.s.Visitor("tok-3")
	require.False(t, ok)

	// GET / DELETE
	r := e.do("GET", "/api/v1/livechat/visitor/tok-1", nil, nil)
	require.Equal(t, 200, r.status)
	require.Equal(t, v1["_id"], r.body["visitor"].(map[string]any)["_id"])
	expectErr(t, e.do("GET", "/api/v1/livechat/visitor/nope", nil, nil), 400, "[invalid-token]", "invalid-token")

	e.room("tok-1")
	expectErr(t, e.do("DELETE", "/api/v1/livechat/visitor/tok-1", nil, nil), 400, "", "visitor-has-open-rooms")
	r = e.do("DELETE", "/api/v1/livechat/visitor/tok-4", nil, nil)
	require.Equal(t, 200, r.status, r.raw)
	require.Equal(t, v4["_id"], r.body["visitor"].(map[string]any)["_id"])
	require.NotEmpty(t, r.body["visitor"].(map[string]any)["ts"])
	expectErr(t, e.do("DELETE", "/api/v1/livechat/visitor/tok-4", nil, nil), 400, "[invalid-token]", "invalid-token")
}

func TestVisitorUnknownCustomFieldIgnored(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.VisitorCustomFields = []string{"address"} })
	v := e.visitor("t", map[string]any{"customFields": []any{
		map[string]any{"key": "address", "value": "Rocket.Chat street", "overwrite": true},
		map[string]any{"key": "unknown", "value": "x", "overwrite": true},
	}})
	require.Equal(t, map[string]any{"address": "Rocket.Chat street"}, v["livechatData"])
}

// 00-rooms.ts GET livechat/room.
func TestRoomGetOrCreate(t *testing.T) {
	e := newEnv(t, nil).withAgent()
	e.visitor("tok", map[string]any{"name": "Maria"})

	errCases := []struct {
		name, query, errStr string
	}{
		{"no token", "", "Match error: Missing key 'token'"},
		{"bad token", "?token=nope", "invalid-token"},
		{"unknown key (department cannot be passed)", "?token=tok&department=D1", "Match error: Unknown key in field department"},
		{"bad rid", "?token=tok&rid=nope", "invalid-room"},
	}
	for _, tc := range errCases {
		t.Run(tc.name, func(t *testing.T) {
			expectErr(t, e.do("GET", "/api/v1/livechat/room"+tc.query, nil, nil), 400, tc.errStr, nil)
		})
	}

	r := e.do("GET", "/api/v1/livechat/room?token=tok", nil, nil)
	require.Equal(t, 200, r.status, r.raw)
	require.Equal(t, true, r.body["newRoom"])
	room := r.body["room"].(map[string]any)
	rid := room["_id"].(string)
	require.Equal(t, "tok", room["v"].(map[string]any)["token"])
	require.Equal(t, "api", room["source"].(map[string]any)["type"])
	require.Equal(t, "l", room["t"])
	require.Equal(t, true, room["open"])
	require.Equal(t, "Maria", room["fname"])
	require.Equal(t, "ana", room["servedBy"].(map[string]any)["username"])
	require.Equal(t, "D1", room["departmentId"], "department from getRequiredDepartment")
	require.Equal(t, "no-store", r.header.Get("Cache-Control"))
	require.Equal(t, "application/json", r.header.Get("Content-Type"))

	r = e.do("GET", "/api/v1/livechat/room?token=tok", nil, nil)
	require.Equal(t, false, r.body["newRoom"])
	require.Equal(t, rid, r.body["room"].(map[string]any)["_id"])

	r = e.do("GET", "/api/v1/livechat/room?token=tok&rid="+rid, nil, nil)
	require.Equal(t, 200, r.status)
	require.Equal(t, false, r.body["newRoom"])

	// widget cookies
	e.visitor("wtok", nil)
	r = e.do("GET", "/api/v1/livechat/room?token=wtok", nil, map[string]string{"Cookie": "rc_room_type=l; rc_is_widget=t"})
	require.Equal(t, "widget", r.body["room"].(map[string]any)["source"].(map[string]any)["type"])

	rooms := e.s.Rooms("tok")
	require.Len(t, rooms, 1)
	require.Equal(t, "ana", rooms[0].ServedBy)
}

// 24-routing.ts and §4 routing rules.
func TestRouting(t *testing.T) {
	const noAgents = "Sorry, no online agents [no-agent-online]"
	t.Run("no agents → 400 no-agent-online", func(t *testing.T) {
		e := newEnv(t, nil)
		e.visitor("tok", nil)
		expectErr(t, e.do("GET", "/api/v1/livechat/room?token=tok", nil, nil), 400, noAgents, "no-agent-online")
	})
	t.Run("unavailable agent → no-agent-online; accept-with-no-agents → queued room", func(t *testing.T) {
		e := newEnv(t, nil).withAgent()
		e.s.SetAgentAvailable("ana", false)
		e.visitor("tok", nil)
		expectErr(t, e.do("GET", "/api/v1/livechat/room?token=tok", nil, nil), 400, noAgents, "no-agent-online")
		e.s.SetAcceptChatsWithNoAgents(true)
		room := e.room("tok")
		_, served := room["servedBy"]
		require.False(t, served)
	})
	t.Run("department without agents and no fallback", func(t *testing.T) {
		e := newEnv(t, nil).withAgent()
		e.s.AddDepartment("D2", "Empty", "")
		e.visitor("tok", map[string]any{"department": "D2"})
		expectErr(t, e.do("GET", "/api/v1/livechat/room?token=tok", nil, nil), 400, noAgents, "no-agent-online")
	})
	t.Run("fallbackForwardDepartment chain", func(t *testing.T) {
		e := newEnv(t, nil).withAgent()
		e.s.AddDepartment("D3", "Last", "")
		e.s.AddDepartment("D2", "Middle", "D3")
		e.s.AddDepartment("D1b", "First", "D2")
		e.s.AddAgent(Agent{ID: "agent-bob", Username: "bob", Departments: []string{"D3"}, Available: true})
		e.visitor("tok", map[string]any{"department": "D1b"})
		room := e.room("tok")
		require.Equal(t, "bob", room["servedBy"].(map[string]any)["username"])
		require.Equal(t, "D3", room["departmentId"])
	})
	t.Run("agentId offline → no-agent-online; online → that agent", func(t *testing.T) {
		e := newEnv(t, nil).withAgent()
		e.s.AddAgent(Agent{ID: "agent-bob", Username: "bob", Departments: []string{"D1"}, Available: false})
		e.visitor("tok", nil)
		expectErr(t, e.do("GET", "/api/v1/livechat/room?token=tok&agentId=agent-bob", nil, nil), 400, noAgents, "no-agent-online")
		e.s.SetAgentAvailable("bob", true)
		r := e.do("GET", "/api/v1/livechat/room?token=tok&agentId=agent-bob", nil, nil)
		require.Equal(t, "bob", r.body["room"].(map[string]any)["servedBy"].(map[string]any)["username"])
	})
	t.Run("Auto_Selection spreads chats", func(t *testing.T) {
		e := newEnv(t, nil).withAgent()
		e.s.AddAgent(Agent{ID: "agent-bob", Username: "bob", Departments: []string{"D1"}, Available: true})
		seen := map[string]bool{}
		for _, tok := range []string{"a", "b"} {
			e.visitor(tok, nil)
			seen[e.room(tok)["servedBy"].(map[string]any)["username"].(string)] = true
		}
		require.Len(t, seen, 2)
	})
}

// 11-livechat.ts online semantics + §8.1.
func TestConfigOnline(t *testing.T) {
	e := newEnv(t, nil).withAgent()
	e.s.AddDepartment("D2", "Sales", "D1")
	e.s.AddDepartment("D3", "Nobody", "")
	cases := []struct {
		name   string
		setup  func()
		query  string
		online bool
	}{
		{"dept agent available", nil, "?department=D1", true},
		{"no department, any agent", nil, "", true},
		{"fallback has agent", nil, "?department=D2", true},
		{"dept without agents", nil, "?department=D3", false},
		{"unknown department", nil, "?department=zzz", false},
		{"agent unavailable", func() { e.s.SetAgentAvailable("ana", false) }, "?department=D1", false},
		{"agent unavailable, no dept", nil, "", false},
		{"accept with no agents", func() { e.s.SetAcceptChatsWithNoAgents(true) }, "?department=D3", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			r := e.do("GET", "/api/v1/livechat/config"+tc.query, nil, nil)
			require.Equal(t, 200, r.status, r.raw)
			require.Equal(t, tc.online, r.body["config"].(map[string]any)["online"])
		})
	}
	r := e.do("GET", "/api/v1/livechat/config?foo=1", nil, nil)
	expectErr(t, r, 400, "must NOT have additional properties", "error-invalid-params")

	e.s.SetAcceptChatsWithNoAgents(false)
	e.s.SetAgentAvailable("ana", true)
	e.visitor("tok", nil)
	cfg := e.do("GET", "/api/v1/livechat/config?token=tok", nil, nil).body["config"].(map[string]any)
	require.Contains(t, cfg, "guest")
	require.NotContains(t, cfg, "room")
	rid := e.room("tok")["_id"]
	cfg = e.do("GET", "/api/v1/livechat/config?token=tok", nil, nil).body["config"].(map[string]any)
	require.Equal(t, rid, cfg["room"].(map[string]any)["_id"])
	require.Equal(t, "ana", cfg["agent"].(map[string]any)["username"])

	e.s.SetLivechatEnabled(false)
	r = e.do("GET", "/api/v1/livechat/config", nil, nil)
	require.Equal(t, map[string]any{"enabled": false}, r.body["config"])
}

// 00-rooms.ts livechat/room.close + trap 9.
func TestRoomCloseByVisitor(t *testing.T) {
	e := newEnv(t, nil).withAgent()
	rid := e.chat("tok")
	expectErr(t, e.do("POST", "/api/v1/livechat/room.close", map[string]any{"rid": rid, "token": "bad"}, nil), 400, "invalid-token", nil)
	expectErr(t, e.do("POST", "/api/v1/livechat/room.close", map[string]any{"rid": "bad", "token": "tok"}, nil), 400, "invalid-room", nil)
	expectErr(t, e.do("POST", "/api/v1/livechat/room.close", map[string]any{"rid": rid, "token": "tok", "x": 1}, nil), 400,
		"must NOT have additional properties [invalid-params]", "invalid-params")

	r := e.do("POST", "/api/v1/livechat/room.close", map[string]any{"rid": rid, "token": "tok"}, nil)
	require.Equal(t, 200, r.status, r.raw)
	require.Equal(t, rid, r.body["rid"])
	require.Equal(t, "Closed by visitor", r.body["comment"])

	expectErr(t, e.do("POST", "/api/v1/livechat/room.close", map[string]any{"rid": rid, "token": "tok"}, nil), 400, "room-closed", nil)
	expectErr(t, e.send("tok", rid, "hello?"), 400, "room-closed", nil)
	expectErr(t, e.do("GET", "/api/v1/livechat/room?token=tok&rid="+rid, nil, nil), 400, "invalid-room", nil)

	msgs := e.s.Messages(rid)
	require.Equal(t, "livechat-close", msgs[len(msgs)-1].System)
	require.Equal(t, "tok", msgs[len(msgs)-1].Token)

	r2 := e.room("tok")
	require.NotEqual(t, rid, r2["_id"], "new room after close")
	rooms := e.s.Rooms("tok")
	require.Len(t, rooms, 2)
	require.False(t, rooms[0].Open)
	require.Equal(t, "visitor", rooms[0].Closer)

	e.s.SetAllowVisitorsToClose(false)
	expectErr(t, e.do("POST", "/api/v1/livechat/room.close", map[string]any{"rid": r2["_id"], "token": "tok"}, nil), 400,
		"error-not-allowed-to-close-conversation", nil)
}

// §5.1 + trap 8.
func TestPostMessage(t *testing.T) {
	e := newEnv(t, nil).withAgent()
	rid := e.chat("tok")
	e.chat("other")
	cases := []struct {
		name    string
		body    any
		errStr  string
		errType any
	}{
		{"missing token", map[string]any{"rid": rid, "msg": "x"}, "must have required property 'token' [invalid-params]", "invalid-params"},
		{"missing msg", map[string]any{"token": "tok", "rid": rid}, "must have required property 'msg' [invalid-params]", "invalid-params"},
		{"extra key", map[string]any{"token": "tok", "rid": rid, "msg": "x", "attachments": []any{}}, "must NOT have additional properties [invalid-params]", "invalid-params"},
		{"msg object", map[string]any{"token": "tok", "rid": rid, "msg": map[string]any{}}, "must be string [invalid-params]", "invalid-params"},
		{"no JSON content type", `{"token":"tok"}`, "must have required property 'token' [invalid-params]", "invalid-params"},
		{"bad token wins over bad rid", map[string]any{"token": "nope", "rid": "nope", "msg": "x"}, "invalid-token", nil},
		{"bad rid", map[string]any{"token": "tok", "rid": "nope", "msg": "x"}, "invalid-room", nil},
		{"room of another visitor", map[string]any{"token": "other", "rid": rid, "msg": "x"}, "invalid-room", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			expectErr(t, e.do("POST", "/api/v1/livechat/message", tc.body, nil), 400, tc.errStr, tc.errType)
		})
	}

	r := e.do("POST", "/api/v1/livechat/message", map[string]any{"token": "tok", "rid": rid, "msg": "Olá <b>&</b>", "_id": "igmid-1"}, nil)
	require.Equal(t, 200, r.status, r.raw)
	m := r.body["message"].(map[string]any)
	require.Equal(t, "igmid-1", m["_id"])
	require.Equal(t, "Olá <b>&</b>", m["msg"])
	require.Equal(t, "tok", m["token"])
	require.Equal(t, "Maria tok", m["alias"])
	require.Equal(t, "guest-1", m["u"].(map[string]any)["username"])
	require.Contains(t, r.raw, `"Olá <b>&</b>"`, "no HTML escaping")
	require.Regexp(t, `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`, m["ts"])

	r = e.do("POST", "/api/v1/livechat/message", map[string]any{"token": "tok", "rid": rid, "msg": "again", "_id": "igmid-1"}, nil)
	expectErr(t, r, 400, "", nil)
	require.True(t, strings.HasPrefix(r.body["error"].(string), "E11000 duplicate key error"), r.raw)
	require.Len(t, e.s.Messages(rid), 1)

	e.s.SetMessageCharacterLimit(3)
	expectErr(t, e.send("tok", rid, "long"), 400, "message-length-exceeds-character-limit", nil)
	require.Equal(t, 200, e.send("tok", rid, "ok!").status)
}

// 00-rooms.ts GET/PUT/DELETE livechat/message/:_id, messages.history.
func TestMessageGetEditDelete(t *testing.T) {
	e := newEnv(t, nil).withAgent()
	rid := e.chat("tok")
	rid2 := e.chat("other")
	mid := e.send("tok", rid, "first").body["message"].(map[string]any)["_id"].(string)
	e.send("tok", rid, "second")
	_, err := e.s.AgentSend(rid, "ana", "agent says hi")
	require.NoError(t, err)

	path := "/api/v1/livechat/message/" + mid
	expectErr(t, e.do("GET", path+"?rid="+rid, nil, nil), 400, "must have required property 'token' [invalid-params]", "invalid-params")
	expectErr(t, e.do("GET", path+"?token=bad&rid="+rid, nil, nil), 400, "invalid-token", nil)
	expectErr(t, e.do("GET", path+"?token=tok&rid=bad", nil, nil), 400, "invalid-room", nil)
	expectErr(t, e.do("GET", "/api/v1/livechat/message/bad?token=tok&rid="+rid, nil, nil), 400, "invalid-message", nil)
	r := e.do("GET", path+"?token=tok&rid="+rid, nil, nil)
	require.Equal(t, 200, r.status, r.raw)
	require.Equal(t, "first", r.body["message"].(map[string]any)["msg"])

	expectErr(t, e.do("PUT", path, map[string]any{"token": "tok", "rid": rid}, nil), 400, "must have required property 'msg' [invalid-params]", "invalid-params")
	expectErr(t, e.do("PUT", "/api/v1/livechat/message/bad", map[string]any{"token": "tok", "rid": rid, "msg": "x"}, nil), 400, "invalid-message", nil)
	expectErr(t, e.do("PUT", path, map[string]any{"token": "other", "rid": rid2, "msg": "hijack"}, nil), 400, "error-action-not-allowed", nil)
	r = e.do("PUT", path, map[string]any{"token": "tok", "rid": rid, "msg": "edited"}, nil)
	require.Equal(t, 200, r.status, r.raw)
	m := r.body["message"].(map[string]any)
	require.Equal(t, "edited", m["msg"])
	require.NotEmpty(t, m["editedAt"])
	require.Equal(t, "guest-1", m["editedBy"].(map[string]any)["username"])

	e.s.SetMessageEditing(false, true)
	expectErr(t, e.do("PUT", path, map[string]any{"token": "tok", "rid": rid, "msg": "x"}, nil), 400, "error-action-not-allowed", nil)

	// DELETE takes a JSON body
	expectErr(t, e.do("DELETE", path+"?token=tok&rid="+rid, nil, nil), 400, "must have required property 'token' [invalid-params]", "invalid-params")
	r = e.do("DELETE", path, map[string]any{"token": "tok", "rid": rid}, nil)
	require.Equal(t, 200, r.status, r.raw)
	require.Equal(t, mid, r.body["message"].(map[string]any)["_id"])
	require.NotEmpty(t, r.body["message"].(map[string]any)["ts"])
	expectErr(t, e.do("DELETE", path, map[string]any{"token": "tok", "rid": rid}, nil), 400, "invalid-message", nil)
	all := e.s.Messages(rid)
	require.True(t, all[0].Deleted)

	// history: newest first, deleted hidden
	expectErr(t, e.do("GET", "/api/v1/livechat/messages.history/"+rid, nil, nil), 400,
		`The required "token" query param is missing. [error-token-param-not-provided]`, "error-token-param-not-provided")
	expectErr(t, e.do("GET", "/api/v1/livechat/messages.history/"+rid+"?token=bad", nil, nil), 400, "[invalid-token]", "invalid-token")
	r = e.do("GET", "/api/v1/livechat/messages.history/"+rid+"?token=tok", nil, nil)
	require.Equal(t, 200, r.status, r.raw)
	hist := r.body["messages"].([]any)
	require.Len(t, hist, 2)
	require.Equal(t, "agent says hi", hist[0].(map[string]any)["msg"])
	require.Equal(t, "second", hist[1].(map[string]any)["msg"])
	r = e.do("GET", "/api/v1/livechat/messages.history/"+rid+"?token=tok&limit=1", nil, nil)
	require.Len(t, r.body["messages"].([]any), 1)
}

// §9 + trap 22.
func TestDepartmentsAuth(t *testing.T) {
	e := newEnv(t, nil).withAgent()
	e.s.AddDepartment("D2", "Sales", "")
	e.s.AddUser(User{ID: "u1", Username: "plain", AuthToken: "tok-u1", Permissions: []string{}})

	r := e.do("GET", "/api/v1/livechat/department", nil, nil)
	require.Equal(t, 401, r.status)
	require.Equal(t, map[string]any{"success": false, "error": "You must be logged in to do this.", "status": "error",
		"message": "You must be logged in to do this."}, r.body)
	require.Equal(t, 401, e.do("GET", "/api/v1/livechat/department", nil, map[string]string{"X-User-Id": "bot-user-id", "X-Auth-Token": "wrong"}).status)

	r = e.do("GET", "/api/v1/livechat/department", nil, map[string]string{"X-User-Id": "u1", "X-Auth-Token": "tok-u1"})
	require.Equal(t, 403, r.status)
	require.Contains(t, r.body["error"], "unauthorized")
	require.NotContains(t, r.body, "errorType")

	r = e.do("GET", "/api/v1/livechat/department?count=1", nil, botHdr)
	require.Equal(t, 200, r.status, r.raw)
	require.Equal(t, float64(1), r.body["count"])
	require.Equal(t, float64(2), r.body["total"])
	require.Equal(t, float64(0), r.body["offset"])
	require.Equal(t, "Instagram", r.body["departments"].([]any)[0].(map[string]any)["name"])

	r = e.do("GET", "/api/v1/livechat/department?text=sal", nil, botHdr)
	require.Equal(t, float64(1), r.body["total"])

	r = e.do("GET", "/api/v1/livechat/department/D1?includeAgents=true", nil, botHdr)
	require.Equal(t, "D1", r.body["department"].(map[string]any)["_id"])
	require.Equal(t, "ana", r.body["agents"].([]any)[0].(map[string]any)["username"])
	r = e.do("GET", "/api/v1/livechat/department/nope", nil, botHdr)
	require.Equal(t, 200, r.status)
	require.Nil(t, r.body["department"])
	require.Contains(t, r.body, "department")
}

// §11.
func TestLoginAndPostMessage(t *testing.T) {
	e := newEnv(t, nil)
	r := e.do("POST", "/api/v1/login", map[string]any{"user": "bot", "password": "bot-password"}, nil)
	require.Equal(t, 200, r.status, r.raw)
	data := r.body["data"].(map[string]any)
	require.Equal(t, "success", r.body["status"])
	require.Equal(t, "bot-user-id", data["userId"])
	require.Equal(t, "bot-auth-token", data["authToken"])

	r = e.do("POST", "/api/v1/login", map[string]any{"user": "bot", "password": "wrong"}, nil)
	require.Equal(t, 401, r.status)
	require.Equal(t, "error", r.body["status"])

	require.Equal(t, 401, e.do("POST", "/api/v1/chat.postMessage", map[string]any{"channel": "#general", "text": "x"}, nil).status)
	e.s.AddChannel("ig-admin")
	r = e.do("POST", "/api/v1/chat.postMessage", map[string]any{"channel": "#ig-admin", "text": "Bridge online ✅", "alias": "IG Bridge"}, botHdr)
	require.Equal(t, 200, r.status, r.raw)
	require.IsType(t, float64(0), r.body["ts"], "top-level ts is a number")
	require.Equal(t, "ig-admin", r.body["channel"])
	require.Equal(t, "Bridge online ✅", r.body["message"].(map[string]any)["msg"])
	msgs := e.s.ChannelMessages("ig-admin")
	require.Len(t, msgs, 1)
	require.Equal(t, "bot", msgs[0].Username)

	expectErr(t, e.do("POST", "/api/v1/chat.postMessage", map[string]any{"channel": "#nope", "text": "x"}, botHdr), 400, "[invalid-channel]", "invalid-channel")
	expectErr(t, e.do("POST", "/api/v1/chat.postMessage", map[string]any{"channel": "#general", "text": strings.Repeat("a", 5001)}, botHdr),
		400, "", "error-message-size-exceeded")
}

func TestUnknownRouteIs404(t *testing.T) {
	e := newEnv(t, nil)
	require.Equal(t, http.StatusNotFound, e.do("GET", "/api/v1/livechat/nope", nil, nil).status)
	require.Equal(t, http.StatusNotFound, e.do("PATCH", "/api/v1/livechat/visitor", nil, nil).status)
}

// 00-rooms.ts livechat/messages (bulk import).
func TestBulkMessages(t *testing.T) {
	e := newEnv(t, nil).withAgent()
	cases := []struct {
		name, errStr string
		body         any
	}{
		{"no visitor", "must have required property 'visitor' [invalid-params]", map[string]any{"messages": []any{map[string]any{"msg": "x"}}}},
		{"no token", "must have required property 'token' [invalid-params]", map[string]any{"visitor": map[string]any{}, "messages": []any{map[string]any{"msg": "x"}}}},
		{"no messages", "must have required property 'messages' [invalid-params]", map[string]any{"visitor": map[string]any{"token": "x"}}},
		{"empty messages", "must NOT have fewer than 1 items [invalid-params]", map[string]any{"visitor": map[string]any{"token": "x"}, "messages": []any{}}},
		{"message without msg", "must have required property 'msg' [invalid-params]", map[string]any{"visitor": map[string]any{"token": "x"}, "messages": []any{map[string]any{}}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			expectErr(t, e.do("POST", "/api/v1/livechat/messages", tc.body, botHdr), 400, tc.errStr, "invalid-params")
		})
	}
	require.Equal(t, 401, e.do("POST", "/api/v1/livechat/messages", map[string]any{}, nil).status)
	r := e.do("POST", "/api/v1/livechat/messages", map[string]any{"visitor": map[string]any{"token": "bulk"},
		"messages": []any{map[string]any{"msg": "one"}, map[string]any{"msg": "two"}}}, botHdr)
	require.Equal(t, 200, r.status, r.raw)
	msgs := r.body["messages"].([]any)
	require.Len(t, msgs, 2)
	first := msgs[0].(map[string]any)
	require.Equal(t, "one", first["msg"])
	require.Equal(t, "guest-1", first["username"])
	require.NotEmpty(t, first["ts"])
	rooms := e.s.Rooms("bulk")
	require.Len(t, rooms, 1)
	require.Len(t, e.s.Messages(rooms[0].ID), 2)
}

// §7.2 + trap 25.
func TestRoomCloseByUser(t *testing.T) {
	e := newEnv(t, nil).withAgent()
	rid := e.chat("tok")
	require.Equal(t, 401, e.do("POST", "/api/v1/livechat/room.closeByUser", map[string]any{"rid": rid}, nil).status)
	expectErr(t, e.do("POST", "/api/v1/livechat/room.closeByUser", map[string]any{"rid": rid}, botHdr), 400,
		"The comment is required [error-comment-is-required]", "error-comment-is-required")
	r := e.do("POST", "/api/v1/livechat/room.closeByUser", map[string]any{"rid": rid, "comment": "done", "tags": []any{"ig"}}, botHdr)
	require.Equal(t, 200, r.status, r.raw)
	require.Equal(t, map[string]any{"success": true}, r.body)
	room, _ := e.s.Room(rid)
	require.False(t, room.Open)
	require.Equal(t, "user", room.Closer)
	sess := e.hook.waitType(t, "LivechatSession", 1)[0]
	require.Equal(t, map[string]any{"_id": "bot-user-id", "username": "bot"}, sess.Body["closedBy"])
	expectErr(t, e.do("POST", "/api/v1/livechat/room.closeByUser", map[string]any{"rid": rid, "comment": "x"}, botHdr), 400, "error-room-already-closed", nil)

	rid2 := e.room("tok")["_id"].(string)
	require.NoError(t, e.s.CloseRoom(rid2, "", ""), "Go-side close accepts an empty comment")
}

// users.info: the roles are on the user object of the full profile (the caller itself, or
// a caller with view-full-other-user-info); errors in the envelope of §2.2; auth as §2.3.
func TestUsersInfoRoles(t *testing.T) {
	e := newEnv(t, nil).withAgent()
	e.s.AddUser(User{ID: "u-maria", Username: "maria", Name: "Maria", AuthToken: "tok-maria", Permissions: []string{}, Roles: []string{"user", "admin"}})
	e.s.AddUser(User{ID: "u-joao", Username: "joao", AuthToken: "tok-joao", Permissions: []string{}})

	require.Equal(t, 401, e.do("GET", "/api/v1/users.info?userId=u-maria", nil, nil).status)
	r := e.do("GET", "/api/v1/users.info?userId=u-maria", nil, botHdr)
	require.Equal(t, 200, r.status, r.raw)
	u := r.body["user"].(map[string]any)
	require.Equal(t, "maria", u["username"])
	require.Equal(t, []any{"user", "admin"}, u["roles"])
	r = e.do("GET", "/api/v1/users.info?username=joao", nil, botHdr)
	require.Equal(t, []any{"user"}, r.body["user"].(map[string]any)["roles"])
	r = e.do("GET", "/api/v1/users.info?userId=agent-ana", nil, botHdr)
	require.Equal(t, 200, r.status, r.raw)
	require.Contains(t, r.body["user"].(map[string]any)["roles"], "livechat-agent")

	// Without view-full-other-user-info: another user's public profile has no roles; one's own has.
	joao := map[string]string{"X-User-Id": "u-joao", "X-Auth-Token": "tok-joao"}
	r = e.do("GET", "/api/v1/users.info?userId=u-maria", nil, joao)
	require.Equal(t, 200, r.status, r.raw)
	require.NotContains(t, r.body["user"], "roles")
	r = e.do("GET", "/api/v1/users.info?userId=u-joao", nil, joao)
	require.Equal(t, []any{"user"}, r.body["user"].(map[string]any)["roles"])

	expectErr(t, e.do("GET", "/api/v1/users.info?userId=nobody", nil, botHdr), 400, "User not found.", nil)
	expectErr(t, e.do("GET", "/api/v1/users.info", nil, botHdr), 400, "", "error-user-param-not-provided")

	// Adding a username again replaces the user, keeping its id.
	e.s.AddUser(User{Username: "maria", Roles: []string{"user"}})
	r = e.do("GET", "/api/v1/users.info?userId=u-maria", nil, botHdr)
	require.Equal(t, []any{"user"}, r.body["user"].(map[string]any)["roles"])
}
