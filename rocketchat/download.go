package rocketchat

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Download fetches a file such as "/file-upload/<id>/<name>" (relative
// paths are joined to baseURL) or an absolute fileUpload.publicFilePath.
// The bot's X-User-Id/X-Auth-Token are sent only to baseURL's own origin,
// never to another host (an absolute URL elsewhere must carry its own
// ?token= JWT). The caller must close the body. size is -1 when unknown.
func (c *Client) Download(ctx context.Context, pathOrURL string) (io.ReadCloser, string, int64, error) {
	if pathOrURL == "" {
		return nil, "", 0, fmt.Errorf("%w: empty file path", ErrInvalidRequest)
	}
	target, err := c.resolve(pathOrURL)
	if err != nil {
		return nil, "", 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
	if err != nil {
		return nil, "", 0, fmt.Errorf("rocketchat: building download request")
	}
	if sameOrigin(target, c.base) {
		c.setAuth(req)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, "", 0, redactTransportError(err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		e := parseError(resp, raw, c.now())
		if e == nil { // cannot happen for non-2xx; keep the type promise
			e = &Error{HTTPStatus: resp.StatusCode}
		}
		e.op = "GET " + target.Path
		e.scrub([]string{c.authToken})
		return nil, "", 0, e
	}
	return resp.Body, resp.Header.Get("Content-Type"), resp.ContentLength, nil
}

// resolve turns a relative path into a URL under baseURL; absolute http(s)
// URLs are used as given.
func (c *Client) resolve(pathOrURL string) (*url.URL, error) {
	u, err := url.Parse(pathOrURL)
	if err != nil {
		return nil, fmt.Errorf("%w: unparseable file URL", ErrInvalidRequest)
	}
	if u.IsAbs() {
		if u.Scheme != "http" && u.Scheme != "https" {
			return nil, fmt.Errorf("%w: unsupported file URL scheme %q", ErrInvalidRequest, u.Scheme)
		}
		return u, nil
	}
	if u.Host != "" { // "//host/path"
		return nil, fmt.Errorf("%w: scheme-relative file URL", ErrInvalidRequest)
	}
	joined := *c.base
	joined.Path = strings.TrimRight(c.base.Path, "/") + "/" + strings.TrimLeft(u.Path, "/")
	joined.RawPath = ""
	if u.RawPath != "" {
		joined.RawPath = strings.TrimRight(c.base.EscapedPath(), "/") + "/" + strings.TrimLeft(u.RawPath, "/")
	}
	joined.RawQuery = u.RawQuery
	joined.Fragment = ""
	return &joined, nil
}
