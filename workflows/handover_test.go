package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRepliesWaitWhileAnotherAppOwnsTheThread(t *testing.T) {
	f := newWorld()
	f.refuseWhileOtherOwns = true
	env := newEnv(t, f)
	handover := func(at time.Duration, action, app string) {
		signalAt(env, at, SignalInstagram, ev(env, EventHandover, "", at, func(e *InstagramEvent) { e.Action, e.AppID, e.Metadata = action, app, "escalated" }))
	}
	signalAt(env, time.Second, SignalInstagram, ev(env, EventMessage, "m1", time.Second, func(e *InstagramEvent) { e.Text = "hi" }))
	handover(3*time.Second, HandoverTaken, "1217981644879628")
	agentWrites(env, f, 5*time.Second, "room1", "a1", "first", true)
	agentWrites(env, f, 6*time.Second, "room1", "a2", "second", true)
	signalAt(env, 7*time.Second, SignalInstagram, ev(env, EventMessage, "m2", 7*time.Second, func(e *InstagramEvent) { e.Text = "still here"; e.Standby = true }))
	env.RegisterDelayedCallback(func() {
		st := queryState(t, env)
		require.Equal(t, "1217981644879628", st.ThreadOwner)
		require.True(t, st.RepliesHeld)
		require.Equal(t, StateBlocked, st.Status)
		require.Empty(t, f.sentTexts())
	}, 9*time.Second)
	handover(10*time.Second, HandoverControlBack, "")
	env.RegisterDelayedCallback(func() {
		require.Equal(t, []string{"first", "second"}, f.sentTexts(), "held replies go out as soon as control is back")
	}, 12*time.Second)
	closeAt(env, f, 15*time.Second)
	env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
	require.NoError(t, env.GetWorkflowError())
	require.Equal(t, []string{"first", "second"}, f.sent, "held replies go out in order once control is back")
	require.Equal(t, []string{"hi", "still here"}, f.roomTexts(), "standby messages still reach the room")
	require.Len(t, f.notes, 3)
	require.Contains(t, f.notes[0], "took over")
	require.Contains(t, f.notes[1], "replies wait")
	require.Contains(t, f.notes[2], "Control of this Instagram conversation is back")
	require.Equal(t, 1, f.passedBack, "control is passed back on close")
}
