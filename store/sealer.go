package store

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// Sealer encrypts secrets (page access tokens) before they reach the database, with
// AES-256-GCM. The additional data binds a ciphertext to its row, so a sealed token copied
// onto another page does not decrypt.
type Sealer struct{ aead cipher.AEAD }

// NewSealer takes the 32-byte TOKEN_ENCRYPTION_KEY.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("encryption key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal returns nonce || ciphertext.
func (s *Sealer) Seal(plain, boundTo string) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, []byte(plain), []byte(boundTo)), nil
}

// ErrUndecryptable means the key changed or the value was tampered with.
var ErrUndecryptable = errors.New("stored secret cannot be decrypted with the configured TOKEN_ENCRYPTION_KEY")

// Open reverses Seal.
func (s *Sealer) Open(sealed []byte, boundTo string) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return "", ErrUndecryptable
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(boundTo))
	if err != nil {
		return "", ErrUndecryptable
	}
	return string(plain), nil
}
