package workflows

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
)

// Situations of issue 12 in which a conversation stalled, spun or sent twice. Each failed on
// the workflow before the one-event-loop rewrite (reproduced against the old workflow's
// activities; ported here to the new ones, same scenario).

// realisticMID is as long as the mids Meta sends (base64 of the message's internal key).
func realisticMID(i int) string {
	return fmt.Sprintf("aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwMDAwMDAwMDAxOjM0MDI4MjM2Njg0MTcxMDMwMDk0OTEyODIy%032d", i)
}

// TestHeldRepliesExpireWhileASendIsInFlight (situation 2): replies held while another app
// owns the thread expire while a send is in flight. The conversation goes on — the held
// replies are dropped with a note — instead of looping without yielding ("Potential deadlock
// detected", which the old workflow hit here). It starts from carried state: a reply held
// for 24 hours minus a second.
func TestHeldRepliesExpireWhileASendIsInFlight(t *testing.T) {
	f := newWorld()
	f.refuseWhileOtherOwns = true
	env := newEnv(t, f)
	env.SetTestTimeout(time.Minute)
	first := true
	env.OnActivity(ActivitySyncReplies, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in SyncRepliesInput) (SyncRepliesResult, error) {
			if first {
				first = false
				time.Sleep(3 * time.Second) // Meta is slow: the hold expires meanwhile
			}
			return f.SyncReplies(ctx, in)
		})
	now := env.Now()
	f.replies["room1"] = []fakeReply{{ID: "a1", Text: "held reply", TS: now.Add(-24 * time.Hour)}}
	carry := State{
		PageID: "acct", IGSID: "user1", RoomKey: "run0/1", RoomSeq: 1, RoomID: "room1", Opened: true,
		Visitor: &VisitorInfo{Name: "Ana", DepartmentID: "d1"}, OtherOwner: "263902037430900",
		HeldSince:  now.Add(-24*time.Hour + time.Second),
		OutBlocked: Blocked{Kind: BlockHeld, Reason: "another app controls the Instagram thread", Since: now.Add(-24 * time.Hour)},
		Out:        []OutJob{{Kind: JobSync, RoomID: "room1"}},
		Cursors:    []RoomCursor{{RoomID: "room1"}},
	}
	// The agent writes again: the workflow tries once more (to take control) — that send is
	// the one in flight when the hold expires.
	agentWrites(env, f, 500*time.Millisecond, "room1", "a2", "another reply", true)
	closeAt(env, f, 10*time.Second)
	env.ExecuteWorkflow(ConversationWorkflowName, carrying(t, carry))
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	require.Empty(t, f.sentTexts())
	notes := strings.Join(f.noteTexts(), "\n")
	require.Contains(t, notes, `"held reply" — another app kept control of this Instagram conversation for 24 hours`)
	require.Contains(t, notes, `"another reply" — another app kept control`)
}

// TestThanksAfterCloseWhileFinishedMessageFails (situation 3): the agent closed the room, the
// finished message keeps failing (Meta 5xx), and the customer writes "thanks!". The message
// goes to the next room (the run continues as new for it); the closed room is not posted to
// in a loop (the old workflow posted 353,060 times in that minute).
func TestThanksAfterCloseWhileFinishedMessageFails(t *testing.T) {
	f := newWorld()
	f.automated = map[string]string{AutoFinished: "bye"}
	env := newEnv(t, f)
	env.SetTestTimeout(time.Minute)
	posts := 0
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		if info.ActivityType.Name == ActivityPostToRoom {
			posts++
		}
	})
	env.OnActivity(ActivitySendAutomated, mock.Anything, mock.Anything).Return(
		SendAutomatedResult{Stop: &Stop{Kind: StopRetry, Reason: "Graph API HTTP 503"}}, nil)
	signalAt(env, time.Second, SignalInstagram, msg(env, "m1", "question", time.Second))
	closeAt(env, f, 3*time.Second)
	signalAt(env, 4*time.Second, SignalInstagram, msg(env, "m2", "thanks!", 4*time.Second))
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	next := continuedWith(t, env.GetWorkflowError())
	require.LessOrEqual(t, posts, 2, "posts to the room")
	require.Len(t, next.Carry.Pending, 1)
	require.Equal(t, "thanks!", next.Carry.Pending[0].Text, "the message goes to the next room")
	var whiches []string
	for _, j := range next.Carry.Out {
		whiches = append(whiches, j.Which)
	}
	require.Contains(t, whiches, AutoFinished, "the finished message is still to be sent")
}

