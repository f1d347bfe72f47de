package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/igdirect/bridge/identity"
	"github.com/igdirect/bridge/sandbox/meta"
	"github.com/igdirect/bridge/workflows"
)

// configurePage edits the page through the admin API and restores it after the test.
func configurePage(t *testing.T, s *stack, patch string) {
	t.Helper()
	status, body, err := s.admin(http.MethodPatch, "/pages/"+pageID, patch)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, body)
	t.Cleanup(func() {
		_, _, _ = s.admin(http.MethodPatch, "/pages/"+pageID, `{"welcome_message":"","finished_message":"","offline_message":"","department":"Instagram"}`)
	})
}

func sentTexts(s *stack, igsid string) []string {
	var out []string
	for _, m := range s.meta.Sent(account, igsid) {
		out = append(out, m.Text)
	}
	return out
}

func queryState(t *testing.T, s *stack, igsid string) workflows.StateView {
	t.Helper()
	v, err := s.tc.QueryWorkflow(context.Background(), identity.WorkflowID(account, igsid), "", workflows.QueryState)
	require.NoError(t, err)
	var st workflows.StateView
	require.NoError(t, v.Get(&st))
	return st
}

func TestWelcomeFinishedAndAgentDisplayName(t *testing.T) {
	s := requireStack(t)
	configurePage(t, s, `{"welcome_message":"Welcome to Casa Azul! An agent will answer shortly.","finished_message":"Thanks for writing to us!"}`)
	igsid := uniqueIGSID()
	s.meta.AddUser(account, meta.User{IGSID: igsid, Name: "Beatriz", Username: "bia"})
	s.meta.UserSendsText(account, igsid, "hi")
	room := waitRoom(t, s, igsid, 1)
	waitVisitorMessages(t, s, room.ID, 1)
	eventually(t, 10*time.Second, "the welcome message on Instagram", func() bool { return len(s.meta.Sent(account, igsid)) == 1 })
	require.Equal(t, "Welcome to Casa Azul! An agent will answer shortly.", s.meta.Sent(account, igsid)[0].Text)
	eventually(t, 10*time.Second, "the welcome note in the room", func() bool {
		for _, m := range s.rc.Messages(room.ID) {
			if strings.Contains(m.Msg, "Welcome message sent to the customer") {
				return true
			}
		}
		return false
	})

	// The display-name setting applies to the next reply, without a restart.
	require.NoError(t, s.setSetting("agent_display_name", "username"))
	t.Cleanup(func() { _ = s.setSetting("agent_display_name", "name") })
	_, err := s.rc.AgentSend(room.ID, agentName, "How can I help?")
	require.NoError(t, err)
	eventually(t, 10*time.Second, "the reply on Instagram", func() bool { return len(s.meta.Sent(account, igsid)) == 2 })
	require.Equal(t, "ana: How can I help?", s.meta.Sent(account, igsid)[1].Text)

	require.NoError(t, s.rc.CloseRoom(room.ID, agentName, "done"))
	eventually(t, 10*time.Second, "the finished message on Instagram", func() bool { return len(s.meta.Sent(account, igsid)) == 3 })
	require.Equal(t, "Thanks for writing to us!", s.meta.Sent(account, igsid)[2].Text)
	waitRunCompleted(t, s, igsid)
	recordHistories(t, s, account, igsid, "closed-welcome-reply-finished")
}

func TestNoAgentOnlineMessagesWaitAndOpenWhenAgentIsBack(t *testing.T) {
	s := requireStack(t)
	configurePage(t, s, `{"offline_message":"We are offline right now; your message is safe and we will answer soon."}`)
	s.rc.SetAgentAvailable(agentName, false)
	t.Cleanup(func() { s.rc.SetAgentAvailable(agentName, true) })
	igsid := uniqueIGSID()
	s.meta.AddUser(account, meta.User{IGSID: igsid, Name: "Night Owl", Username: "night.owl"})
	for i := 1; i <= 3; i++ {
		s.meta.UserSendsText(account, igsid, fmt.Sprintf("message %d", i))
		time.Sleep(150 * time.Millisecond)
	}
	eventually(t, 15*time.Second, "the waiting_for_agent state with three messages kept", func() bool {
		st := queryState(t, s, igsid)
		return st.Status == workflows.StateWaitingForAgent && st.Pending >= 3
	})
	eventually(t, 10*time.Second, "the offline message", func() bool { return len(sentTexts(s, igsid)) == 1 })
	require.Empty(t, s.rc.Rooms(s.visitorToken(igsid)), "no room without an agent of the page's department (wendy, online in another department, does not count)")

	s.meta.UserSendsText(account, igsid, "message 4") // a new message triggers a re-check, still nobody
	time.Sleep(1500 * time.Millisecond)
	require.Equal(t, []string{"We are offline right now; your message is safe and we will answer soon."}, sentTexts(s, igsid),
		"the offline message is sent once")

	s.rc.SetAgentAvailable(agentName, true)
	room := waitRoom(t, s, igsid, 1)
	got := texts(waitVisitorMessages(t, s, room.ID, 4))
	require.Equal(t, []string{"message 1", "message 2", "message 3", "message 4"}, got, "every message that waited, in order")
	require.Equal(t, workflows.StateOpen, queryState(t, s, igsid).Status)
	recordHistories(t, s, account, igsid, "waited-for-agent")
}

