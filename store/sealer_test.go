package store

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestSealerFormatAndBinding(t *testing.T) {
	r := ring(t, 1)
	s, _ := NewSealer(r)
	sealed, err := s.Seal("EAAGpagetoken", "102030405060708")
	if err != nil {
		t.Fatal(err)
	}
	id := r.Current().ID()
	if sealed[0] != sealVersion || !bytes.Equal(sealed[1:5], id[:]) {
		t.Fatalf("sealed value does not start with version and key id: %x", sealed[:5])
	}
	if bytes.Contains(sealed, []byte("EAAG")) {
		t.Fatal("clear text in the sealed value")
	}
	if got, err := s.Open(sealed, "102030405060708"); err != nil || got != "EAAGpagetoken" {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := s.Open(sealed, "999"); !errors.Is(err, ErrUndecryptable) {
		t.Fatalf("opened for another row: %v", err)
	}
	tampered := append([]byte(nil), sealed...)
	tampered[len(tampered)-1] ^= 1
	if _, err := s.Open(tampered, "102030405060708"); !errors.Is(err, ErrUndecryptable) {
		t.Fatalf("tampered value opened: %v", err)
	}
	for _, short := range [][]byte{nil, {1}, sealed[:5], sealed[:16]} {
		if _, err := s.Open(short, "102030405060708"); !errors.Is(err, ErrUndecryptable) {
			t.Fatalf("short value %x: %v", short, err)
		}
	}
}

// After a rotation (new current key, old key kept for reading) old values open; once the
// old key is dropped they do not; a key never configured never opens anything.
func TestSealerRotation(t *testing.T) {
	before, _ := NewSealer(ring(t, 1))
	sealed, _ := before.Seal("secret", "row")
	rotated, _ := NewSealer(ring(t, 2, 1))
	if got, err := rotated.Open(sealed, "row"); err != nil || got != "secret" {
		t.Fatalf("old value after rotation: %q %v", got, err)
	}
	fresh, _ := rotated.Seal("secret", "row")
	if _, err := before.Open(fresh, "row"); !errors.Is(err, ErrUndecryptable) {
		t.Fatal("the old key opens a value of the new one")
	}
	dropped, _ := NewSealer(ring(t, 2))
	if _, err := dropped.Open(sealed, "row"); !errors.Is(err, ErrUndecryptable) {
		t.Fatal("opened after the old key was removed")
	}
}

// legacySeal is how values were sealed before sub-keys and key ids: AES-GCM under the
// master key itself, nonce || ciphertext.
func legacySeal(t *testing.T, master []byte, plain, boundTo string) []byte {
	block, err := aes.NewCipher(master)
	if err != nil {
		t.Fatal(err)
	}
	aead, _ := cipher.NewGCM(block)
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	return aead.Seal(nonce, nonce, []byte(plain), []byte(boundTo))
}

// TestSealerRefusesLegacyValues (issue 20, item 9): the legacy format used the master key
// itself as the AES key, with neither version nor key id. Reading a token never accepts
// it; only Reseal, which the worker runs at every start before anything reads a token,
// opens such a value, to write it again in the current format (TestResealAfterRotation).
func TestSealerRefusesLegacyValues(t *testing.T) {
	r := ring(t, 1)
	s, _ := NewSealer(r)
	old := legacySeal(t, r.Current().Raw(), "EAAGlegacy", "102030405060708")
	if got, err := s.Open(old, "102030405060708"); !errors.Is(err, ErrUndecryptable) {
		t.Fatalf("a legacy value opened with the raw master key: %q %v", got, err)
	}
	fresh, err := s.reseal(old, "102030405060708")
	if err != nil || fresh == nil {
		t.Fatalf("reseal of a legacy value: %v", err)
	}
	if got, err := s.Open(fresh, "102030405060708"); err != nil || got != "EAAGlegacy" {
		t.Fatalf("re-sealed legacy value: %q %v", got, err)
	}
}

func TestSealOnlyNeverOpens(t *testing.T) {
	s, _ := NewSealer(ring(t, 1))
	sealed, _ := s.Seal("x", "row")
	if _, err := s.SealOnly().Open(sealed, "row"); !errors.Is(err, ErrSealOnly) {
		t.Fatalf("seal-only sealer opened a value: %v", err)
	}
	if _, err := s.SealOnly().Seal("x", "row"); err != nil {
		t.Fatal(err)
	}
}

// Reseal renews every value sealed with an old key or in the legacy format, in every
// table that holds secrets, leaves current ones alone, counts what no key opens, and
// changes nothing on a second run.
func TestResealAfterRotation(t *testing.T) {
	ctx := context.Background()
	oldRing := ring(t, 1)
	st, dsn := testStore(t, oldRing)
	if err := st.ConnectPage(ctx, Page{PageID: "1001", IGAccountID: "2001"}, "EAAGpage1"); err != nil {
		t.Fatal(err)
	}
	// A page sealed in the legacy format, one sealed with a key nobody has any more.
	legacy := legacySeal(t, oldRing.Current().Raw(), "EAAGpage2", "1002")
	if _, err := st.db.Exec(`INSERT INTO pages (page_id, ig_account_id, access_token) VALUES ('1002', '2002', $1)`, legacy); err != nil {
		t.Fatal(err)
	}
	lost, _ := NewSealer(ring(t, 9))
	lostValue, _ := lost.Seal("EAAGpage3", "1003")
	if _, err := st.db.Exec(`INSERT INTO pages (page_id, ig_account_id, access_token) VALUES ('1003', '2003', $1)`, lostValue); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateOAuthState(ctx, "state-1", "wf", 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := st.BindOAuthBrowser(ctx, "state-1", "cookie-1", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ConsumeOAuthState(ctx, "state-1", "cookie-1", "AQcode", func(string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveUserToken(ctx, "state-1", "EAAGuser", true, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := st.CreateOAuthState(ctx, "state-2", "wf2", 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := st.BindOAuthBrowser(ctx, "state-2", "cookie-2", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ConsumeOAuthState(ctx, "state-2", "cookie-2", "AQcode2", func(string) error { return nil }); err != nil {
		t.Fatal(err)
	}
	st.Close()

	// Rotate: key 2 is current, key 1 still reads.
	rotated, err := OpenMigrated(ctx, dsn, ring(t, 2, 1), false)
	if err != nil {
		t.Fatal(err)
	}
	defer rotated.Close()
	res, err := rotated.Reseal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// page 1, page 2 (legacy), the user token of state-1, the code of state-2.
	if res.Resealed != 4 || res.Undecryptable != 1 {
		t.Fatalf("reseal: %+v", res)
	}
	again, err := rotated.Reseal(ctx)
	if err != nil || again.Resealed != 0 || again.Undecryptable != 1 {
		t.Fatalf("second reseal: %+v %v", again, err)
	}

	// With only the new key, everything that was readable still is.
	only, err := OpenMigrated(ctx, dsn, ring(t, 2), false)
	if err != nil {
		t.Fatal(err)
	}
	defer only.Close()
	for account, want := range map[string]string{"2001": "EAAGpage1", "2002": "EAAGpage2"} {
		if _, tok, err := only.PageToken(ctx, account); err != nil || tok != want {
			t.Fatalf("page of %s after rotation: %q %v", account, tok, err)
		}
	}
	if tok, _, err := only.UserTokenForState(ctx, "state-1"); err != nil || tok != "EAAGuser" {
		t.Fatalf("user token after rotation: %q %v", tok, err)
	}
	if code, err := only.OAuthCode(ctx, "state-2"); err != nil || code != "AQcode2" {
		t.Fatalf("code after rotation: %q %v", code, err)
	}
	var sealed [][]byte
	if err := only.db.Select(&sealed, `SELECT access_token FROM pages WHERE page_id IN ('1001','1002')`); err != nil {
		t.Fatal(err)
	}
	id := ring(t, 2).Current().ID()
	for _, v := range sealed {
		if !bytes.HasPrefix(v, append([]byte{sealVersion}, id[:]...)) {
			t.Fatalf("not re-sealed with the new key: %x", v[:5])
		}
	}
	if _, _, err := only.PageToken(ctx, "2003"); err == nil || !strings.Contains(err.Error(), "TOKEN_ENCRYPTION_OLD_KEYS") {
		t.Fatalf("a value of an unknown key: %v", err)
	}
}

// Ingress stores tokens but cannot read one back, and cannot run Reseal.
func TestSealOnlyStore(t *testing.T) {
	ctx := context.Background()
	r := ring(t, 1)
	_, dsn := testStore(t, r)
	st, err := OpenMigrated(ctx, dsn, r, true)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.ConnectPage(ctx, Page{PageID: "1001", IGAccountID: "2001"}, "EAAGpage1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.PageToken(ctx, "2001"); !errors.Is(err, ErrSealOnly) {
		t.Fatalf("seal-only store read a token: %v", err)
	}
	if _, err := st.Reseal(ctx); !errors.Is(err, ErrSealOnly) {
		t.Fatalf("seal-only store resealed: %v", err)
	}
}
