package rocketchat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidRequest is wrapped by errors raised before calling the server
// (empty token, empty room id…). Such errors are never transient.
var ErrInvalidRequest = errors.New("rocketchat: invalid request")

// Error is every failure the server reports (§2.2, §14, §15.1–3): non-2xx
// answers and 2xx answers with success:false.
type Error struct {
	HTTPStatus int
	Message    string // "error" (or legacy "message"); a summary for non-JSON bodies
	Type       string // "errorType", only for Meteor errors
	Reason     string // "reason", used by upload failures instead of "error"
	// RetryAfter is the wait a 429 asked for ("must wait N seconds",
	// X-RateLimit-Reset or Retry-After). Zero when unknown.
	RetryAfter time.Duration

	op     string // "POST livechat/message", for Error()
	decode bool   // a 2xx body we could not decode (maintenance pages)
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("rocketchat: ")
	if e.op != "" {
		b.WriteString(e.op + ": ")
	}
	fmt.Fprintf(&b, "HTTP %d", e.HTTPStatus)
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Type != "" {
		b.WriteString(" (errorType " + e.Type + ")")
	}
	if e.Reason != "" {
		b.WriteString(" (reason " + e.Reason + ")")
	}
	return b.String()
}

// bracketCode finds the Meteor.Error code in "<reason> [<code>]".
var bracketCode = regexp.MustCompile(`\[([^\[\]\s]+)\]\s*$`)

// Code is the machine-readable error: errorType if present, else the code
// in a trailing "[code]", else the error string, else reason (trap 2).
func (e *Error) Code() string {
	if e.Type != "" {
		return e.Type
	}
	if m := bracketCode.FindStringSubmatch(e.Message); m != nil {
		return m[1]
	}
	if e.Message != "" {
		return e.Message
	}
	return e.Reason
}

func (e *Error) scrub(secrets []string) {
	for _, s := range secrets {
		if len(s) >= 6 {
			e.Message = strings.ReplaceAll(e.Message, s, "REDACTED")
			e.Reason = strings.ReplaceAll(e.Reason, s, "REDACTED")
		}
	}
}

func asError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

func hasCode(err error, codes ...string) bool {
	e, ok := asError(err)
	if !ok {
		return false
	}
	c := e.Code()
	for _, want := range codes {
		if c == want {
			return true
		}
	}
	return false
}

// IsNoAgentOnline: room creation refused because no agent is available.
func IsNoAgentOnline(err error) bool { return hasCode(err, "no-agent-online") }

// IsRoomClosed: the room exists but is closed (message, close). Open a new
// room with Room.
// The livechat API answers room-closed; the bot's chat.sendMessage (a note) answers
// error-room-closed for a closed Omnichannel room (Rocket.Chat's message-permission check;
// not in the spec — found by the simulator: a note posted just after a close whose webhook
// was lost was taken for refused for good and dropped, instead of waiting for the next room).
func IsRoomClosed(err error) bool { return hasCode(err, "room-closed", "error-room-closed") }

// IsInvalidRoom: no open room with that rid for that visitor (also what a
// closed room looks like to OpenRoom, trap 9).
func IsInvalidRoom(err error) bool { return hasCode(err, "invalid-room") }

// IsInvalidToken: the visitor token is unknown (or empty); re-register.
func IsInvalidToken(err error) bool { return hasCode(err, "invalid-token", "error-invalid-token") }

// IsRateLimited: HTTP 429 / error-too-many-requests. Wait Error.RetryAfter.
func IsRateLimited(err error) bool {
	e, ok := asError(err)
	return ok && (e.HTTPStatus == http.StatusTooManyRequests || e.Code() == "error-too-many-requests")
}

// IsTransient reports failures worth retrying: network errors, timeouts,
// 5xx and 429.
func IsTransient(err error) bool {
	if err == nil || errors.Is(err, ErrInvalidRequest) {
		return false
	}
	if e, ok := asError(err); ok {
		// An undecodable 2xx is usually a proxy/maintenance page; visitor
		// writes are idempotent (our own _id), so a retry is safe.
		return e.HTTPStatus >= 500 || e.decode || IsRateLimited(e)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return !strings.Contains(ue.Err.Error(), "unsupported protocol scheme")
	}
	var ne net.Error
	return errors.As(err, &ne)
}

