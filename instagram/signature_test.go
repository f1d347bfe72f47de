package instagram

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestVerifySignature(t *testing.T) {
	const secret = "d1f2e3c4b5a6978812345678"
	// Meta sends non-ASCII as lowercase \u escapes and signs those bytes.
	escaped := []byte(`{"object":"instagram","entry":[{"id":"17841400000000001","time":1767225600123,"messaging":[{"sender":{"id":"6871234500000001"},"recipient":{"id":"17841400000000001"},"timestamp":1767225599871,"message":{"mid":"aWdf1","text":"\u00e4\u00f6\u00e5 \ud83d\ude42"}}]}]}`)
	good := Sign(secret, escaped)
	sha1mac := hmac.New(sha1.New, []byte(secret))
	sha1mac.Write(escaped)
	sha1Header := "sha1=" + hex.EncodeToString(sha1mac.Sum(nil))

	// Re-serialising the decoded payload yields raw UTF-8: a different byte
	// string, so the signature must not match (trap 1).
	var v any
	if err := json.Unmarshal(escaped, &v); err != nil {
		t.Fatal(err)
	}
	reencoded, _ := json.Marshal(v)

	tests := []struct {
		name   string
		secret string
		body   []byte
		header string
		want   error
	}{
		{"good", secret, escaped, good, nil},
		{"uppercase hex", secret, escaped, "sha256=" + strings.ToUpper(good[len("sha256="):]), ErrSignatureMalformed},
		{"uppercase prefix", secret, escaped, "SHA256=" + good[len("sha256="):], ErrSignatureMalformed},
		{"spaces around", secret, escaped, " " + good + " ", ErrSignatureMalformed},
		{"two values in one header", secret, escaped, good + "," + good, ErrSignatureMalformed},
		{"wrong secret", "other-secret-value", escaped, good, ErrSignatureMismatch},
		{"tampered body", secret, bytes.Replace(escaped, []byte("aWdf1"), []byte("aWdf2"), 1), good, ErrSignatureMismatch},
		{"re-encoded body", secret, reencoded, good, ErrSignatureMismatch},
		{"missing", secret, escaped, "", ErrSignatureMissing},
		{"whitespace only", secret, escaped, "   ", ErrSignatureMalformed},
		{"sha1 only", secret, escaped, sha1Header, ErrSignatureMalformed},
		{"no prefix", secret, escaped, good[len("sha256="):], ErrSignatureMalformed},
		{"bad hex", secret, escaped, "sha256=zz" + good[len("sha256=")+2:], ErrSignatureMalformed},
		{"short", secret, escaped, good[:len(good)-2], ErrSignatureMalformed},
		{"prefix only", secret, escaped, "sha256=", ErrSignatureMalformed},
		{"empty secret", "", escaped, Sign("", escaped), ErrSignatureMismatch},
		{"empty body", secret, nil, Sign(secret, nil), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifySignature(tc.secret, tc.body, tc.header)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
			if err != nil && tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
				t.Errorf("secret leaked: %v", err)
			}
		})
	}
}
