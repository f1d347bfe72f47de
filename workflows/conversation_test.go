package workflows

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

// fakeActivities stands in for Rocket.Chat and Instagram with in-memory behaviour, so the
// tests check what the workflow does, not which mocks it called.
type fakeActivities struct {
	mu            sync.Mutex
	settings      Settings
	agentsFrom    time.Time // OpenRoom reports no agent until the workflow clock reaches this
	now           func() time.Time
	rooms         int
	posted        []string // "room:text" of customer messages in posting order
	notes         []string // "room:text" of notes, posted with the messages or directly
	sent          []string // texts sent to Instagram, agent replies and automated messages
	closedRoom    string   // PostToRoom reports this room closed
	sendErr       error
	automated     map[string]string // page texts: welcome, offline, finished
	room          map[string]string // current text by message key (edits and deletions applied)
	roomOrder     []string
	visitorFields map[string]string
	unsendAction  string
	passedBack    int
	// refuseWhileOtherOwns: Meta refuses sends while another app owns the thread.
	refuseWhileOtherOwns bool
	// unknownOnce: the next sends time out with an unknown outcome.
	unknownOnce, attempts int
}

func (f *fakeActivities) LoadSettings(context.Context) (Settings, error) {
	s := f.settings
	s.UnsendAction = f.unsendAction
	if s.UnsendAction == "" {
		s.UnsendAction = "mark"
	}
	return s, nil
}

func (f *fakeActivities) RegisterVisitor(_ context.Context, in RegisterVisitorInput) (VisitorInfo, error) {
	return VisitorInfo{Name: "Ana", Username: "ana." + in.IGSID, Department: "sales", DepartmentID: "d1"}, nil
}

func (f *fakeActivities) OpenRoom(context.Context, OpenRoomInput) (OpenRoomResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.now != nil && f.now().Before(f.agentsFrom) {
		return OpenRoomResult{NoAgent: true}, nil
	}
	f.rooms++
	return OpenRoomResult{RoomID: fmt.Sprintf("room%d", f.rooms), Agent: "bob"}, nil
}

func (f *fakeActivities) PostToRoom(_ context.Context, in PostToRoomInput) (PostToRoomResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if in.RoomID == f.closedRoom {
		return PostToRoomResult{RoomClosed: true}, nil
	}
	if f.room == nil {
		f.room = map[string]string{}
	}
	for _, it := range in.Items {
		switch it.Kind {
		case ItemNote:
			f.notes = append(f.notes, in.RoomID+":"+it.Text)
		case ItemMessage:
			f.posted = append(f.posted, in.RoomID+":"+it.Text)
			f.roomOrder = append(f.roomOrder, it.MID)
			f.room[it.MID] = it.Text
		case ItemEdit:
			f.room[it.MID] = it.Text
		case ItemDelete:
			delete(f.room, it.MID)
		case ItemVisitorFields:
			f.visitorFields = it.Fields
		case ItemUpload:
			f.roomOrder = append(f.roomOrder, it.MID)
			f.room[it.MID] = "[upload " + it.URL + "] " + it.Caption
		}
	}
	return PostToRoomResult{Posted: len(in.Items)}, nil
}

// roomTexts is what the room shows now, in posting order.
func (f *fakeActivities) roomTexts() []string {
	var out []string
	for _, k := range f.roomOrder {
		if t, ok := f.room[k]; ok {
			out = append(out, t)
		}
	}
	return out
}

func (f *fakeActivities) SendToInstagram(_ context.Context, in SendInput) (SendResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.unknownOnce > 0 {
		f.unknownOnce--
		f.attempts++
		return SendResult{}, temporal.NewNonRetryableApplicationError("timeout", ErrSendUnknown, nil,
			SendUnknown{Expect: in.Text})
	}
	if in.SkipParts > 0 {
		return SendResult{}, nil // the only part was already delivered
	}
	if in.OtherAppOwns && f.refuseWhileOtherOwns {
		return SendResult{}, temporal.NewNonRetryableApplicationError("not the thread owner", ErrNoThreadControl, nil)
	}
	if f.sendErr != nil {
		return SendResult{}, f.sendErr
	}
	f.sent = append(f.sent, in.Text)
	return SendResult{MessageIDs: []string{"out-" + in.Text}}, nil
}

