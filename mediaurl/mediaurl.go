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

// Verify checks a token and returns the file id.
func Verify(key []byte, token string, now time.Time) (string, error) {
	return VerifyWith([][]byte{key}, token, now)
}

// VerifyWith accepts a token signed with any of keys (current and old media-URL keys).
func VerifyWith(keys [][]byte, token string, now time.Time) (string, error) {
	i := strings.LastIndexByte(token, '.')
	if i < 0 {
		return "", ErrMalformed
	}
	payload, sig := token[:i], token[i+1:]
	id, expText, ok := strings.Cut(payload, ".")
	if !ok || id == "" {
		return "", ErrMalformed
	}
	exp, err := strconv.ParseInt(expText, 10, 64)
	if err != nil {
		return "", ErrMalformed
	}
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

func mac(key []byte, payload string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("media-url\x00" + payload))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}
