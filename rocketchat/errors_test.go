package rocketchat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestErrorStyles(t *testing.T) {
	now := time.Date(2025, 5, 2, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		rep        reply
		status     int
		message    string
		typ        string
		reason     string
		code       string
		transient  bool
		rateLimit  bool
		retryAfter time.Duration
		errString  string
	}{
		{name: "plain Error style", rep: reply{status: 400, body: `{"success":false,"error":"invalid-token"}`},
			status: 400, message: "invalid-token", code: "invalid-token",
			errString: "rocketchat: GET livechat/room: HTTP 400: invalid-token"},
		{name: "Meteor.Error style", rep: reply{status: 400, body: `{"success":false,"error":"Sorry, no online agents [no-agent-online]","errorType":"no-agent-online"}`},
			status: 400, message: "Sorry, no online agents [no-agent-online]", typ: "no-agent-online", code: "no-agent-online",
			errString: "rocketchat: GET livechat/room: HTTP 400: Sorry, no online agents [no-agent-online] (errorType no-agent-online)"},
		{name: "bracket code without errorType", rep: reply{status: 400, body: `{"success":false,"error":"[invalid-token]"}`},
			status: 400, message: "[invalid-token]", code: "invalid-token"},
		{name: "develop invalid token", rep: reply{status: 400, body: `{"success":false,"error":"Invalid token [invalid-token]","errorType":"invalid-token"}`},
			status: 400, message: "Invalid token [invalid-token]", typ: "invalid-token", code: "invalid-token"},
		{name: "Match error", rep: reply{status: 400, body: `{"success":false,"error":"Match error: Missing key 'token'"}`},
			status: 400, message: "Match error: Missing key 'token'", code: "Match error: Missing key 'token'"},
		{name: "typed route validation", rep: reply{status: 400, body: `{"success":false,"error":"must NOT have additional properties","errorType":"error-invalid-params"}`},
			status: 400, message: "must NOT have additional properties", typ: "error-invalid-params", code: "error-invalid-params"},
		{name: "omnichannel disabled", rep: reply{status: 400, body: `{"success":false,"error":"[error-omnichannel-is-disabled]","errorType":"error-omnichannel-is-disabled"}`},
			status: 400, message: "[error-omnichannel-is-disabled]", typ: "error-omnichannel-is-disabled", code: "error-omnichannel-is-disabled"},
		{name: "numeric error (login)", rep: reply{status: 401, body: `{"success":false,"error":403,"status":"error","message":"Incorrect password"}`},
			status: 401, message: "403", code: "403"},
		{name: "reason only", rep: reply{status: 400, body: `{"reason":"error-type-not-allowed","success":false}`},
			status: 400, reason: "error-type-not-allowed", code: "error-type-not-allowed",
			errString: "rocketchat: GET livechat/room: HTTP 400 (reason error-type-not-allowed)"},
		{name: "success false on 200", rep: reply{status: 200, body: `{"success":false,"error":"room-closed"}`},
			status: 200, message: "room-closed", code: "room-closed"},
		{name: "429 text wait", rep: reply{status: 429, body: `{"success":false,"error":"Error, too many requests. Please slow down. You must wait 42 seconds before trying this endpoint again. [error-too-many-requests]"}`},
			status: 429, message: "Error, too many requests. Please slow down. You must wait 42 seconds before trying this endpoint again. [error-too-many-requests]",
			code: "error-too-many-requests", transient: true, rateLimit: true, retryAfter: 42 * time.Second},
		{name: "429 X-RateLimit-Reset epoch ms", rep: reply{status: 429,
			header: map[string]string{"X-RateLimit-Limit": "5", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": strconv.FormatInt(now.Add(55*time.Second).UnixMilli(), 10)},
			body:   `{"success":false,"error":"Error, too many requests. [error-too-many-requests]"}`},
			status: 429, message: "Error, too many requests. [error-too-many-requests]", code: "error-too-many-requests", transient: true, rateLimit: true, retryAfter: 55 * time.Second},
		{name: "429 Retry-After, no body", rep: reply{status: 429, header: map[string]string{"Retry-After": "9", "Content-Type": "text/plain"}},
			status: 429, message: "Too Many Requests", code: "Too Many Requests", transient: true, rateLimit: true, retryAfter: 9 * time.Second},
		{name: "500 internal", rep: reply{status: 500, body: `{"success":false,"error":"Internal server error"}`},
			status: 500, message: "Internal server error", code: "Internal server error", transient: true},
		{name: "502 HTML", rep: reply{status: 502, header: map[string]string{"Content-Type": "text/html"}, body: "<html><head><title>502 Bad Gateway</title></head><body><center>nginx</center></body></html>"},
			status: 502, message: "HTML error page: 502 Bad Gateway", code: "HTML error page: 502 Bad Gateway", transient: true,
			errString: "rocketchat: GET livechat/room: HTTP 502: HTML error page: 502 Bad Gateway"},
		{name: "503 empty", rep: reply{status: 503, header: map[string]string{"Content-Type": "text/plain"}},
			status: 503, message: "Service Unavailable", code: "Service Unavailable", transient: true},
		{name: "404 framework", rep: reply{status: 404, header: map[string]string{"Content-Type": "text/plain"}, body: "Not Found\n"},
			status: 404, message: "Not Found", code: "Not Found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeRC(t, step{want{method: http.MethodGet, path: "/api/v1/livechat/room", query: q("token", testToken), header: visitorGET}, tc.rep})
			c := newTestClient(f)
			c.now = func() time.Time { return now }
			_, _, err := c.Room(context.Background(), testToken)
			e, ok := asError(err)
			if !ok {
				t.Fatalf("err = %T %v", err, err)
			}
			if e.HTTPStatus != tc.status || e.Message != tc.message || e.Type != tc.typ || e.Reason != tc.reason || e.Code() != tc.code {
				t.Errorf("got %+v code %q", e, e.Code())
			}
			wrapped := fmt.Errorf("activity: %w", err)
			if IsTransient(wrapped) != tc.transient || IsRateLimited(wrapped) != tc.rateLimit || e.RetryAfter != tc.retryAfter {
				t.Errorf("transient=%v rate=%v retry=%v", IsTransient(err), IsRateLimited(err), e.RetryAfter)
			}
			if tc.errString != "" && err.Error() != tc.errString {
				t.Errorf("Error() = %q\nwant      %q", err.Error(), tc.errString)
			}
			noLeak(t, err.Error())
		})
	}
}

