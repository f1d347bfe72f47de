package keys

import (
	"bytes"
	"encoding/hex"
	"errors"
	"testing"
)

func master(b byte) []byte { return bytes.Repeat([]byte{b}, Size) }

// The derivation is part of the stored data's format: a changed purpose string or info
// prefix would make every sealed token unreadable. These values pin it; they were
// computed independently (RFC 5869 HKDF-SHA256, empty salt, info "igdirect/v1/<purpose>")
// with Python's hmac module.
func TestDeriveIsStable(t *testing.T) {
	if got := hex.EncodeToString(Derive(master(1), TokenSealing)); got != "a749573e850c3d2d0345b79400a83e1a021c8b3e2d59fe62f6f6d6d97ce4c371" {
		t.Fatalf("token-sealing key of 0x01…: %s", got)
	}
	m, err := NewMaster(master(1))
	if err != nil {
		t.Fatal(err)
	}
	if m.IDString() != "6733688b" {
		t.Fatalf("key id of 0x01…: %s", m.IDString())
	}
}

func TestSubKeysDifferPerPurposeAndFromTheMaster(t *testing.T) {
	seen := map[string]Purpose{hex.EncodeToString(master(7)): "master itself"}
	for _, p := range []Purpose{TokenSealing, VisitorToken, MediaURL, PayloadCodec, OAuthState, OAuthCookie, "key-id"} {
		k := Derive(master(7), p)
		if len(k) != Size {
			t.Fatalf("%s: %d bytes", p, len(k))
		}
		if other, dup := seen[hex.EncodeToString(k)]; dup {
			t.Fatalf("%s and %s share a key", p, other)
		}
		seen[hex.EncodeToString(k)] = p
		if !bytes.Equal(k, Derive(master(7), p)) {
			t.Fatalf("%s: not deterministic", p)
		}
	}
	if bytes.Equal(Derive(master(7), MediaURL), Derive(master(8), MediaURL)) {
		t.Fatal("two masters derive the same sub-key")
	}
}

func TestRing(t *testing.T) {
	r, err := NewRing(master(1), master(2), master(3))
	if err != nil {
		t.Fatal(err)
	}
	cur := r.Current()
	if m, _ := NewMaster(master(1)); m.ID() != cur.ID() {
		t.Fatal("current is not the first key")
	}
	if len(r.All()) != 3 || len(r.Keys(VisitorToken)) != 3 {
		t.Fatal("ring does not hold every key")
	}
	old, _ := NewMaster(master(3))
	got, ok := r.ByID(old.ID())
	if !ok || !bytes.Equal(got.Key(MediaURL), old.Key(MediaURL)) {
		t.Fatal("old key not found by id")
	}
	if _, ok := r.ByIDString(old.IDString()); !ok {
		t.Fatal("old key not found by hex id")
	}
	for _, bad := range []string{"", "zz", "0011", old.IDString() + "00"} {
		if _, ok := r.ByIDString(bad); ok {
			t.Fatalf("id %q found", bad)
		}
	}
	unknown, _ := NewMaster(master(9))
	if _, ok := r.ByID(unknown.ID()); ok {
		t.Fatal("a key not in the ring was found")
	}
}

func TestRingRefusesBadKeys(t *testing.T) {
	if _, err := NewRing(master(1)[:31]); err == nil {
		t.Fatal("short current key accepted")
	}
	if _, err := NewRing(master(1), make([]byte, 33)); err == nil {
		t.Fatal("long old key accepted")
	}
	if _, err := NewRing(master(1), master(1)); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("duplicate accepted: %v", err)
	}
}
