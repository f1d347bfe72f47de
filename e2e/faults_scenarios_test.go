package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/igdirect/bridge/identity"
	"github.com/igdirect/bridge/sandbox/meta"
	"github.com/igdirect/bridge/sandbox/rocketchat"
	"github.com/igdirect/bridge/workflows"
)

// Fault scenarios of issue 12: situations in which the conversation workflow used to stall
// or send twice. Each runs n messages each way (FAULT_MESSAGES) and ends with the
// exactly-once, in-order check both ways; the blocked ones also check that the
// conversation says it is blocked and resumes once the cause is fixed.

// customer is one Instagram user of one account, as the checks see them.
type customer struct {
	account, igsid string
}

func newCustomer(s *stack, acct, name string) customer {
	c := customer{account: acct, igsid: uniqueIGSID()}
	s.meta.AddUser(acct, meta.User{IGSID: c.igsid, Name: name})
	return c
}

func (c customer) token(s *stack) string {
	return identity.VisitorToken(s.visitorKey, c.account, c.igsid)
}

// inbound is every customer message of the customer in Rocket.Chat, over all rooms, in order.
func (c customer) inbound(s *stack) []string {
	var out []string
	for _, r := range s.rc.Rooms(c.token(s)) {
		for _, m := range visitorMessages(s, r.ID) {
			out = append(out, strings.Split(m.Msg, "\n")[0])
		}
	}
	return out
}

func (c customer) outbound(s *stack) []string {
	var out []string
	for _, m := range s.meta.Sent(c.account, c.igsid) {
		if m.Text != "" {
			out = append(out, m.Text)
		} else {
			out = append(out, "[attachment]")
		}
	}
	return out
}

func (c customer) writes(s *stack, texts ...string) {
	for _, text := range texts {
		s.meta.UserSendsText(c.account, c.igsid, text)
		time.Sleep(50 * time.Millisecond)
	}
}

func (c customer) room(t *testing.T, s *stack, n int) rocketchat.Room {
	t.Helper()
	var rooms []rocketchat.Room
	eventually(t, 30*time.Second, fmt.Sprintf("room %d of the customer", n), func() bool {
		rooms = s.rc.Rooms(c.token(s))
		return len(rooms) >= n
	})
	return rooms[n-1]
}

func (c customer) state(s *stack) workflows.StateView {
	st, _ := conversationState(s, identity.WorkflowID(c.account, c.igsid))
	return st
}

// agentReplies has the agent write texts in a room, and returns them as Instagram shows them.
func agentReplies(t *testing.T, s *stack, room string, texts ...string) []string {
	t.Helper()
	var out []string
	for _, text := range texts {
		_, err := s.rc.AgentSend(room, agentName, text)
		require.NoError(t, err)
		out = append(out, "Ana Agent: "+text)
		time.Sleep(20 * time.Millisecond) // Rocket.Chat's timestamps have millisecond resolution
	}
	return out
}

func numbered(prefix string, n int) []string {
	var out []string
	for i := 1; i <= n; i++ {
		out = append(out, fmt.Sprintf("%s %d", prefix, i))
	}
	return out
}

// exactlyOnceBothWays waits until nothing is missing either way, then checks that every
// message arrived exactly once, in order, and prints the counts.
func exactlyOnceBothWays(t *testing.T, s *stack, c customer, name string, wantIn, wantOut []string) {
	t.Helper()
	var in, out tally
	var inOrder, outOrder bool
	check := func() {
		in, inOrder = tallyOf(wantIn, c.inbound(s))
		out, outOrder = tallyOf(wantOut, c.outbound(s))
	}
	deadline := time.Now().Add(3 * time.Minute)
	for check(); time.Now().Before(deadline) && in.lost+out.lost > 0; check() {
		time.Sleep(250 * time.Millisecond)
	}
	time.Sleep(time.Second) // late duplicates would show up by now
	check()
	t.Logf("%-28s Instagram → Rocket.Chat: %s; Rocket.Chat → Instagram: %s", name, in, out)
	require.Zero(t, in.lost+in.duplicated, "customer messages: %s", in)
	require.Zero(t, out.lost+out.duplicated, "agent replies: %s", out)
	require.True(t, inOrder, "customer messages out of order: %v", c.inbound(s))
	require.True(t, outOrder, "agent replies out of order: %v", c.outbound(s))
}