// TestContinueAsNewStateStaysSmall (situation 10): at steady state — thousands of messages
// each way handled — the state carried to the next run stays small: the dedup memory is
// compact hashes, and nothing grows without bound. (The old state carried 76 KB after 300
// messages each way, about 850 KB at steady state.)
func TestContinueAsNewStateStaysSmall(t *testing.T) {
	f := newWorld()
	env := newEnv(t, f)
	env.SetTestTimeout(2 * time.Minute)
	n, batch := 300, 50
	if !testing.Short() {
		n = steadyStateMessages
	}
	// One delayed callback per batch (the test environment queues at most about a thousand
	// before the workflow runs).
	for b := 0; b < n/batch; b++ {
		var evs []InstagramEvent
		for i := b * batch; i < (b+1)*batch; i++ {
			evs = append(evs, InstagramEvent{Kind: EventMessage, MID: realisticMID(i), Text: "m", Timestamp: env.Now().UnixMilli() + int64(i)})
		}
		at := time.Duration(b)*2*time.Minute + time.Second // a busy conversation: 50 messages each way every 2 minutes
		signalAt(env, at, SignalInstagram, InstagramBatch{Events: evs})
		env.RegisterDelayedCallback(func() {
			f.mu.Lock()
			for i := b * batch; i < (b+1)*batch; i++ {
				f.replies["room1"] = append(f.replies["room1"], fakeReply{ID: fmt.Sprintf("rcmsg%012d", i), Text: "r", TS: env.Now()})
			}
			f.mu.Unlock()
			env.SignalWorkflow(SignalRocketChat, RocketChatEvent{Kind: RCAgentMessage, RoomID: "room1"})
		}, at+time.Second)
	}
	env.RegisterDelayedCallback(func() {
		env.SetContinueAsNewSuggested(true)
		env.SignalWorkflow(SignalInstagram, InstagramBatch{Events: []InstagramEvent{{Kind: EventMessage, MID: realisticMID(n), Text: "last", Timestamp: env.Now().UnixMilli()}}})
	}, time.Duration(n/batch+1)*2*time.Minute)
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	next := continuedWith(t, env.GetWorkflowError())
	size, err := converter.GetDefaultDataConverter().ToPayloads(next.ConversationInput)
	require.NoError(t, err)
	bytes := size.Size()
	t.Logf("continue-as-new input after %d messages each way: %d bytes", n, bytes)
	require.Less(t, bytes, 32<<10, "the carried state stays small")
	require.Equal(t, n, next.Carry.Delivered)
	require.Equal(t, n, next.Carry.SentToIG)
	require.Len(t, f.sent, n, "each reply sent once")
}

// steadyStateMessages: enough messages each way to fill every bounded set.
const steadyStateMessages = 1500

// TestLateCloseWebhookAfterNextRoom (situation 12): the close is noticed through a refused
// post and the conversation moves on to its next room; an agent message of the closed room
// whose webhook was lost is still sent, and the close webhook that comes after the
// continue-as-new is not ignored.
func TestLateCloseWebhookAfterNextRoom(t *testing.T) {
	f := newWorld()
	env := newEnv(t, f)
	signalAt(env, time.Second, SignalInstagram, msg(env, "m1", "first", time.Second))
	agentWrites(env, f, 2*time.Second, "room1", "a1", "answer whose webhook was lost", false)
	env.RegisterDelayedCallback(func() {
		f.mu.Lock()
		f.closed["room1"] = true
		f.mu.Unlock()
		env.SignalWorkflow(SignalInstagram, InstagramBatch{Events: []InstagramEvent{msg(env, "m2", "second", 3*time.Second)}})
	}, 3*time.Second)
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	next := continuedWith(t, env.GetWorkflowError())

	f.rooms = 1
	env2 := newEnv(t, f)
	env2.SetStartTime(env.Now()) // the next run continues the same clock
	agentWrites(env2, f, 4*time.Second, "room1", "a2", "written just before the close", false)
	signalAt(env2, 5*time.Second, SignalRocketChat, RocketChatEvent{Kind: RCClosed, RoomID: "room1"}) // the late webhook
	closeRoom(env2, f, 10*time.Second, "room2")
	env2.ExecuteWorkflow(ConversationWorkflowName, next)
	require.NoError(t, env2.GetWorkflowError())
	require.Equal(t, []string{"answer whose webhook was lost", "written just before the close"}, f.sent)
}

