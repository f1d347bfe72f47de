package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/igdirect/bridge/sandbox/meta"
)

// TestMessagingWindowAndLongReplies: a reply 25 hours after the customer's last message goes
// with the HUMAN_AGENT tag; one 8 days after is not sent and the agent gets a note; a reply
// over 1000 bytes arrives as several messages, in order, cut at safe boundaries.
func TestMessagingWindowAndLongReplies(t *testing.T) {
	s := requireStack(t)
	tests := []struct {
		name    string
		ago     time.Duration
		reply   string
		wantTag string
		wantN   int
		note    string
	}{
		{"inside 24 hours, long", time.Minute, strings.Repeat("Obrigado pela paciência! 🙂 ", 90), "", 3, ""},
		{"after 24 hours", 25 * time.Hour, "Sorry for the delay — refund approved.", "HUMAN_AGENT", 1, ""},
		{"after 7 days", 8 * 24 * time.Hour, "too late", "", 0, "more than 7 days since the customer's last message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			igsid := uniqueIGSID()
			s.meta.AddUser(account, meta.User{IGSID: igsid, Name: "Window"})
			ev := s.meta.NewTextEvent(account, igsid, "my order?", time.Now().Add(-tt.ago))
			require.Equal(t, http.StatusOK, deliver(t, s, entry(ev)))
			room := waitRoom(t, s, igsid, 1)
			waitVisitorMessages(t, s, room.ID, 1)
			_, err := s.rc.AgentSend(room.ID, agentName, tt.reply)
			require.NoError(t, err)
			if tt.note != "" {
				eventually(t, 15*time.Second, "the note for the agent", func() bool { return containsText(roomTexts(s, room.ID), tt.note) })
				require.Empty(t, s.meta.Sent(account, igsid))
				return
			}
			eventually(t, 15*time.Second, "the reply on Instagram", func() bool { return len(s.meta.Sent(account, igsid)) == tt.wantN })
			time.Sleep(time.Second)
			sent := s.meta.Sent(account, igsid)
			require.Len(t, sent, tt.wantN)
			var joined string
			for _, m := range sent {
				require.LessOrEqual(t, len(m.Text), 1000, "Instagram's limit is 1000 bytes")
				require.Equal(t, tt.wantTag, m.Tag)
				joined += m.Text + " "
			}
			squash := func(x string) string { return strings.Join(strings.Fields(x), "") }
			require.Equal(t, squash("Ana Agent: "+tt.reply), squash(joined), "nothing lost, nothing reordered")
		})
	}
}
