package workflows

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/igdirect/bridge/config"
)

// The conversation's defects of issue 19, each a scenario on the Temporal test suite that
// failed on the workflow before its fix (found by the simulator, package sim, and in the
// issue's reading of the code). What each checks is what the customer, the agent or the
// operator gets.

// nextRun runs the run a continue-as-new hands over, on the same clock and world.
func nextRun(t *testing.T, f *world, prev *testsuite.TestWorkflowEnvironment, next ConversationInput,
	setup func(env *testsuite.TestWorkflowEnvironment)) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	env := newEnv(t, f)
	env.SetStartTime(prev.Now())
	if setup != nil {
		setup(env)
	}
	env.ExecuteWorkflow(ConversationWorkflowName, next)
	return env
}

// inputOf is what a continue-as-new error carries.
func inputOf(t *testing.T, err error) ConversationInput {
	t.Helper()
	return continuedWith(t, err).input()
}

// TestUnsendDeliveredWithTheNextRoomsMessage (item 1): the room is closed; the customer
// writes and unsends in the same delivery. The unsent text must not be shown as written in
// the next room.
func TestUnsendDeliveredWithTheNextRoomsMessage(t *testing.T) {
	for _, action := range []string{"delete", "mark"} {
		t.Run(action, func(t *testing.T) {
			f := newWorld()
			f.unsendAction = action
			env := newEnv(t, f)
			signalAt(env, time.Second, SignalInstagram, msg(env, "m1", "hello", time.Second))
			closeAt(env, f, 2*time.Second)
			env.RegisterDelayedCallback(func() {
				env.SignalWorkflow(SignalInstagram, InstagramBatch{Events: []InstagramEvent{
					msg(env, "m2", "oops, wrong chat", 0),
					{Kind: EventUnsend, MID: "m2", Timestamp: env.Now().UnixMilli() + 1},
				}})
			}, 3*time.Second)
			env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
			if err := env.GetWorkflowError(); err != nil { // a next room (for the marker)
				env2 := nextRun(t, f, env, inputOf(t, err), func(env2 *testsuite.TestWorkflowEnvironment) {
					closeRoom(env2, f, 30*time.Second, "room2")
				})
				require.NoError(t, env2.GetWorkflowError())
			}
			require.NotContains(t, f.roomTexts(), "oops, wrong chat", "the unsent text is not shown as written")
			if action == "mark" {
				require.Contains(t, f.roomTexts(), unsentMarker)
			}
		})
	}
}

// TestEditOfAMessageInTheClosedRoom (item 1, the same for an edit): the customer edits a
// message of the room that was just closed. Rocket.Chat takes the edit of a visitor's
// message in a closed room; the edit must reach it, whether or not a next room follows.
func TestEditOfAMessageInTheClosedRoom(t *testing.T) {
	f := newWorld()
	env := newEnv(t, f)
	signalAt(env, time.Second, SignalInstagram, msg(env, "m1", "I want the red one", time.Second))
	closeAt(env, f, 2*time.Second)
	signalAt(env, 3*time.Second, SignalInstagram, InstagramEvent{Kind: EventEdit, MID: "m1", Text: "I want the blue one", NumEdit: 1,
		Timestamp: env.Now().Add(3 * time.Second).UnixMilli()})
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"I want the blue one"}, f.roomTexts())
}

// TestNoBusyLoopWhileAClosedRoomsReplyIsBlocked (item 2): the room is closed while its reply
// cannot go out (the token is refused); the run must wait for the re-authorization without
// arming a timer every millisecond once the close linger is past.
func TestNoBusyLoopWhileAClosedRoomsReplyIsBlocked(t *testing.T) {
	f := newWorld()
	f.authDead = true
	env := newEnv(t, f)
	env.SetTestTimeout(15 * time.Second)
	timers := 0
	env.SetOnTimerScheduledListener(func(string, time.Duration) { timers++ })
	signalAt(env, time.Second, SignalInstagram, msg(env, "m1", "hello", time.Second))
	agentWrites(env, f, 2*time.Second, "room1", "a1", "hi!", true)
	closeAt(env, f, 3*time.Second)
	env.RegisterDelayedCallback(func() {
		f.mu.Lock()
		f.authDead = false
		f.mu.Unlock()
		env.SignalWorkflow(SignalWake, WakeEvent{Reason: "account authorized"})
	}, 10*time.Minute)
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	require.LessOrEqual(t, timers, 40, "timers in 10 minutes of a blocked, closed room")
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"hi!"}, f.sentTexts())
}

