package rocketchat

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

const sentMessage = `{"message":{"_id":"igmid-aGlkLmFi","rid":"hG7xQp2Ws9KeLm3Zr","msg":"Olá!","token":"ig-17841400000000001","alias":"Maria Silva",
 "ts":"2025-05-02T10:11:20.000Z","u":{"_id":"kZ3ttd2hrbxzR7YcT","username":"guest-42","name":"Maria Silva"},"_updatedAt":"2025-05-02T10:11:20.010Z",
 "mentions":[],"channels":[],"md":[{"type":"PARAGRAPH","value":[{"type":"PLAIN_TEXT","value":"Olá!"}]}]},"success":true}`

var sentWant = Message{ID: "igmid-aGlkLmFi", RID: testRID, Msg: "Olá!", Token: testToken, TS: time.Date(2025, 5, 2, 10, 11, 20, 0, time.UTC)}

func TestSendMessage(t *testing.T) {
	postBody := `{"token":"ig-17841400000000001","rid":"hG7xQp2Ws9KeLm3Zr","msg":"Olá!","_id":"igmid-aGlkLmFi"}`
	post := want{method: http.MethodPost, path: "/api/v1/livechat/message", header: visitorJSON, body: postBody}
	get := want{method: http.MethodGet, path: "/api/v1/livechat/message/igmid-aGlkLmFi", query: q("token", testToken, "rid", testRID), header: visitorGET}
	dupMongo := `{"success":false,"error":"E11000 duplicate key error collection: rocketchat.rocketchat_message index: _id_ dup key: { _id: \"igmid-aGlkLmFi\" }"}`
	tests := []struct {
		name  string
		steps []step
		want  Message
		is    func(error) bool
	}{
		{"ok", []step{{post, reply{body: sentMessage}}}, sentWant, nil},
		{"duplicate id (400 E11000) resolves to stored message", []step{
			{post, reply{status: 400, body: dupMongo}},
			{get, reply{body: sentMessage}},
		}, sentWant, nil},
		{"duplicate id as Meteor error", []step{
			{post, reply{status: 400, body: `{"success":false,"error":"Duplicate key [duplicate-key]","errorType":"duplicate-key"}`}},
			{get, reply{body: sentMessage}},
		}, sentWant, nil},
		{"duplicate hidden behind 500 resolves", []step{
			{post, reply{status: 500, body: `{"success":false,"error":"Internal server error"}`}},
			{get, reply{body: sentMessage}},
		}, sentWant, nil},
		{"500 and message not stored keeps original error", []step{
			{post, reply{status: 500, body: `{"success":false,"error":"Internal server error"}`}},
			{get, reply{status: 400, body: `{"success":false,"error":"invalid-message"}`}},
		}, Message{}, IsTransient},
		{"room closed is not probed", []step{{post, reply{status: 400, body: `{"success":false,"error":"room-closed"}`}}}, Message{}, IsRoomClosed},
		{"invalid room", []step{{post, reply{status: 400, body: `{"success":false,"error":"invalid-room"}`}}}, Message{}, IsInvalidRoom},
		{"invalid token", []step{{post, reply{status: 400, body: `{"success":false,"error":"invalid-token"}`}}}, Message{}, IsInvalidToken},
		{"too long", []step{{post, reply{status: 400, body: `{"success":false,"error":"message-length-exceeds-character-limit"}`}}}, Message{},
			func(err error) bool {
				e, _ := asError(err)
				return e != nil && e.Code() == "message-length-exceeds-character-limit" && !IsTransient(err)
			}},
		{"strict schema", []step{{post, reply{status: 400, body: `{"success":false,"error":"must NOT have additional properties [invalid-params]","errorType":"invalid-params"}`}}}, Message{},
			func(err error) bool { e, _ := asError(err); return e != nil && e.Code() == "invalid-params" }},
		{"rate limited", []step{{post, reply{status: 429, header: map[string]string{"X-RateLimit-Reset": "0"},
			body: `{"success":false,"error":"Error, too many requests. Please slow down. You must wait 7 seconds before trying this endpoint again. [error-too-many-requests]"}`}}}, Message{},
			func(err error) bool {
				e, _ := asError(err)
				return IsRateLimited(err) && IsTransient(err) && e.RetryAfter == 7*time.Second
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeRC(t, tc.steps...)
			got, err := newTestClient(f).SendMessage(context.Background(), testToken, testRID, "igmid-aGlkLmFi", "Olá!")
			if tc.is != nil {
				if !tc.is(err) {
					t.Fatalf("err = %v", err)
				}
				noLeak(t, err.Error())
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %+v, %v", got, err)
			}
		})
	}
	t.Run("without id", func(t *testing.T) {
		f := newFakeRC(t, step{want{method: http.MethodPost, path: "/api/v1/livechat/message", header: visitorJSON,
			body: `{"token":"ig-17841400000000001","rid":"hG7xQp2Ws9KeLm3Zr","msg":"x"}`}, reply{status: 500, body: `{"success":false,"error":"Internal server error"}`}})
		_, err := newTestClient(f).SendMessage(context.Background(), testToken, testRID, "", "x")
		if !IsTransient(err) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("validation", func(t *testing.T) {
		f := newFakeRC(t)
		for _, args := range [][3]string{{"", testRID, "x"}, {testToken, "", "x"}, {testToken, testRID, ""}} {
			if _, err := newTestClient(f).SendMessage(context.Background(), args[0], args[1], "id", args[2]); !errors.Is(err, ErrInvalidRequest) || IsTransient(err) {
				t.Errorf("%v: err = %v", args, err)
			}
		}
	})
}

func TestGetUpdateDeleteMessage(t *testing.T) {
	ctx := context.Background()
	t.Run("get with file and escaped id", func(t *testing.T) {
		f := newFakeRC(t, step{want{method: http.MethodGet, path: "/api/v1/livechat/message/a%2Fb%20c", query: q("token", testToken, "rid", testRID), header: visitorGET},
			reply{body: `{"message":{"_id":"a/b c","rid":"hG7xQp2Ws9KeLm3Zr","msg":"","ts":{"$date":1746180000000},"fileUpload":{"publicFilePath":"https://x/y","type":"image/png","size":1}},"success":true}`}})
		got, err := newTestClient(f).GetMessage(ctx, testToken, testRID, "a/b c")
		if err != nil || got.ID != "a/b c" || !got.TS.Equal(time.UnixMilli(1746180000000)) {
			t.Errorf("got %+v %v", got, err)
		}
	})
	t.Run("get unknown", func(t *testing.T) {
		f := newFakeRC(t, step{want{method: http.MethodGet, path: "/api/v1/livechat/message/nope", query: q("token", testToken, "rid", testRID), header: visitorGET},
			reply{status: 400, body: `{"success":false,"error":"invalid-message"}`}})
		_, err := newTestClient(f).GetMessage(ctx, testToken, testRID, "nope")
		if e, ok := asError(err); !ok || e.Code() != "invalid-message" {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("update", func(t *testing.T) {
		f := newFakeRC(t, step{want{method: http.MethodPut, path: "/api/v1/livechat/message/igmid-1", header: visitorJSON,
			body: `{"token":"ig-17841400000000001","rid":"hG7xQp2Ws9KeLm3Zr","msg":"new text"}`},
			reply{body: `{"message":{"_id":"igmid-1","rid":"hG7xQp2Ws9KeLm3Zr","msg":"new text","ts":"2025-05-02T10:11:20.000Z","editedAt":"2025-05-02T10:12:00.500Z","editedBy":{"_id":"v","username":"guest-42"}},"success":true}`}})
		got, err := newTestClient(f).UpdateMessage(ctx, testToken, testRID, "igmid-1", "new text")
		if err != nil || got.Msg != "new text" || !got.EditedAt.Equal(time.Date(2025, 5, 2, 10, 12, 0, 500e6, time.UTC)) {
			t.Errorf("got %+v %v", got, err)
		}
	})
	t.Run("update not allowed", func(t *testing.T) {
		f := newFakeRC(t, step{want{method: http.MethodPut, path: "/api/v1/livechat/message/igmid-1", header: visitorJSON,
			body: `{"token":"ig-17841400000000001","rid":"hG7xQp2Ws9KeLm3Zr","msg":"x"}`},
			reply{status: 400, body: `{"success":false,"error":"error-action-not-allowed"}`}})
		_, err := newTestClient(f).UpdateMessage(ctx, testToken, testRID, "igmid-1", "x")
		if e, ok := asError(err); !ok || e.Code() != "error-action-not-allowed" {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("delete sends JSON body", func(t *testing.T) {
		f := newFakeRC(t, step{want{method: http.MethodDelete, path: "/api/v1/livechat/message/igmid-1", header: visitorJSON,
			body: `{"token":"ig-17841400000000001","rid":"hG7xQp2Ws9KeLm3Zr"}`},
			reply{body: `{"message":{"_id":"igmid-1","ts":"2025-05-02T10:20:00.000Z"},"success":true}`}})
		if err := newTestClient(f).DeleteMessage(ctx, testToken, testRID, "igmid-1"); err != nil {
			t.Fatal(err)
		}
	})
}
