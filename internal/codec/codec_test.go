package codec

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/igdirect/bridge/internal/keys"
)

func ringOf(t *testing.T, bs ...byte) *keys.Ring {
	t.Helper()
	var ks [][]byte
	for _, b := range bs {
		ks = append(ks, bytes.Repeat([]byte{b}, keys.Size))
	}
	r, err := keys.NewRing(ks[0], ks[1:]...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func codecOf(t *testing.T, bs ...byte) *Codec {
	t.Helper()
	c, err := New(ringOf(t, bs...))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const customerText = "Olá, my address is Rua Augusta 100, Lisboa"

func encodeValue(t *testing.T, c *Codec, v any) *commonpb.Payloads {
	t.Helper()
	p, err := DataConverter(c).ToPayloads(v)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEncryptsAndNamesTheKey(t *testing.T) {
	c := codecOf(t, 1)
	ps := encodeValue(t, c, map[string]string{"text": customerText})
	p := ps.Payloads[0]
	if string(p.Metadata[converter.MetadataEncoding]) != EncodingEncrypted {
		t.Fatalf("encoding %q", p.Metadata[converter.MetadataEncoding])
	}
	if got := string(p.Metadata[MetadataKeyID]); got != ringOf(t, 1).Current().IDString() {
		t.Fatalf("key id %q", got)
	}
	raw, _ := p.Marshal()
	for _, clear := range []string{"Rua Augusta", "json/plain", "text"} {
		if bytes.Contains(raw, []byte(clear)) {
			t.Fatalf("%q in clear in the encoded payload", clear)
		}
	}
	var back map[string]string
	if err := DataConverter(c).FromPayloads(ps, &back); err != nil || back["text"] != customerText {
		t.Fatalf("round trip: %v %v", back, err)
	}
	// Two encodings of the same value differ (random nonce).
	if bytes.Equal(encodeValue(t, c, customerText).Payloads[0].Data, encodeValue(t, c, customerText).Payloads[0].Data) {
		t.Fatal("deterministic ciphertext")
	}
}

func TestRotation(t *testing.T) {
	old := encodeValue(t, codecOf(t, 1), customerText)
	rotated := codecOf(t, 2, 1)
	var got string
	if err := DataConverter(rotated).FromPayloads(old, &got); err != nil || got != customerText {
		t.Fatalf("old payload after rotation: %q %v", got, err)
	}
	fresh := encodeValue(t, rotated, customerText)
	if string(fresh.Payloads[0].Metadata[MetadataKeyID]) != ringOf(t, 2).Current().IDString() {
		t.Fatal("new payloads do not use the new key")
	}
	err := DataConverter(codecOf(t, 2)).FromPayloads(old, &got)
	if !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), ringOf(t, 1).Current().IDString()) {
		t.Fatalf("a payload of a removed key: %v", err)
	}
}

func TestUnencryptedPayloadsPassThrough(t *testing.T) {
	plain, _ := converter.GetDefaultDataConverter().ToPayloads("from before encryption")
	var got string
	if err := DataConverter(codecOf(t, 1)).FromPayloads(plain, &got); err != nil || got != "from before encryption" {
		t.Fatalf("%q %v", got, err)
	}
}

func TestRefusesAlteredPayloads(t *testing.T) {
	c := codecOf(t, 1)
	good := encodeValue(t, c, customerText).Payloads[0]
	flip := func(f func(p *commonpb.Payload)) *commonpb.Payload {
		p := &commonpb.Payload{Metadata: map[string][]byte{}, Data: append([]byte(nil), good.Data...)}
		for k, v := range good.Metadata {
			p.Metadata[k] = v
		}
		f(p)
		return p
	}
	for name, p := range map[string]*commonpb.Payload{
		"flipped bit":   flip(func(p *commonpb.Payload) { p.Data[len(p.Data)-1] ^= 1 }),
		"truncated":     flip(func(p *commonpb.Payload) { p.Data = p.Data[:5] }),
		"no key id":     flip(func(p *commonpb.Payload) { delete(p.Metadata, MetadataKeyID) }),
		"other key id":  flip(func(p *commonpb.Payload) { p.Metadata[MetadataKeyID] = []byte("00000000") }),
		"empty payload": flip(func(p *commonpb.Payload) { p.Data = nil }),
	} {
		if _, err := c.Decode([]*commonpb.Payload{p}); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

// Without PAYLOAD_ENCRYPTION_KEY the payload keys are sub-keys of the master keys (never
// the master keys themselves); with it, that key and its old keys.
func TestKeyRingChoice(t *testing.T) {
	master := ringOf(t, 1, 2)
	derived, err := KeyRing(master, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(derived.All()) != 2 || bytes.Equal(derived.Current().Raw(), master.Current().Raw()) ||
		!bytes.Equal(derived.Current().Raw(), master.Current().Key(keys.PayloadCodec)) {
		t.Fatal("derived payload ring is not the payload-codec sub-keys")
	}
	separate := ringOf(t, 5)
	got, _ := KeyRing(master, separate)
	if got != separate {
		t.Fatal("a configured payload key is not used")
	}
}
