package e2e

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"

	"github.com/igdirect/bridge/identity"
	"github.com/igdirect/bridge/sandbox/meta"
	"github.com/igdirect/bridge/sandbox/rocketchat"
)

// visitorMessages returns the customer's messages in a room, in room order.
func visitorMessages(s *stack, rid string) []rocketchat.Message {
	var out []rocketchat.Message
	for _, m := range s.rc.Messages(rid) {
		if m.System == "" && m.AgentID == "" && m.Token != "" && !m.Deleted {
			out = append(out, m)
		}
	}
	return out
}

func texts(ms []rocketchat.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Msg
	}
	return out
}

// waitRoom waits until the customer has n rooms and returns the newest.
func waitRoom(t *testing.T, s *stack, igsid string, n int) rocketchat.Room {
	t.Helper()
	var rooms []rocketchat.Room
	eventually(t, 20*time.Second, "a Rocket.Chat room for the customer", func() bool {
		rooms = s.rc.Rooms(s.visitorToken(igsid))
		return len(rooms) >= n
	})
	return rooms[len(rooms)-1]
}

func waitVisitorMessages(t *testing.T, s *stack, rid string, n int) []rocketchat.Message {
	t.Helper()
	var got []rocketchat.Message
	eventually(t, 20*time.Second, "customer messages in the room", func() bool {
		got = visitorMessages(s, rid)
		return len(got) >= n
	})
	return got
}

func entry(evs ...meta.Event) meta.Entry {
	return meta.Entry{ID: account, Time: time.Now().UnixMilli(), Messaging: evs}
}

func deliver(t *testing.T, s *stack, e meta.Entry) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	status, body, err := s.meta.DeliverOnce(ctx, e)
	require.NoError(t, err)
	t.Logf("delivery answered %d %s", status, strings.TrimSpace(body))
	return status
}

func TestMessagesArriveInOrderExactlyOnce(t *testing.T) {
	s := requireStack(t)
	igsid := uniqueIGSID()
	s.meta.AddUser(account, meta.User{IGSID: igsid, Name: "Maria Silva", Username: "maria.silva"})
	t0 := time.Now()
	first := s.meta.NewTextEvent(account, igsid, "first", t0)
	second := s.meta.NewTextEvent(account, igsid, "second", t0.Add(50*time.Millisecond))
	third := s.meta.NewTextEvent(account, igsid, "third 🙂 äöå", t0.Add(100*time.Millisecond))

	// The first message is delivered twice; the third arrives before the second.
	for _, e := range []meta.Entry{entry(first), entry(first), entry(third), entry(second)} {
		require.Equal(t, http.StatusOK, deliver(t, s, e))
	}
	room := waitRoom(t, s, igsid, 1)
	require.Equal(t, []string{"first", "second", "third 🙂 äöå"}, texts(waitVisitorMessages(t, s, room.ID, 3)))
	time.Sleep(time.Second) // a late duplicate would show up by now
	require.Len(t, visitorMessages(s, room.ID), 3, "every message exactly once")

	v, ok := s.rc.Visitor(s.visitorToken(igsid))
	require.True(t, ok)
	require.Equal(t, "Maria Silva", v.Name, "visitor named after the Instagram profile")
	require.Equal(t, "dept-ig", room.DepartmentID, "visitor registered in the page's department")
}

func TestAgentReplyReachesInstagramAndEchoIsNotPosted(t *testing.T) {
	s := requireStack(t)
	igsid := uniqueIGSID()
	s.meta.AddUser(account, meta.User{IGSID: igsid, Name: "João"})
	s.meta.UserSendsText(account, igsid, "Do you ship to Lisbon?")
	room := waitRoom(t, s, igsid, 1)
	waitVisitorMessages(t, s, room.ID, 1)

	_, err := s.rc.AgentSend(room.ID, agentName, "Yes — 2 days to Lisbon.")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sent, err := s.meta.WaitForSent(ctx, account, igsid, 1)
	require.NoError(t, err)
	require.Equal(t, "Ana Agent: Yes — 2 days to Lisbon.", sent[0].Text, "signed with the agent's name by default")

	// Meta echoes our send back as a webhook; it must not appear as a customer message,
	// and the agent's message must not be sent twice.
	time.Sleep(1500 * time.Millisecond)
	require.Len(t, visitorMessages(s, room.ID), 1)
	require.Len(t, s.meta.Sent(account, igsid), 1)
}

func TestClosingRoomCompletesRunAndNextMessageOpensNewRoom(t *testing.T) {
	s := requireStack(t)
	igsid := uniqueIGSID()
	s.meta.AddUser(account, meta.User{IGSID: igsid, Name: "Carla"})
	s.meta.UserSendsText(account, igsid, "hello")
	room := waitRoom(t, s, igsid, 1)
	waitVisitorMessages(t, s, room.ID, 1)
	wfID := identity.WorkflowID(account, igsid)
	ctx := context.Background()
	first, err := s.tc.DescribeWorkflowExecution(ctx, wfID, "")
	require.NoError(t, err)
	runID := first.GetWorkflowExecutionInfo().GetExecution().GetRunId()

	require.NoError(t, s.rc.CloseRoom(room.ID, agentName, "Resolved"))
	eventually(t, 20*time.Second, "the conversation run to complete", func() bool {
		d, err := s.tc.DescribeWorkflowExecution(ctx, wfID, runID)
		return err == nil && d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED
	})

	s.meta.UserSendsText(account, igsid, "one more question")
	next := waitRoom(t, s, igsid, 2)
	require.NotEqual(t, room.ID, next.ID)
	require.Equal(t, []string{"one more question"}, texts(waitVisitorMessages(t, s, next.ID, 1)))
	d, err := s.tc.DescribeWorkflowExecution(ctx, wfID, "")
	require.NoError(t, err)
	require.NotEqual(t, runID, d.GetWorkflowExecutionInfo().GetExecution().GetRunId(), "a new run for the new room")
}

