package rocketchat

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Agents' files are downloaded with the bot's credentials (a livechat manager), and what
// is downloaded is sent to an Instagram customer. The path comes from a webhook, or from a
// workflow input that carried it: if it could name anything but an uploaded file, say
// /file-upload/../api/v1/me or an absolute URL, the customer would receive whatever the
// bot can read. So exactly one shape is accepted, /file-upload/<id>/<name> with a plain
// id and a plain name, checked before any request, and the answer must be of the type the
// file was declared with.

const fileUploadPrefix = "/file-upload/"

// ErrBadFilePath is a file path that is not /file-upload/<id>/<name> with a plain id and
// name. It wraps ErrInvalidRequest.
var ErrBadFilePath = fmt.Errorf("%w: not a /file-upload/<id>/<name> path", ErrInvalidRequest)

// ErrFileTypeMismatch: Rocket.Chat served the file as another type than it was declared.
var ErrFileTypeMismatch = errors.New("rocketchat: the file was served with another type than declared")

// maxFileNameBytes bounds a file name (Rocket.Chat's own limit is lower in practice).
const maxFileNameBytes = 255

// validFileID: Rocket.Chat ids are Random.id() (17 characters of [2-9A-Za-z] without
// look-alikes); letters, digits, '-' and '_' up to 64 cover every storage backend and
// nothing that means anything in a path.
func validFileID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// validFileName checks a decoded file name: one path segment, printable, not "." or "..",
// and without '%' (a name that still decodes would be double-encoded: %252e%252e).
func validFileName(name string) bool {
	if name == "" || len(name) > maxFileNameBytes || name == "." || name == ".." || !utf8.ValidString(name) {
		return false
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r == '/' || r == '\\' || r == '%' || r >= 0x80 && r <= 0x9f {
			return false
		}
	}
	return true
}

// validRawSegment checks the bytes of an escaped path segment: RFC 3986 pchar (unreserved,
// sub-delims, ':', '@') and well-formed percent escapes only. No '?', '#', '/', '\'.
func validRawSegment(seg string) bool {
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', strings.IndexByte("-._~!$&'()*+,;=:@", c) >= 0:
		case c == '%' && i+2 < len(seg) && isHex(seg[i+1]) && isHex(seg[i+2]):
			i += 2
		default:
			return false
		}
	}
	return true
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// FileUploadPath returns the path of an uploaded file, /file-upload/<id>/<name> with the
// name path-escaped, or ErrBadFilePath when the id or the name is not plain.
func FileUploadPath(id, name string) (string, error) {
	if !validFileID(id) || !validFileName(name) {
		return "", ErrBadFilePath
	}
	return fileUploadPrefix + id + "/" + url.PathEscape(name), nil
}

// ParseFileUploadPath accepts only a relative /file-upload/<id>/<name> path with a plain
// id and name (escaped or not): no "..", encoded or not, no query, no fragment, no
// backslash, no absolute or scheme-relative URL, no third segment. It returns the id and
// the decoded name.
func ParseFileUploadPath(p string) (id, name string, err error) {
	rest, ok := strings.CutPrefix(p, fileUploadPrefix)
	if !ok || len(p) > 1024 || strings.ContainsAny(p, "?#\\") {
		return "", "", ErrBadFilePath
	}
	id, raw, ok := strings.Cut(rest, "/")
	if !ok || !validFileID(id) || !validRawSegment(raw) {
		return "", "", ErrBadFilePath
	}
	name, err = url.PathUnescape(raw)
	if err != nil || !validFileName(name) {
		return "", "", ErrBadFilePath
	}
	return id, name, nil
}

type downloadKey struct{}

// Download fetches an uploaded file, path /file-upload/<id>/<name> (see
// ParseFileUploadPath; anything else is refused with ErrBadFilePath before any request),
// with the bot's credentials, and checks that Rocket.Chat serves it as wantType (a MIME
// type; parameters are ignored): a mismatch is ErrFileTypeMismatch. Redirects may lead to
// another host (object storage; the credentials are dropped there) or to another
// /file-upload/ path, nowhere else. The caller must close the body; size is -1 when
// unknown.
func (c *Client) Download(ctx context.Context, path, wantType string) (io.ReadCloser, int64, error) {
	id, name, err := ParseFileUploadPath(path)
	if err != nil {
		return nil, 0, err
	}
	want, _, err := mime.ParseMediaType(wantType)
	if err != nil || want == "" {
		return nil, 0, fmt.Errorf("%w: no declared file type", ErrInvalidRequest)
	}
	target := *c.base
	target.Path = strings.TrimRight(c.base.Path, "/") + fileUploadPrefix + id + "/" + name
	target.RawPath = strings.TrimRight(c.base.EscapedPath(), "/") + fileUploadPrefix + id + "/" + url.PathEscape(name)
	target.RawQuery, target.Fragment = "", ""
	req, err := http.NewRequestWithContext(context.WithValue(ctx, downloadKey{}, true), http.MethodGet, target.String(), nil)
	if err != nil {
		return nil, 0, fmt.Errorf("rocketchat: building download request")
	}
	c.setAuth(req)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, 0, redactTransportError(err)
	}
	op := "GET " + fileUploadPrefix + id
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		e := parseError(resp, raw, c.now())
		if e == nil { // cannot happen for non-2xx; keep the type promise
			e = &Error{HTTPStatus: resp.StatusCode}
		}
		e.op = op
		e.scrub([]string{c.authToken})
		return nil, 0, e
	}
	got, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if !strings.EqualFold(got, want) {
		resp.Body.Close()
		return nil, 0, fmt.Errorf("%w: %s served as %q, declared %q", ErrFileTypeMismatch, op, got, want)
	}
	return resp.Body, resp.ContentLength, nil
}

// checkDownloadRedirect keeps a download's redirects to another origin or to another
// uploaded file of the same server: never to its REST API with the bot's credentials.
func (c *Client) checkDownloadRedirect(req *http.Request) error {
	if req.Context().Value(downloadKey{}) == nil || !sameOrigin(req.URL, c.base) {
		return nil
	}
	p := strings.TrimPrefix(req.URL.EscapedPath(), strings.TrimRight(c.base.EscapedPath(), "/"))
	if _, _, err := ParseFileUploadPath(p); err != nil || req.URL.RawQuery != "" {
		return fmt.Errorf("rocketchat: a file download redirected to %s on the same server: refused", req.URL.Path)
	}
	return nil
}
