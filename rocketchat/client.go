package rocketchat

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultTimeout bounds every call when NewClient gets a nil *http.Client.
const DefaultTimeout = 15 * time.Second

// maxResponseBytes caps buffered JSON answers; file downloads stream.
const maxResponseBytes = 8 << 20

// Credential headers. Visitor calls are anonymous; only the bot endpoints
// (departments, chat.postMessage, file downloads) send the user headers.
const (
	headerUserID       = "X-User-Id"
	headerAuthToken    = "X-Auth-Token"
	headerVisitorToken = "x-visitor-token"
)

// Client talks to one Rocket.Chat server. It is safe for concurrent use.
type Client struct {
	base      *url.URL // scheme://host[/prefix], no trailing slash in Path
	userID    string
	authToken string
	hc        *http.Client
	now       func() time.Time // replaced in tests
}

// NewClient returns a Client for baseURL (like "https://chat.example.com";
// REST paths are {baseURL}/api/v1/...). userID/authToken are the bot user's
// id and personal access token (or login token). A nil hc gets a default
// client with DefaultTimeout. The client is copied so that credential
// headers can be dropped on redirects to another host (net/http only
// strips Authorization and Cookie by itself).
func NewClient(baseURL, userID, authToken string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: DefaultTimeout}
	}
	own := *hc
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || u.Host == "" {
		// Keep going with an obviously unusable URL: every call then fails
		// with a clear error instead of NewClient having to return one.
		u = &url.URL{Scheme: "invalid", Host: "invalid-base-url"}
	}
	c := &Client{base: u, userID: userID, authToken: authToken, hc: &own, now: time.Now}
	next := hc.CheckRedirect
	own.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) > 0 && !sameOrigin(req.URL, via[0].URL) {
			req.Header.Del(headerUserID)
			req.Header.Del(headerAuthToken)
			req.Header.Del(headerVisitorToken)
		}
		if err := c.checkDownloadRedirect(req); err != nil {
			return err
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return fmt.Errorf("stopped after 10 redirects")
		}
		return nil
	}
	return c
}

func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Host, b.Host)
}

// request describes one REST call relative to /api/v1/.
type request struct {
	method string
	path   string // e.g. "livechat/message/" + url.PathEscape(id)
	query  url.Values
	body   any // JSON-encoded when non-nil
	auth   bool
	header http.Header
	// raw, when set, is sent as-is with contentType (multipart upload).
	raw         io.Reader
	contentType string
	// secrets are scrubbed from error messages (visitor tokens).
	secrets []string
}

// apiURL joins base, /api/v1/ and path. Callers escape dynamic path
// segments with url.PathEscape.
func (c *Client) apiURL(path string, q url.Values) string {
	u := strings.TrimRight(c.base.String(), "/") + "/api/v1/" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// do performs r and decodes a successful JSON body into out (if non-nil).
// Failures are *Error (the server answered) or transport errors with the
// URL stripped of its query.
func (c *Client) do(ctx context.Context, r request, out any) error {
	var body io.Reader
	contentType := r.contentType
	if r.body != nil {
		buf, err := marshalJSON(r.body)
		if err != nil {
			return fmt.Errorf("rocketchat: encoding %s: %w", r.path, err)
		}
		body = bytes.NewReader(buf)
		// Rocket.Chat only parses bodies whose Content-Type is JSON (§2.1).
		contentType = "application/json"
	} else if r.raw != nil {
		body = r.raw
	}
	req, err := http.NewRequestWithContext(ctx, r.method, c.apiURL(r.path, r.query), body)
	if err != nil {
		return fmt.Errorf("rocketchat: building %s %s request", r.method, r.path)
	}
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, vs := range r.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if r.auth {
		c.setAuth(req)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return redactTransportError(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("rocketchat: %s %s: reading response: %w", r.method, r.path, err)
	}
	if e := parseError(resp, raw, c.now()); e != nil {
		e.op = r.method + " " + r.path
		e.scrub(append([]string{c.authToken}, r.secrets...))
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return &Error{HTTPStatus: resp.StatusCode, Message: "unparseable response body", op: r.method + " " + r.path, decode: true}
	}
	return nil
}

func (c *Client) setAuth(req *http.Request) {
	req.Header.Set(headerUserID, c.userID)
	req.Header.Set(headerAuthToken, c.authToken)
}

// marshalJSON encodes without HTML escaping so message text arrives as
// written.
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// UserID is the bot user's id: messages it posted (notes) are not agents' replies.
func (c *Client) UserID() string { return c.userID }
