package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSendWithUnknownOutcome(t *testing.T) {
	tests := []struct {
		name     string
		echo     bool
		wantSent []string
	}{
		{"echo proves delivery: no second send", true, nil},
		{"no echo: sent again", false, []string{"are you there?"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeActivities{unknownOnce: 1}
			env := newEnv(t, f)
			signalAt(env, time.Second, SignalInstagram, ev(env, EventMessage, "m1", time.Second, func(e *InstagramEvent) { e.Text = "hi" }))
			signalAt(env, 3*time.Second, SignalRocketChat, RocketChatEvent{Kind: RCAgentMessage, RoomID: "room1", Messages: []AgentMessage{{ID: "a1", Text: "are you there?"}}})
			if tt.echo {
				signalAt(env, 5*time.Second, SignalInstagram, ev(env, EventEcho, "meta-mid-1", 5*time.Second, func(e *InstagramEvent) { e.Text = "are you there?" }))
			}
			closeAt(env, time.Minute)
			env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
			require.NoError(t, env.GetWorkflowError())
			require.Equal(t, tt.wantSent, f.sent)
			require.Equal(t, 1, f.attempts)
			require.Empty(t, f.notes, "the echo of our own send is never shown as an outside message")
		})
	}
}
