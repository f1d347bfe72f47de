package config

import (
	"strings"
	"testing"
)

func long(c byte) Secret { return Secret(strings.Repeat(string(c), MinSecretLength)) }

func validIngress() Config {
	return Config{MetaAppSecret: long('a'), MetaVerifyToken: long('b'), RocketChatWebhookToken: long('c'),
		RocketChatUserID: "bot", IngressAddr: ":8080", AdminAddr: "127.0.0.1:9081"}
}

func TestValidateIngress(t *testing.T) {
	c := validIngress()
	if err := c.ValidateIngress(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"no bot user id", func(c *Config) { c.RocketChatUserID = "" }, "ROCKETCHAT_USER_ID"},
		{"short verify token", func(c *Config) { c.MetaVerifyToken = "e2e-verify-token" }, "META_VERIFY_TOKEN (16 bytes)"},
		{"short webhook token", func(c *Config) { c.RocketChatWebhookToken = long('x')[:31] }, "ROCKETCHAT_WEBHOOK_TOKEN (31 bytes)"},
		{"short command token", func(c *Config) { c.RocketChatCommandToken = "changeme" }, "ROCKETCHAT_COMMAND_TOKEN (8 bytes)"},
		{"short admin token", func(c *Config) { c.AdminAPIToken = "admin" }, "ADMIN_API_TOKEN (5 bytes)"},
		{"short codec token", func(c *Config) { c.CodecAuthToken = "codec" }, "CODEC_AUTH_TOKEN (5 bytes)"},
		{"short app secret", func(c *Config) { c.MetaAppSecret = "abc123" }, "META_APP_SECRET (6 bytes)"},
		{"admin on the public listener", func(c *Config) { c.AdminAddr = c.IngressAddr }, "ADMIN_ADDR must differ"},
		{"bad trusted proxy", func(c *Config) { c.TrustedProxies = "10.0.0.0/8, proxy.internal" }, "TRUSTED_PROXIES: \"proxy.internal\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validIngress()
			tt.change(&c)
			err := c.ValidateIngress()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
			for _, v := range []Secret{c.MetaAppSecret, c.MetaVerifyToken, c.RocketChatCommandToken, c.AdminAPIToken, c.CodecAuthToken} {
				if len(v) > 0 && strings.Contains(err.Error(), v.Value()) {
					t.Fatalf("the error shows a secret: %v", err)
				}
			}
		})
	}
	c = validIngress()
	c.AdminAddr = "" // admin listener off: allowed
	if err := c.ValidateIngress(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateWorker(t *testing.T) {
	c := Config{RocketChatURL: "https://chat.example.com", MetaAppSecret: long('a'), MediaFetchConcurrency: 4}
	if err := c.ValidateWorker(); err != nil {
		t.Fatal(err)
	}
	c.MediaFetchConcurrency = 4
	if err := c.ValidateWorker(); err != nil {
		t.Fatal(err)
	}
	c.MetaAppSecret = "short"
	if err := c.ValidateWorker(); err == nil || !strings.Contains(err.Error(), "META_APP_SECRET") {
		t.Fatal(err)
	}
	c.MetaAppSecret = long('a')
	c.MediaFetchTestOrigins, c.PublicURL = "http://127.0.0.1:9091", "http://localhost:8080"
	if err := c.ValidateWorker(); err != nil {
		t.Fatalf("test origins with an http PUBLIC_URL (make run, tests): %v", err)
	}
	c.PublicURL = "https://bridge.example.com"
	if err := c.ValidateWorker(); err == nil || !strings.Contains(err.Error(), "MEDIA_FETCH_TEST_ORIGINS") {
		t.Fatalf("test origins in production: %v", err)
	}
}
