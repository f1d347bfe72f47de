// Package identity derives every identifier that links an Instagram conversation to its
// Temporal workflow and its Rocket.Chat visitor and messages. All of them are pure
// functions of their inputs, so a webhook from either side maps back to its conversation
// without a database lookup, and a retried post produces the same Rocket.Chat _id.
package identity

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
)

const workflowPrefix = "instagram:"

// WorkflowID is the ID of the conversation workflow of one Instagram user (igsid) with one
// business account. account is the Instagram professional account ID Meta sends as
// entry.id; it identifies the connected page one-to-one.
func WorkflowID(account, igsid string) string {
	return workflowPrefix + account + ":" + igsid
}

// ParseWorkflowID is the inverse of WorkflowID.
func ParseWorkflowID(id string) (account, igsid string, ok bool) {
	rest, found := strings.CutPrefix(id, workflowPrefix)
	if !found {
		return "", "", false
	}
	account, igsid, ok = strings.Cut(rest, ":")
	return account, igsid, ok && validID(account) && validID(igsid)
}

// Visitor tokens authenticate the Livechat visitor API, so they must not be guessable from
// public IDs: the token carries a MAC over (account, igsid) keyed by a server secret.
// Form: "ig.<account>.<igsid>.<mac>". It stays reversible, and forged tokens are detected.

// ErrBadVisitorToken is returned for tokens that we did not issue.
var ErrBadVisitorToken = errors.New("visitor token was not issued by this service")

// VisitorToken derives the Rocket.Chat visitor token of a conversation.
func VisitorToken(key []byte, account, igsid string) string {
	return "ig." + account + "." + igsid + "." + visitorMAC(key, account, igsid)
}

// ParseVisitorToken checks the MAC and returns the conversation it belongs to.
func ParseVisitorToken(key []byte, token string) (account, igsid string, err error) {
	return ParseVisitorTokenWith([][]byte{key}, token)
}

// ParseVisitorTokenWith accepts a token made with any of keys (the current visitor-token
// key and those of TOKEN_ENCRYPTION_OLD_KEYS): rooms opened before a key rotation still
// map back to their conversation.
func ParseVisitorTokenWith(keys [][]byte, token string) (account, igsid string, err error) {
	parts := strings.Split(token, ".")
	if len(parts) != 4 || parts[0] != "ig" || !validID(parts[1]) || !validID(parts[2]) {
		return "", "", ErrBadVisitorToken
	}
	for _, key := range keys {
		want := visitorMAC(key, parts[1], parts[2])
		if hmac.Equal([]byte(want), []byte(parts[3])) {
			return parts[1], parts[2], nil
		}
	}
	return "", "", ErrBadVisitorToken
}

func visitorMAC(key []byte, account, igsid string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("visitor-token\x00" + account + "\x00" + igsid))
	return hex.EncodeToString(m.Sum(nil)[:12])
}

// MessageID derives the Rocket.Chat message _id for an Instagram event (kind, mid): the
// same event always maps to the same _id, so a retried post cannot create a second message,
// and later events (unsend, edit) find their message without a lookup table.
func MessageID(kind, mid string) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + mid))
	return "ig" + hex.EncodeToString(sum[:12])
}

// validID accepts Meta's numeric-looking IDs (and test IDs) but nothing that could break the
// formats above.
func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// ValidID reports whether s can be used as an account ID or IGSID.
func ValidID(s string) bool { return validID(s) }

// OAuthState derives the OAuth state of an authorization from the reference its workflow
// holds, with the OAuth-state key (keys.OAuthState). The workflow's history (visible in
// the Temporal UI) holds only the reference; the state, and so the link that starts the
// authorization, exists only in the worker, in ingress and in the admin's browser. 43
// characters, URL-safe.
func OAuthState(key []byte, ref string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("oauth-state\x00" + ref))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// OAuthStartURL is the link an admin opens: startURL (PUBLIC_URL + /oauth/start) with the
// state as its only query parameter.
func OAuthStartURL(startURL, state string) string {
	return startURL + "?" + url.Values{"state": {state}}.Encode()
}

// ValidOAuthRef reports whether ref looks like a reference the Authorization workflow
// draws (base64url, 16 to 64 characters): activity inputs are checked, not trusted.
func ValidOAuthRef(ref string) bool {
	if len(ref) < 16 || len(ref) > 64 {
		return false
	}
	for _, r := range ref {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}
