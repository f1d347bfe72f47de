package rocketchat

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"testing"
)

func TestRegisterVisitor(t *testing.T) {
	tests := []struct {
		name string
		in   Visitor
		body string
		rep  string
		want Visitor
	}{
		{
			name: "full, upsert keeps another token",
			in: Visitor{Token: testToken, Name: "Maria Silva", Username: "ig_maria", Department: "64f0c0ffee0000000000d001",
				CustomFields: []CustomField{{Key: "instagram_id", Value: "17841400000000001", Overwrite: true}}},
			body: `{"visitor":{"token":"ig-17841400000000001","name":"Maria Silva","username":"ig_maria","department":"64f0c0ffee0000000000d001","customFields":[{"key":"instagram_id","value":"17841400000000001","overwrite":true}]}}`,
			rep: `{"visitor":{"_id":"kZ3ttd2hrbxzR7YcT","token":"old-token-from-phone-match","username":"guest-42","status":"online","name":"Maria Silva",
			  "ts":"2025-05-02T10:11:12.345Z","visitorEmails":[{"address":"maria@example.com"}],"phone":[{"phoneNumber":"+5511999990000"}],
			  "department":"64f0c0ffee0000000000d001","livechatData":{"instagram_id":"17841400000000001","score":7},"contactId":"6814c0ffee00000000000c01"},"success":true}`,
			want: Visitor{ID: "kZ3ttd2hrbxzR7YcT", Token: "old-token-from-phone-match", Name: "Maria Silva", Username: "guest-42",
				Department: "64f0c0ffee0000000000d001", CustomFields: []CustomField{{Key: "instagram_id", Value: "17841400000000001"}, {Key: "score", Value: "7"}}},
		},
		{
			name: "minimal with id",
			in:   Visitor{Token: testToken, ID: "fixedVisitorId"},
			body: `{"visitor":{"token":"ig-17841400000000001","id":"fixedVisitorId"}}`,
			rep:  `{"visitor":{"_id":"fixedVisitorId","token":"ig-17841400000000001","username":"guest-7"},"success":true}`,
			want: Visitor{ID: "fixedVisitorId", Token: testToken, Username: "guest-7"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeRC(t, step{want{method: http.MethodPost, path: "/api/v1/livechat/visitor", header: visitorJSON, body: tc.body}, reply{body: tc.rep}})
			got, err := newTestClient(f).RegisterVisitor(context.Background(), tc.in)
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v, %v\nwant %+v", got, err, tc.want)
			}
		})
	}
	t.Run("bad department", func(t *testing.T) {
		f := newFakeRC(t, step{want{method: http.MethodPost, path: "/api/v1/livechat/visitor", header: visitorJSON,
			body: `{"visitor":{"token":"ig-17841400000000001","department":"nope"}}`},
			reply{status: 400, body: `{"success":false,"error":"The provided department is invalid [error-invalid-department]","errorType":"error-invalid-department"}`}})
		_, err := newTestClient(f).RegisterVisitor(context.Background(), Visitor{Token: testToken, Department: "nope"})
		var e *Error
		if !errors.As(err, &e) || e.Code() != "error-invalid-department" || IsTransient(err) {
			t.Fatalf("err = %v", err)
		}
		noLeak(t, err.Error())
	})
	t.Run("empty token", func(t *testing.T) {
		f := newFakeRC(t)
		if _, err := newTestClient(f).RegisterVisitor(context.Background(), Visitor{}); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("err = %v", err)
		}
	})
}

const roomJSON = `{"room":{"_id":"hG7xQp2Ws9KeLm3Zr","msgs":0,"usersCount":1,"lm":"2025-05-02T10:11:13.000Z","fname":"Maria Silva","t":"l",
 "ts":"2025-05-02T10:11:13.000Z","departmentId":"64f0c0ffee0000000000d001",
 "v":{"_id":"kZ3ttd2hrbxzR7YcT","username":"guest-42","token":"ig-17841400000000001","status":"online"},
 "cl":false,"open":true,"waitingResponse":true,"source":{"type":"api"},
 "servedBy":{"_id":"agentUserId01","username":"ana","ts":"2025-05-02T10:11:13.100Z"},"_updatedAt":"2025-05-02T10:11:13.120Z"},"newRoom":%s,"success":true}`

