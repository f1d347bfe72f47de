package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestSendWithUnknownOutcome: Meta's answer to a send is lost (a timeout, a crash). The
// delivery intent says the outcome is unknown; Meta's echo settles it.
func TestSendWithUnknownOutcome(t *testing.T) {
	tests := []struct {
		name     string
		taken    bool // Meta took the send (and echoes it)
		echo     bool
		wantSent []string
	}{
		{"echo proves delivery: no second send", true, true, []string{"are you there?"}},
		{"Meta did not take it, no echo: sent again", false, false, []string{"are you there?"}},
		{"echo lost although Meta took it: sent again (the documented risk)", true, false, []string{"are you there?", "are you there?"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newWorld()
			if tt.taken {
				f.unknownTaken = 1
			} else {
				f.unknownLost = 1
			}
			env := newEnv(t, f)
			signalAt(env, time.Second, SignalInstagram, ev(env, EventMessage, "m1", time.Second, func(e *InstagramEvent) { e.Text = "hi" }))
			agentWrites(env, f, 3*time.Second, "room1", "a1", "are you there?", true)
			if tt.echo {
				signalAt(env, 5*time.Second, SignalInstagram, ev(env, EventEcho, "meta-mid-1", 5*time.Second, func(e *InstagramEvent) { e.Text = "are you there?" }))
			}
			closeAt(env, f, time.Minute)
			env.ExecuteWorkflow(ConversationWorkflowName, ConversationInput{PageID: "acct", IGSID: "user1"})
			require.NoError(t, env.GetWorkflowError())
			require.Equal(t, tt.wantSent, f.sent)
			require.Empty(t, f.notes, "the echo of our own send is never shown as an outside message")
			require.Equal(t, map[string]string{"rc:a1#0": map[bool]string{true: "meta-mid-1", false: "out-are you there?"}[tt.echo]}, f.intents)
		})
	}
}
