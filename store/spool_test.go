package store

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"
)

// The inbound overflow keeps events in (timestamp, key) order — byte order for keys, the
// order the conversation sorts them in — a repeated write changes nothing, reading deletes
// only what was read before, and the rows are sealed.
func TestInboundSpool(t *testing.T) {
	ctx := context.Background()
	st, _ := testStore(t, ring(t, 1))
	ev := func(ts int64, key string) SpooledEvent {
		return SpooledEvent{TS: ts, Key: key, Data: []byte(fmt.Sprintf(`{"text":"secret %d %s"}`, ts, key))}
	}
	// "B" < "a" in byte order; a collation-aware sort would put "a" first.
	batch := []SpooledEvent{ev(20, "m1"), ev(10, "a"), ev(10, "B"), ev(30, "x")}
	if err := st.SpoolEvents(ctx, "wf1", batch, 0, ""); err != nil {
		t.Fatal(err)
	}
	if err := st.SpoolEvents(ctx, "wf1", batch[:2], 0, ""); err != nil { // a retried write
		t.Fatal(err)
	}
	if err := st.SpoolEvents(ctx, "wf2", []SpooledEvent{ev(1, "other")}, 0, ""); err != nil {
		t.Fatal(err)
	}

	got, remaining, next, err := st.UnspoolEvents(ctx, "wf1", 0, "", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Key != "B" || got[1].Key != "a" || remaining != 2 || next.TS != 20 || next.Key != "m1" {
		t.Fatalf("first read: %+v, %d remaining, next %+v", got, remaining, next)
	}
	if !bytes.Equal(got[0].Data, ev(10, "B").Data) {
		t.Fatalf("event data %q", got[0].Data)
	}
	// The same read again (the activity retried: its answer was lost) gives the same rows.
	again, _, _, err := st.UnspoolEvents(ctx, "wf1", 0, "", 2)
	if err != nil || len(again) != 2 || again[0].Key != "B" {
		t.Fatalf("repeated read: %+v %v", again, err)
	}
	// The next read acknowledges the first: those rows go.
	got, remaining, _, err = st.UnspoolEvents(ctx, "wf1", 10, "a", 10)
	if err != nil || len(got) != 2 || got[0].Key != "m1" || got[1].Key != "x" || remaining != 0 {
		t.Fatalf("second read: %+v, %d remaining, %v", got, remaining, err)
	}
	// A write acknowledges too.
	if err := st.SpoolEvents(ctx, "wf1", []SpooledEvent{ev(40, "y")}, 30, "x"); err != nil {
		t.Fatal(err)
	}
	var keys []string
	if err := st.db.Select(&keys, `SELECT key FROM inbound_spool WHERE workflow_id = 'wf1' ORDER BY ts, key`); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(keys) != "[y]" {
		t.Fatalf("rows left %v", keys)
	}
	var raw [][]byte
	if err := st.db.Select(&raw, `SELECT event FROM inbound_spool`); err != nil {
		t.Fatal(err)
	}
	for _, r := range raw {
		if bytes.Contains(r, []byte("secret")) {
			t.Fatalf("a spooled event is stored in clear: %q", r)
		}
	}
	// A row moved to another conversation does not open (the seal is bound to its row).
	if _, err := st.db.Exec(`UPDATE inbound_spool SET workflow_id = 'wf3' WHERE workflow_id = 'wf2'`); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := st.UnspoolEvents(ctx, "wf3", 0, "", 10); err == nil {
		t.Fatal("a row sealed for wf2 opened as wf3's")
	}
	if err := st.DropSpool(ctx, "wf1"); err != nil {
		t.Fatal(err)
	}
	if got, remaining, _, err := st.UnspoolEvents(ctx, "wf1", 0, "", 10); err != nil || len(got) != 0 || remaining != 0 {
		t.Fatalf("after DropSpool: %+v %d %v", got, remaining, err)
	}
}

// A completed run's memory keeps its dedup keys and the notes it could not show, sealed.
func TestConversationMemoryKeepsNotesSealed(t *testing.T) {
	ctx := context.Background()
	st, _ := testStore(t, ring(t, 1))
	if seen, notes, err := st.ConversationMemory(ctx, "wf"); err != nil || seen != nil || notes != nil {
		t.Fatalf("no memory yet: %q %q %v", seen, notes, err)
	}
	notes := []byte(`[{"text":"customer wrote: my secret address"}]`)
	if err := st.SaveConversationMemory(ctx, "wf", []byte("hashes"), notes); err != nil {
		t.Fatal(err)
	}
	seen, got, err := st.ConversationMemory(ctx, "wf")
	if err != nil || string(seen) != "hashes" || !bytes.Equal(got, notes) {
		t.Fatalf("memory %q %q %v", seen, got, err)
	}
	var raw []byte
	if err := st.db.Get(&raw, `SELECT notes FROM conversation_memory WHERE workflow_id = 'wf'`); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("secret")) {
		t.Fatalf("notes stored in clear: %q", raw)
	}
	// The next completed run with nothing left to show clears them.
	if err := st.SaveConversationMemory(ctx, "wf", []byte("more"), nil); err != nil {
		t.Fatal(err)
	}
	if seen, got, err := st.ConversationMemory(ctx, "wf"); err != nil || string(seen) != "more" || got != nil {
		t.Fatalf("memory %q %q %v", seen, got, err)
	}
}

