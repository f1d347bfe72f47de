package store

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/igdirect/bridge/internal/keys"
)

// Sealer encrypts secrets (page tokens, user tokens, OAuth codes) before they reach the
// database, with AES-256-GCM under the token-sealing sub-key of TOKEN_ENCRYPTION_KEY. The
// additional data binds a ciphertext to its row and purpose, so a sealed token copied onto
// another page does not decrypt.
//
// Format: version byte 1 || key id (4 bytes) || nonce (12) || ciphertext and tag. The key
// id names the master key, so after a rotation values sealed with an old key still open
// (with TOKEN_ENCRYPTION_OLD_KEYS) and Reseal can find and renew them. Values written
// before key ids existed (nonce || ciphertext under the master key itself, the legacy
// format) never open for a read: only Reseal, which the worker runs at every start,
// opens them, to write them again in this format.
type Sealer struct {
	ring     *keys.Ring
	sealOnly bool
}

const sealVersion byte = 1

// Errors of Open.
var (
	// ErrUndecryptable means no configured key opens the value, or it was tampered with.
	ErrUndecryptable = errors.New("stored secret cannot be decrypted with the configured TOKEN_ENCRYPTION_KEY or TOKEN_ENCRYPTION_OLD_KEYS")
	// ErrSealOnly: this process seals secrets but never opens them (ingress).
	ErrSealOnly = errors.New("this process may store secrets but not read them")
)

// NewSealer seals with the ring's current key and opens with any of its keys.
func NewSealer(ring *keys.Ring) (*Sealer, error) {
	if ring == nil {
		return nil, errors.New("no encryption keys")
	}
	return &Sealer{ring: ring}, nil
}

// SealOnly returns a sealer that refuses to open anything. Ingress stores page tokens and
// OAuth codes but has no reason to read one back, so a bug or an injection there cannot
// turn it into a token oracle.
func (s *Sealer) SealOnly() *Sealer { return &Sealer{ring: s.ring, sealOnly: true} }

func gcm(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func aad(boundTo string, id [keys.IDSize]byte) []byte {
	return append(append([]byte{sealVersion}, id[:]...), boundTo...)
}

// Seal encrypts plain for the row named boundTo.
func (s *Sealer) Seal(plain, boundTo string) ([]byte, error) {
	m := s.ring.Current()
	aead, err := gcm(m.Key(keys.TokenSealing))
	if err != nil {
		return nil, err
	}
	id := m.ID()
	out := append([]byte{sealVersion}, id[:]...)
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out = append(out, nonce...)
	return aead.Seal(out, nonce, []byte(plain), aad(boundTo, id)), nil
}

// Open reverses Seal. A value in the legacy format does not open (see Sealer).
func (s *Sealer) Open(sealed []byte, boundTo string) (string, error) {
	if s.sealOnly {
		return "", ErrSealOnly
	}
	plain, _, err := s.open(sealed, boundTo)
	return plain, err
}

// open opens the current format and also tells whether the value was made with the
// current key.
func (s *Sealer) open(sealed []byte, boundTo string) (plain string, current bool, err error) {
	const head = 1 + keys.IDSize
	if len(sealed) > head && sealed[0] == sealVersion {
		id := [keys.IDSize]byte(sealed[1:head])
		if m, ok := s.ring.ByID(id); ok {
			if aead, err := gcm(m.Key(keys.TokenSealing)); err == nil && len(sealed) >= head+aead.NonceSize() {
				nonce := sealed[head : head+aead.NonceSize()]
				if p, err := aead.Open(nil, nonce, sealed[head+aead.NonceSize():], aad(boundTo, id)); err == nil {
					return string(p), id == s.ring.Current().ID(), nil
				}
			}
		}
	}
	return "", false, ErrUndecryptable
}

// openLegacy opens the legacy format: nonce || ciphertext under a master key itself, no
// version, no key id. Only reseal calls it. A legacy nonce may start with the version
// byte by chance, so it is tried whenever the versioned form does not open.
func (s *Sealer) openLegacy(sealed []byte, boundTo string) (string, error) {
	for _, m := range s.ring.All() {
		aead, err := gcm(m.Raw())
		if err != nil || len(sealed) < aead.NonceSize() {
			continue
		}
		n := aead.NonceSize()
		if p, err := aead.Open(nil, sealed[:n], sealed[n:], []byte(boundTo)); err == nil {
			return string(p), nil
		}
	}
	return "", ErrUndecryptable
}

// reseal returns the value sealed again with the current key, or nil when it already is.
func (s *Sealer) reseal(sealed []byte, boundTo string) ([]byte, error) {
	plain, current, err := s.open(sealed, boundTo)
	if errors.Is(err, ErrUndecryptable) {
		plain, err = s.openLegacy(sealed, boundTo)
	}
	if err != nil {
		return nil, err
	}
	if current {
		return nil, nil
	}
	out, err := s.Seal(plain, boundTo)
	if err != nil {
		return nil, err
	}
	if bytes.Equal(out, sealed) {
		return nil, fmt.Errorf("re-sealing produced the same bytes")
	}
	return out, nil
}
