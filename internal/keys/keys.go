// Package keys turns the master secret (TOKEN_ENCRYPTION_KEY, and the keys it replaced)
// into one sub-key per purpose, each with a short public key id, so that:
//
//   - no key is used for two things (a MAC key for visitor tokens never encrypts a token);
//   - every ciphertext names the master key it was made with, and a rotation is "add the
//     new key, keep the old ones for reading, re-seal, then drop the old ones";
//   - a process gets only the purposes it needs.
//
// Derivation is HKDF-SHA256 (RFC 5869) from the standard library's crypto/hkdf: a
// reviewed, FIPS-validated implementation with no new dependency (golang.org/x/crypto/hkdf
// is the same algorithm and now only wraps it). The master key is 32 uniformly random
// bytes, so no salt is needed; the purpose goes into HKDF's info.
package keys

import (
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// Size is the length of a master key and of every sub-key (AES-256, HMAC-SHA256).
const Size = 32

// IDSize is the length of a key id in bytes (hex: twice as long). Four bytes tell a
// handful of keys apart; the id is not a secret and not a MAC.
const IDSize = 4

// Purpose names a sub-key. Changing a purpose string changes the key: never rename one.
type Purpose string

// The purposes of the bridge's sub-keys.
const (
	// TokenSealing encrypts page tokens, user tokens and OAuth codes in PostgreSQL.
	TokenSealing Purpose = "token-sealing"
	// VisitorToken keys the MAC in Rocket.Chat visitor tokens.
	VisitorToken Purpose = "visitor-token"
	// MediaURL keys the MAC of the signed URLs Meta fetches agents' files from.
	MediaURL Purpose = "media-url"
	// PayloadCodec encrypts Temporal payloads (unless PAYLOAD_ENCRYPTION_KEY is set).
	PayloadCodec Purpose = "payload-codec"
	// OAuthState derives the OAuth state from the reference the workflow holds.
	OAuthState Purpose = "oauth-state"
	// OAuthCookie keys the MAC of the browser-binding cookie of /oauth/start.
	OAuthCookie Purpose = "oauth-cookie"
)

// Derive returns the sub-key of master for purpose.
func Derive(master []byte, p Purpose) []byte {
	k, err := hkdf.Key(sha256.New, master, nil, "igdirect/v1/"+string(p), Size)
	if err != nil {
		// Only possible for a requested length above 255*32 bytes.
		panic("keys: " + err.Error())
	}
	return k
}

// Master is one master key and its id.
type Master struct {
	secret []byte
	id     [IDSize]byte
}

// NewMaster checks a master key and computes its id.
func NewMaster(secret []byte) (Master, error) {
	if len(secret) != Size {
		return Master{}, fmt.Errorf("a key must be %d bytes, got %d", Size, len(secret))
	}
	m := Master{secret: append([]byte(nil), secret...)}
	copy(m.id[:], Derive(secret, "key-id"))
	return m, nil
}

// ID is the key's public id (what ciphertexts and payloads carry).
func (m Master) ID() [IDSize]byte { return m.id }

// IDString is ID in hex, for payload metadata and logs.
func (m Master) IDString() string { return hex.EncodeToString(m.id[:]) }

// Key returns the sub-key for a purpose.
func (m Master) Key(p Purpose) []byte { return Derive(m.secret, p) }

// Raw returns the master key itself. Only the legacy format of sealed tokens (before
// sub-keys existed, AES-GCM with the master key directly) needs it, to be read and
// re-sealed.
func (m Master) Raw() []byte { return m.secret }

// Ring is the current master key and the older ones still accepted for reading.
type Ring struct {
	all []Master // current first
}

// ErrDuplicate: the same key was configured twice (as current and old, or old twice).
var ErrDuplicate = errors.New("the same key is configured twice")

// NewRing builds a ring; current writes, current and old read.
func NewRing(current []byte, old ...[]byte) (*Ring, error) {
	r := &Ring{}
	for i, k := range append([][]byte{current}, old...) {
		m, err := NewMaster(k)
		if err != nil {
			if i == 0 {
				return nil, fmt.Errorf("current key: %w", err)
			}
			return nil, fmt.Errorf("old key %d: %w", i, err)
		}
		if _, dup := r.ByID(m.id); dup {
			return nil, fmt.Errorf("key %s: %w", m.IDString(), ErrDuplicate)
		}
		r.all = append(r.all, m)
	}
	return r, nil
}

// Current is the key new values are made with.
func (r *Ring) Current() Master { return r.all[0] }

// All returns every key, current first.
func (r *Ring) All() []Master { return r.all }

// ByID finds a key by its id.
func (r *Ring) ByID(id [IDSize]byte) (Master, bool) {
	for _, m := range r.all {
		if m.id == id {
			return m, true
		}
	}
	return Master{}, false
}

// ByIDString finds a key by its id in hex.
func (r *Ring) ByIDString(id string) (Master, bool) {
	b, err := hex.DecodeString(id)
	if err != nil || len(b) != IDSize {
		return Master{}, false
	}
	return r.ByID([IDSize]byte(b))
}

// Keys returns the sub-keys of every master key for a purpose, current first: what a MAC
// check tries after a rotation.
func (r *Ring) Keys(p Purpose) [][]byte {
	out := make([][]byte, len(r.all))
	for i, m := range r.all {
		out[i] = m.Key(p)
	}
	return out
}
