package instagram

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxResponseBytes caps how much of a Graph response we buffer. Graph JSON
// answers are small; the cap only protects against a misbehaving peer.
const maxResponseBytes = 8 << 20

// call describes one Graph request; do() turns it into HTTP.
type call struct {
	method      string
	path        string     // relative to {graph}/{version}/, e.g. "123/messages"
	unversioned bool       // path is relative to {graph}/ (debug_token, per §8.1)
	absURL      string     // full URL to use instead of path (paging.next)
	query       url.Values // extra query parameters
	body        any        // JSON-encoded when non-nil
	token       string     // sent as access_token when non-empty
	proof       bool       // add appsecret_proof (HMAC of token) when we have a secret
	usageID     string     // Page/IG id the call is made for, for LastUsage
	secrets     []string   // extra values (codes, tokens) to scrub from errors
	// check, when set, inspects the decoded 2xx body and returns a non-empty
	// reason when Meta answered 2xx without confirming success.
	check func() string
}

// appSecretProof is hex HMAC-SHA256(key=app secret, msg=access token), the
// optional Graph hardening parameter (spec §4.1).
func appSecretProof(appSecret, token string) string {
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write([]byte(token))
	return hex.EncodeToString(m.Sum(nil))
}

// do performs the call and decodes a successful JSON body into out (when
// out is non-nil). Every failure is either a *Error (Meta answered) or a
// transport error whose URL has been redacted.
func (c *Client) do(ctx context.Context, cl call, out any) error {
	u, err := c.buildURL(cl)
	if err != nil {
		return err
	}
	var body io.Reader
	if cl.body != nil {
		buf, err := marshalJSON(cl.body)
		if err != nil {
			return fmt.Errorf("instagram: encoding %s request: %w", cl.path, err)
		}
		body = bytes.NewReader(buf)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u.String(), body)
	if err != nil {
		return fmt.Errorf("instagram: building request: %s", c.scrub(err.Error(), cl.secrets...))
	}
	req.Header.Set("Accept", "application/json")
	if cl.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	resp, err := c.hc.Do(req)
	if err != nil {
		return redactTransportError(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("instagram: %s %s: reading response: %w", cl.method, u.Path, err)
	}
	regain := c.usage.observe(resp.Header, c.now(), cl.usageID, c.appID)

	if gerr := parseGraphError(resp, raw, c.now()); gerr != nil {
		gerr.method, gerr.path = cl.method, u.Path
		gerr.Message = c.scrub(scrubOne(gerr.Message, cl.token), cl.secrets...)
		if gerr.RetryAfter == 0 {
			gerr.RetryAfter = regain
		}
		return gerr
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		// A 2xx with a body we cannot read: the request may well have been
		// applied, so this is reported like Graph's own "invalid JSON reply"
		// (code 1 / 1357046, class T?) rather than as a hard failure.
		return &Error{HTTPStatus: resp.StatusCode, Message: "unparseable response body", Type: typeClientDecode,
			method: cl.method, path: u.Path}
	}
	if cl.check != nil {
		if reason := cl.check(); reason != "" {
			return &Error{HTTPStatus: resp.StatusCode, Message: reason, Type: typeNoSuccess, method: cl.method, path: u.Path}
		}
	}
	return nil
}

// typeNoSuccess marks a 2xx answer that did not confirm success (e.g. no
// "success":true). It classifies as Permanent: Meta understood the request
// and declined it.
const typeNoSuccess = "NoSuccess"

func (c *Client) buildURL(cl call) (*url.URL, error) {
	var (
		u   *url.URL
		err error
	)
	switch {
	case cl.absURL != "":
		u, err = url.Parse(cl.absURL)
	case cl.unversioned:
		u, err = url.Parse(c.graphURL + "/" + cl.path)
	default:
		u, err = url.Parse(c.graphURL + "/" + c.version + "/" + cl.path)
	}
	if err != nil {
		// url.Parse errors quote the input, which may carry a token.
		return nil, errors.New("instagram: invalid request URL")
	}
	q := u.Query()
	for k, vs := range cl.query {
		q[k] = vs
	}
	if cl.token != "" {
		q.Set("access_token", cl.token)
		if cl.proof && c.appSecret != "" {
			q.Set("appsecret_proof", appSecretProof(c.appSecret, cl.token))
		}
	}
	u.RawQuery = q.Encode()
	return u, nil
}

// marshalJSON encodes without HTML escaping so message text reaches Meta
// byte-for-byte as the caller wrote it (the 1000-byte limit is on bytes).
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// sensitiveParams are query parameters that must never be printed.
var sensitiveParams = []string{"access_token", "appsecret_proof", "client_secret", "fb_exchange_token", "input_token", "code"}

const redacted = "REDACTED"

// redactURL returns raw with the values of sensitiveParams replaced.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "<unparseable URL>"
	}
	q := u.Query()
	changed := false
	for _, k := range sensitiveParams {
		if q.Has(k) {
			q.Set(k, redacted)
			changed = true
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	u.User = nil
	return u.String()
}

// redactTransportError rebuilds net/http's *url.Error (whose message quotes
// the full URL, access_token included) with a redacted URL. The wrapped
// error is kept so timeouts and net errors still classify as Transient.
func redactTransportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return &url.Error{Op: ue.Op, URL: redactURL(ue.URL), Err: ue.Err}
	}
	return err
}

// scrub removes the app secret and the given secrets from s. Graph messages
// do not normally echo tokens; this is a belt-and-braces guard. Very short
// values are skipped because replacing them would mangle the text.
func (c *Client) scrub(s string, secrets ...string) string {
	for _, sec := range secrets {
		s = scrubOne(s, sec)
	}
	return scrubOne(s, c.appSecret)
}

func scrubOne(s, secret string) string {
	if len(secret) < 6 {
		return s
	}
	return strings.ReplaceAll(s, secret, redacted)
}

// seg escapes one path segment, so an id can never climb out of its place
// in the URL ("../", "?"…).
func seg(s string) string { return url.PathEscape(s) }