// deadTokenCloseAndNewMessages (situation 1): the page token is dead, the agent's replies
// cannot go out, the agent closes the room, the customer writes again. The new messages
// reach a new room at once; the replies go out after re-authorization.
func deadTokenCloseAndNewMessages(t *testing.T, s *stack) {
	n := faultMessages()
	t.Cleanup(func() { reconnectPage(t, s, "EAAGrestoredafterdeadtoken00000000000001") })
	c := newCustomer(s, account, "Dead Token")
	c.writes(s, "dead token opener")
	room := c.room(t, s, 1)
	waitVisitorMessages(t, s, room.ID, 1)

	s.meta.InvalidateToken(currentPageToken(s), 460)
	replies := agentReplies(t, s, room.ID, numbered("reply while the token is dead", n)...)
	eventually(t, 20*time.Second, "the conversation blocked on the token", func() bool {
		st := c.state(s)
		return st.Status == workflows.StateBlocked && strings.Contains(st.BlockedReason, "authorized again")
	})
	require.NoError(t, s.rc.CloseRoom(room.ID, agentName, "done"))
	again := numbered("after the close", n)
	c.writes(s, again...)
	second := c.room(t, s, 2)
	eventually(t, 20*time.Second, "the new messages in the new room while the replies wait", func() bool {
		return len(visitorMessages(s, second.ID)) == n
	})
	require.Empty(t, c.outbound(s), "the replies wait for re-authorization")

	reconnectPage(t, s, "EAAGreauthorizedafterdeadtoken000000001")
	exactlyOnceBothWays(t, s, c, "dead token, close, new", append([]string{"dead token opener"}, again...), replies)
	recordHistories(t, s, c.account, c.igsid, "blocked-token-then-next-room")
}

// metaDownWhileClosing (situation 3): Meta answers 5xx while the agent replies and closes
// the room (the finished message cannot go out), and the customer writes "thanks".
func metaDownWhileClosing(t *testing.T, s *stack) {
	n := faultMessages()
	configurePage(t, s, `{"finished_message":"Thanks for talking to us."}`)
	c := newCustomer(s, account, "Thankful")
	c.writes(s, "meta down opener")
	room := c.room(t, s, 1)
	waitVisitorMessages(t, s, room.ID, 1)

	s.meta.InjectFault(meta.Fault{Endpoint: "send", HTTPStatus: 503})
	t.Cleanup(s.meta.ClearFaults)
	replies := agentReplies(t, s, room.ID, numbered("reply while Meta is down", n)...)
	require.NoError(t, s.rc.CloseRoom(room.ID, agentName, "solved"))
	time.Sleep(500 * time.Millisecond)
	refusedBefore := closedRoomRefusals(s, room.ID)
	thanks := numbered("thanks", n)
	c.writes(s, thanks...)
	second := c.room(t, s, 2)
	eventually(t, 20*time.Second, "the thanks in the new room", func() bool { return len(visitorMessages(s, second.ID)) == n })
	require.LessOrEqual(t, closedRoomRefusals(s, room.ID)-refusedBefore, 3, "no loop of posts into the closed room")

	s.meta.ClearFaults()
	exactlyOnceBothWays(t, s, c, "Meta down while closing", append([]string{"meta down opener"}, thanks...),
		append(replies, "Thanks for talking to us."))
}

