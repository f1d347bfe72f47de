// Package config reads the environment contract of ../shared/design.md into one struct.
// Both processes (worker and ingress) load the same struct so a variable means the same
// thing everywhere; each process validates only what it needs.
package config

import (
	"encoding"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/igdirect/bridge/internal/keys"
)

// Secret holds a credential. It never prints its value, so a Config (or a Secret) that
// ends up in a log line, an error message or a JSON document leaks nothing: fmt uses
// String/GoString, slog uses LogValue (its JSON handler would otherwise print the bare
// string), encoding/json uses MarshalJSON and everything built on encoding.TextMarshaler
// uses MarshalText. Only Value returns the clear text.
type Secret string

// Interfaces a Secret implements so that no formatter reaches its value.
var (
	_ fmt.Stringer           = Secret("")
	_ fmt.GoStringer         = Secret("")
	_ slog.LogValuer         = Secret("")
	_ json.Marshaler         = Secret("")
	_ encoding.TextMarshaler = Secret("")
)

// Decode implements envconfig.Decoder.
func (s *Secret) Decode(v string) error { *s = Secret(v); return nil }

// String hides the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString hides the value from %#v as well.
func (s Secret) GoString() string { return s.String() }

// LogValue hides the value from every slog handler (JSON and text, also inside groups and
// structs the handler formats itself).
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON hides the value from encoding/json: json.Marshal(cfg) shows "[redacted]".
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalText hides the value from encoders that use encoding.TextMarshaler (map keys,
// YAML, XML, envconfig's usage output).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Value returns the clear value, for the few places that must use it.
func (s Secret) Value() string { return string(s) }

// Config is the whole environment contract. Field docs repeat README's table.
type Config struct {
	DatabaseURL Secret `envconfig:"DATABASE_URL" default:"postgres://postgres@127.0.0.1:55432/igdirect?sslmode=disable"`

	TemporalAddress   string `envconfig:"TEMPORAL_ADDRESS" default:"localhost:7233"`
	TemporalNamespace string `envconfig:"TEMPORAL_NAMESPACE" default:"default"`
	TemporalTaskQueue string `envconfig:"TEMPORAL_TASK_QUEUE" default:"instagram-direct"`

	IngressAddr string `envconfig:"INGRESS_ADDR" default:":8080"`
	PublicURL   string `envconfig:"PUBLIC_URL" default:"http://localhost:8080"`
	// MaxWebhookBody caps webhook request bodies. Meta batches up to 1000 updates per POST
	// (spec §2.2); 4 MiB leaves room for that and refuses anything absurd.
	MaxWebhookBody int64 `envconfig:"MAX_WEBHOOK_BODY" default:"4194304"`

	RocketChatURL          string `envconfig:"ROCKETCHAT_URL"`
	RocketChatUserID       string `envconfig:"ROCKETCHAT_USER_ID"`
	RocketChatAuthToken    Secret `envconfig:"ROCKETCHAT_AUTH_TOKEN"`
	RocketChatWebhookToken Secret `envconfig:"ROCKETCHAT_WEBHOOK_TOKEN"`
	RocketChatCommandToken Secret `envconfig:"ROCKETCHAT_COMMAND_TOKEN"`
	RocketChatSetupChannel string `envconfig:"ROCKETCHAT_SETUP_CHANNEL" default:"omnichannel-instagram-setup"`

	MetaAppID        string `envconfig:"META_APP_ID"`
	MetaAppSecret    Secret `envconfig:"META_APP_SECRET"`
	MetaVerifyToken  Secret `envconfig:"META_VERIFY_TOKEN"`
	MetaGraphURL     string `envconfig:"META_GRAPH_URL" default:"https://graph.facebook.com"`
	MetaGraphVersion string `envconfig:"META_GRAPH_VERSION" default:"v23.0"`
	MetaDialogURL    string `envconfig:"META_DIALOG_URL" default:"https://www.facebook.com"`

	TokenEncryptionKey Secret `envconfig:"TOKEN_ENCRYPTION_KEY"`
	// TokenEncryptionOldKeys are keys TOKEN_ENCRYPTION_KEY replaced, comma-separated: still
	// accepted for reading (sealed tokens, visitor tokens, media links, payloads) until
	// everything made with them is renewed or expired (README, "Rotating keys").
	TokenEncryptionOldKeys Secret `envconfig:"TOKEN_ENCRYPTION_OLD_KEYS"`
	AdminAPIToken          Secret `envconfig:"ADMIN_API_TOKEN"`

	// MetricsAddr is where the worker serves Prometheus metrics (ingress serves them on
	// INGRESS_ADDR at /metrics); empty turns the worker's endpoint off.
	MetricsAddr string `envconfig:"METRICS_ADDR" default:":9464"`

	// ReauthRetryInterval: how often a reply waiting for an account's re-authorization is
	// tried again (it goes out at most this long after `instagram authorize`).
	ReauthRetryInterval time.Duration `envconfig:"REAUTH_RETRY_INTERVAL" default:"1m"`

	// Conversation tuning (worker). Documented in README; the defaults suit production.
	// ReorderWindow holds an inbound event this long after Meta's timestamp so that events
	// delivered out of order by Meta can still be posted in timestamp order.
	// 100 ms: long enough for events Meta delivers out of order within a batch or a quick
	// retry, short enough for the inbound latency goal (docs/benchmarks.md).
	ReorderWindow time.Duration `envconfig:"REORDER_WINDOW" default:"100ms"`
	// CloseLinger keeps a closed conversation's run alive this long to absorb late
	// redeliveries of messages it already posted, so they are not posted again in a new room.
	CloseLinger time.Duration `envconfig:"CLOSE_LINGER" default:"5m"`
}

// Load reads the environment.
func Load() (*Config, error) {
	var c Config
	if err := envconfig.Process("", &c); err != nil {
		return nil, err
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	c.RocketChatURL = strings.TrimRight(c.RocketChatURL, "/")
	c.MetaGraphURL = strings.TrimRight(c.MetaGraphURL, "/")
	return &c, nil
}

// EncryptionKey decodes TOKEN_ENCRYPTION_KEY (32 bytes, standard or URL base64).
func (c *Config) EncryptionKey() ([]byte, error) {
	v := strings.TrimSpace(c.TokenEncryptionKey.Value())
	if v == "" {
		return nil, fmt.Errorf("TOKEN_ENCRYPTION_KEY is not set (32 random bytes, base64; e.g. `openssl rand -base64 32`)")
	}
	return decodeKey("TOKEN_ENCRYPTION_KEY", v)
}

// KeyRing is TOKEN_ENCRYPTION_KEY (writes and reads) with TOKEN_ENCRYPTION_OLD_KEYS (reads
// only), from which every purpose's sub-key is derived (package keys).
func (c *Config) KeyRing() (*keys.Ring, error) {
	cur, err := c.EncryptionKey()
	if err != nil {
		return nil, err
	}
	old, err := decodeKeyList("TOKEN_ENCRYPTION_OLD_KEYS", c.TokenEncryptionOldKeys.Value())
	if err != nil {
		return nil, err
	}
	ring, err := keys.NewRing(cur, old...)
	if err != nil {
		return nil, fmt.Errorf("TOKEN_ENCRYPTION_KEY / TOKEN_ENCRYPTION_OLD_KEYS: %w", err)
	}
	return ring, nil
}

// decodeKey decodes one 32-byte key in standard or URL base64, padded or not. The error
// names the variable, never the value.
func decodeKey(name, v string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(v); err == nil {
			if len(k) != keys.Size {
				return nil, fmt.Errorf("%s must decode to %d bytes, got %d", name, keys.Size, len(k))
			}
			return k, nil
		}
	}
	return nil, fmt.Errorf("%s is not valid base64", name)
}

// decodeKeyList decodes a comma-separated list of keys (empty entries are skipped).
func decodeKeyList(name, v string) ([][]byte, error) {
	var out [][]byte
	for i, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, err := decodeKey(fmt.Sprintf("%s entry %d", name, i+1), part)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

// Require returns an error naming every listed variable that is empty.
func Require(pairs ...string) error {
	var missing []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if strings.TrimSpace(pairs[i+1]) == "" {
			missing = append(missing, pairs[i])
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing required configuration: %s", strings.Join(missing, ", "))
	}
	return nil
}

// DeriveKey derives a purpose-specific key from a master key (HKDF-SHA256, package keys),
// so the encryption key itself is used for one thing only. purpose is a keys.Purpose
// ("visitor-token", "media-url", ...).
func DeriveKey(master []byte, purpose string) []byte {
	return keys.Derive(master, keys.Purpose(purpose))
}