// errorBody covers both error styles of §2.2 plus the upload "reason" body
// and the 401 {"status":"error","message":…} body.
type errorBody struct {
	Success   *bool           `json:"success"`
	Error     json.RawMessage `json:"error"`
	ErrorType string          `json:"errorType"`
	Reason    string          `json:"reason"`
	Status    string          `json:"status"`
	Message   string          `json:"message"`
}

// parseError returns the *Error a response represents, or nil on success.
func parseError(resp *http.Response, raw []byte, now time.Time) *Error {
	var b errorBody
	isJSON := json.Unmarshal(raw, &b) == nil
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if ok && !(isJSON && b.Success != nil && !*b.Success) {
		return nil
	}
	e := &Error{HTTPStatus: resp.StatusCode}
	if isJSON {
		e.Message = rawString(b.Error)
		e.Type = b.ErrorType
		e.Reason = b.Reason
		if e.Message == "" && b.Status == "error" {
			e.Message = b.Message
		}
	} else {
		e.Message = summarizeBody(resp.Header.Get("Content-Type"), raw, resp.StatusCode)
	}
	if e.Message == "" && e.Reason == "" && e.Type == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	if IsRateLimited(e) {
		e.RetryAfter = retryAfter(e.Message, resp.Header, now)
	}
	return e
}

// rawString reads "error", which is normally a string but is a number for
// some login failures (§11.1).
func rawString(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return strings.TrimSpace(string(raw))
}

var mustWait = regexp.MustCompile(`must wait (\d+) seconds?`)

// retryAfter takes the largest hint available: the "must wait N seconds"
// text, X-RateLimit-Reset (epoch ms, §2.4) or a standard Retry-After.
// Spec gap (§2.4): the X-RateLimit headers may be missing on Hono-based
// 7.x builds, so the error text is read first and headers are optional.
func retryAfter(msg string, h http.Header, now time.Time) time.Duration {
	var d time.Duration
	if m := mustWait.FindStringSubmatch(msg); m != nil {
		if n, err := strconv.ParseInt(m[1], 10, 64); err == nil {
			d = time.Duration(n) * time.Second
		}
	}
	if v := strings.TrimSpace(h.Get("X-RateLimit-Reset")); v != "" {
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
			if w := time.UnixMilli(ms).Sub(now); w > d {
				d = w
			}
		}
	}
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			if w := time.Duration(n) * time.Second; w > d {
				d = w
			}
		} else if t, err := http.ParseTime(v); err == nil {
			if w := t.Sub(now); w > d {
				d = w
			}
		}
	}
	return d
}

// summarizeBody describes a non-JSON error body (proxy HTML pages become
// their <title>) without dumping it.
func summarizeBody(contentType string, raw []byte, status int) string {
	text := strings.TrimSpace(string(raw))
	lower := strings.ToLower(text)
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "text/html" || strings.HasPrefix(lower, "<!doctype html") || strings.HasPrefix(lower, "<html") {
		if i := strings.Index(lower, "<title>"); i >= 0 {
			if j := strings.Index(lower[i:], "</title>"); j >= 0 {
				if t := strings.Join(strings.Fields(text[i+7:i+j]), " "); t != "" {
					return "HTML error page: " + truncate(t, 120)
				}
			}
		}
		return "HTML error page"
	}
	if text == "" {
		return http.StatusText(status)
	}
	return truncate(strings.Join(strings.Fields(text), " "), 200)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// redactTransportError drops the query string (visitor tokens travel in
// it) from net/http's *url.Error while keeping the wrapped cause.
func redactTransportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: stripQuery(ue.URL), Err: ue.Err}
	}
	return err
}

func stripQuery(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparseable URL>"
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "REDACTED"
	}
	return u.String()
}