func (f *fakeActivities) SendAutomated(_ context.Context, in SendAutomatedInput) (SendAutomatedResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	text := f.automated[in.Which]
	if text == "" {
		return SendAutomatedResult{Skipped: "not configured"}, nil
	}
	f.sent = append(f.sent, text)
	return SendAutomatedResult{Text: text, MessageIDs: []string{"auto-" + in.Which}}, nil
}

func (f *fakeActivities) PassBack(context.Context, PassBackInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.passedBack++
	return nil
}

func (f *fakeActivities) PostNote(_ context.Context, in NoteInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.notes = append(f.notes, in.RoomID+":"+in.Text)
	return nil
}

func newEnv(t *testing.T, f *fakeActivities) *testsuite.TestWorkflowEnvironment {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	env.SetTestTimeout(30 * time.Second)
	env.RegisterWorkflowWithOptions(Conversation, workflow.RegisterOptions{Name: ConversationWorkflowName})
	for name, fn := range map[string]any{
		ActivityLoadSettings: f.LoadSettings, ActivityRegisterVisitor: f.RegisterVisitor,
		ActivityOpenRoom: f.OpenRoom, ActivityPostToRoom: f.PostToRoom,
		ActivitySendToInstagram: f.SendToInstagram, ActivitySendAutomated: f.SendAutomated, ActivityPostNote: f.PostNote,
		ActivityPassBack: f.PassBack,
	} {
		env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name})
	}
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: "instagram:acct:user1"})
	if f.settings == (Settings{}) {
		f.settings = Settings{ReorderWindow: 500 * time.Millisecond, CloseLinger: time.Minute}
	}
	f.now = env.Now
	return env
}

func msg(env *testsuite.TestWorkflowEnvironment, mid, text string, offset time.Duration) InstagramEvent {
	return InstagramEvent{Kind: EventMessage, MID: mid, Text: text, Timestamp: env.Now().Add(offset).UnixMilli()}
}

func signalAt(env *testsuite.TestWorkflowEnvironment, at time.Duration, name string, arg any) {
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(name, arg) }, at)
}

func queryState(t *testing.T, env *testsuite.TestWorkflowEnvironment) StateView {
	t.Helper()
	v, err := env.QueryWorkflow(QueryState)
	require.NoError(t, err)
	var st StateView
	require.NoError(t, v.Get(&st))
	return st
}

func TestMessagesPostedOnceInTimestampOrder(t *testing.T) {
	f := &fakeActivities{}
	env := newEnv(t, f)
	start := env.Now()
	m1 := InstagramEvent{Kind: EventMessage, MID: "m1", Text: "one", Timestamp: start.Add(1 * time.Second).UnixMilli()}
	m2 := InstagramEvent{Kind: EventMessage, MID: "m2", Text: "two", Timestamp: start.Add(2 * time.Second).UnixMilli()}
	m3 := InstagramEvent{Kind: EventMessage, MID: "m3", Text: "three", Timestamp: start.Add(2100 * time.Millisecond).UnixMilli()}
	signalAt(env, 1*time.Second, SignalInstagram, m1)
	signalAt(env, 2200*time.Millisecond, SignalInstagram, m3) // delivered before m2 ...
	signalAt(env, 2300*time.Millisecond, SignalInstagram, m2) // ... which happened earlier
	signalAt(env, 5*time.Second, SignalInstagram, m1)         // redelivery
	env.RegisterDelayedCallback(func() {
		st := queryState(t, env)
		require.Equal(t, StateOpen, st.Status)
		require.Equal(t, 3, st.Delivered)
		require.Equal(t, 1, st.Duplicates)
		env.SignalWorkflow(SignalRocketChat, RocketChatEvent{Kind: RCClosed, RoomID: "room1"})
	}, 10*time.Second)
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"room1:one", "room1:two", "room1:three"}, f.posted)
}

