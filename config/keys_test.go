package config

import (
	"encoding/base64"
	"strings"
	"testing"
)

func b64(b byte) string {
	k := make([]byte, 32)
	for i := range k {
		k[i] = b
	}
	return base64.StdEncoding.EncodeToString(k)
}

func TestKeyRingFromEnvironment(t *testing.T) {
	c := Config{TokenEncryptionKey: Secret(b64(1)), TokenEncryptionOldKeys: Secret(" " + b64(2) + ",," + b64(3) + " ")}
	r, err := c.KeyRing()
	if err != nil {
		t.Fatal(err)
	}
	if len(r.All()) != 3 {
		t.Fatalf("%d keys", len(r.All()))
	}
	for _, bad := range []struct{ cur, old, want string }{
		{"", "", "TOKEN_ENCRYPTION_KEY is not set"},
		{b64(1)[:20], "", "TOKEN_ENCRYPTION_KEY"},
		{b64(1), "not-base64!!", "TOKEN_ENCRYPTION_OLD_KEYS entry 1 is not valid base64"},
		{b64(1), b64(2) + "," + base64.StdEncoding.EncodeToString([]byte("short")), "TOKEN_ENCRYPTION_OLD_KEYS entry 2 must decode to 32 bytes"},
		{b64(1), b64(1), "configured twice"},
	} {
		c := Config{TokenEncryptionKey: Secret(bad.cur), TokenEncryptionOldKeys: Secret(bad.old)}
		_, err := c.KeyRing()
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Fatalf("%q/%q: %v", bad.cur, bad.old, err)
		}
		if bad.old != "" && strings.Contains(err.Error(), bad.old) {
			t.Fatalf("the error repeats the value: %v", err)
		}
	}
}
