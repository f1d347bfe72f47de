package instagram

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Class tells the caller what to do with a failed call (spec §10 legend).
type Class int

const (
	// Transient: retry with bounded exponential backoff (T).
	Transient Class = iota
	// RateLimited: wait (Error.RetryAfter / LastUsage) then retry (R).
	RateLimited
	// AuthExpired: token dead until the user re-authorizes; stop sending for
	// the account but keep ingesting webhooks (A, trap 28).
	AuthExpired
	// OutsideWindow: the 24 h / 7 d messaging window is closed; permanent
	// until the customer writes again (W).
	OutsideWindow
	// Permanent: this request/recipient will never succeed; do not retry (P).
	Permanent
	// Misconfigured: app review, permissions, wrong endpoint (C); alert.
	Misconfigured
)

func (c Class) String() string {
	switch c {
	case Transient:
		return "transient"
	case RateLimited:
		return "rate_limited"
	case AuthExpired:
		return "auth_expired"
	case OutsideWindow:
		return "outside_window"
	case Permanent:
		return "permanent"
	case Misconfigured:
		return "misconfigured"
	}
	return "class(" + strconv.Itoa(int(c)) + ")"
}

// ErrInvalidRequest is wrapped by errors the client raises before calling
// Meta (empty recipient, text and attachment together…). Class: Permanent.
var ErrInvalidRequest = errors.New("instagram: invalid request")

// typeClientDecode marks an *Error we synthesised for a 2xx body we could
// not decode.
const typeClientDecode = "ClientDecodeError"