// TestEchoThatSettlesAnUnknownSendWhileRepliesAreHeld (item 3): another app holds the thread;
// the agent writes, the bridge takes control back and sends, the answer is lost, and Meta's
// echo proves the reply went out. That proof must not be dropped while replies wait for
// control: the reply is on Instagram once, not twice.
func TestEchoThatSettlesAnUnknownSendWhileRepliesAreHeld(t *testing.T) {
	f := newWorld()
	f.unknownTaken = 1
	env := newEnv(t, f)
	now := env.Now()
	carry := State{PageID: "acct", IGSID: "user1", RoomKey: "run0/1", RoomSeq: 1, RoomID: "room1", Opened: true,
		Visitor: &VisitorInfo{Name: "Ana", DepartmentID: "d1"}, OtherOwner: "263902037430900",
		HeldSince:  now.Add(-time.Minute),
		OutBlocked: Blocked{Kind: BlockHeld, Reason: "another app controls the Instagram thread", Since: now.Add(-time.Minute)},
		Cursors:    []RoomCursor{{RoomID: "room1"}}, LastCustomerAt: now.Add(-time.Minute)}
	agentWrites(env, f, time.Second, "room1", "a1", "your parcel is on its way", true)
	// The echo of the send whose answer was lost.
	signalAt(env, 3*time.Second, SignalInstagram, InstagramEvent{Kind: EventEcho, MID: "out-your parcel is on its way",
		Text: "your parcel is on its way", Timestamp: env.Now().Add(2 * time.Second).UnixMilli()})
	signalAt(env, 20*time.Second, SignalInstagram, InstagramEvent{Kind: EventHandover, Action: HandoverControlBack, AppID: "263902037430900",
		Timestamp: env.Now().Add(20 * time.Second).UnixMilli()})
	agentWrites(env, f, 30*time.Second, "room1", "a2", "anything else?", true)
	closeAt(env, f, time.Minute)
	env.ExecuteWorkflow(ConversationWorkflowName, carrying(t, carry))
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"your parcel is on its way", "anything else?"}, f.sentTexts(), "each reply on Instagram once")
}

// TestFloodOfMessagesKeepsTheRunAndItsCarryBounded (item 4): a script floods the inbox while
// no agent is online. Every event is kept, the run continues as new when Temporal suggests it
// (whatever the queue holds), what it carries stays far below the 2 MB payload limit, and an
// echo (an unknown send's proof) and a thread-control change are taken in at once, not behind
// the customer's messages.
func TestFloodOfMessagesKeepsTheRunAndItsCarryBounded(t *testing.T) {
	f := newWorld()
	f.agentsFrom = time.Now().Add(100 * 365 * 24 * time.Hour) // no agent comes
	env := newEnv(t, f)
	env.SetTestTimeout(time.Minute)
	const n, batch = 2500, 50
	for b := 0; b < n/batch; b++ {
		var evs []InstagramEvent
		for i := b * batch; i < (b+1)*batch; i++ {
			evs = append(evs, InstagramEvent{Kind: EventMessage, MID: realisticMID(i), Text: fmt.Sprintf("spam %d with some text to make it weigh", i),
				Timestamp: env.Now().UnixMilli() + int64(i)})
		}
		signalAt(env, time.Duration(b)*time.Second+time.Second, SignalInstagram, InstagramBatch{Events: evs})
	}
	owner := ""
	signalAt(env, 60*time.Second, SignalInstagram, InstagramEvent{Kind: EventHandover, Action: HandoverTaken, AppID: "263902037430900",
		Timestamp: env.Now().Add(60 * time.Second).UnixMilli()})
	env.RegisterDelayedCallback(func() { owner = queryState(t, env).ThreadOwner }, 61*time.Second)
	env.RegisterDelayedCallback(func() { env.SetContinueAsNewSuggested(true) }, 2*time.Minute)
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	require.Equal(t, "263902037430900", owner, "the thread-control change is taken in at once")
	next := continuedWith(t, env.GetWorkflowError()) // the run continues as new when suggested, whatever its queue holds
	payload, err := converter.GetDefaultDataConverter().ToPayloads(next.input())
	require.NoError(t, err)
	require.Less(t, payload.Size(), 512<<10, "the continue-as-new input stays bounded")
}

