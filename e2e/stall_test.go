package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/sdk/converter"

	"github.com/igdirect/bridge/identity"
	"github.com/igdirect/bridge/sandbox/meta"
	"github.com/igdirect/bridge/sandbox/rocketchat"
	"github.com/igdirect/bridge/workflows"
)

// Situations of issue 12 in which a conversation stalled or sent twice: each test drives the
// product from outside (Meta and Rocket.Chat emulators) and checks what customers and agents
// get.

// roomWith waits until one of the customer's rooms holds a visitor message with text.
func roomWith(t *testing.T, s *stack, igsid, text string, timeout time.Duration) rocketchat.Room {
	t.Helper()
	var found rocketchat.Room
	eventually(t, timeout, fmt.Sprintf("%q in a room of the customer", text), func() bool {
		for _, r := range s.rc.Rooms(s.visitorToken(igsid)) {
			for _, m := range visitorMessages(s, r.ID) {
				if m.Msg == text {
					found = r
					return true
				}
			}
		}
		return false
	})
	return found
}

// visitorTexts is every customer message of the customer, over all rooms, in room order.
func visitorTexts(s *stack, igsid string) []string {
	var out []string
	for _, r := range s.rc.Rooms(s.visitorToken(igsid)) {
		for _, m := range visitorMessages(s, r.ID) {
			out = append(out, strings.Split(m.Msg, "\n")[0])
		}
	}
	return out
}

// searchAttribute reads a conversation's keyword search attribute as the Temporal UI shows it.
func searchAttribute(t *testing.T, s *stack, igsid, name string) string {
	t.Helper()
	d, err := s.tc.DescribeWorkflowExecution(context.Background(), identity.WorkflowID(account, igsid), "")
	require.NoError(t, err)
	p, ok := d.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()[name]
	if !ok {
		return ""
	}
	var v string
	require.NoError(t, converter.GetDefaultDataConverter().FromPayload(p, &v))
	return v
}

// closedRoomRefusals counts the product's attempts to post into a room after it closed.
func closedRoomRefusals(s *stack, rid string) int {
	n := 0
	for _, c := range s.rc.RESTCalls() {
		if c.Route == "POST /api/v1/livechat/message" && c.RoomID == rid && c.Error == "room-closed" {
			n++
		}
	}
	return n
}

// waitRunCompleted waits until the conversation has no running execution.
func waitRunCompleted(t *testing.T, s *stack, igsid string) {
	t.Helper()
	eventually(t, 60*time.Second, "the conversation's run to complete", func() bool {
		d, err := s.tc.DescribeWorkflowExecution(context.Background(), identity.WorkflowID(account, igsid), "")
		return err == nil && d.GetWorkflowExecutionInfo().GetCloseTime() != nil
	})
}

func conversationState(s *stack, workflowID string) (workflows.StateView, error) {
	v, err := s.tc.QueryWorkflow(context.Background(), workflowID, "", workflows.QueryState)
	if err != nil {
		return workflows.StateView{}, err
	}
	var st workflows.StateView
	err = v.Get(&st)
	return st, err
}

// TestSlowProfileLookupDoesNotStallRegistration (issue 12, situation 8): Meta's profile API
// answers after 25 s. The customer's message still reaches a room promptly (under the IGSID
// when the profile is too slow), instead of every registration attempt timing out.
func TestSlowProfileLookupDoesNotStallRegistration(t *testing.T) {
	s := requireStack(t)
	s.meta.InjectFault(meta.Fault{Endpoint: "profile", Delay: 25 * time.Second})
	t.Cleanup(s.meta.ClearFaults)
	igsid := uniqueIGSID()
	s.meta.AddUser(account, meta.User{IGSID: igsid, Name: "Slow Profile"})
	s.meta.UserSendsText(account, igsid, "hi from a slow profile")
	roomWith(t, s, igsid, "hi from a slow profile", 20*time.Second)
}

