// Package codec encrypts Temporal payloads with AES-256-GCM, so workflow histories (every
// customer text, name and CDN link, in inputs, signals, results, memos and summaries)
// are not readable in the Temporal database, its backups or a hosted Temporal service.
// The Temporal UI and CLI read them through the codec endpoint on ingress's admin
// listener (ingress/codec.go), which decrypts for authenticated operators.
//
// Every encrypted payload names its key in metadata (encryption-key-id), so keys rotate:
// new payloads use the current key, payloads of old keys still decode as long as those
// keys are configured. Payloads that were never encrypted (histories from before) pass
// through unchanged.
package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"

	"github.com/igdirect/bridge/internal/keys"
)

// Metadata of an encrypted payload. The names follow Temporal's samples, so the UI's
// generic codec tooling recognises them.
const (
	// EncodingEncrypted is the payload's "encoding": its data is an encrypted Payload.
	EncodingEncrypted = "binary/encrypted"
	// MetadataKeyID names the key (keys.Master.IDString of the payload key).
	MetadataKeyID = "encryption-key-id"
)

// ErrUnknownKey: the payload was encrypted with a key that is not configured.
var ErrUnknownKey = errors.New("payload encrypted with a key that is not configured (add it to TOKEN_ENCRYPTION_OLD_KEYS or PAYLOAD_ENCRYPTION_OLD_KEYS)")

// Codec is a converter.PayloadCodec.
type Codec struct {
	current string
	aeads   map[string]cipher.AEAD
}

// New builds a codec from a ring of payload keys: the current one encrypts, all decrypt.
func New(ring *keys.Ring) (*Codec, error) {
	c := &Codec{current: ring.Current().IDString(), aeads: map[string]cipher.AEAD{}}
	for _, m := range ring.All() {
		block, err := aes.NewCipher(m.Raw())
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		c.aeads[m.IDString()] = aead
	}
	return c, nil
}

// KeyRing returns the ring of payload keys: PAYLOAD_ENCRYPTION_KEY and its old keys when
// one is configured (payload is nil otherwise), else the payload-codec sub-keys of the
// master keys, so the default needs no extra secret.
func KeyRing(master *keys.Ring, payload *keys.Ring) (*keys.Ring, error) {
	if payload != nil {
		return payload, nil
	}
	all := master.Keys(keys.PayloadCodec)
	return keys.NewRing(all[0], all[1:]...)
}

// additional data binds the ciphertext to its key id and format version.
func aad(keyID string) []byte { return []byte("igdirect-payload-v1\x00" + keyID) }

// Encode encrypts each payload (its whole protobuf, metadata included).
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	aead := c.aeads[c.current]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return payloads, fmt.Errorf("encode payload: %w", err)
		}
		nonce := make([]byte, aead.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			return payloads, err
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(EncodingEncrypted),
				MetadataKeyID:              []byte(c.current),
			},
			Data: aead.Seal(nonce, nonce, plain, aad(c.current)),
		}
	}
	return out, nil
}

// Decode decrypts the payloads this codec (or an older key of it) encrypted and passes
// the others through.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != EncodingEncrypted {
			out[i] = p
			continue
		}
		keyID := string(p.GetMetadata()[MetadataKeyID])
		aead, ok := c.aeads[keyID]
		if !ok {
			return payloads, fmt.Errorf("%w: key id %q", ErrUnknownKey, keyID)
		}
		data := p.GetData()
		if len(data) < aead.NonceSize() {
			return payloads, errors.New("encrypted payload too short")
		}
		plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], aad(keyID))
		if err != nil {
			return payloads, fmt.Errorf("encrypted payload with key id %q does not decrypt (altered, or another key with the same id)", keyID)
		}
		var dec commonpb.Payload
		if err := proto.Unmarshal(plain, &dec); err != nil {
			return payloads, fmt.Errorf("decrypted payload is not a payload: %w", err)
		}
		out[i] = &dec
	}
	return out, nil
}

// DataConverter wraps Temporal's default converter with the codec.
func DataConverter(c *Codec) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}