// requireNoConversation checks that nothing was started for a customer.
func requireNoConversation(t *testing.T, s *stack, igsid string) {
	t.Helper()
	_, err := s.tc.DescribeWorkflowExecution(context.Background(), identity.WorkflowID(account, igsid), "")
	var nf *serviceerror.NotFound
	require.True(t, errors.As(err, &nf), "expected no workflow, got %v", err)
}

func post(t *testing.T, url, contentType string, body []byte, headers map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(string(body)))
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b := new(strings.Builder)
	_, _ = ioCopy(b, resp)
	return resp.StatusCode, b.String()
}

func TestBadInstagramRequestsStartNothing(t *testing.T) {
	s := requireStack(t)
	igsid := uniqueIGSID()
	valid := []byte(`{"object":"instagram","entry":[{"id":"` + account + `","time":1767225600123,"messaging":[{"sender":{"id":"` + igsid +
		`"},"recipient":{"id":"` + account + `"},"timestamp":1767225599871,"message":{"mid":"aWdfforged","text":"hi"}}]}]}`)
	sig, sha1 := s.meta.Sign(valid)
	hook := s.ingressURL + "/webhooks/instagram"

	tests := []struct {
		name        string
		body        []byte
		contentType string
		headers     map[string]string
		want        int
		wantText    string
	}{
		{"forged signature", valid, "application/json", map[string]string{"X-Hub-Signature-256": "sha256=" + strings.Repeat("ab", 32)}, http.StatusForbidden, "signature"},
		{"missing signature", valid, "application/json", nil, http.StatusUnauthorized, "X-Hub-Signature-256"},
		{"legacy sha1 alone", valid, "application/json", map[string]string{"X-Hub-Signature": sha1}, http.StatusUnauthorized, "sha1"},
		{"signature of other bytes", append(valid, ' '), "application/json", map[string]string{"X-Hub-Signature-256": sig}, http.StatusForbidden, "signature"},
		{"wrong content type", valid, "text/plain", map[string]string{"X-Hub-Signature-256": sig}, http.StatusUnsupportedMediaType, "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := post(t, hook, tt.contentType, tt.body, tt.headers)
			require.Equal(t, tt.want, status, body)
			require.Contains(t, body, tt.wantText)
		})
	}

	malformed := []byte(`{"object":"instagram","entry":[{"id":`)
	msig, _ := s.meta.Sign(malformed)
	status, body := post(t, hook, "application/json", malformed, map[string]string{"X-Hub-Signature-256": msig})
	require.Equal(t, http.StatusBadRequest, status, body)
	require.Contains(t, body, "malformed")

	unknown := []byte(`{"object":"instagram","entry":[{"id":"` + account + `","time":1767225600123,"messaging":[{"sender":{"id":"` + igsid +
		`"},"recipient":{"id":"` + account + `"},"timestamp":1767225599871,"brand_new_event":{"x":1}}]}]}`)
	usig, _ := s.meta.Sign(unknown)
	status, body = post(t, hook, "application/json", unknown, map[string]string{"X-Hub-Signature-256": usig})
	require.Equal(t, http.StatusOK, status, "unknown event kinds are acknowledged, or Meta would retry them forever")
	require.Contains(t, body, `"events":0`)

	requireNoConversation(t, s, igsid)
}

func TestVerificationHandshake(t *testing.T) {
	s := requireStack(t)
	resp, err := http.Get(s.ingressURL + "/webhooks/instagram?hub.mode=subscribe&hub.verify_token=" + e2eVerifyToken + "&hub.challenge=1158201444")
	require.NoError(t, err)
	b := new(strings.Builder)
	_, _ = ioCopy(b, resp)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "1158201444", b.String())

	resp, err = http.Get(s.ingressURL + "/webhooks/instagram?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
}

func TestRocketChatWebhookNeedsItsToken(t *testing.T) {
	s := requireStack(t)
	body := []byte(`{"_id":"r1","type":"Message","visitor":{"token":"ig.1.2.3"},"messages":[]}`)
	status, _ := post(t, s.ingressURL+"/webhooks/rocketchat", "application/json", body, map[string]string{"X-RocketChat-Livechat-Token": "wrong"})
	require.Equal(t, http.StatusForbidden, status)
	status, _ = post(t, s.ingressURL+"/webhooks/rocketchat", "application/json", body, nil)
	require.Equal(t, http.StatusUnauthorized, status)
}

func TestTemporalDownThenRetriedDeliverySucceeds(t *testing.T) {
	requireStack(t)
	s, err := startStack("outage", stackOptions{})
	require.NoError(t, err)
	t.Cleanup(s.stop)
	igsid := uniqueIGSID()
	s.meta.AddUser(account, meta.User{IGSID: igsid, Name: "Rita"})

	s.stopTemporal()
	ev := s.meta.NewTextEvent(account, igsid, "sent while Temporal is down", time.Now())
	require.Equal(t, http.StatusServiceUnavailable, deliver(t, s, entry(ev)), "ingress must refuse what it cannot record")

	// Meta keeps retrying the same delivery; once Temporal is back it is accepted.
	s.meta.Enqueue(entry(ev))
	time.Sleep(time.Second)
	require.NoError(t, s.startTemporal())
	room := waitRoom(t, s, igsid, 1)
	require.Equal(t, []string{"sent while Temporal is down"}, texts(waitVisitorMessages(t, s, room.ID, 1)))
}
