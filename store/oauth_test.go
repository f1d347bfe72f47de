package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A state belongs to the browser that opened it first: a second browser can neither open
// it nor complete it, the first can reload it and complete it, and a refusal consumes
// nothing.
func TestOAuthStateBoundToBrowser(t *testing.T) {
	ctx := context.Background()
	st, _ := testStore(t, ring(t, 1))
	if _, err := st.CreateOAuthState(ctx, "state-b", "wf-b", 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	deliver := func(string) error { return nil }
	// Straight to the callback, without /oauth/start: nobody's browser.
	if _, err := st.ConsumeOAuthState(ctx, "state-b", "", "AQcode", deliver); !errors.Is(err, ErrStateOtherBrowser) {
		t.Fatalf("callback before start: %v", err)
	}
	if got, err := st.BindOAuthBrowser(ctx, "state-b", "admin-cookie", ""); err != nil || got != "admin-cookie" {
		t.Fatal(got, err)
	}
	if _, err := st.BindOAuthBrowser(ctx, "state-b", "attacker-cookie", ""); !errors.Is(err, ErrStateOtherBrowser) {
		t.Fatalf("second browser opened it: %v", err)
	}
	if _, err := st.BindOAuthBrowser(ctx, "state-b", "attacker-cookie", "guessed"); !errors.Is(err, ErrStateOtherBrowser) {
		t.Fatalf("second browser with a made-up cookie opened it: %v", err)
	}
	if got, err := st.BindOAuthBrowser(ctx, "state-b", "new-cookie", "admin-cookie"); err != nil || got != "admin-cookie" {
		t.Fatalf("the same browser reloading keeps its cookie: %q %v", got, err)
	}
	for _, cookie := range []string{"", "attacker-cookie", "admin-cookiE"} {
		if _, err := st.ConsumeOAuthState(ctx, "state-b", cookie, "AQforged", deliver); !errors.Is(err, ErrStateOtherBrowser) {
			t.Fatalf("callback with cookie %q: %v", cookie, err)
		}
	}
	if code, err := st.OAuthCode(ctx, "state-b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a refused callback stored a code: %q %v", code, err)
	}
	if _, err := st.ConsumeOAuthState(ctx, "state-b", "admin-cookie", "AQcode", deliver); err != nil {
		t.Fatalf("the right browser: %v", err)
	}
	if _, err := st.ConsumeOAuthState(ctx, "state-b", "admin-cookie", "AQcode", deliver); !errors.Is(err, ErrStateUsed) {
		t.Fatalf("replay: %v", err)
	}
	if _, err := st.BindOAuthBrowser(ctx, "state-b", "late", ""); !errors.Is(err, ErrStateUsed) {
		t.Fatalf("start after use: %v", err)
	}
	if _, err := st.BindOAuthBrowser(ctx, "nope", "c", ""); !errors.Is(err, ErrStateUnknown) {
		t.Fatalf("unknown: %v", err)
	}
}
