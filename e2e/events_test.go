package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/igdirect/bridge/sandbox/meta"
)

// roomTexts is what the room shows now: every message that is not deleted, in order.
func roomTexts(s *stack, rid string) []string {
	var out []string
	for _, m := range s.rc.Messages(rid) {
		if !m.Deleted && m.System == "" {
			out = append(out, m.Msg)
		}
	}
	return out
}

func containsText(texts []string, sub string) bool {
	for _, t := range texts {
		if strings.Contains(t, sub) {
			return true
		}
	}
	return false
}

// TestEveryEventKindInMetaOrders delivers the spec's example events for one conversation —
// reordered, duplicated, and batched together with another account's events — and checks
// what the agent sees.
func TestEveryEventKindInMetaOrders(t *testing.T) {
	s := requireStack(t)
	require.NoError(t, s.setSetting("unsend_action", "delete"))
	t.Cleanup(func() { _ = s.setSetting("unsend_action", "mark") })
	igsid := uniqueIGSID()
	s.meta.AddUser(account, meta.User{IGSID: igsid, Name: "Ana Costa", Username: "ana.costa"})
	t0 := time.Now()
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	msg := func(d time.Duration, m map[string]any) (meta.Event, string) {
		mid := s.meta.NewMID(account, igsid)
		m["mid"] = mid
		return s.meta.NewEvent(account, igsid, at(d), "message", m), mid
	}
	hello, helloMID := msg(0, map[string]any{"text": "Do you ship to Lisbon?"})
	blue, blueMID := msg(100*time.Millisecond, map[string]any{"text": "the blue one"})
	oops, oopsMID := msg(200*time.Millisecond, map[string]any{"text": "my card number is 1234"})
	storyMedia, _ := s.meta.NewMediaAttachment(meta.Media{Type: "story_mention", ContentType: "image/jpeg", Data: []byte("\xff\xd8\xff\xe0story")})
	story, _ := msg(300*time.Millisecond, map[string]any{"attachments": []any{storyMedia}})
	reply, _ := msg(400*time.Millisecond, map[string]any{"text": "yes, that one", "reply_to": map[string]any{"mid": blueMID}})
	storyReply, _ := msg(500*time.Millisecond, map[string]any{"text": "love this!", "reply_to": map[string]any{"story": map[string]any{
		"url": "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17900000000000031&signature=Rs1", "id": "18100000000000031"}}})
	ad, _ := msg(600*time.Millisecond, map[string]any{"text": "Is this still available?", "referral": map[string]any{
		"ref": "spring_campaign", "ad_id": "120200000000000001", "source": "ADS", "type": "OPEN_THREAD",
		"ads_context_data": map[string]any{"ad_title": "Spring sale"}}})
	react := s.meta.NewEvent(account, igsid, at(700*time.Millisecond), "reaction", map[string]any{"mid": helloMID, "action": "react", "reaction": "love", "emoji": "❤️"})
	edit := s.meta.NewEvent(account, igsid, at(800*time.Millisecond), "message_edit", map[string]any{"mid": blueMID, "text": "the navy one", "num_edit": 1})
	unsend := s.meta.NewEvent(account, igsid, at(900*time.Millisecond), "message", map[string]any{"mid": oopsMID, "is_deleted": true})
	postback := s.meta.NewEvent(account, igsid, at(time.Second), "postback", map[string]any{"mid": s.meta.NewMID(account, igsid), "title": "What are your opening hours?", "payload": "FAQ_HOURS"})
	seen := s.meta.NewEvent(account, igsid, at(1100*time.Millisecond), "read", map[string]any{"mid": helloMID})
	unknown := s.meta.NewEvent(account, igsid, at(1200*time.Millisecond), "brand_new_kind", map[string]any{"x": 1})
	// Another account's event in the same POST (an account this deployment has not connected).
	other := meta.Entry{ID: "17841499999999999", Time: time.Now().UnixMilli(), Messaging: []meta.Event{
		{"sender": map[string]any{"id": "6871234599999999"}, "recipient": map[string]any{"id": "17841499999999999"},
			"timestamp": time.Now().UnixMilli(), "message": map[string]any{"mid": "aWdfother", "text": "not ours"}}}}

	// Delivery: the unsend first (before its message), a batch mixing accounts, a duplicate,
	// and the rest in two more POSTs, out of order.
	require.Equal(t, http.StatusOK, deliver(t, s, entry(unsend)))
	require.Equal(t, http.StatusOK, deliver(t, s, meta.Entry{ID: account, Time: time.Now().UnixMilli(), Messaging: []meta.Event{hello, blue, oops}}))
	_ = other // delivered in the same POST below
	ctx := t.Context()
	status, body, err := s.meta.DeliverOnce(ctx, entry(story, storyReply, reply), other)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, http.StatusOK, deliver(t, s, entry(blue))) // duplicate
	require.Equal(t, http.StatusOK, deliver(t, s, entry(postback, react, ad, edit, seen, unknown)))

	room := waitRoom(t, s, igsid, 1)
	var got []string
	eventually(t, 20*time.Second, "every event shown in the room", func() bool {
		got = roomTexts(s, room.ID)
		return containsText(got, "Tapped") && containsText(got, "Reacted") && containsText(got, "the navy one")
	})
	time.Sleep(time.Second)
	got = roomTexts(s, room.ID)
	t.Logf("room:\n%s", strings.Join(got, "\n---\n"))
	want := []string{
		"Do you ship to Lisbon?",
		"the navy one", // edited in place
		"📣 Mentioned you in their story (stories disappear after 24 hours)", // the story's media, uploaded
		"> the blue one\nyes, that one",
		"↩️ Replied to your story: https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17900000000000031&signature=Rs1 (stories disappear after 24 hours)\nlove this!",
		"Is this still available?\n📣 Came from an ad “Spring sale” (ad 120200000000000001), ref spring_campaign",
		"❤️ Reacted to “Do you ship to Lisbon?”",
		"🔘 Tapped “What are your opening hours?” _(payload FAQ_HOURS)_",
	}
	var visitor []string
	for _, g := range got {
		if !strings.HasPrefix(g, "🤖") {
			visitor = append(visitor, g)
		}
	}
	require.Equal(t, want, visitor)
	require.False(t, containsText(got, "1234"), "the unsent message never shows (unsend_action=delete)")
	require.False(t, containsText(got, "not ours"))
	v, _ := s.rc.Visitor(s.visitorToken(igsid))
	require.Equal(t, "120200000000000001", v.CustomFields["instagram_ad_id"], "the referral is kept on the visitor")
	eventually(t, 10*time.Second, "the seen receipt in the conversation state", func() bool { return queryState(t, s, igsid).LastSeenMID == helloMID })
	recordHistories(t, s, account, igsid, "every-event-kind")
}