// TestRepliesBlockedOnTokenDoNotHoldUpTheCustomer (situation 1): the page token is dead, so a
// reply cannot go out; the agent closes the room; the customer writes again. The new message
// reaches a new room at once; the reply waits (blocked, with a note), and goes out once the
// account is authorized again (a wake signal), exactly once.
func TestRepliesBlockedOnTokenDoNotHoldUpTheCustomer(t *testing.T) {
	f := newWorld()
	f.authDead = true
	env := newEnv(t, f)
	signalAt(env, time.Second, SignalInstagram, msg(env, "m1", "hello", time.Second))
	agentWrites(env, f, 2*time.Second, "room1", "a1", "a reply that cannot go out yet", true)
	env.RegisterDelayedCallback(func() {
		st := queryState(t, env)
		require.Equal(t, StateBlocked, st.Status)
		require.Contains(t, st.BlockedReason, "authorized again")
	}, 3*time.Second)
	closeAt(env, f, 4*time.Second)
	signalAt(env, 5*time.Second, SignalInstagram, msg(env, "m2", "hello again", 5*time.Second))
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	next := continuedWith(t, env.GetWorkflowError())
	require.Equal(t, "hello again", next.Carry.Pending[0].Text)

	f.rooms = 1
	env2 := newEnv(t, f)
	env2.SetStartTime(env.Now()) // the next run continues the same clock
	env2.RegisterDelayedCallback(func() {
		require.Equal(t, []string{"room1:hello", "room2:hello again"}, f.posted, "the customer's message is in the new room at once")
		require.Empty(t, f.sentTexts(), "the reply still waits")
		f.mu.Lock()
		f.authDead = false
		f.mu.Unlock()
		env2.SignalWorkflow(SignalWake, WakeEvent{Reason: "account authorized"})
	}, 3*time.Second)
	env2.RegisterDelayedCallback(func() {
		require.Equal(t, []string{"a reply that cannot go out yet"}, f.sentTexts(), "sent once the account is back, without waiting for the next check")
	}, 3500*time.Millisecond)
	closeRoom(env2, f, 20*time.Second, "room2")
	env2.ExecuteWorkflow(ConversationWorkflowName, next)
	require.NoError(t, env2.GetWorkflowError())
	require.Equal(t, []string{"a reply that cannot go out yet"}, f.sent)
}

// TestAccountNotConnectedBlocksAndResumes (situation 5) and TestDepartmentThatDoesNotExist
// (situation 6): a final refusal of the visitor registration blocks the conversation with
// the reason, tells the admins once, calls nothing in a loop, and resumes when woken.
func TestRegistrationRefusedBlocksAndResumes(t *testing.T) {
	tests := []struct {
		name, errType, wantReason string
	}{
		{"account not connected", ErrPageNotConnected, "is not connected"},
		{"department that does not exist", ErrDepartmentNotFound, `department "Instagarm"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newWorld()
			f.registerErr = temporal.NewNonRetryableApplicationError(`the department "Instagarm" of acct does not exist / acct is not connected`, tt.errType, nil)
			env := newEnv(t, f)
			registrations := 0
			env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
				if info.ActivityType.Name == ActivityRegisterVisitor {
					registrations++
				}
			})
			signalAt(env, time.Second, SignalInstagram, msg(env, "m1", "hello?", time.Second))
			env.RegisterDelayedCallback(func() {
				st := queryState(t, env)
				require.Equal(t, StateBlocked, st.Status)
				require.Contains(t, st.BlockedReason, tt.wantReason)
				require.LessOrEqual(t, registrations, 2, "no retry loop")
				require.Len(t, f.notices, 1, "the admins are told once")
				f.mu.Lock()
				f.registerErr = nil
				f.mu.Unlock()
				env.SignalWorkflow(SignalWake, WakeEvent{Reason: "page edited"})
			}, 30*time.Second)
			env.RegisterDelayedCallback(func() {
				require.Equal(t, []string{"room1:hello?"}, f.posted, "resumed at once when woken")
				require.Equal(t, StateOpen, queryState(t, env).Status)
			}, 31*time.Second)
			closeAt(env, f, 40*time.Second)
			env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
			require.NoError(t, env.GetWorkflowError())
		})
	}
}

// TestFarFutureAgentTimestampDoesNotBlock (situation 9): replies are sent in the order of the
// room's history, never held on Rocket.Chat's clock: a reply stamped an hour ahead goes out
// at once, and so does the next.
func TestFarFutureAgentTimestampDoesNotBlock(t *testing.T) {
	f := newWorld()
	env := newEnv(t, f)
	signalAt(env, time.Second, SignalInstagram, msg(env, "m1", "hi", time.Second))
	env.RegisterDelayedCallback(func() {
		f.mu.Lock()
		f.replies["room1"] = append(f.replies["room1"], fakeReply{ID: "a1", Text: "from the future", TS: env.Now().Add(time.Hour)})
		f.mu.Unlock()
		env.SignalWorkflow(SignalRocketChat, RocketChatEvent{Kind: RCAgentMessage, RoomID: "room1"})
	}, 2*time.Second)
	agentWrites(env, f, 3*time.Second, "room1", "a2", "back to now", true)
	env.RegisterDelayedCallback(func() {
		require.Equal(t, []string{"from the future", "back to now"}, f.sentTexts())
	}, 3100*time.Millisecond)
	closeAt(env, f, 5*time.Second)
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	require.NoError(t, env.GetWorkflowError())
}