func TestPredicates(t *testing.T) {
	mk := func(msg, typ string) error { return &Error{HTTPStatus: 400, Message: msg, Type: typ} }
	tests := []struct {
		name string
		err  error
		fn   func(error) bool
		want bool
	}{
		{"no agent", mk("Sorry, no online agents [no-agent-online]", "no-agent-online"), IsNoAgentOnline, true},
		{"no agent (no errorType)", mk("Sorry, no online agents [no-agent-online]", ""), IsNoAgentOnline, true},
		{"room closed", mk("room-closed", ""), IsRoomClosed, true},
		{"invalid room", mk("invalid-room", ""), IsInvalidRoom, true},
		{"invalid room is not closed", mk("invalid-room", ""), IsRoomClosed, false},
		{"invalid token", mk("invalid-token", ""), IsInvalidToken, true},
		{"empty token", mk("Token cannot be empty [error-invalid-token]", "error-invalid-token"), IsInvalidToken, true},
		{"nil", nil, IsInvalidToken, false},
		{"plain error", errors.New("invalid-token"), IsInvalidToken, false},
		{"transient nil", nil, IsTransient, false},
		{"transient canceled", context.Canceled, IsTransient, true},
		{"transient deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), IsTransient, true},
		{"transient net", &net.OpError{Op: "dial", Err: errors.New("refused")}, IsTransient, true},
		{"transient EOF", io.ErrUnexpectedEOF, IsTransient, true},
		{"not transient 400", mk("invalid-room", ""), IsTransient, false},
		{"not transient invalid request", fmt.Errorf("%w: x", ErrInvalidRequest), IsTransient, false},
		{"not transient unknown", errors.New("boom"), IsTransient, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.fn(tc.err); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestTransportErrors(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		_, err = NewClient("http://"+addr, testUserID, testAuthToken, nil).OpenRoom(context.Background(), testToken, testRID)
		if err == nil || !IsTransient(err) {
			t.Fatalf("err = %v", err)
		}
		noLeak(t, err.Error())
	})
	t.Run("context deadline", func(t *testing.T) {
		f := newFakeRC(t, step{want{method: http.MethodGet, path: "/api/v1/livechat/room", query: q("token", testToken), header: visitorGET},
			reply{delay: 2 * time.Second}})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, _, err := newTestClient(f).Room(ctx, testToken)
		if !errors.Is(err, context.DeadlineExceeded) || !IsTransient(err) {
			t.Fatalf("err = %v", err)
		}
		noLeak(t, err.Error())
	})
	t.Run("unparseable 2xx", func(t *testing.T) {
		f := newFakeRC(t, step{want{method: http.MethodGet, path: "/api/v1/livechat/room", query: q("token", testToken), header: visitorGET},
			reply{body: "<html>maintenance</html>"}})
		_, _, err := newTestClient(f).Room(context.Background(), testToken)
		if e, ok := asError(err); !ok || e.HTTPStatus != 200 || !IsTransient(err) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("secrets echoed by server are scrubbed", func(t *testing.T) {
		f := newFakeRC(t, step{want{method: http.MethodGet, path: "/api/v1/livechat/room", query: q("token", testToken), header: visitorGET},
			reply{status: 400, body: `{"success":false,"error":"no visitor ig-17841400000000001 / bot-pat-SECRET-0123456789"}`}})
		_, _, err := newTestClient(f).Room(context.Background(), testToken)
		if err == nil {
			t.Fatal("expected error")
		}
		noLeak(t, err.Error())
	})
}
