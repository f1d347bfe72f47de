package store

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestConsoleLoginIsSingleUseAndExpires(t *testing.T) {
	ctx := context.Background()
	st, _ := testStore(t, ring(t, 1))
	exp, err := st.CreateConsoleLogin(ctx, "tok-1", "uid-1", "maria", 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(exp); d < 9*time.Minute || d > 11*time.Minute {
		t.Fatalf("expires in %s, want 10 minutes", d)
	}
	if l, err := st.PeekConsoleLogin(ctx, "tok-1"); err != nil || l.Username != "maria" || l.UserID != "uid-1" {
		t.Fatalf("peek: %+v %v", l, err)
	}
	// Two browsers race for the same link: exactly one wins.
	var wg sync.WaitGroup
	results := make([]error, 8)
	for i := range results {
		wg.Add(1)
		go func() { defer wg.Done(); _, results[i] = st.ConsumeConsoleLogin(ctx, "tok-1") }()
	}
	wg.Wait()
	wins := 0
	for _, err := range results {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, ErrLoginUsed):
			t.Fatalf("unexpected refusal: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d browsers signed in with one link", wins)
	}
	if _, err := st.PeekConsoleLogin(ctx, "tok-1"); !errors.Is(err, ErrLoginUsed) {
		t.Fatalf("peek after use: %v", err)
	}
	if _, err := st.ConsumeConsoleLogin(ctx, "no-such-token"); !errors.Is(err, ErrLoginUnknown) {
		t.Fatalf("unknown token: %v", err)
	}
	if _, err := st.CreateConsoleLogin(ctx, "tok-2", "", "ana", -time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ConsumeConsoleLogin(ctx, "tok-2"); !errors.Is(err, ErrLoginExpired) {
		t.Fatalf("expired token: %v", err)
	}
	var rows []string
	if err := st.db.Select(&rows, `SELECT t::text FROM console_logins t`); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if strings.Contains(r, "tok-") {
			t.Fatalf("a sign-in token in clear: %s", r)
		}
	}
}

