package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"
)

// continued is the input of the next run, with its carried state decoded.
type continued struct {
	ConversationInput
	Carry *State
}

func continuedWith(t *testing.T, err error) continued {
	t.Helper()
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(err, &can), "want continue-as-new, got %v", err)
	var next continued
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &next.ConversationInput))
	require.NotEmpty(t, next.ConversationInput.Carry)
	next.Carry = new(State)
	require.NoError(t, json.Unmarshal(next.ConversationInput.Carry, next.Carry))
	return next
}

// input is the run's input itself, without the decoded state.
func (c continued) input() ConversationInput { return c.ConversationInput }

// carrying is a run's input with carried state.
func carrying(t *testing.T, st State) ConversationInput {
	t.Helper()
	raw, err := json.Marshal(st)
	require.NoError(t, err)
	return ConversationInput{PageID: st.PageID, IGSID: st.IGSID, Carry: raw}
}

func TestMessagesPostedOnceInTimestampOrder(t *testing.T) {
	f := newWorld()
	env := newEnv(t, f)
	start := env.Now()
	m1 := InstagramEvent{Kind: EventMessage, MID: "m1", Text: "one", Timestamp: start.Add(1 * time.Second).UnixMilli()}
	m2 := InstagramEvent{Kind: EventMessage, MID: "m2", Text: "two", Timestamp: start.Add(2 * time.Second).UnixMilli()}
	m3 := InstagramEvent{Kind: EventMessage, MID: "m3", Text: "three", Timestamp: start.Add(2100 * time.Millisecond).UnixMilli()}
	signalAt(env, 1*time.Second, SignalInstagram, m1)
	signalAt(env, 2200*time.Millisecond, SignalInstagram, m3) // delivered before m2 ...
	signalAt(env, 2300*time.Millisecond, SignalInstagram, m2) // ... which happened earlier, within the reorder window
	signalAt(env, 5*time.Second, SignalInstagram, m1)         // redelivery
	env.RegisterDelayedCallback(func() {
		st := queryState(t, env)
		require.Equal(t, StateOpen, st.Status)
		require.Equal(t, 3, st.Delivered)
		require.Equal(t, 1, st.Duplicates)
	}, 10*time.Second)
	closeRoom(env, f, 11*time.Second, "room1")
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"room1:one", "room1:two", "room1:three"}, f.posted)
}

func TestOneDeliveryOfSeveralEventsIsSortedByTimestamp(t *testing.T) {
	f := newWorld()
	f.settings = Settings{CloseLinger: time.Minute} // no reorder window: order comes from the batch's timestamps
	env := newEnv(t, f)
	signalAt(env, time.Second, SignalInstagram, InstagramBatch{Events: []InstagramEvent{
		msg(env, "m2", "second", 2*time.Second), msg(env, "m1", "first", time.Second), msg(env, "m3", "third", 3*time.Second)}})
	closeRoom(env, f, 10*time.Second, "room1")
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"room1:first", "room1:second", "room1:third"}, f.posted)
}

func TestAgentRepliesSentInRocketChatOrderWhateverTheWebhooks(t *testing.T) {
	f := newWorld()
	env := newEnv(t, f)
	signalAt(env, time.Second, SignalInstagram, msg(env, "m1", "hello", time.Second))
	// Three replies: the first's webhook is lost, the third's comes twice, the second's
	// late. Each webhook only wakes the conversation; the room's history says what to send.
	agentWrites(env, f, 3*time.Second, "room1", "a1", "first", false)
	agentWrites(env, f, 3100*time.Millisecond, "room1", "a2", "second", false)
	agentWrites(env, f, 3200*time.Millisecond, "room1", "a3", "third", true)
	signalAt(env, 3300*time.Millisecond, SignalRocketChat, RocketChatEvent{Kind: RCAgentMessage, RoomID: "room1"})
	signalAt(env, 9*time.Second, SignalRocketChat, RocketChatEvent{Kind: RCAgentMessage, RoomID: "room1"})
	signalAt(env, 10*time.Second, SignalRocketChat, RocketChatEvent{Kind: RCAgentMessage, RoomID: "room0"}) // not this room: ignored
	closeRoom(env, f, 12*time.Second, "room1")
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"first", "second", "third"}, f.sent)
	require.Equal(t, []string{"room1:hello"}, f.posted)
}

func TestCloseSendsRepliesWhoseWebhookWasLost(t *testing.T) {
	f := newWorld()
	env := newEnv(t, f)
	signalAt(env, time.Second, SignalInstagram, msg(env, "m1", "hello", time.Second))
	agentWrites(env, f, 3*time.Second, "room1", "a1", "hi there", true)
	agentWrites(env, f, 5*time.Second, "room1", "a2", "bye", false) // its webhook never comes
	closeRoom(env, f, 6*time.Second, "room1")
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"hi there", "bye"}, f.sent, "the close reads the room once more")
}

