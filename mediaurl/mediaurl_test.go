package mediaurl

import (
	"errors"
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
		{"altered expiry", key, Sign(key, "abc123", now.Add(time.Hour))[:7] + "9" + tok[8:], now, ErrSignature},
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