// redeliveryAfterTheRunCompleted (situation 4): Meta redelivers messages already posted after
// the conversation's run completed; nothing is posted twice, and the next messages get through.
func redeliveryAfterTheRunCompleted(t *testing.T, s *stack) {
	n := faultMessages()
	c := newCustomer(s, account, "Redelivered")
	first := numbered("posted once", n)
	var events []meta.Event
	for i, text := range first {
		events = append(events, s.meta.NewTextEvent(account, c.igsid, text, time.Now().Add(time.Duration(i)*time.Millisecond)))
	}
	require.Equal(t, http.StatusOK, deliver(t, s, entry(events...)))
	room := c.room(t, s, 1)
	waitVisitorMessages(t, s, room.ID, n)
	replies := agentReplies(t, s, room.ID, numbered("reply before the close", n)...)
	eventually(t, 20*time.Second, "the replies on Instagram", func() bool { return len(c.outbound(s)) == n })
	require.NoError(t, s.rc.CloseRoom(room.ID, agentName, "done"))
	waitRunCompleted(t, s, c.igsid)

	require.Equal(t, http.StatusOK, deliver(t, s, entry(events...)), "Meta's redelivery of the whole batch")
	next := numbered("after the redelivery", n)
	c.writes(s, next...)
	exactlyOnceBothWays(t, s, c, "redelivery after completion", append(first, next...), replies)
}

// accountNotConnected (situation 5): a customer writes to an Instagram account the product
// has no token for. The conversation is blocked (and says why) instead of retrying, and
// resumes once the account is connected.
func accountNotConnected(t *testing.T, s *stack) {
	n := faultMessages()
	const (
		otherPage    = "102030405069999"
		otherAccount = "17841400000009999"
		otherToken   = "EAAGsandboxotherpagetoken00000000000009"
	)
	s.meta.AddPage(meta.Page{PageID: otherPage, IGAccountID: otherAccount, Username: "other.shop", Name: "Other Shop", AccessToken: otherToken})
	c := newCustomer(s, otherAccount, "Early Bird")
	early := numbered("before the account is connected", n)
	c.writes(s, early...)
	eventually(t, 20*time.Second, "the conversation blocked: account not connected", func() bool {
		st := c.state(s)
		return st.Status == workflows.StateBlocked && strings.Contains(st.BlockedReason, "not connected")
	})
	calls := len(s.rc.RESTCalls())
	time.Sleep(3 * time.Second)
	require.LessOrEqual(t, len(s.rc.RESTCalls())-calls, 2, "a blocked conversation does not call Rocket.Chat in a loop")

	status, body, err := s.admin(http.MethodPut, "/pages/"+otherPage, fmt.Sprintf(
		`{"ig_account_id":%q,"ig_username":"other.shop","name":"Other Shop","access_token":%q,"department":"Instagram"}`, otherAccount, otherToken))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, body)
	room := c.room(t, s, 1)
	replies := agentReplies(t, s, room.ID, numbered("reply once connected", n)...)
	exactlyOnceBothWays(t, s, c, "account not connected", early, replies)
}

// departmentThatDoesNotExist (situation 6): the page's department does not exist in
// Rocket.Chat (renamed or deleted there). New conversations are blocked and say why, the
// admins are told, and they resume once the department is fixed.
func departmentThatDoesNotExist(t *testing.T, s *stack) {
	n := faultMessages()
	db := s.db(t)
	_, err := db.Exec(`UPDATE pages SET department = 'Instagarm' WHERE page_id = $1`, pageID)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = db.Exec(`UPDATE pages SET department = 'Instagram' WHERE page_id = $1`, pageID) })
	c := newCustomer(s, account, "Typo Victim")
	early := numbered("while the department is wrong", n)
	c.writes(s, early...)
	eventually(t, 20*time.Second, "the conversation blocked on the department", func() bool {
		st := c.state(s)
		return st.Status == workflows.StateBlocked && strings.Contains(st.BlockedReason, "Instagarm")
	})
	eventually(t, 10*time.Second, "the admins told in the setup channel", func() bool {
		for _, m := range s.rc.ChannelMessages(setupChannel) {
			if strings.Contains(m.Msg, "Instagarm") {
				return true
			}
		}
		return false
	})
	status, body, err := s.admin(http.MethodPatch, "/pages/"+pageID, `{"department":"Instagram"}`)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, body)
	room := c.room(t, s, 1)
	require.Equal(t, "dept-ig", room.DepartmentID)
	replies := agentReplies(t, s, room.ID, numbered("reply once fixed", n)...)
	exactlyOnceBothWays(t, s, c, "unknown department", early, replies)
	recordHistories(t, s, c.account, c.igsid, "blocked-department")
}

