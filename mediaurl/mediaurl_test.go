package mediaurl

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestSignVerify(t *testing.T) {
	key := []byte("k1")
	now := time.Unix(1_800_000_000, 0)
	tok := Sign(key, "abc123", now.Add(time.Hour))
	tests := []struct {
		name  string
		key   []byte
		token string
		at    time.Time
		want  error
	}{
		{"valid", key, tok, now, nil},
		{"expired", key, tok, now.Add(2 * time.Hour), ErrExpired},
		{"other key", []byte("k2"), tok, now, ErrSignature},
		{"altered id", key, "abd123" + tok[6:], now, ErrSignature},
		{"altered expiry", key, strings.Replace(tok, strconv.FormatInt(now.Add(time.Hour).Unix(), 10), strconv.FormatInt(now.Add(time.Hour).Unix()+60, 10), 1), now, ErrSignature},
		{"garbage", key, "nope", now, ErrMalformed},
	}
	for _, tt := range tests {
		id, err := Verify(tt.key, tt.token, tt.at)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: err %v, want %v", tt.name, err, tt.want)
		}
		if tt.want == nil && id != "abc123" {
			t.Errorf("%s: id %q", tt.name, id)
		}
	}
}

// The bad tokens of the list: each a clear refusal, before any lookup.
func TestStrictTokens(t *testing.T) {
	key := []byte("k1")
	now := time.Unix(1_800_000_000, 0)
	tok := Sign(key, "abc123", now.Add(time.Hour))
	parts := strings.Split(tok, ".")
	expText, mac := parts[1], parts[2]
	for name, bad := range map[string]string{
		"extra dot at the end":   tok + ".",
		"extra dot in the id":    "abc.123." + expText + "." + mac,
		"negative expiry":        "abc123.-1." + mac,
		"plus sign":              "abc123.+" + expText + "." + mac,
		"huge expiry":            "abc123.99999999999." + mac,
		"far-future expiry":      Sign(key, "abc123", now.Add(30*24*time.Hour)),
		"NUL byte":               "abc123\x00." + expText + "." + mac,
		"percent-encoded NUL":    "abc123%00." + expText + "." + mac,
		"upper-case id":          "ABC123." + expText + "." + mac,
		"short MAC":              "abc123." + expText + "." + mac[:10],
		"MAC with padding":       "abc123." + expText + "." + mac[:22] + "==",
		"empty":                  "",
		"only dots":              "..",
		"too long":               strings.Repeat("a", 200) + "." + expText + "." + mac,
		"id with a path":         "../../x." + expText + "." + mac,
		"expiry with a fraction": "abc123." + expText + ".5." + mac,
	} {
		if _, err := Verify(key, bad, now); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s (%q): %v", name, bad, err)
		}
	}
	if got, err := VerifyWith([][]byte{[]byte("new"), key}, tok, now); err != nil || got != "abc123" {
		t.Fatalf("a token of an old key: %q %v", got, err)
	}
}