// TestFarFutureAgentTimestamp (issue 12, situation 9): Rocket.Chat's clock runs an hour
// ahead. Agent replies still go out at once, in order; ordering must not trust remote clocks.
func TestFarFutureAgentTimestamp(t *testing.T) {
	s := requireStack(t)
	igsid := uniqueIGSID()
	s.meta.AddUser(account, meta.User{IGSID: igsid, Name: "Clock Skew"})
	s.meta.UserSendsText(account, igsid, "what time is it?")
	room := waitRoom(t, s, igsid, 1)
	waitVisitorMessages(t, s, room.ID, 1)
	s.rc.SetClockOffset(time.Hour)
	t.Cleanup(func() { s.rc.SetClockOffset(0) })
	_, err := s.rc.AgentSend(room.ID, agentName, "from the future")
	require.NoError(t, err)
	eventually(t, 10*time.Second, "the reply stamped an hour ahead", func() bool { return len(sentTexts(s, igsid)) == 1 })
	s.rc.SetClockOffset(0)
	_, err = s.rc.AgentSend(room.ID, agentName, "back to now")
	require.NoError(t, err)
	eventually(t, 10*time.Second, "the next reply", func() bool { return len(sentTexts(s, igsid)) == 2 })
	require.Equal(t, []string{"Ana Agent: from the future", "Ana Agent: back to now"}, sentTexts(s, igsid))
}

// TestNextRoomState (issue 12, situation 12): after a close, the conversation waiting for an
// agent for its next room shows no room in the Temporal UI (not the closed one), and a
// department change made meanwhile applies to the returning customer's new room.
func TestNextRoomState(t *testing.T) {
	s := requireStack(t)
	igsid := uniqueIGSID()
	s.meta.AddUser(account, meta.User{IGSID: igsid, Name: "Returning"})
	s.meta.UserSendsText(account, igsid, "first visit")
	room := waitRoom(t, s, igsid, 1)
	waitVisitorMessages(t, s, room.ID, 1)
	eventually(t, 10*time.Second, "the room in the search attributes", func() bool {
		return searchAttribute(t, s, igsid, workflows.SARoomID.GetName()) == room.ID
	})
	require.NoError(t, s.rc.CloseRoom(room.ID, agentName, "bye"))

	configurePage(t, s, `{"department":"Website"}`)
	s.rc.SetAgentAvailable("wendy", false)
	t.Cleanup(func() { s.rc.SetAgentAvailable("wendy", true) })
	s.meta.UserSendsText(account, igsid, "second visit")
	eventually(t, 15*time.Second, "waiting for an agent of the new department, with no room shown", func() bool {
		st, err := conversationState(s, identity.WorkflowID(account, igsid))
		return err == nil && st.Status == workflows.StateWaitingForAgent && st.RoomID == "" &&
			searchAttribute(t, s, igsid, workflows.SARoomID.GetName()) == ""
	})
	s.rc.SetAgentAvailable("wendy", true)
	second := roomWith(t, s, igsid, "second visit", 20*time.Second)
	require.Equal(t, "dept-web", second.DepartmentID, "the new department applies to the returning customer")
}

// TestDetailsFollowForward (issue 12, situation 12): the run's details in the Temporal UI
// name the agent who serves the room now, after a forward.
func TestDetailsFollowForward(t *testing.T) {
	s := requireStack(t)
	s.rc.SetAgentAvailable("bruno", true)
	t.Cleanup(func() { s.rc.SetAgentAvailable("bruno", false) })
	igsid := uniqueIGSID()
	s.meta.AddUser(account, meta.User{IGSID: igsid, Name: "Forwarded"})
	s.meta.UserSendsText(account, igsid, "help")
	room := waitRoom(t, s, igsid, 1)
	waitVisitorMessages(t, s, room.ID, 1)
	to := "bruno"
	if room.ServedBy == "bruno" {
		to = agentName
	}
	require.NoError(t, s.rc.Forward(room.ID, to))
	eventually(t, 10*time.Second, "the new agent in the run's details", func() bool {
		v, err := s.tc.QueryWorkflow(context.Background(), identity.WorkflowID(account, igsid), "", "__temporal_workflow_metadata")
		if err != nil {
			return false
		}
		var md sdkpb.WorkflowMetadata
		return v.Get(&md) == nil && strings.Contains(md.GetCurrentDetails(), "agent "+to)
	})
}