func TestRoom(t *testing.T) {
	served := Room{ID: testRID, DepartmentID: "64f0c0ffee0000000000d001", ServedByID: "agentUserId01", ServedByUsername: "ana", Open: true}
	tests := []struct {
		name    string
		rep     reply
		want    Room
		newRoom bool
		is      func(error) bool
	}{
		{"new room", reply{body: sprintf(roomJSON, "true")}, served, true, nil},
		{"existing room", reply{body: sprintf(roomJSON, "false")}, served, false, nil},
		{"queued, no servedBy", reply{body: `{"room":{"_id":"r2","open":true,"departmentId":"d"},"newRoom":true,"success":true}`},
			Room{ID: "r2", DepartmentID: "d", Open: true}, true, nil},
		{"no agent online", reply{status: 400, body: `{"success":false,"error":"Sorry, no online agents [no-agent-online]","errorType":"no-agent-online"}`},
			Room{}, false, IsNoAgentOnline},
		{"invalid token", reply{status: 400, body: `{"success":false,"error":"invalid-token"}`}, Room{}, false, IsInvalidToken},
		{"rate limited", reply{status: 429, body: `{"success":false,"error":"Error, too many requests. Please slow down. You must wait 42 seconds before trying this endpoint again. [error-too-many-requests]"}`},
			Room{}, false, IsRateLimited},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeRC(t, step{want{method: http.MethodGet, path: "/api/v1/livechat/room", query: q("token", testToken), header: visitorGET}, tc.rep})
			got, newRoom, err := newTestClient(f).Room(context.Background(), testToken)
			if tc.is != nil {
				if !tc.is(err) {
					t.Fatalf("err = %v", err)
				}
				noLeak(t, err.Error())
				return
			}
			if err != nil || got != tc.want || newRoom != tc.newRoom {
				t.Errorf("got %+v %v %v", got, newRoom, err)
			}
		})
	}
}

func TestOpenRoom(t *testing.T) {
	t.Run("open", func(t *testing.T) {
		f := newFakeRC(t, step{want{method: http.MethodGet, path: "/api/v1/livechat/room", query: q("token", testToken, "rid", testRID), header: visitorGET},
			reply{body: sprintf(roomJSON, "false")}})
		got, err := newTestClient(f).OpenRoom(context.Background(), testToken, testRID)
		if err != nil || got.ID != testRID || !got.Open {
			t.Errorf("got %+v %v", got, err)
		}
	})
	t.Run("closed looks invalid", func(t *testing.T) {
		f := newFakeRC(t, step{want{method: http.MethodGet, path: "/api/v1/livechat/room", query: q("token", testToken, "rid", testRID), header: visitorGET},
			reply{status: 400, body: `{"success":false,"error":"invalid-room"}`}})
		_, err := newTestClient(f).OpenRoom(context.Background(), testToken, testRID)
		if !IsInvalidRoom(err) || IsRoomClosed(err) {
			t.Errorf("err = %v", err)
		}
	})
}

func TestCloseRoom(t *testing.T) {
	tests := []struct {
		name string
		rep  reply
		is   func(error) bool
	}{
		{"ok", reply{body: `{"rid":"hG7xQp2Ws9KeLm3Zr","comment":"Closed by visitor","success":true}`}, nil},
		{"already closed", reply{status: 400, body: `{"success":false,"error":"room-closed"}`}, IsRoomClosed},
		{"not allowed", reply{status: 400, body: `{"success":false,"error":"error-not-allowed-to-close-conversation"}`},
			func(err error) bool {
				e, _ := asError(err)
				return e != nil && e.Code() == "error-not-allowed-to-close-conversation"
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeRC(t, step{want{method: http.MethodPost, path: "/api/v1/livechat/room.close", header: visitorJSON,
				body: `{"rid":"hG7xQp2Ws9KeLm3Zr","token":"ig-17841400000000001"}`}, tc.rep})
			err := newTestClient(f).CloseRoom(context.Background(), testToken, testRID)
			if tc.is == nil && err != nil || tc.is != nil && !tc.is(err) {
				t.Errorf("err = %v", err)
			}
		})
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name       string
		token, dep string
		query      map[string]string
		body       string
		want       Config
	}{
		{"online with room and agent", testToken, "64f0c0ffee0000000000d001", map[string]string{"token": testToken, "department": "64f0c0ffee0000000000d001"},
			`{"config":{"enabled":true,"settings":{"fileUpload":true},"theme":{},"messages":{},"survey":{},"triggers":[],"departments":[],"resources":{},"online":true,
			  "guest":{"_id":"kZ3ttd2hrbxzR7YcT","token":"ig-17841400000000001"},"room":{"_id":"hG7xQp2Ws9KeLm3Zr","open":true},
			  "agent":{"_id":"agentUserId01","username":"ana","name":"Ana","emails":[{"address":"ana@example.com"}]}},"success":true}`,
			Config{Enabled: true, Online: true, RoomID: testRID, AgentUsername: "ana", AgentName: "Ana"}},
		{"offline, no params", "", "", nil,
			`{"config":{"enabled":true,"online":false},"success":true}`, Config{Enabled: true}},
		{"disabled", testToken, "", map[string]string{"token": testToken}, `{"config":{"enabled":false},"success":true}`, Config{}},
		{"hidden agent", testToken, "", map[string]string{"token": testToken},
			`{"config":{"enabled":true,"online":true,"room":{"_id":"r"},"agent":{"hiddenInfo":true}},"success":true}`,
			Config{Enabled: true, Online: true, RoomID: "r"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var qv = q()
			for k, v := range tc.query {
				qv.Set(k, v)
			}
			if tc.query == nil {
				qv = nil
			}
			f := newFakeRC(t, step{want{method: http.MethodGet, path: "/api/v1/livechat/config", query: qv, header: visitorGET}, reply{body: tc.body}})
			got, err := newTestClient(f).Config(context.Background(), tc.token, tc.dep)
			if err != nil || got != tc.want {
				t.Errorf("got %+v %v", got, err)
			}
		})
	}
}

