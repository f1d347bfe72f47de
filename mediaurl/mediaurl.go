// Package mediaurl signs and checks the short-lived URLs under which ingress serves an
// agent's file to Meta (Meta must fetch attachment media by URL, spec instagram §4.2). A
// token names the stored file and its expiry and carries a MAC, so URLs cannot be guessed,
// altered or used after they expire.
package mediaurl

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Errors of Verify.
var (
	ErrMalformed = errors.New("malformed media token")
	ErrSignature = errors.New("media token signature does not match")
	ErrExpired   = errors.New("media token expired")
)

// Sign returns a token for the stored file id, valid until exp.
func Sign(key []byte, id string, exp time.Time) string {
	payload := id + "." + strconv.FormatInt(exp.Unix(), 10)
	return payload + "." + mac(key, payload)
}

// MaxLifetime is the longest a token may be valid for. A token that claims more (an
// expiry in the far future) is refused before its signature is even checked.
const MaxLifetime = 2 * time.Hour

// Verify checks a token and returns the file id.
func Verify(key []byte, token string, now time.Time) (string, error) {
	return VerifyWith([][]byte{key}, token, now)
}

// VerifyWith accepts a token signed with any of keys (current and old media-URL keys).
// The form is strict: <id>.<expiry>.<mac>, the id lower-case hex, the expiry decimal
// seconds without sign within MaxLifetime of now, the MAC base64url of its exact length;
// anything else (extra dots, NUL bytes, signs, huge numbers) is ErrMalformed.
func VerifyWith(keys [][]byte, token string, now time.Time) (string, error) {
	parts := strings.Split(token, ".")
	if len(token) > 160 || len(parts) != 3 {
		return "", ErrMalformed
	}
	id, expText, sig := parts[0], parts[1], parts[2]
	if !lowerHex(id) || len(id) < 6 || len(id) > 64 || len(expText) == 0 || len(expText) > 12 || len(sig) != macLen || !base64url(sig) {
		return "", ErrMalformed
	}
	for i := 0; i < len(expText); i++ {
		if expText[i] < '0' || expText[i] > '9' {
			return "", ErrMalformed
		}
	}
	exp, err := strconv.ParseInt(expText, 10, 64)
	if err != nil || exp > now.Add(MaxLifetime).Unix() {
		return "", ErrMalformed
	}
	payload := id + "." + expText
	signed := false
	for _, key := range keys {
		if hmac.Equal([]byte(sig), []byte(mac(key, payload))) {
			signed = true
			break
		}
	}
	if !signed {
		return "", ErrSignature
	}
	if now.Unix() > exp {
		return "", ErrExpired
	}
	return id, nil
}

// macLen is the length of a token's MAC (18 bytes, base64url without padding).
const macLen = 24

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func base64url(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func mac(key []byte, payload string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("media-url\x00" + payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}