func TestAgentRepliesSentAndEchoesNotPosted(t *testing.T) {
	f := &fakeActivities{}
	env := newEnv(t, f)
	signalAt(env, time.Second, SignalInstagram, msg(env, "m1", "hello", time.Second))
	reply := func(id, text string) RocketChatEvent {
		return RocketChatEvent{Kind: RCAgentMessage, RoomID: "room1", Messages: []AgentMessage{{ID: id, Text: text, AgentUsername: "bob"}}}
	}
	signalAt(env, 3*time.Second, SignalRocketChat, reply("a1", "hi there"))
	signalAt(env, 3*time.Second, SignalRocketChat, reply("a1", "hi there")) // webhook retried by Rocket.Chat
	signalAt(env, 4*time.Second, SignalInstagram, InstagramEvent{Kind: EventEcho, MID: "out-hi there", Text: "hi there", Timestamp: env.Now().Add(4 * time.Second).UnixMilli()})
	signalAt(env, 5*time.Second, SignalRocketChat, RocketChatEvent{Kind: RCAgentMessage, RoomID: "room0", Messages: []AgentMessage{{ID: "a0", Text: "for another room"}}}) // not this room: ignored
	// The close transcript repeats a1 and holds a2, whose own webhook never came.
	signalAt(env, 6*time.Second, SignalRocketChat, RocketChatEvent{Kind: RCClosed, RoomID: "room1", Messages: []AgentMessage{{ID: "a1", Text: "hi there"}, {ID: "a2", Text: "bye"}}})
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"hi there", "bye"}, f.sent)
	require.Equal(t, []string{"room1:hello"}, f.posted)
}

func TestMessageAfterCloseStartsNextRoomRun(t *testing.T) {
	f := &fakeActivities{}
	env := newEnv(t, f)
	signalAt(env, time.Second, SignalInstagram, msg(env, "m1", "first", time.Second))
	signalAt(env, 3*time.Second, SignalRocketChat, RocketChatEvent{Kind: RCClosed, RoomID: "room1"})
	signalAt(env, 5*time.Second, SignalInstagram, msg(env, "m1", "first", time.Second)) // redelivery: absorbed
	signalAt(env, 6*time.Second, SignalInstagram, msg(env, "m2", "second", 6*time.Second))
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(env.GetWorkflowError(), &can), "want continue-as-new, got %v", env.GetWorkflowError())
	var next ConversationInput
	require.NoError(t, converterDecode(can, &next))
	require.NotNil(t, next.Carry)
	require.Empty(t, next.Carry.RoomID, "the next run must open a new room")
	require.Len(t, next.Carry.Pending, 1)
	require.Equal(t, "second", next.Carry.Pending[0].Text)
	require.True(t, next.Carry.Seen.Has("message:m1"), "dedup memory must carry over")
	require.Equal(t, []string{"room1:first"}, f.posted)

	// The next run delivers the carried message to a new room.
	f2 := &fakeActivities{rooms: 1}
	env2 := newEnv(t, f2)
	env2.RegisterDelayedCallback(func() {
		env2.SignalWorkflow(SignalRocketChat, RocketChatEvent{Kind: RCClosed, RoomID: "room2"})
	}, 20*time.Second)
	env2.ExecuteWorkflow(ConversationWorkflowName, next)
	require.NoError(t, env2.GetWorkflowError())
	require.Equal(t, []string{"room2:second"}, f2.posted)
}

func TestNoAgentOnlineMessagesWaitThenDeliveredInOrder(t *testing.T) {
	f := &fakeActivities{automated: map[string]string{AutoWelcome: "Hi!", AutoOffline: "We are offline, we will answer soon."}}
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
		env.SignalWorkflow(SignalRocketChat, RocketChatEvent{Kind: RCClosed, RoomID: "room1"})
	}, 10*time.Minute)
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
	f := &fakeActivities{automated: map[string]string{AutoWelcome: "Welcome to Casa Azul!", AutoFinished: "Thanks, bye!"}}
	env := newEnv(t, f)
	signalAt(env, time.Second, SignalInstagram, msg(env, "m1", "hello", time.Second))
	signalAt(env, 3*time.Second, SignalInstagram, msg(env, "m2", "anyone?", 3*time.Second))
	signalAt(env, 5*time.Second, SignalRocketChat, RocketChatEvent{Kind: RCForwarded, RoomID: "room1", AgentUsername: "carol"})
	signalAt(env, 6*time.Second, SignalRocketChat, RocketChatEvent{Kind: RCAgentMessage, RoomID: "room1", Messages: []AgentMessage{{ID: "a1", Text: "Carol here"}}})
	env.RegisterDelayedCallback(func() {
		require.Equal(t, "carol", queryState(t, env).Agent, "a forwarded room keeps working with its new agent")
		env.SignalWorkflow(SignalRocketChat, RocketChatEvent{Kind: RCClosed, RoomID: "room1"})
	}, 8*time.Second)
	signalAt(env, 9*time.Second, SignalRocketChat, RocketChatEvent{Kind: RCClosed, RoomID: "room1"}) // retried webhook
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"Welcome to Casa Azul!", "Carol here", "Thanks, bye!"}, f.sent)
	require.Equal(t, []string{"room1:hello", "room1:anyone?"}, f.posted)
	require.Equal(t, []string{"room1:🤖 Welcome message sent to the customer: Welcome to Casa Azul!",
		"room1:🤖 Finished message sent to the customer: Thanks, bye!"}, f.notes)
}