// TestAgentRepliesInRocketChatOrder (issue 12, situation 11): Rocket.Chat retries each
// agent-message webhook on its own, seconds apart (here: the first attempt of every other
// webhook fails), so they reach ingress out of order. The replies still reach Instagram in the
// order the agent wrote them.
func TestAgentRepliesInRocketChatOrder(t *testing.T) {
	s := requireStack(t)
	igsid := uniqueIGSID()
	s.meta.AddUser(account, meta.User{IGSID: igsid, Name: "Ordered"})
	s.meta.UserSendsText(account, igsid, "hi")
	room := waitRoom(t, s, igsid, 1)
	waitVisitorMessages(t, s, room.ID, 1)

	var mu sync.Mutex
	refused := map[string]bool{}
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		for _, odd := range []string{"reply 1", "reply 3", "reply 5"} {
			mu.Lock()
			first := strings.Contains(string(body), `"`+odd+`"`) && !refused[odd]
			if first {
				refused[odd] = true
			}
			mu.Unlock()
			if first {
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return
			}
		}
		req, _ := http.NewRequest(r.Method, s.ingressURL+"/webhooks/rocketchat", bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(proxy.Close)
	s.rc.SetWebhook(proxy.URL, s.secrets["ROCKETCHAT_WEBHOOK_TOKEN"])
	t.Cleanup(func() { s.rc.SetWebhook(s.ingressURL+"/webhooks/rocketchat", s.secrets["ROCKETCHAT_WEBHOOK_TOKEN"]) })

	var want []string
	for i := 1; i <= 6; i++ {
		text := fmt.Sprintf("reply %d", i)
		want = append(want, "Ana Agent: "+text)
		_, err := s.rc.AgentSend(room.ID, agentName, text)
		require.NoError(t, err)
		time.Sleep(100 * time.Millisecond)
	}
	eventually(t, 30*time.Second, "every reply", func() bool { return len(sentTexts(s, igsid)) >= 6 })
	time.Sleep(time.Second)
	require.Equal(t, want, sentTexts(s, igsid))
	recordHistories(t, s, account, igsid, "replies-out-of-order-webhooks")
}

// TestCloseNoticedThroughAFailedPost (issue 12, situation 12): Rocket.Chat's close webhook is
// off, so the product learns of the close when a post is refused. The customer still gets the
// finished message, and the message goes to a new room.
func TestCloseNoticedThroughAFailedPost(t *testing.T) {
	s := requireStack(t)
	configurePage(t, s, `{"finished_message":"Bye for now."}`)
	ev := s.rc.WebhookEventsSet()
	off := ev
	off.OnClose = false
	s.rc.SetWebhookEvents(off)
	t.Cleanup(func() { s.rc.SetWebhookEvents(ev) })
	igsid := uniqueIGSID()
	s.meta.AddUser(account, meta.User{IGSID: igsid, Name: "Silent Close"})
	s.meta.UserSendsText(account, igsid, "one")
	room := waitRoom(t, s, igsid, 1)
	waitVisitorMessages(t, s, room.ID, 1)
	require.NoError(t, s.rc.CloseRoom(room.ID, agentName, "closed without a webhook"))
	s.meta.UserSendsText(account, igsid, "two")
	second := roomWith(t, s, igsid, "two", 20*time.Second)
	require.NotEqual(t, room.ID, second.ID)
	eventually(t, 15*time.Second, "the finished message", func() bool {
		for _, text := range sentTexts(s, igsid) {
			if text == "Bye for now." {
				return true
			}
		}
		return false
	})
}

// reconnectPage gives the sandbox page a new token and connects it with that token through
// the admin API, as an admin re-authorizing it would.
func reconnectPage(t *testing.T, s *stack, token string) {
	t.Helper()
	s.meta.AddPage(meta.Page{PageID: pageID, IGAccountID: account, Username: "casaazul.store", Name: "Casa Azul", AccessToken: token})
	status, body, err := s.admin(http.MethodPut, "/pages/"+pageID, fmt.Sprintf(
		`{"ig_account_id":%q,"ig_username":"casaazul.store","name":"Casa Azul","access_token":%q}`, account, token))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, body)
}

// currentPageToken is the sandbox page's token now (tests re-authorize it with new ones).
func currentPageToken(s *stack) string {
	for _, p := range s.meta.Pages() {
		if p.PageID == pageID {
			return p.AccessToken
		}
	}
	return pageToken
}
