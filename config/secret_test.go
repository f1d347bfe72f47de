package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const clearValue = "s3cret-value-that-must-never-be-printed"

// Every way a Config (or a Secret) can end up in a log line or an API answer prints
// "[redacted]", never the value: fmt, json.Marshal, slog's JSON and text handlers, and
// encoding.TextMarshaler users.
func TestSecretNeverPrintsItsValue(t *testing.T) {
	cfg := Config{DatabaseURL: "postgres://u:" + clearValue + "@db/x", MetaAppSecret: clearValue,
		AdminAPIToken: clearValue, TokenEncryptionKey: clearValue, RocketChatAuthToken: clearValue}

	outputs := map[string]string{
		"fmt %v":  fmt.Sprintf("%v", cfg),
		"fmt %+v": fmt.Sprintf("%+v", cfg),
		"fmt %#v": fmt.Sprintf("%#v", cfg),
		"fmt %s":  fmt.Sprintf("%s", cfg.MetaAppSecret),
	}
	j, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outputs["json.Marshal(Config)"] = string(j)
	j, err = json.Marshal(map[string]Secret{"k": cfg.AdminAPIToken})
	if err != nil {
		t.Fatal(err)
	}
	outputs["json.Marshal(Secret)"] = string(j)
	txt, err := cfg.MetaAppSecret.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	outputs["MarshalText"] = string(txt)

	for name, h := range map[string]func(*bytes.Buffer) slog.Handler{
		"slog JSON": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		"slog text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
	} {
		var buf bytes.Buffer
		log := slog.New(h(&buf))
		log.Info("config", "config", cfg, "secret", cfg.MetaAppSecret, "ptr", &cfg)
		log.Info("group", slog.Group("g", "s", cfg.AdminAPIToken))
		outputs[name] = buf.String()
	}
	for name, out := range outputs {
		if strings.Contains(out, clearValue) {
			t.Errorf("%s leaks the secret: %s", name, out)
		}
		if !strings.Contains(out, "[redacted]") {
			t.Errorf("%s does not show that a secret was there: %s", name, out)
		}
	}
}

// An unset secret shows as empty, so logs still tell "not configured" from "configured".
func TestEmptySecretShowsEmpty(t *testing.T) {
	j, _ := json.Marshal(struct{ S Secret }{})
	if string(j) != `{"S":""}` {
		t.Fatalf("got %s", j)
	}
}

// Matches never hands the comparison slices of the presented length: whatever is
// presented, the constant-time compare sees two digests of equal size, so timing cannot
// reveal the secret's length.
func TestMatchesComparesDigests(t *testing.T) {
	var sizes [][2]int
	orig := constantTimeCompare
	constantTimeCompare = func(a, b []byte) int {
		sizes = append(sizes, [2]int{len(a), len(b)})
		return orig(a, b)
	}
	defer func() { constantTimeCompare = orig }()
	s := Secret(strings.Repeat("k", 40))
	for _, presented := range []string{"", "k", strings.Repeat("k", 39), strings.Repeat("k", 41), strings.Repeat("x", 4000)} {
		if s.Matches(presented) {
			t.Fatalf("%q matched", presented)
		}
	}
	if !s.Matches(strings.Repeat("k", 40)) {
		t.Fatal("the secret itself does not match")
	}
	if Secret("").Matches("") {
		t.Fatal("an unset secret matched")
	}
	for _, sz := range sizes {
		if sz != [2]int{32, 32} {
			t.Fatalf("compared slices of %v bytes", sz)
		}
	}
	if len(sizes) != 6 {
		t.Fatalf("%d comparisons", len(sizes))
	}
}
