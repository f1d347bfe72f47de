package rocketchat

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ErrBadFilePath is returned for a file reference that is not a plain
// /file-upload/<id>/<name> path. File paths come from webhooks and message lists, which an
// agent, an app or a misconfigured integration can fill: the bot's credentials are sent
// with the download, so anything else (another API route, "..", a query, another host) is
// refused before any request.
var ErrBadFilePath = errors.New("rocketchat: not a /file-upload/<id>/<name> path")

// FileUploadPath builds the download path of an uploaded file from its id and name.
func FileUploadPath(id, name string) (string, error) {
	if !plainFileID(id) || !plainFileName(name) {
		return "", fmt.Errorf("%w: file id %q, name %q", ErrBadFilePath, id, name)
	}
	return "/file-upload/" + id + "/" + url.PathEscape(name), nil
}

// ParseFileUploadPath checks a relative /file-upload/<id>/<name> path and returns its parts.
func ParseFileUploadPath(p string) (id, name string, err error) {
	bad := func() (string, string, error) { return "", "", fmt.Errorf("%w: %q", ErrBadFilePath, p) }
	if strings.ContainsAny(p, "?#\\") || strings.Contains(p, "//") {
		return bad()
	}
	rest, ok := strings.CutPrefix(p, "/file-upload/")
	if !ok {
		return bad()
	}
	rawID, rawName, ok := strings.Cut(rest, "/")
	if !ok || strings.Contains(rawName, "/") {
		return bad()
	}
	name, err = url.PathUnescape(rawName)
	if err != nil || !plainFileID(rawID) || !plainFileName(name) || strings.Contains(rawName, "%2") && strings.ContainsAny(name, "/\\") {
		return bad()
	}
	return rawID, name, nil
}

// plainFileID: Rocket.Chat file ids are Meteor random ids (letters and digits).
func plainFileID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// plainFileName: a name, not a path: no separators, no dot segments, no control characters.
func plainFileName(name string) bool {
	if name == "" || name == "." || name == ".." || len(name) > 255 || strings.ContainsAny(name, "/\\") {
		return false
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}