// TestPassBackOfAClosedRoomDoesNotHitTheNextRoom (item 5): the close sends the finished
// message, then passes thread control back; the finished message is slow (Meta is down) and
// the customer writes again. Control must not be handed to the other app while the next
// room is live.
func TestPassBackOfAClosedRoomDoesNotHitTheNextRoom(t *testing.T) {
	f := newWorld()
	f.automated = map[string]string{AutoFinished: "thanks for writing!"}
	f.automatedStop = &Stop{Kind: StopRetry, Reason: "Graph API HTTP 503"}
	env := newEnv(t, f)
	signalAt(env, time.Second, SignalInstagram, msg(env, "m1", "hello", time.Second))
	closeAt(env, f, 2*time.Second)
	signalAt(env, 3*time.Second, SignalInstagram, msg(env, "m2", "one more thing", 3*time.Second))
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	env2 := nextRun(t, f, env, inputOf(t, env.GetWorkflowError()), func(env2 *testsuite.TestWorkflowEnvironment) {
		env2.RegisterDelayedCallback(func() {
			f.mu.Lock()
			f.automatedStop = nil // Meta is back
			f.mu.Unlock()
		}, 20*time.Second)
		closeRoom(env2, f, 2*time.Minute, "room2")
	})
	require.NoError(t, env2.GetWorkflowError())
	open, ok := f.roomsOpened["room2"]
	require.True(t, ok, "the next room opened")
	for _, at := range f.passBacks {
		require.False(t, at.After(open) && at.Before(open.Add(2*time.Minute)), "control passed to another app at %s while room2 (opened %s) was live", at, open)
	}
}

// TestReplyWhoseWebhookIsLostIsSent and TestRoomClosedWithoutAnyWebhook (item 6): Rocket.Chat
// gave up on the agent-message webhook; then on the close webhook too. The reply still goes
// out (the room's history is read without a webhook), and the close is noticed (the run
// ends).
func TestReplyWhoseWebhookIsLostIsSent(t *testing.T) {
	f := newWorld()
	env := newEnv(t, f)
	signalAt(env, time.Second, SignalInstagram, msg(env, "m1", "is it in stock?", time.Second))
	agentWrites(env, f, 2*time.Second, "room1", "a1", "yes, it is", false)
	var sentBy []string
	env.RegisterDelayedCallback(func() { sentBy = f.sentTexts() }, 10*time.Minute)
	closeAt(env, f, 20*time.Minute)
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"yes, it is"}, sentBy, "sent within minutes, without its webhook")
}

func TestRoomClosedWithoutAnyWebhook(t *testing.T) {
	f := newWorld()
	env := newEnv(t, f)
	env.SetTestTimeout(15 * time.Second)
	signalAt(env, time.Second, SignalInstagram, msg(env, "m1", "is it in stock?", time.Second))
	agentWrites(env, f, 2*time.Second, "room1", "a1", "yes, it is", false)
	env.RegisterDelayedCallback(func() {
		f.mu.Lock()
		f.closed["room1"] = true // and no webhook says so
		f.mu.Unlock()
	}, 3*time.Second)
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	require.NoError(t, env.GetWorkflowError(), "the run ends")
	require.True(t, env.IsWorkflowCompleted())
	require.Equal(t, []string{"yes, it is"}, f.sentTexts())
}

