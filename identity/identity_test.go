package identity

import "testing"

func TestWorkflowIDRoundTrip(t *testing.T) {
	tests := []struct {
		account, igsid string
		ok             bool
	}{
		{"17841400000000001", "6871234500000001", true},
		{"acct", "user_1", true},
		{"", "x", false},
		{"a:b", "x", false},
	}
	for _, tt := range tests {
		a, u, ok := ParseWorkflowID(WorkflowID(tt.account, tt.igsid))
		if ok != tt.ok {
			t.Fatalf("%q/%q: ok=%v want %v", tt.account, tt.igsid, ok, tt.ok)
		}
		if ok && (a != tt.account || u != tt.igsid) {
			t.Fatalf("round trip gave %q/%q", a, u)
		}
	}
	if _, _, ok := ParseWorkflowID("other:1:2"); ok {
		t.Fatal("foreign prefix accepted")
	}
}

func TestVisitorToken(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	tok := VisitorToken(key, "17841400000000001", "6871234500000001")
	a, u, err := ParseVisitorToken(key, tok)
	if err != nil || a != "17841400000000001" || u != "6871234500000001" {
		t.Fatalf("parse: %q %q %v", a, u, err)
	}
	if VisitorToken(key, "17841400000000001", "6871234500000001") != tok {
		t.Fatal("token is not deterministic")
	}
	bad := []string{
		"", "ig.1.2", "ig.1.2.3.4",
		VisitorToken([]byte("another key......................"), "17841400000000001", "6871234500000001"),
		"ig.17841400000000001.6871234500000002." + tok[len(tok)-24:],
	}
	for _, b := range bad {
		if _, _, err := ParseVisitorToken(key, b); err == nil {
			t.Fatalf("forged token %q accepted", b)
		}
	}
}

func TestMessageID(t *testing.T) {
	a, b := MessageID("message", "aWdf1"), MessageID("message", "aWdf1")
	if a != b {
		t.Fatal("not deterministic")
	}
	if MessageID("message", "aWdf2") == a || MessageID("note", "aWdf1") == a {
		t.Fatal("collision between different events")
	}
	if len(a) != 26 {
		t.Fatalf("unexpected length %d", len(a))
	}
}

// After a key rotation, tokens of rooms opened with the old key still map back; a key
// that was never configured still does not.
func TestVisitorTokenWithOldKeys(t *testing.T) {
	cur, old := []byte("current key....................."), []byte("old key.........................")
	tok := VisitorToken(old, "17841400000000001", "6871234500000001")
	if _, _, err := ParseVisitorToken(cur, tok); err == nil {
		t.Fatal("a token of another key is accepted by the current key alone")
	}
	a, u, err := ParseVisitorTokenWith([][]byte{cur, old}, tok)
	if err != nil || a != "17841400000000001" || u != "6871234500000001" {
		t.Fatalf("old token not accepted: %q %q %v", a, u, err)
	}
	if _, _, err := ParseVisitorTokenWith([][]byte{cur}, tok); err == nil {
		t.Fatal("accepted after the old key was removed")
	}
	if _, _, err := ParseVisitorTokenWith(nil, tok); err == nil {
		t.Fatal("accepted without any key")
	}
}

func TestOAuthState(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	s := OAuthState(key, "AAAAAAAAAAAAAAAAAAAAAA")
	if len(s) != 43 || s != OAuthState(key, "AAAAAAAAAAAAAAAAAAAAAA") {
		t.Fatalf("state %q", s)
	}
	if OAuthState(key, "AAAAAAAAAAAAAAAAAAAAAB") == s || OAuthState([]byte("another key......................"), "AAAAAAAAAAAAAAAAAAAAAA") == s {
		t.Fatal("the state does not depend on both the reference and the key")
	}
	for ref, want := range map[string]bool{"AAAAAAAAAAAAAAAAAAAAAA": true, "short": false, "has space in it 123": false,
		"../../etc/passwd/xxxx": false, string(make([]byte, 65)): false} {
		if ValidOAuthRef(ref) != want {
			t.Errorf("ValidOAuthRef(%q) != %v", ref, want)
		}
	}
}
