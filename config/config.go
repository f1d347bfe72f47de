// Package config reads the environment contract of ../shared/design.md into one struct.
// Both processes (worker and ingress) load the same struct so a variable means the same
// thing everywhere; each process validates only what it needs.
package config

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
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

// Matches compares a presented value with the secret in constant time. Both are hashed
// first, so the comparison always runs over two 32-byte digests: neither the secret's
// length nor how much of a guess is right shows in the time it takes. An unset secret
// matches nothing.
func (s Secret) Matches(presented string) bool {
	if s == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(presented)), sha256.Sum256([]byte(s))
	return constantTimeCompare(a[:], b[:]) == 1
}

// constantTimeCompare is subtle.ConstantTimeCompare; a variable so a test can see what it
// is given.
var constantTimeCompare = subtle.ConstantTimeCompare

// Value returns the clear value, for the few places that must use it.
func (s Secret) Value() string { return string(s) }

// Config is the whole environment contract. Field docs repeat README's table.
type Config struct {
	DatabaseURL Secret `envconfig:"DATABASE_URL" default:"postgres://postgres@127.0.0.1:55432/igdirect?sslmode=disable"`

	TemporalAddress   string `envconfig:"TEMPORAL_ADDRESS" default:"localhost:7233"`
	TemporalNamespace string `envconfig:"TEMPORAL_NAMESPACE" default:"default"`
	TemporalTaskQueue string `envconfig:"TEMPORAL_TASK_QUEUE" default:"instagram-direct"`
	// A Temporal that wants TLS, mutual TLS or an API key (Temporal Cloud, a secured
	// cluster): the variables the temporal CLI reads, with its rules (internal/temporalx).
	// All empty: plaintext, as the local stacks.
	TemporalAPIKey                     Secret `envconfig:"TEMPORAL_API_KEY"`
	TemporalTLS                        string `envconfig:"TEMPORAL_TLS"`
	TemporalTLSClientCertPath          string `envconfig:"TEMPORAL_TLS_CLIENT_CERT_PATH"`
	TemporalTLSClientKeyPath           string `envconfig:"TEMPORAL_TLS_CLIENT_KEY_PATH"`
	TemporalTLSServerCACertPath        string `envconfig:"TEMPORAL_TLS_SERVER_CA_CERT_PATH"`
	TemporalTLSServerName              string `envconfig:"TEMPORAL_TLS_SERVER_NAME"`
	TemporalTLSDisableHostVerification bool   `envconfig:"TEMPORAL_TLS_DISABLE_HOST_VERIFICATION" default:"false"`

	IngressAddr string `envconfig:"INGRESS_ADDR" default:":8080"`
	// AdminAddr is ingress's internal listener: admin API, /metrics, /readyz and the
	// payload codec endpoint. Loopback by default; never expose it to the internet.
	AdminAddr string `envconfig:"ADMIN_ADDR" default:"127.0.0.1:9081"`
	// AdminHosts are host names (besides IP addresses and localhost) that the internal
	// listener and the worker's metrics answer to, e.g. the name a Prometheus in another
	// container scrapes them by. Any other Host is refused (DNS rebinding).
	AdminHosts string `envconfig:"ADMIN_HOSTS"`
	// TrustedProxies are the reverse proxies (addresses or CIDR prefixes) in front of the
	// public listener whose X-Forwarded-For names the client, for the console's per-client
	// limit on ADMIN_API_TOKEN guesses. From any other peer the header is ignored.
	TrustedProxies string `envconfig:"TRUSTED_PROXIES"`
	PublicURL      string `envconfig:"PUBLIC_URL" default:"http://localhost:8080"`
	// MaxWebhookBody caps webhook request bodies. Meta batches up to 1000 updates per POST
	// (spec §2.2); 4 MiB leaves room for that and refuses anything absurd.
	MaxWebhookBody int64 `envconfig:"MAX_WEBHOOK_BODY" default:"4194304"`

	RocketChatURL          string `envconfig:"ROCKETCHAT_URL"`
	RocketChatUserID       string `envconfig:"ROCKETCHAT_USER_ID"`
	RocketChatAuthToken    Secret `envconfig:"ROCKETCHAT_AUTH_TOKEN"`
	RocketChatWebhookToken Secret `envconfig:"ROCKETCHAT_WEBHOOK_TOKEN"`
	RocketChatCommandToken Secret `envconfig:"ROCKETCHAT_COMMAND_TOKEN"`
	RocketChatSetupChannel string `envconfig:"ROCKETCHAT_SETUP_CHANNEL" default:"omnichannel-instagram-setup"`
	// RocketChatCommandUsers, when set, narrows who may change anything (commands, the
	// console) to the Rocket.Chat user ids listed (comma-separated), of the users with the
	// admin or livechat-manager role; everyone in the setup channel may read.
	RocketChatCommandUsers string `envconfig:"ROCKETCHAT_COMMAND_USERS"`

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

	// PayloadEncryptionKey encrypts Temporal payloads instead of the payload-codec sub-key
	// of TOKEN_ENCRYPTION_KEY (e.g. to rotate them separately, or to let an operator tool
	// hold the payload key without the token key). PayloadEncryptionOldKeys are the keys
	// it replaced, still read.
	PayloadEncryptionKey     Secret `envconfig:"PAYLOAD_ENCRYPTION_KEY"`
	PayloadEncryptionOldKeys Secret `envconfig:"PAYLOAD_ENCRYPTION_OLD_KEYS"`
	// CodecAuthToken opens the payload codec endpoint (admin listener) to the Temporal UI
	// and CLI; unset, the endpoint is off.
	CodecAuthToken Secret `envconfig:"CODEC_AUTH_TOKEN"`
	// CodecCORSOrigins are the browser origins of the Temporal UI allowed to call the codec
	// endpoint, comma-separated.
	CodecCORSOrigins string `envconfig:"CODEC_CORS_ORIGINS" default:"http://localhost:8233,http://127.0.0.1:8233"`

	// TemporalUIURL is where operators open the Temporal UI (the dev server's in `make
	// run`): the console links each conversation that needs attention there. Empty: no links.
	TemporalUIURL string `envconfig:"TEMPORAL_UI_URL" default:"http://localhost:8233"`

	// MediaFetchHosts are the DNS suffixes customers' media may be fetched from (HTTPS
	// only); MediaFetchConcurrency bounds the transfers a worker runs at once.
	MediaFetchHosts       string `envconfig:"MEDIA_FETCH_HOSTS" default:"fbsbx.com,cdninstagram.com,fbcdn.net"`
	MediaFetchConcurrency int    `envconfig:"MEDIA_FETCH_CONCURRENCY" default:"4"`
	// MediaFetchTestOrigins are exact loopback origins (http://127.0.0.1:9091) also allowed
	// over plain HTTP, for the sandbox's CDN in tests and make run. Refused when PUBLIC_URL
	// is HTTPS: never set in production.
	MediaFetchTestOrigins string `envconfig:"MEDIA_FETCH_TEST_ORIGINS"`

	// MetricsAddr is where the worker serves Prometheus metrics (ingress serves them on
	// ADMIN_ADDR at /metrics); empty turns the worker's endpoint off. Loopback by default:
	// the metrics name every Instagram account id.
	MetricsAddr string `envconfig:"METRICS_ADDR" default:"127.0.0.1:9464"`

	// ReauthRetryInterval: how often replies waiting for an account's re-authorization try
	// again. Connecting or authorizing the account wakes them at once; this is the fallback.
	ReauthRetryInterval time.Duration `envconfig:"REAUTH_RETRY_INTERVAL" default:"1m"`

	// Conversation tuning (worker). Documented in README; the defaults suit production.
	// ReorderWindow holds a customer's message this long after it arrives when it is part of
	// a burst (written within 5 s of another), so that an earlier one Meta delivers a little
	// later still takes its place by timestamp; a message that comes alone is posted at once.
	// Measured on our clock, never Meta's. 0: no wait — what is pending is still posted in
	// timestamp order, and a message posted after a later-written one says so.
	ReorderWindow time.Duration `envconfig:"REORDER_WINDOW" default:"2s"`
	// WorkflowCacheSize is how many conversations the worker keeps in memory (the SDK's
	// sticky cache, default 10,000 like the SDK); an evicted conversation is replayed from its
	// history on its next message (docs/benchmarks.md: memory bound).
	WorkflowCacheSize int `envconfig:"WORKFLOW_CACHE_SIZE" default:"10000"`
	// CloseLinger keeps a closed conversation's run alive this long before it completes (and
	// saves its dedup memory for the next run).
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
	switch strings.ToLower(c.TemporalTLS) {
	case "", "true", "false", "1", "0":
	default:
		return nil, fmt.Errorf("TEMPORAL_TLS must be true or false (or unset: TLS when a client certificate, a CA or an API key is set), got %q", c.TemporalTLS)
	}
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

// PayloadKeyRing is PAYLOAD_ENCRYPTION_KEY with PAYLOAD_ENCRYPTION_OLD_KEYS, or nil when
// no separate payload key is configured (payloads then use a sub-key of KeyRing).
func (c *Config) PayloadKeyRing() (*keys.Ring, error) {
	v := strings.TrimSpace(c.PayloadEncryptionKey.Value())
	if v == "" {
		if strings.TrimSpace(c.PayloadEncryptionOldKeys.Value()) != "" {
			return nil, fmt.Errorf("PAYLOAD_ENCRYPTION_OLD_KEYS is set without PAYLOAD_ENCRYPTION_KEY")
		}
		return nil, nil
	}
	cur, err := decodeKey("PAYLOAD_ENCRYPTION_KEY", v)
	if err != nil {
		return nil, err
	}
	old, err := decodeKeyList("PAYLOAD_ENCRYPTION_OLD_KEYS", c.PayloadEncryptionOldKeys.Value())
	if err != nil {
		return nil, err
	}
	ring, err := keys.NewRing(cur, old...)
	if err != nil {
		return nil, fmt.Errorf("PAYLOAD_ENCRYPTION_KEY / PAYLOAD_ENCRYPTION_OLD_KEYS: %w", err)
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

// CommandUsers is ROCKETCHAT_COMMAND_USERS as a list (empty: no allow-list).
func (c *Config) CommandUsers() []string { return splitList(c.RocketChatCommandUsers) }

// AdminHostNames is ADMIN_HOSTS as a list.
func (c *Config) AdminHostNames() []string { return splitList(c.AdminHosts) }

// SetupChannel is ROCKETCHAT_SETUP_CHANNEL without a leading '#': a channel name or id.
func (c *Config) SetupChannel() string {
	return strings.TrimPrefix(strings.TrimSpace(c.RocketChatSetupChannel), "#")
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// CodecOrigins is CODEC_CORS_ORIGINS as a list (no trailing slashes, empty entries
// dropped).
func (c *Config) CodecOrigins() []string {
	var out []string
	for _, o := range strings.Split(c.CodecCORSOrigins, ",") {
		if o = strings.TrimRight(strings.TrimSpace(o), "/"); o != "" {
			out = append(out, o)
		}
	}
	return out
}

// MinSecretLength is the shortest secret the bridge accepts for a value it compares with
// what a caller presents (tokens, the app secret that keys the webhook HMAC): shorter ones
// are guessable, and a typo'd or placeholder value should stop the process, not run it.
const MinSecretLength = 32

// CheckSecretLengths names every set secret shorter than MinSecretLength (names only,
// never values). Empty ones are left to Require: some are optional.
func CheckSecretLengths(pairs ...any) error {
	var short []string
	for i := 0; i+1 < len(pairs); i += 2 {
		name, _ := pairs[i].(string)
		v, _ := pairs[i+1].(Secret)
		if n := len(v.Value()); n > 0 && n < MinSecretLength {
			short = append(short, fmt.Sprintf("%s (%d bytes)", name, n))
		}
	}
	if len(short) > 0 {
		return fmt.Errorf("secrets must be at least %d bytes (e.g. `openssl rand -hex 32`): %s", MinSecretLength, strings.Join(short, ", "))
	}
	return nil
}

// ValidateIngress checks what ingress needs before it starts.
func (c *Config) ValidateIngress() error {
	if err := Require("META_APP_SECRET", c.MetaAppSecret.Value(), "META_VERIFY_TOKEN", c.MetaVerifyToken.Value(),
		"ROCKETCHAT_WEBHOOK_TOKEN", c.RocketChatWebhookToken.Value(),
		// Without the bot's user id, ingress cannot tell the bot's own notes from agents'
		// messages, and would send them to customers.
		"ROCKETCHAT_USER_ID", c.RocketChatUserID); err != nil {
		return err
	}
	if err := CheckSecretLengths("META_APP_SECRET", c.MetaAppSecret, "META_VERIFY_TOKEN", c.MetaVerifyToken,
		"ROCKETCHAT_WEBHOOK_TOKEN", c.RocketChatWebhookToken, "ROCKETCHAT_COMMAND_TOKEN", c.RocketChatCommandToken,
		"ADMIN_API_TOKEN", c.AdminAPIToken, "CODEC_AUTH_TOKEN", c.CodecAuthToken); err != nil {
		return err
	}
	if c.AdminAddr != "" && c.AdminAddr == c.IngressAddr {
		return fmt.Errorf("ADMIN_ADDR must differ from INGRESS_ADDR: the admin API, metrics and the codec endpoint must not be served where Meta and browsers connect")
	}
	if _, err := c.TrustedProxyPrefixes(); err != nil {
		return err
	}
	return nil
}

// TrustedProxyPrefixes is TRUSTED_PROXIES parsed: each entry an IP address or a CIDR
// prefix.
func (c *Config) TrustedProxyPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range splitList(c.TrustedProxies) {
		if p, err := netip.ParsePrefix(v); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(v)
		if err != nil {
			return nil, fmt.Errorf("TRUSTED_PROXIES: %q is neither an IP address nor a CIDR prefix (e.g. 10.0.0.5 or 10.0.0.0/24)", v)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// ValidateWorker checks what the worker needs before it starts.
func (c *Config) ValidateWorker() error {
	if err := Require("ROCKETCHAT_URL", c.RocketChatURL, "META_APP_SECRET", c.MetaAppSecret.Value()); err != nil {
		return err
	}
	if err := CheckSecretLengths("META_APP_SECRET", c.MetaAppSecret); err != nil {
		return err
	}
	// Production is HTTPS (Meta calls nothing else): plain-HTTP test origins for media
	// there would be a downgrade nobody asked for.
	if c.MediaFetchTestOrigins != "" && strings.HasPrefix(strings.ToLower(c.PublicURL), "https://") {
		return fmt.Errorf("MEDIA_FETCH_TEST_ORIGINS is for tests and make run only, and PUBLIC_URL is HTTPS: unset it")
	}
	if c.MediaFetchConcurrency < 1 || c.MediaFetchConcurrency > 64 {
		return fmt.Errorf("MEDIA_FETCH_CONCURRENCY must be between 1 and 64, not %d", c.MediaFetchConcurrency)
	}
	return nil
}

// MediaHosts is MEDIA_FETCH_HOSTS as a list; MediaTestOrigins MEDIA_FETCH_TEST_ORIGINS.
func (c *Config) MediaHosts() []string       { return splitList(c.MediaFetchHosts) }
func (c *Config) MediaTestOrigins() []string { return splitList(c.MediaFetchTestOrigins) }

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