// Error is a Graph API failure: any non-2xx response, or a 2xx whose body
// carries an "error" object (spec §4.5).
type Error struct {
	HTTPStatus int
	Message    string // Graph "message" (often prefixed "(#code)"), or a summary of a non-Graph body
	Type       string // OAuthException, IGApiException, GraphMethodException…
	Code       int
	Subcode    int // error_subcode
	FBTraceID  string
	// RetryAfter is how long Meta asked us to wait: the largest
	// estimated_time_to_regain_access (minutes) in the usage headers, or the
	// Retry-After header. Zero when unknown.
	RetryAfter time.Duration

	isTransient  bool   // "is_transient" from the body (spec §4.5, UNCERTAIN)
	method, path string // for Error(); path has no query string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("instagram: ")
	if e.method != "" {
		b.WriteString(e.method + " " + e.path + ": ")
	}
	if e.Code != 0 {
		fmt.Fprintf(&b, "graph error %d", e.Code)
		if e.Subcode != 0 {
			fmt.Fprintf(&b, "/%d", e.Subcode)
		}
		b.WriteString(" (")
		if e.Type != "" {
			b.WriteString(e.Type + ", ")
		}
		fmt.Fprintf(&b, "HTTP %d)", e.HTTPStatus)
	} else {
		fmt.Fprintf(&b, "HTTP %d", e.HTTPStatus)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.FBTraceID != "" {
		b.WriteString(" [fbtrace_id " + e.FBTraceID + "]")
	}
	return b.String()
}

// Class classifies by Graph code/subcode (spec §10); the HTTP status is only
// consulted when the body carried no Graph error (proxies, HTML pages).
func (e *Error) Class() Class {
	switch c, s := e.Code, e.Subcode; {
	case c == 0:
		return e.classByStatus()
	case c == 1:
		// "An unknown error occurred": T (bounded), then C. Subcode 1357046
		// ("invalid JSON reply") may mean the send happened; the caller's
		// reconcile-before-retry rule applies to every Transient send.
		return Transient
	case c == 2:
		if s == 2018344 {
			return Misconfigured
		}
		return Transient
	case c == 4 || c == 17 || c == 32 || c == 613:
		return RateLimited
	case c >= 80000 && c <= 80014:
		// Spec gap (§5): the exact 8000x mapping is UNCERTAIN; we treat the
		// whole 80000–80014 block as Business Use Case rate limits.
		return RateLimited
	case c == 10:
		switch s {
		case 2018278, 2534022, 2018065:
			return OutsideWindow
		case 2018108:
			return Permanent
		}
		return Misconfigured
	case c == 100:
		if strings.Contains(e.Message, "Unsupported request - method type") {
			return Misconfigured // wrong host/endpoint for the token kind (CW#14932)
		}
		return Permanent
	case c == 102 || c == 190:
		return AuthExpired
	case c == 200:
		if s == 1545041 {
			return Permanent
		}
		return Misconfigured
	case c == 230, c == 368, c == 551, c == 9010, c == 1609005, c == 10903, c == 2534014, c == 2534015:
		// 230 (profile consent) sits inside the 200–299 permission block but
		// is per-user, not a configuration problem.
		return Permanent
	case c == 3 || (c > 200 && c < 300):
		return Misconfigured
	case c == 1200:
		return Transient
	}
	// Spec gap (§4.5): is_transient is UNCERTAIN; we honour it only for
	// codes the table does not classify.
	if e.isTransient {
		return Transient
	}
	return Permanent
}

func (e *Error) classByStatus() Class {
	switch {
	case e.Type == typeClientDecode:
		return Transient
	case e.HTTPStatus == http.StatusTooManyRequests:
		return RateLimited
	case e.HTTPStatus >= 500:
		return Transient
	}
	return Permanent
}

// Classify maps any error returned by this package (or by the HTTP stack
// under it) to a Class. *Error uses its own Class; context deadlines,
// cancellations, timeouts and network failures are Transient; TLS
// verification and bad-URL failures are Misconfigured; anything else is
// Permanent. Classify(nil) is Permanent (there is nothing to retry).
func Classify(err error) Class {
	if err == nil {
		return Permanent
	}
	var ge *Error
	if errors.As(err, &ge) {
		return ge.Class()
	}
	if errors.Is(err, ErrInvalidRequest) {
		return Permanent
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return Transient
	}
	var (
		unknownAuth x509.UnknownAuthorityError
		hostname    x509.HostnameError
		invalid     x509.CertificateInvalidError
		verify      *tls.CertificateVerificationError
	)
	if errors.As(err, &unknownAuth) || errors.As(err, &hostname) || errors.As(err, &invalid) || errors.As(err, &verify) {
		return Misconfigured
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		if strings.Contains(ue.Err.Error(), "unsupported protocol scheme") {
			return Misconfigured
		}
		// Any other failure to get a response from Meta (DNS, refused,
		// reset, TLS handshake timeout…) is worth a bounded retry.
		return Transient
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return Transient
	}
	return Permanent
}

// graphErrorBody is the "error" object of §4.5, parsed leniently (codes
// have been seen as strings in third-party fakes).
type graphErrorBody struct {
	Message     string  `json:"message"`
	Type        string  `json:"type"`
	Code        flexInt `json:"code"`
	Subcode     flexInt `json:"error_subcode"`
	FBTraceID   string  `json:"fbtrace_id"`
	IsTransient bool    `json:"is_transient"`
}

// parseGraphError returns the *Error a response represents, or nil when the
// response is a success.
func parseGraphError(resp *http.Response, raw []byte, now time.Time) *Error {
	var env struct {
		Error json.RawMessage `json:"error"`
	}
	var e *Error
	if json.Unmarshal(raw, &env) == nil && len(env.Error) > 0 && string(env.Error) != "null" {
		var body graphErrorBody
		var msg string
		switch {
		case json.Unmarshal(env.Error, &body) == nil && (body.Code != 0 || body.Message != ""):
			e = &Error{Message: body.Message, Type: body.Type, Code: int(body.Code), Subcode: int(body.Subcode),
				FBTraceID: body.FBTraceID, isTransient: body.IsTransient}
		case json.Unmarshal(env.Error, &msg) == nil && msg != "":
			e = &Error{Message: msg}
		}
	}
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if e == nil && ok {
		return nil
	}
	if e == nil {
		e = &Error{Message: summarizeBody(resp.Header.Get("Content-Type"), raw, resp.StatusCode)}
	}
	e.HTTPStatus = resp.StatusCode
	e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), now)
	return e
}

// summarizeBody describes a non-Graph error body without dumping it: HTML
// error pages from load balancers are reduced to their <title>.
func summarizeBody(contentType string, raw []byte, status int) string {
	text := strings.TrimSpace(string(raw))
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "text/html" || strings.HasPrefix(strings.ToLower(text), "<!doctype html") || strings.HasPrefix(strings.ToLower(text), "<html") {
		if t := htmlTitle(text); t != "" {
			return "HTML error page: " + t
		}
		return "HTML error page"
	}
	if text == "" {
		return http.StatusText(status)
	}
	text = strings.Join(strings.Fields(text), " ")
	if len(text) > 200 {
		text = strings.ToValidUTF8(text[:200], "") + "…"
	}
	return text
}

func htmlTitle(s string) string {
	lower := strings.ToLower(s)
	i := strings.Index(lower, "<title>")
	if i < 0 {
		return ""
	}
	j := strings.Index(lower[i:], "</title>")
	if j < 0 {
		return ""
	}
	t := strings.Join(strings.Fields(s[i+len("<title>"):i+j]), " ")
	if len(t) > 120 {
		t = strings.ToValidUTF8(t[:120], "") + "…"
	}
	return t
}

// parseRetryAfter reads a Retry-After header in either of its RFC 9110
// forms (delay-seconds or HTTP-date).
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