func TestConsoleSessions(t *testing.T) {
	ctx := context.Background()
	st, _ := testStore(t, ring(t, 1))
	if _, err := st.CreateConsoleSession(ctx, "session-a", ConsoleSession{Who: "maria", Via: "link", UserID: "uid-1", Grant: "rocketchat:uid-1"}, 8*time.Hour); err != nil {
		t.Fatal(err)
	}
	cs, err := st.ConsoleSessionByID(ctx, "session-a")
	if err != nil || cs.Who != "maria" || cs.Via != "link" || cs.UserID != "uid-1" || cs.Grant != "rocketchat:uid-1" {
		t.Fatalf("%+v %v", cs, err)
	}
	if _, err := st.ConsoleSessionByID(ctx, "session-b"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown session: %v", err)
	}
	if _, err := st.CreateConsoleSession(ctx, "session-old", ConsoleSession{Who: "ana", Via: "token", Grant: "token:x"}, -time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ConsoleSessionByID(ctx, "session-old"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired session: %v", err)
	}
	if err := st.DeleteConsoleSession(ctx, "session-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ConsoleSessionByID(ctx, "session-a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("signed-out session: %v", err)
	}
	// The next sign-in drops the expired one.
	if _, err := st.CreateConsoleSession(ctx, "session-c", ConsoleSession{Who: "maria", Via: "link", Grant: "rocketchat:uid-1"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := st.db.Get(&n, `SELECT count(*) FROM console_sessions`); err != nil || n != 1 {
		t.Fatalf("%d sessions stored: %v", n, err)
	}
}

func TestWebhookActivityMergesCounts(t *testing.T) {
	ctx := context.Background()
	st, _ := testStore(t, ring(t, 1))
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	if err := st.RecordActivity(ctx, []Activity{
		{Source: "instagram", Account: "1784", Kind: "message", FirstAt: t0, LastAt: t0.Add(time.Minute), Count: 3},
		{Source: "rocketchat", Kind: "Message", FirstAt: t0, LastAt: t0, Count: 1},
	}); err != nil {
		t.Fatal(err)
	}
	// Another replica's older counts arrive later: first and last stay right.
	if err := st.RecordActivity(ctx, []Activity{
		{Source: "instagram", Account: "1784", Kind: "message", FirstAt: t0.Add(-time.Hour), LastAt: t0.Add(-time.Hour), Count: 2},
	}); err != nil {
		t.Fatal(err)
	}
	rows, err := st.WebhookActivity(ctx)
	if err != nil || len(rows) != 2 {
		t.Fatalf("%+v %v", rows, err)
	}
	ig := rows[0]
	if ig.Source != "instagram" || ig.Count != 5 || !ig.FirstAt.Equal(t0.Add(-time.Hour)) || !ig.LastAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("merged row: %+v", ig)
	}
}

func TestUninstalledPagesAreRemovedNotBroken(t *testing.T) {
	ctx := context.Background()
	st, _ := testStore(t, ring(t, 1))
	if err := st.ConnectPage(ctx, Page{PageID: "1020", IGAccountID: "1784", IGUsername: "casa"}, "EAAGtoken"); err != nil {
		t.Fatal(err)
	}
	if err := st.MarkNeedsReauth(ctx, "1020"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.RecordHealth(ctx, "1020", "Meta no longer accepts the page token"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ForgetAllTokens(ctx); err != nil {
		t.Fatal(err)
	}
	p, err := st.FindPage(ctx, "1020")
	if err != nil {
		t.Fatal(err)
	}
	if p.HasToken || p.NeedsReauth || p.RemovedAt == nil {
		t.Fatalf("after uninstall: %+v", p)
	}
	h, _ := st.Health(ctx)
	if h["1020"].Problem != "" {
		t.Fatalf("health problem kept: %q", h["1020"].Problem)
	}
	if err := st.ConnectPage(ctx, Page{PageID: "1020", IGAccountID: "1784", IGUsername: "casa"}, "EAAGtoken2"); err != nil {
		t.Fatal(err)
	}
	if p, _ = st.FindPage(ctx, "1020"); p.RemovedAt != nil || !p.HasToken {
		t.Fatalf("connected again: %+v", p)
	}
}

// TestSignOutEverywhereAndUninstallEndSessions (issue 20, item 5): signing out everywhere,
// and an uninstall, end every console session and every unused sign-in link, on every
// replica at once; a session being made from a link of the old generation is dead too.
func TestSignOutEverywhereAndUninstallEndSessions(t *testing.T) {
	ctx := context.Background()
	st, _ := testStore(t, ring(t, 1))
	newSession := func(id string) {
		t.Helper()
		if _, err := st.CreateConsoleSession(ctx, id, ConsoleSession{Who: "maria", Via: "link", UserID: "u1", Grant: "rocketchat:u1"}, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	newSession("s1")
	newSession("s2")
	if _, err := st.CreateConsoleLogin(ctx, "link-1", "u1", "maria", 10*time.Minute); err != nil {
		t.Fatal(err)
	}
	raced, err := st.CreateConsoleLogin(ctx, "link-2", "u1", "maria", 10*time.Minute)
	if err != nil || raced.IsZero() {
		t.Fatal(err)
	}
	consumed, err := st.ConsumeConsoleLogin(ctx, "link-2") // consumed just before the sign-out …
	if err != nil {
		t.Fatal(err)
	}
	ended, err := st.EndConsoleSessions(ctx)
	if err != nil || ended.Sessions != 2 || ended.Links != 1 {
		t.Fatalf("ended %+v, %v; want 2 sessions and 1 link", ended, err)
	}
	for _, id := range []string{"s1", "s2"} {
		if _, err := st.ConsoleSessionByID(ctx, id); !errors.Is(err, ErrNotFound) {
			t.Fatalf("session %s after signing out everywhere: %v", id, err)
		}
	}
	if _, err := st.ConsumeConsoleLogin(ctx, "link-1"); err == nil {
		t.Fatal("a sign-in link made before signing out everywhere still works")
	}
	// … and its session stored just after: made in the link's generation, it is dead.
	if _, err := st.CreateConsoleSession(ctx, "s3", ConsoleSession{Who: "maria", Via: "link", UserID: "u1", Grant: "rocketchat:u1",
		Generation: consumed.Generation}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ConsoleSessionByID(ctx, "s3"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a session from a link of the old generation: %v", err)
	}
	newSession("s4") // a new sign-in works
	if _, err := st.ConsoleSessionByID(ctx, "s4"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ForgetAllTokens(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ConsoleSessionByID(ctx, "s4"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a session after the uninstall: %v", err)
	}
}
