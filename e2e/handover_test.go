package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/igdirect/bridge/sandbox/meta"
)

const ourApp = "910000000000001"

// TestHandoverWhenAnotherAppOwnsTheThread covers Conversation Routing with each
// handover_action: the notes for the agent, replies held without control (none), control
// taken with our metadata (take), and control passed back on close.
func TestHandoverWhenAnotherAppOwnsTheThread(t *testing.T) {
	s := requireStack(t)
	s.meta.SetConversationRouting(account, true)
	s.meta.SetTakeoverAllowed(account, true)
	s.meta.SetDefaultApp(account, ourApp)
	t.Cleanup(func() { s.meta.SetConversationRouting(account, false) })
	require.NoError(t, s.setSetting("handover_metadata", "rocketchat: agent ana"))
	require.NoError(t, s.setSetting("pass_back_app_id", meta.InstagramInboxAppID))
	t.Cleanup(func() {
		_ = s.setSetting("handover_action", "none")
		_ = s.setSetting("pass_back_app_id", "")
	})

	igsid := uniqueIGSID()
	s.meta.AddUser(account, meta.User{IGSID: igsid, Name: "Routed"})
	s.meta.UserSendsText(account, igsid, "hello")
	room := waitRoom(t, s, igsid, 1)
	waitVisitorMessages(t, s, room.ID, 1)

	// The Instagram inbox takes the thread: the agent is told, and with handover_action
	// none the reply waits until control is passed back.
	require.NoError(t, s.setSetting("handover_action", "none"))
	require.NoError(t, s.meta.OtherAppTakes(account, igsid, meta.InstagramInboxAppID, "human in the Instagram app"))
	eventually(t, 10*time.Second, "the note that another app took over", func() bool {
		return containsText(roomTexts(s, room.ID), "took over this Instagram conversation")
	})
	s.meta.UserSendsText(account, igsid, "anyone?") // arrives on standby: still shown
	waitVisitorMessages(t, s, room.ID, 2)
	_, err := s.rc.AgentSend(room.ID, agentName, "held reply")
	require.NoError(t, err)
	eventually(t, 10*time.Second, "the note that replies wait", func() bool {
		return containsText(roomTexts(s, room.ID), "your replies wait until control comes back")
	})
	require.Empty(t, sentTexts(s, igsid))
	require.Equal(t, meta.InstagramInboxAppID, queryState(t, s, igsid).ThreadOwner)

	require.NoError(t, s.meta.OtherAppPasses(account, igsid, meta.InstagramInboxAppID, ourApp, "your turn"))
	eventually(t, 15*time.Second, "the held reply sent once control is back", func() bool {
		return len(sentTexts(s, igsid)) == 1
	})
	require.Equal(t, "Ana Agent: held reply", sentTexts(s, igsid)[0])

	// handover_action take: control is taken (with our metadata) before the reply.
	require.NoError(t, s.setSetting("handover_action", "take"))
	require.NoError(t, s.meta.OtherAppTakes(account, igsid, meta.InstagramInboxAppID, "again"))
	eventually(t, 10*time.Second, "the second takeover noted", func() bool {
		return strings.Count(strings.Join(roomTexts(s, room.ID), "\n"), "took over") == 2
	})
	_, err = s.rc.AgentSend(room.ID, agentName, "taking it back")
	require.NoError(t, err)
	eventually(t, 15*time.Second, "the reply after taking control", func() bool { return len(sentTexts(s, igsid)) == 2 })
	var took bool
	for _, c := range s.meta.ThreadControlCalls(account, igsid) {
		if c.Action == "take" && c.AppID == ourApp && c.Error == "" {
			took = true
			require.Equal(t, "rocketchat: agent ana", c.Metadata, "the handover metadata reaches Meta")
		}
	}
	require.True(t, took, "we took thread control before sending")

	// On close, control goes back to the configured app.
	require.NoError(t, s.rc.CloseRoom(room.ID, agentName, "done"))
	eventually(t, 15*time.Second, "control passed back on close", func() bool {
		owner, _ := s.meta.ThreadOwner(account, igsid)
		return owner == meta.InstagramInboxAppID
	})
	recordHistories(t, s, account, igsid, "thread-control")
}
