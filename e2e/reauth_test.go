package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/igdirect/bridge/sandbox/meta"
)

// TestTokenRevokedMidConversationThenReauthorized: Meta starts refusing the page token
// (190) in the middle of a conversation. Messages keep arriving, the agent's replies wait,
// the admins are told once, and after re-authorization the waiting replies are sent, in
// order, each once.
func TestTokenRevokedMidConversationThenReauthorized(t *testing.T) {
	s := requireStack(t)
	reconnect := func(token string) {
		s.meta.AddPage(meta.Page{PageID: pageID, IGAccountID: account, Username: "casaazul.store", Name: "Casa Azul", AccessToken: token})
		status, body, err := s.admin(http.MethodPut, "/pages/"+pageID, fmt.Sprintf(
			`{"ig_account_id":%q,"ig_username":"casaazul.store","name":"Casa Azul","access_token":%q}`, account, token))
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, status, body)
	}
	// The emulator keeps refusing the invalidated token, so the page is restored with a new one.
	t.Cleanup(func() { reconnect("EAAGrestoredaftertest0000000000000000001") })

	igsid := uniqueIGSID()
	s.meta.AddUser(account, meta.User{IGSID: igsid, Name: "Reauth"})
	s.meta.UserSendsText(account, igsid, "hello")
	room := waitRoom(t, s, igsid, 1)
	waitVisitorMessages(t, s, room.ID, 1)

	s.meta.InvalidateToken(pageToken, 460) // the page admin changed their password
	for _, text := range []string{"first reply", "second reply"} {
		_, err := s.rc.AgentSend(room.ID, agentName, text)
		require.NoError(t, err)
		// Rocket.Chat stamps messages in milliseconds; replies in the same millisecond could
		// only be ordered by their (unordered) webhooks.
		time.Sleep(50 * time.Millisecond)
	}
	eventually(t, 15*time.Second, "one re-authorization prompt in the setup channel", func() bool {
		for _, m := range s.rc.ChannelMessages(setupChannel) {
			if strings.Contains(m.Msg, "needs to be authorized again") {
				return true
			}
		}
		return false
	})
	s.meta.UserSendsText(account, igsid, "still there?")
	require.Equal(t, []string{"hello", "still there?"}, texts(waitVisitorMessages(t, s, room.ID, 2)), "messages keep arriving")
	require.Empty(t, sentTexts(s, igsid), "replies wait")
	status, body, err := s.admin(http.MethodGet, "/pages/"+pageID, "")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, `"needs_reauth":true`)

	reconnect("EAAGreauthorizedtoken000000000000000001")
	eventually(t, 20*time.Second, "the waiting replies after re-authorization", func() bool { return len(sentTexts(s, igsid)) == 2 })
	time.Sleep(1500 * time.Millisecond)
	require.Equal(t, []string{"Ana Agent: first reply", "Ana Agent: second reply"}, sentTexts(s, igsid))
	prompts := 0
	for _, m := range s.rc.ChannelMessages(setupChannel) {
		if strings.Contains(m.Msg, "needs to be authorized again") {
			prompts++
		}
	}
	require.Equal(t, 1, prompts, "the admins are told once")
}