func TestDepartments(t *testing.T) {
	page := func(n, from, total int) string {
		s := `{"departments":[`
		for i := 0; i < n; i++ {
			if i > 0 {
				s += ","
			}
			s += sprintf(`{"_id":"d%d","name":"Dep %d","enabled":%v,"type":"d","numAgents":2}`, from+i, from+i, (from+i)%2 == 0)
		}
		return s + sprintf(`],"count":%d,"offset":%d,"total":%d,"success":true}`, n, from, total)
	}
	f := newFakeRC(t,
		step{want{method: http.MethodGet, path: "/api/v1/livechat/department", query: q("count", "100", "offset", "0"), header: botGET}, reply{body: page(100, 0, 103)}},
		step{want{method: http.MethodGet, path: "/api/v1/livechat/department", query: q("count", "100", "offset", "100"), header: botGET}, reply{body: page(3, 100, 103)}},
	)
	got, err := newTestClient(f).Departments(context.Background())
	if err != nil || len(got) != 103 || got[0] != (Department{ID: "d0", Name: "Dep 0", Enabled: true}) || got[102] != (Department{ID: "d102", Name: "Dep 102", Enabled: true}) || got[1].Enabled {
		t.Fatalf("got %d %v", len(got), err)
	}

	t.Run("unauthorized", func(t *testing.T) {
		f := newFakeRC(t, step{want{method: http.MethodGet, path: "/api/v1/livechat/department", query: q("count", "100", "offset", "0"), header: botGET},
			reply{status: 401, body: `{"success":false,"error":"You must be logged in to do this.","status":"error","message":"You must be logged in to do this."}`}})
		_, err := newTestClient(f).Departments(context.Background())
		var e *Error
		if !errors.As(err, &e) || e.HTTPStatus != 401 || e.Message != "You must be logged in to do this." || IsTransient(err) {
			t.Fatalf("err = %v", err)
		}
		noLeak(t, err.Error())
	})
	t.Run("legacy 401 body", func(t *testing.T) {
		f := newFakeRC(t, step{want{method: http.MethodGet, path: "/api/v1/livechat/department", query: q("count", "100", "offset", "0"), header: botGET},
			reply{status: 401, body: `{"status":"error","message":"You must be logged in to do this."}`}})
		_, err := newTestClient(f).Departments(context.Background())
		if e, ok := asError(err); !ok || e.Message != "You must be logged in to do this." {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("forbidden", func(t *testing.T) {
		f := newFakeRC(t, step{want{method: http.MethodGet, path: "/api/v1/livechat/department", query: q("count", "100", "offset", "0"), header: botGET},
			reply{status: 403, body: `{"success":false,"error":"User does not have the permissions required for this action [error-unauthorized]"}`}})
		_, err := newTestClient(f).Departments(context.Background())
		if e, ok := asError(err); !ok || e.HTTPStatus != 403 || e.Code() != "error-unauthorized" {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestPostMessage(t *testing.T) {
	tests := []struct {
		name    string
		channel string
		text    string
		atts    []PostAttachment
		body    string
	}{
		{"text", "#ig-admin", "Bridge online ✅ <ok> & go", nil, `{"channel":"#ig-admin","text":"Bridge online ✅ <ok> & go"}`},
		{"attachment with button", "@ana", "New Instagram conversation", []PostAttachment{{Title: "Maria", TitleLink: "https://chat.example.com/live/r1",
			Text: "hi", Color: "#36a64f", Actions: []Action{{Text: "Open", URL: "https://chat.example.com/live/r1"}, {Type: "button", Text: "IG", URL: "https://ig.me/x"}}}},
			`{"channel":"@ana","text":"New Instagram conversation","attachments":[{"title":"Maria","title_link":"https://chat.example.com/live/r1","text":"hi","color":"#36a64f","actions":[{"type":"button","text":"Open","url":"https://chat.example.com/live/r1"},{"type":"button","text":"IG","url":"https://ig.me/x"}]}]}`},
		{"button that types a message", "#ig-admin", "Setup", []PostAttachment{{Title: "Sign in", Actions: []Action{{Text: "Send me a sign-in link", Msg: "instagram console"}}}},
			`{"channel":"#ig-admin","text":"Setup","attachments":[{"title":"Sign in","actions":[{"type":"button","text":"Send me a sign-in link","msg":"instagram console","msg_in_chat_window":true}]}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeRC(t, step{want{method: http.MethodPost, path: "/api/v1/chat.postMessage", header: botJSON, body: tc.body},
				reply{body: `{"ts":1746180000000,"channel":"ig-admin","message":{"_id":"x","msg":"t"},"success":true}`}})
			if err := newTestClient(f).PostMessage(context.Background(), tc.channel, tc.text, tc.atts); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("unknown channel", func(t *testing.T) {
		f := newFakeRC(t, step{want{method: http.MethodPost, path: "/api/v1/chat.postMessage", header: botJSON, body: `{"channel":"#nope","text":"x"}`},
			reply{status: 400, body: `{"success":false,"error":"[invalid-channel]","errorType":"invalid-channel"}`}})
		err := newTestClient(f).PostMessage(context.Background(), "#nope", "x", nil)
		if e, ok := asError(err); !ok || e.Code() != "invalid-channel" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("validation", func(t *testing.T) {
		f := newFakeRC(t)
		if err := newTestClient(f).PostMessage(context.Background(), "", "x", nil); !errors.Is(err, ErrInvalidRequest) {
			t.Error(err)
		}
		if err := newTestClient(f).PostMessage(context.Background(), "#a", "", nil); !errors.Is(err, ErrInvalidRequest) {
			t.Error(err)
		}
	})
}

func TestUserInfo(t *testing.T) {
	f := newFakeRC(t,
		step{want{method: http.MethodGet, path: "/api/v1/users.info", query: q("userId", "u-maria"), header: botGET},
			reply{body: `{"user":{"_id":"u-maria","username":"maria","type":"user","status":"online","active":true,"name":"Maria","roles":["user","livechat-manager"]},"success":true}`}},
		step{want{method: http.MethodGet, path: "/api/v1/users.info", query: q("userId", "u-joao"), header: botGET},
			reply{body: `{"user":{"_id":"u-joao","username":"joao","type":"user"},"success":true}`}},
		step{want{method: http.MethodGet, path: "/api/v1/users.info", query: q("userId", "nobody"), header: botGET},
			reply{status: 400, body: `{"success":false,"error":"User not found."}`}},
	)
	c := newTestClient(f)
	u, err := c.UserInfo(context.Background(), "u-maria")
	if err != nil || u.Username != "maria" || !u.RolesShown || len(u.Roles) != 2 || u.Roles[1] != "livechat-manager" {
		t.Fatalf("%+v %v", u, err)
	}
	u, err = c.UserInfo(context.Background(), "u-joao")
	if err != nil || u.RolesShown || u.Roles != nil {
		t.Fatalf("roles not shown: %+v %v", u, err)
	}
	_, err = c.UserInfo(context.Background(), "nobody")
	var e *Error
	if !errors.As(err, &e) || e.HTTPStatus != 400 || IsTransient(err) {
		t.Fatalf("err = %v", err)
	}
	noLeak(t, err.Error())
}