// TestWaitingCustomerFollowsTheDepartmentChange (item 7): no agent of the page's department
// is online; an admin points the page at another department, where agents are. The waiting
// customer gets a room there, at once (the change wakes the conversation).
func TestWaitingCustomerFollowsTheDepartmentChange(t *testing.T) {
	f := newWorld()
	f.online = map[string]bool{"d2": true}
	env := newEnv(t, f)
	signalAt(env, time.Second, SignalInstagram, msg(env, "m1", "anyone there?", time.Second))
	env.RegisterDelayedCallback(func() {
		f.mu.Lock()
		f.departmentID = "d2"
		f.mu.Unlock()
		env.SignalWorkflow(SignalWake, WakeEvent{Reason: "page edited"})
	}, 2*time.Minute)
	var posted []string
	env.RegisterDelayedCallback(func() {
		posted = append(posted, f.posted...)
		f.mu.Lock()
		f.online["d1"] = true // (so that the run ends, whatever happened)
		f.mu.Unlock()
	}, 2*time.Minute+10*time.Second)
	closeAt(env, f, 10*time.Minute)
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	require.NoError(t, env.GetWorkflowError())
	require.Len(t, posted, 1, "in a room of the new department within seconds of the change")
	require.True(t, strings.HasPrefix(posted[0], "room1:anyone there?"), posted[0])
}

// TestNearSimultaneousDeliveriesKeepTheCustomersOrder (item 10): Meta delivers a customer's
// three messages, written a second apart, as three webhooks, the second and third swapped.
// With the product's default settings they reach the room in the order they were written.
func TestNearSimultaneousDeliveriesKeepTheCustomersOrder(t *testing.T) {
	f := newWorld()
	f.settings = Settings{ReorderWindow: defaultReorderWindow(t), CloseLinger: time.Minute, ReauthRetry: time.Minute}
	env := newEnv(t, f)
	t0 := time.Second
	signalAt(env, t0+100*time.Millisecond, SignalInstagram, msg(env, "m1", "I ordered", t0))
	signalAt(env, t0+2100*time.Millisecond, SignalInstagram, msg(env, "m3", "but nothing came", t0+2*time.Second))
	signalAt(env, t0+2300*time.Millisecond, SignalInstagram, msg(env, "m2", "two weeks ago", t0+time.Second))
	closeAt(env, f, time.Minute)
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"room1:I ordered", "room1:two weeks ago", "room1:but nothing came"}, f.posted)
}

// defaultReorderWindow is REORDER_WINDOW's default (config.Config's tag): the product as
// installed.
func defaultReorderWindow(t *testing.T) time.Duration {
	f, ok := reflect.TypeOf(config.Config{}).FieldByName("ReorderWindow")
	require.True(t, ok)
	d, err := time.ParseDuration(f.Tag.Get("default"))
	require.NoError(t, err)
	return d
}