func TestRoomClosedUnderUsMovesMessageToNextRun(t *testing.T) {
	f := &fakeActivities{closedRoom: "room1"}
	env := newEnv(t, f)
	signalAt(env, time.Second, SignalInstagram, msg(env, "m1", "lost?", time.Second))
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(env.GetWorkflowError(), &can), "got %v", env.GetWorkflowError())
	var next ConversationInput
	require.NoError(t, converterDecode(can, &next))
	require.Len(t, next.Carry.Pending, 1)
	require.Empty(t, next.Carry.RoomID)
}

func TestRejectedReplyBecomesNoteForAgent(t *testing.T) {
	f := &fakeActivities{sendErr: temporal.NewNonRetryableApplicationError("outside window", ErrOutsideWindow, nil)}
	env := newEnv(t, f)
	signalAt(env, time.Second, SignalInstagram, msg(env, "m1", "hi", time.Second))
	signalAt(env, 3*time.Second, SignalRocketChat, RocketChatEvent{Kind: RCAgentMessage, RoomID: "room1", Messages: []AgentMessage{{ID: "a1", Text: "late answer"}}})
	signalAt(env, 5*time.Second, SignalRocketChat, RocketChatEvent{Kind: RCClosed, RoomID: "room1"})
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	require.NoError(t, env.GetWorkflowError())
	require.Len(t, f.notes, 1)
	require.Contains(t, f.notes[0], "late answer")
}

func TestContinueAsNewWhenSuggestedCarriesEverything(t *testing.T) {
	f := &fakeActivities{}
	env := newEnv(t, f)
	signalAt(env, time.Second, SignalInstagram, msg(env, "m1", "a", time.Second))
	signalAt(env, 3*time.Second, SignalInstagram, msg(env, "m2", "b", 3*time.Second))
	signalAt(env, 3*time.Second, SignalRocketChat, RocketChatEvent{Kind: RCAgentMessage, RoomID: "room1", Messages: []AgentMessage{{ID: "a1", Text: "reply"}}})
	env.RegisterDelayedCallback(func() {
		// m2 is still inside its reorder window when Temporal suggests continue-as-new.
		env.SetContinueAsNewSuggested(true)
		env.SignalWorkflow(SignalInstagram, msg(env, "m3", "c", 3200*time.Millisecond))
	}, 3200*time.Millisecond)
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(env.GetWorkflowError(), &can), "got %v", env.GetWorkflowError())
	var next ConversationInput
	require.NoError(t, converterDecode(can, &next))
	require.Equal(t, "room1", next.Carry.RoomID)
	require.Equal(t, 1, next.Carry.Delivered)
	require.Len(t, next.Carry.Pending, 2, "undelivered events travel to the next run")
	require.Equal(t, []string{"b", "c"}, []string{next.Carry.Pending[0].Text, next.Carry.Pending[1].Text})
	require.Equal(t, 1, next.Carry.SentToIG)
	require.True(t, next.Carry.Seen.Has("message:m3"))
	require.True(t, next.Carry.AgentSeen.Has("a1"))
}

func TestRecentForgetsOldestBeyondLimit(t *testing.T) {
	var r Recent
	for i := 0; i < recentLimit+10; i++ {
		require.True(t, r.Add(fmt.Sprint(i)))
	}
	require.False(t, r.Add(fmt.Sprint(recentLimit+5)))
	require.False(t, r.Has("0"))
	require.True(t, r.Has("10"))
	require.Len(t, r.Keys, recentLimit)
}