// workerKilledAfterMetaAccepted (situation 7): Meta takes a send, then the worker dies before
// the answer is recorded. Nothing is sent twice: not the parts of a long reply, not a file.
func workerKilledAfterMetaAccepted(t *testing.T, s *stack) {
	c := newCustomer(s, account, "Long Reply")
	c.writes(s, "tell me everything")
	room := c.room(t, s, 1)
	waitVisitorMessages(t, s, room.ID, 1)

	// The first part of a three-part reply is accepted, then Meta's answer takes 5 s: the
	// worker is killed in between, before it can record that Meta took it.
	para := func(n int) string { return strings.TrimSpace(strings.Repeat(fmt.Sprintf("part%d ", n), 100)) } // 600 bytes
	long := para(1) + "\n\n" + para(2) + "\n\n" + para(3)                                                   // three parts of at most 1000 bytes
	s.meta.InjectFault(meta.Fault{Endpoint: "send", Count: 1, AfterAccept: true, Delay: 5 * time.Second})
	_, err := s.rc.AgentSend(room.ID, agentName, long)
	require.NoError(t, err)
	eventually(t, 15*time.Second, "the first part accepted by Meta", func() bool { return len(c.outbound(s)) == 1 })
	s.stopProcess("worker", syscall.SIGKILL)
	require.NoError(t, s.startProcess("worker"))

	// A file, the same way.
	eventually(t, 60*time.Second, "the three parts", func() bool { return len(c.outbound(s)) >= 3 })
	s.meta.InjectFault(meta.Fault{Endpoint: "send", Count: 1, AfterAccept: true, Delay: 5 * time.Second})
	_, err = s.rc.AgentSendFile(room.ID, agentName, rocketchat.File{Name: "catalog.pdf", Type: "application/pdf", Data: []byte("%PDF-1.4 catalog")}, "")
	require.NoError(t, err)
	eventually(t, 15*time.Second, "the file accepted by Meta", func() bool { return len(c.outbound(s)) == 4 })
	s.stopProcess("worker", syscall.SIGKILL)
	require.NoError(t, s.startProcess("worker"))

	n := faultMessages()
	after := numbered("after the kills", n)
	c.writes(s, after...)
	replies := agentReplies(t, s, room.ID, numbered("reply after the kills", n)...)
	exactlyOnceBothWays(t, s, c, "worker killed after accept", append([]string{"tell me everything"}, after...),
		append([]string{"Ana Agent: " + para(1), para(2), para(3), "[attachment]"}, replies...))
	recordHistories(t, s, c.account, c.igsid, "unknown-outcome-worker-killed")
}

// uploadAnswerLostThenWorkerKilled (situation 8): Rocket.Chat stores a customer's image but
// its answer is slow; the worker dies meanwhile. The retry finds the file in the room (its
// name derives from the Instagram mid) instead of uploading it a second time.
func uploadAnswerLostThenWorkerKilled(t *testing.T, s *stack) {
	c := newCustomer(s, account, "Photographer")
	c.writes(s, "a photo follows")
	room := c.room(t, s, 1)
	waitVisitorMessages(t, s, room.ID, 1)

	s.rc.InjectFault(rocketchat.Fault{Route: "POST /api/v1/livechat/upload/:rid", Count: 1, AfterProcess: true, Delay: 10 * time.Second})
	t.Cleanup(s.rc.ClearFaults)
	s.meta.UserSendsMedia(account, c.igsid, meta.Media{Type: "image", ContentType: "image/png", Data: pngBytes})
	eventually(t, 20*time.Second, "the image stored by Rocket.Chat", func() bool { return len(uploads(s, room.ID)) == 1 })
	s.stopProcess("worker", syscall.SIGKILL)
	require.NoError(t, s.startProcess("worker"))

	n := faultMessages()
	after := numbered("after the lost upload answer", n)
	c.writes(s, after...)
	replies := agentReplies(t, s, room.ID, numbered("reply after the lost upload answer", n)...)
	exactlyOnceBothWays(t, s, c, "upload answer lost", append([]string{"a photo follows", ""}, after...), replies)
	require.Len(t, uploads(s, room.ID), 1, "the image once")
}