// TestHeldRetryIsCarriedAcrossContinueAsNew (item 11): replies wait for thread control; the
// agent writes again, which makes the bridge try to take control — even when the run
// continues as new right then.
func TestHeldRetryIsCarriedAcrossContinueAsNew(t *testing.T) {
	f := newWorld()
	f.refuseWhileOtherOwns = true
	env := newEnv(t, f)
	now := env.Now()
	carry := State{PageID: "acct", IGSID: "user1", RoomKey: "run0/1", RoomSeq: 1, RoomID: "room1", Opened: true,
		Visitor: &VisitorInfo{Name: "Ana", DepartmentID: "d1"}, OtherOwner: "263902037430900",
		HeldSince:  now.Add(-time.Minute),
		OutBlocked: Blocked{Kind: BlockHeld, Reason: "another app controls the Instagram thread", Since: now.Add(-time.Minute)},
		Cursors:    []RoomCursor{{RoomID: "room1"}}, LastCustomerAt: now.Add(-time.Minute)}
	agentWrites(env, f, time.Second, "room1", "a1", "let me take over", true)
	env.RegisterDelayedCallback(func() { env.SetContinueAsNewSuggested(true) }, time.Second)
	env.ExecuteWorkflow(ConversationWorkflowName, carrying(t, carry))
	next := continuedWith(t, env.GetWorkflowError())
	f.mu.Lock()
	f.refuseWhileOtherOwns = false // taking control works now
	f.mu.Unlock()
	syncsBefore := f.syncs
	env2 := nextRun(t, f, env, next.input(), func(env2 *testsuite.TestWorkflowEnvironment) {
		closeRoom(env2, f, 10*time.Minute, "room1")
	})
	require.NoError(t, env2.GetWorkflowError())
	require.Greater(t, f.syncs, syncsBefore)
	require.Equal(t, []string{"let me take over"}, f.sentTexts(), "the retry the agent's message asked for still happens")
}

// TestFailingLoadConversationBacksOff (item 11): reading the conversation's settings fails
// (a refusal; 3000 times, or for an hour): the run tries again with a back-off, not in a
// loop.
func TestFailingLoadConversationBacksOff(t *testing.T) {
	f := newWorld()
	f.loadErr = temporal.NewNonRetryableApplicationError("settings unreadable", "BadSettings", nil)
	f.loadFailures = 3000 // (then it works: a conversation that retries without pause gets there at once)
	env := newEnv(t, f)
	env.SetTestTimeout(15 * time.Second)
	starts := 0
	count := func(info *activity.Info) {
		if info.ActivityType.Name == ActivityLoadConversation {
			starts++
		}
	}
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) { count(info) })
	env.SetOnLocalActivityStartedListener(func(info *activity.Info, _ context.Context, _ []any) { count(info) })
	signalAt(env, time.Second, SignalInstagram, msg(env, "m1", "hello", time.Second))
	inAnHour := 0
	env.RegisterDelayedCallback(func() {
		inAnHour = starts
		f.mu.Lock()
		f.loadErr = nil // fixed
		f.mu.Unlock()
	}, time.Hour)
	closeAt(env, f, 2*time.Hour)
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	require.LessOrEqual(t, inAnHour, 40, "LoadConversation attempts in the first hour of failures")
	require.NoError(t, env.GetWorkflowError())
	require.Len(t, f.posted, 1)
}

// TestHeldThreadDoesNotMaskTheReauthorization (item 11): replies wait for thread control and
// for a re-authorization at once; the agent writes (take control), then the account is
// authorized again (a wake). The reply goes out then, without waiting for control to come
// back by itself.
func TestHeldThreadDoesNotMaskTheReauthorization(t *testing.T) {
	f := newWorld()
	f.authDead = true
	env := newEnv(t, f)
	now := env.Now()
	carry := State{PageID: "acct", IGSID: "user1", RoomKey: "run0/1", RoomSeq: 1, RoomID: "room1", Opened: true,
		Visitor: &VisitorInfo{Name: "Ana", DepartmentID: "d1"}, OtherOwner: "263902037430900",
		HeldSince:  now.Add(-time.Minute),
		OutBlocked: Blocked{Kind: BlockHeld, Reason: "another app controls the Instagram thread", Since: now.Add(-time.Minute)},
		Cursors:    []RoomCursor{{RoomID: "room1"}}, LastCustomerAt: now.Add(-time.Minute)}
	agentWrites(env, f, time.Second, "room1", "a1", "taking over", true)
	env.RegisterDelayedCallback(func() {
		f.mu.Lock()
		f.authDead = false
		f.mu.Unlock()
		env.SignalWorkflow(SignalWake, WakeEvent{Reason: "account authorized"})
	}, 3*time.Minute)
	var sent []string
	env.RegisterDelayedCallback(func() { sent = f.sentTexts() }, 3*time.Minute+10*time.Second)
	closeAt(env, f, 30*time.Minute)
	env.ExecuteWorkflow(ConversationWorkflowName, carrying(t, carry))
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"taking over"}, sent, "sent within seconds of the re-authorization")
}