// Old delivery intents are purged; recent ones stay.
func TestPurgeIntents(t *testing.T) {
	ctx := context.Background()
	st, _ := testStore(t, ring(t, 1))
	for _, key := range []string{"old", "new"} {
		if _, err := st.BeginIntent(ctx, key, "acct", "igsid"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.db.Exec(`UPDATE delivery_intents SET created_at = now() - interval '31 days' WHERE key = 'old'`); err != nil {
		t.Fatal(err)
	}
	n, err := st.PurgeIntents(ctx, 30*24*time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("purged %d: %v", n, err)
	}
	var keys []string
	if err := st.db.Select(&keys, `SELECT key FROM delivery_intents`); err != nil || fmt.Sprint(keys) != "[new]" {
		t.Fatalf("left %v %v", keys, err)
	}
}

// SettleIntent settles only the attempt whose outcome was unknown: once an attempt called
// again, settling the older one changes nothing.
func TestSettleIntentOnlyItsAttempt(t *testing.T) {
	ctx := context.Background()
	st, _ := testStore(t, ring(t, 1))
	if _, err := st.BeginIntent(ctx, "k", "acct", "igsid"); err != nil { // attempt 1, calling
		t.Fatal(err)
	}
	ok, err := st.SettleIntent(ctx, "k", 1, false, "")
	if err != nil || !ok {
		t.Fatalf("settle attempt 1: %v %v", ok, err)
	}
	in, err := st.BeginIntent(ctx, "k", "acct", "igsid") // attempt 2 calls again
	if err != nil || in.State != "" || in.Attempts != 1 {
		t.Fatalf("second begin: %+v %v", in, err)
	}
	if ok, err := st.SettleIntent(ctx, "k", 1, false, ""); err != nil || ok {
		t.Fatalf("settling attempt 1 again changed attempt 2: %v %v", ok, err)
	}
	in, err = st.BeginIntent(ctx, "k", "acct", "igsid")
	if err != nil || in.State != IntentCalling || in.Attempts != 2 || in.Since.IsZero() {
		t.Fatalf("attempt 2 still calling: %+v %v", in, err)
	}
	if ok, err := st.SettleIntent(ctx, "k", 2, true, "mid-2"); err != nil || !ok {
		t.Fatalf("settle attempt 2: %v %v", ok, err)
	}
	if id, err := st.DeliveredAs(ctx, "k"); err != nil || id != "mid-2" {
		t.Fatalf("delivered as %q %v", id, err)
	}
}
