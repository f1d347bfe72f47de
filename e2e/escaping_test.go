package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/igdirect/bridge/sandbox/meta"
)

// evilText is what a customer may write to make the bot's notes do something: a mention
// of everyone, a javascript: link, a tracking image, a <url|text> link and a bidi override.
const evilText = "@all look [click](javascript:alert(1)) ![](http://tracker.example/p.gif) <https://evil.example|your order> abc\u202Egnp.exe"

// TestNotesNeutraliseCustomerText: the notes the bot posts in a room quote the customer
// (an unsent message kept with unsend_action=keep; an edit Rocket.Chat does not allow in
// place) without letting the customer's text mention, link, embed or reorder anything.
func TestNotesNeutraliseCustomerText(t *testing.T) {
	s := requireStack(t)
	require.NoError(t, s.setSetting("unsend_action", "keep"))
	s.rc.SetMessageEditing(false, true)
	t.Cleanup(func() {
		_ = s.setSetting("unsend_action", "mark")
		s.rc.SetMessageEditing(true, true)
	})
	igsid := uniqueIGSID()
	s.meta.AddUser(account, meta.User{IGSID: igsid, Name: "Escaping"})
	mid := s.meta.UserSendsText(account, igsid, evilText)
	room := waitRoom(t, s, igsid, 1)
	waitVisitorMessages(t, s, room.ID, 1)
	s.meta.UserUnsends(account, igsid, mid)
	edited := s.meta.UserSendsText(account, igsid, "second")
	waitVisitorMessages(t, s, room.ID, 2)
	require.Equal(t, 200, deliver(t, s, entry(s.meta.NewEvent(account, igsid, time.Now(), "message_edit",
		map[string]any{"mid": edited, "text": evilText, "num_edit": 1}))))

	var notes []string
	eventually(t, 20*time.Second, "the unsend and the edit notes", func() bool {
		notes = notes[:0]
		for _, m := range s.rc.Messages(room.ID) {
			if m.Username == "bot" && (strings.Contains(m.Msg, "unsent") || strings.Contains(m.Msg, "edited")) {
				notes = append(notes, m.Msg)
			}
		}
		return len(notes) >= 2
	})
	for _, n := range notes {
		for _, bad := range []string{"@all", "](", "|your order>", "\u202E"} {
			require.NotContains(t, n, bad, "note: %s", n)
		}
		require.Contains(t, n, "＠all", "the text is shown, made inert: %s", n)
	}
}