// TestNoteQueuedAfterTheCloseIsNotLost (item 11): after the room closed, the business answers
// from the Instagram app; the agents must see it — in the customer's next room, even when the
// run that received it completed before that room opened.
func TestNoteQueuedAfterTheCloseIsNotLost(t *testing.T) {
	f := newWorld()
	env := newEnv(t, f)
	signalAt(env, time.Second, SignalInstagram, msg(env, "m1", "hello", time.Second))
	closeAt(env, f, 2*time.Second)
	signalAt(env, 3*time.Second, SignalInstagram, InstagramEvent{Kind: EventEcho, MID: "from-the-app", Text: "we'll call you tomorrow",
		Timestamp: env.Now().Add(3 * time.Second).UnixMilli()})
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	require.NoError(t, env.GetWorkflowError())
	require.True(t, env.IsWorkflowCompleted())

	// The customer's next message starts a new run (as ingress's signal-with-start does).
	env2 := newEnv(t, f)
	env2.SetStartTime(env.Now().Add(time.Hour))
	signalAt(env2, time.Second, SignalInstagram, msg(env2, "m2", "about tomorrow", time.Second))
	closeRoom(env2, f, time.Minute, "room2")
	env2.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	require.NoError(t, env2.GetWorkflowError())
	require.Contains(t, strings.Join(f.noteTexts(), "\n"), "we'll call you tomorrow", "the business's message from the app is shown to the agents")
}

// TestFirstVersionsCarryRunsOnTheSecond (issue 19): a run of the first version that
// continues as new after the upgrade starts on the second version's code with the first's
// carry (recorded in testdata/continued-as-new-when-suggested-run2.json): it takes the carry
// in and posts what the first run had queued, in order.
func TestFirstVersionsCarryRunsOnTheSecond(t *testing.T) {
	raw, err := os.ReadFile("testdata/continued-as-new-when-suggested-run2.json")
	require.NoError(t, err)
	var hist struct {
		Events []struct {
			EventTime time.Time `json:"eventTime"`
			Started   *struct {
				Input struct {
					Payloads []struct {
						Data []byte `json:"data"`
					} `json:"payloads"`
				} `json:"input"`
			} `json:"workflowExecutionStartedEventAttributes"`
		} `json:"events"`
	}
	require.NoError(t, json.Unmarshal(raw, &hist))
	started := hist.Events[0].Started
	require.NotNil(t, started)
	var in ConversationInput
	require.NoError(t, json.Unmarshal(started.Input.Payloads[0].Data, &in))
	var carried struct {
		RoomID  string           `json:"room_id"`
		Pending []InstagramEvent `json:"pending"`
	}
	require.NoError(t, json.Unmarshal(in.Carry, &carried))
	require.NotEmpty(t, carried.Pending, "the recorded carry holds queued messages")

	f := newWorld()
	env := newEnv(t, f)
	env.SetStartTime(hist.Events[0].EventTime) // the run starts when the recorded one did
	closeRoom(env, f, time.Minute, carried.RoomID)
	env.ExecuteWorkflow(ConversationWorkflowName, in)
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var want []string
	for _, ev := range carried.Pending {
		if ev.Kind == EventMessage {
			want = append(want, carried.RoomID+":"+ev.Text)
		}
	}
	require.GreaterOrEqual(t, len(f.posted), len(want))
	got := make([]string, len(want))
	for i, p := range f.posted[:len(want)] {
		got[i], _, _ = strings.Cut(p, "\n") // the note of when it was written (an hour before it arrived) apart
	}
	require.True(t, slices.Equal(want, got), "the first version's queue is posted, in order, into its room: %q…", got[:3])
}