func TestMessageAfterCloseStartsNextRoomRun(t *testing.T) {
	f := newWorld()
	env := newEnv(t, f)
	signalAt(env, time.Second, SignalInstagram, msg(env, "m1", "first", time.Second))
	closeRoom(env, f, 3*time.Second, "room1")
	signalAt(env, 5*time.Second, SignalInstagram, msg(env, "m1", "first", time.Second)) // redelivery: absorbed
	signalAt(env, 6*time.Second, SignalInstagram, msg(env, "m2", "second", 6*time.Second))
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	next := continuedWith(t, env.GetWorkflowError())
	require.Empty(t, next.Carry.RoomID, "the next run opens a new room")
	require.Nil(t, next.Carry.Visitor, "the visitor is registered again (department, profile)")
	require.Len(t, next.Carry.Pending, 1)
	require.Equal(t, "second", next.Carry.Pending[0].Text)
	require.True(t, next.Carry.Seen.Has("message:m1"), "dedup memory carries over")
	require.Equal(t, []string{"room1:first"}, f.posted)

	// The next run delivers the carried message to a new room.
	f.rooms = 1
	env2 := newEnv(t, f)
	env2.SetStartTime(env.Now()) // the next run continues the same clock
	closeRoom(env2, f, 20*time.Second, "room2")
	env2.ExecuteWorkflow(ConversationWorkflowName, next)
	require.NoError(t, env2.GetWorkflowError())
	require.Equal(t, []string{"room1:first", "room2:second"}, f.posted)
}

func TestRedeliveryAfterTheRunCompletedIsRecognised(t *testing.T) {
	f := newWorld()
	env := newEnv(t, f)
	signalAt(env, time.Second, SignalInstagram, msg(env, "m1", "first", time.Second))
	closeRoom(env, f, 3*time.Second, "room1")
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	require.NoError(t, env.GetWorkflowError(), "the run completes after the linger")
	require.NotNil(t, f.memory, "the completed run left its memory")

	// Meta redelivers m1 later: a fresh run starts, loads the memory, and posts nothing.
	env2 := newEnv(t, f)
	env2.SetStartTime(env.Now()) // the next run continues the same clock
	signalAt(env2, time.Second, SignalInstagram, msg(env2, "m1", "first", -time.Hour))
	signalAt(env2, 2*time.Second, SignalInstagram, msg(env2, "m2", "new question", 2*time.Second))
	env2.RegisterDelayedCallback(func() { env2.SignalWorkflow(SignalRocketChat, RocketChatEvent{Kind: RCClosed, RoomID: "room2"}) }, 10*time.Second)
	env2.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	require.NoError(t, env2.GetWorkflowError())
	require.Equal(t, []string{"room1:first", "room2:new question"}, f.posted)
}

func TestNoAgentOnlineMessagesWaitThenDeliveredInOrder(t *testing.T) {
	f := newWorld()
	f.automated = map[string]string{AutoWelcome: "Hi!", AutoOffline: "We are offline, we will answer soon."}
	env := newEnv(t, f)
	start := env.Now()
	f.agentsFrom = start.Add(2 * time.Minute)
	for i := 1; i <= 4; i++ {
		signalAt(env, time.Duration(i)*10*time.Second, SignalInstagram, msg(env, fmt.Sprintf("m%d", i), fmt.Sprintf("msg %d", i), time.Duration(i)*10*time.Second))
	}
	env.RegisterDelayedCallback(func() {
		st := queryState(t, env)
		require.Equal(t, StateWaitingForAgent, st.Status)
		require.Equal(t, 4, st.Pending-2, "four messages and two notes wait") // welcome and offline notes
		require.Empty(t, f.posted)
	}, 90*time.Second)
	env.RegisterDelayedCallback(func() {
		st := queryState(t, env)
		require.Equal(t, StateOpen, st.Status)
		require.Equal(t, 0, st.Pending)
	}, 10*time.Minute)
	closeRoom(env, f, 11*time.Minute, "room1")
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	require.NoError(t, env.GetWorkflowError())
	require.Len(t, f.posted, 4)
	for i, p := range f.posted {
		written := start.Add(time.Duration(i+1) * 10 * time.Second).UTC().Format("2006-01-02 15:04:05")
		require.Equal(t, fmt.Sprintf("room1:msg %d\n_(written on Instagram at %s UTC)_", i+1, written), p,
			"messages that waited are posted in order, with the time they were written")
	}
	require.Equal(t, []string{"Hi!", "We are offline, we will answer soon."}, f.sent, "offline message sent once")
	require.Equal(t, []string{"room1:🤖 Welcome message sent to the customer: Hi!",
		"room1:🤖 Offline message sent to the customer: We are offline, we will answer soon."}, f.notes)
}