// TestEchoBeforeSendResponseIsRecognised: Meta's echo of our send can arrive before the Send
// API answers; it must still be recognised as ours, while a message sent from the Instagram
// app shows as a note.
func TestEchoBeforeSendResponseIsRecognised(t *testing.T) {
	s := requireStack(t)
	s.meta.SetEchoBeforeResponse(true)
	t.Cleanup(func() { s.meta.SetEchoBeforeResponse(false) })
	igsid := uniqueIGSID()
	s.meta.AddUser(account, meta.User{IGSID: igsid, Name: "Echo"})
	s.meta.UserSendsText(account, igsid, "hi")
	room := waitRoom(t, s, igsid, 1)
	waitVisitorMessages(t, s, room.ID, 1)
	_, err := s.rc.AgentSend(room.ID, agentName, "Hello from the agent")
	require.NoError(t, err)
	eventually(t, 10*time.Second, "the reply on Instagram", func() bool { return len(sentTexts(s, igsid)) == 1 })

	native := s.meta.NewEvent(account, account, time.Now(), "message", map[string]any{"mid": s.meta.NewMID(account, igsid), "text": "Sent from the Instagram app", "is_echo": true})
	native["recipient"] = map[string]any{"id": igsid}
	require.Equal(t, http.StatusOK, deliver(t, s, entry(native)))
	eventually(t, 10*time.Second, "the note for the message sent from the Instagram app", func() bool {
		return containsText(roomTexts(s, room.ID), "📱 Sent by the business outside Rocket.Chat: Sent from the Instagram app")
	})
	time.Sleep(time.Second)
	require.False(t, containsText(roomTexts(s, room.ID), "outside Rocket.Chat: Ana Agent: Hello from the agent"), "our own send is never shown as an outside message")
	require.Len(t, visitorMessages(s, room.ID), 1)
	recordHistories(t, s, account, igsid, "echoes")
}