func TestForwardedRoomKeepsWorking(t *testing.T) {
	s := requireStack(t)
	s.rc.SetAgentAvailable("bruno", true)
	t.Cleanup(func() { s.rc.SetAgentAvailable("bruno", false) })
	igsid := uniqueIGSID()
	s.meta.AddUser(account, meta.User{IGSID: igsid, Name: "Duda"})
	s.meta.UserSendsText(account, igsid, "I need a refund")
	room := waitRoom(t, s, igsid, 1)
	waitVisitorMessages(t, s, room.ID, 1)
	to, toName := "bruno", "Bruno Backup"
	if room.ServedBy == "bruno" {
		to, toName = agentName, "Ana Agent"
	}
	require.NoError(t, s.rc.Forward(room.ID, to))
	eventually(t, 10*time.Second, "the new agent in the conversation state", func() bool { return queryState(t, s, igsid).Agent == to })
	_, err := s.rc.AgentSend(room.ID, to, "Refund approved.")
	require.NoError(t, err)
	eventually(t, 10*time.Second, "the reply of the new agent", func() bool { return len(sentTexts(s, igsid)) == 1 })
	require.Equal(t, toName+": Refund approved.", sentTexts(s, igsid)[0])
	s.meta.UserSendsText(account, igsid, "thanks!")
	require.Equal(t, []string{"I need a refund", "thanks!"}, texts(waitVisitorMessages(t, s, room.ID, 2)))
}

func TestOperatorFindsConversationByUsername(t *testing.T) {
	s := requireStack(t)
	igsid := uniqueIGSID()
	username := "findme." + igsid[len(igsid)-6:]
	s.meta.AddUser(account, meta.User{IGSID: igsid, Name: "Find Me", Username: username})
	s.meta.UserSendsText(account, igsid, "where am I?")
	room := waitRoom(t, s, igsid, 1)
	query := fmt.Sprintf("InstagramUsername = '%s' AND ConversationState = 'open' AND RocketChatRoomID = '%s'", username, room.ID)
	var found []string
	eventually(t, 15*time.Second, "the conversation in a visibility query by username", func() bool {
		resp, err := s.tc.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{Query: query})
		if err != nil {
			return false
		}
		found = found[:0]
		for _, e := range resp.GetExecutions() {
			found = append(found, e.GetExecution().GetWorkflowId())
		}
		return len(found) == 1
	})
	require.Equal(t, identity.WorkflowID(account, igsid), found[0])
	d, err := s.tc.DescribeWorkflowExecution(context.Background(), found[0], "")
	require.NoError(t, err)
	// The summary is encrypted like every payload; the UI shows it through the codec.
	var summary string
	require.NoError(t, s.dataConverter.FromPayload(d.GetExecutionConfig().GetUserMetadata().GetSummary(), &summary))
	require.Contains(t, summary, "Instagram conversation")
}

// TestAcceptChatsWithNoAgents: with Rocket.Chat's "accept chats with no agents" on, a room
// opens (queued) even though nobody is online, and no offline message is sent.
func TestAcceptChatsWithNoAgents(t *testing.T) {
	s := requireStack(t)
	configurePage(t, s, `{"offline_message":"We are offline."}`)
	s.rc.SetAgentAvailable(agentName, false)
	s.rc.SetAcceptChatsWithNoAgents(true)
	t.Cleanup(func() {
		s.rc.SetAcceptChatsWithNoAgents(false)
		s.rc.SetAgentAvailable(agentName, true)
	})
	igsid := uniqueIGSID()
	s.meta.AddUser(account, meta.User{IGSID: igsid, Name: "Queued"})
	s.meta.UserSendsText(account, igsid, "anyone?")
	room := waitRoom(t, s, igsid, 1)
	require.Equal(t, []string{"anyone?"}, texts(waitVisitorMessages(t, s, room.ID, 1)))
	require.Empty(t, room.ServedBy, "queued: nobody serves it yet")
	require.Equal(t, "dept-ig", room.DepartmentID)
	time.Sleep(time.Second)
	require.Empty(t, sentTexts(s, igsid), "no offline message when Rocket.Chat accepts the chat")
}