func TestWelcomeOnStartAndFinishedOnClose(t *testing.T) {
	f := newWorld()
	f.automated = map[string]string{AutoWelcome: "Welcome to Casa Azul!", AutoFinished: "Thanks, bye!"}
	env := newEnv(t, f)
	signalAt(env, time.Second, SignalInstagram, msg(env, "m1", "hello", time.Second))
	signalAt(env, 3*time.Second, SignalInstagram, msg(env, "m2", "anyone?", 3*time.Second))
	signalAt(env, 5*time.Second, SignalRocketChat, RocketChatEvent{Kind: RCForwarded, RoomID: "room1", AgentUsername: "carol"})
	agentWrites(env, f, 6*time.Second, "room1", "a1", "Carol here", true)
	env.RegisterDelayedCallback(func() {
		require.Equal(t, "carol", queryState(t, env).Agent, "a forwarded room keeps working with its new agent")
	}, 8*time.Second)
	closeRoom(env, f, 9*time.Second, "room1")
	signalAt(env, 10*time.Second, SignalRocketChat, RocketChatEvent{Kind: RCClosed, RoomID: "room1"}) // retried webhook
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"Welcome to Casa Azul!", "Carol here", "Thanks, bye!"}, f.sent)
	require.Equal(t, []string{"room1:hello", "room1:anyone?"}, f.posted)
	require.Equal(t, []string{"room1:🤖 Welcome message sent to the customer: Welcome to Casa Azul!"}, f.notes,
		"the finished note goes to the closed room, which refuses it")
	require.Equal(t, 1, f.passedBack, "thread control is passed back on close")
}

func TestRoomClosedUnderUsMovesMessageToNextRun(t *testing.T) {
	f := newWorld()
	f.automated = map[string]string{AutoFinished: "bye"}
	env := newEnv(t, f)
	signalAt(env, time.Second, SignalInstagram, msg(env, "m1", "first", time.Second))
	env.RegisterDelayedCallback(func() { f.closed["room1"] = true }, 2*time.Second) // closed without a webhook
	signalAt(env, 3*time.Second, SignalInstagram, msg(env, "m2", "lost?", 3*time.Second))
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	next := continuedWith(t, env.GetWorkflowError())
	require.Len(t, next.Carry.Pending, 1)
	require.Empty(t, next.Carry.RoomID)

	f.rooms = 1
	env2 := newEnv(t, f)
	env2.SetStartTime(env.Now()) // the next run continues the same clock
	closeRoom(env2, f, 20*time.Second, "room2")
	env2.ExecuteWorkflow(ConversationWorkflowName, next)
	require.NoError(t, env2.GetWorkflowError())
	require.Equal(t, []string{"room1:first", "room2:lost?"}, f.posted)
	require.Equal(t, []string{"bye", "bye"}, f.sent, "the close noticed through a refused post sends the finished message too (one per room)")
}

func TestRejectedReplyBecomesNoteForAgent(t *testing.T) {
	f := newWorld()
	f.refuseAll = "outside Instagram's messaging window"
	env := newEnv(t, f)
	signalAt(env, time.Second, SignalInstagram, msg(env, "m1", "hi", time.Second))
	agentWrites(env, f, 3*time.Second, "room1", "a1", "late answer", true)
	closeRoom(env, f, 6*time.Second, "room1")
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"room1:⚠️ Not delivered to Instagram: \"late answer\" — outside Instagram's messaging window"}, f.notes)
}

func TestContinueAsNewWhenSuggestedCarriesEverything(t *testing.T) {
	f := newWorld()
	env := newEnv(t, f)
	signalAt(env, time.Second, SignalInstagram, msg(env, "m1", "a", time.Second))
	signalAt(env, 3*time.Second, SignalInstagram, msg(env, "m2", "b", 3*time.Second))
	agentWrites(env, f, 3*time.Second, "room1", "a1", "reply", true)
	env.RegisterDelayedCallback(func() {
		// m2 is still inside its reorder window when Temporal suggests continue-as-new.
		env.SetContinueAsNewSuggested(true)
		env.SignalWorkflow(SignalInstagram, InstagramBatch{Events: []InstagramEvent{msg(env, "m3", "c", 3200*time.Millisecond)}})
	}, 3200*time.Millisecond)
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	next := continuedWith(t, env.GetWorkflowError())
	require.Equal(t, "room1", next.Carry.RoomID)
	require.Equal(t, 1, next.Carry.Delivered)
	require.Len(t, next.Carry.Pending, 2, "undelivered events travel to the next run")
	require.Equal(t, []string{"b", "c"}, []string{next.Carry.Pending[0].Text, next.Carry.Pending[1].Text})
	require.Equal(t, 1, next.Carry.SentToIG)
	require.True(t, next.Carry.Seen.Has("message:m3"))
	require.True(t, next.Carry.cursor("room1").Handled("a1", env.Now()), "the reply is handled")
}

func TestHashesForgetOldestBeyondLimit(t *testing.T) {
	var r Hashes
	for i := 0; i < 110; i++ {
		require.True(t, r.Add(fmt.Sprint(i), 100))
	}
	require.False(t, r.Add("105", 100))
	require.False(t, r.Has("0"))
	require.True(t, r.Has("10"))
	require.Equal(t, 100, r.Len())

	var older, now Hashes
	older.Add("from an earlier run", 100)
	older.Add("seen in both", 100)
	now.Add("seen in both", 100)
	now.Add("new", 100)
	now.Merge(older, 2)
	require.Equal(t, 2, now.Len(), "the limit holds, keeping the newest")
	require.False(t, now.Has("from an earlier run"))
	require.True(t, now.Has("seen in both"))
	require.True(t, now.Has("new"))
}
