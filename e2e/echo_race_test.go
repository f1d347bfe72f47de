package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"

	"github.com/igdirect/bridge/identity"
	"github.com/igdirect/bridge/sandbox/meta"
)

// Meta delivers the echo of a send concurrently with the send's answer, so the echo often
// reaches ingress before the worker has recorded the message id. Such an echo must still be
// recognised as ours and not signalled: each would cost the conversation a signal and a
// workflow task (issue 12: echoes of our own sends not signalled where ingress can tell).
// Before ingress waited for sends in flight, most of these echoes were signalled.
func TestEchoesOfOurSendsRacingTheirAnswerAreNotSignalled(t *testing.T) {
	s := requireStack(t)
	igsid := uniqueIGSID()
	s.meta.AddUser(account, meta.User{IGSID: igsid, Name: "Rita"})
	const n = 6
	s.meta.UserSendsText(account, igsid, "message 1")
	room := waitRoom(t, s, igsid, 1)
	for i := 1; i <= n; i++ {
		if i > 1 {
			s.meta.UserSendsText(account, igsid, fmt.Sprintf("message %d", i))
		}
		waitVisitorMessages(t, s, room.ID, i)
		// The agent answers at once, as the benchmark's agent does.
		_, err := s.rc.AgentSend(room.ID, agentName, fmt.Sprintf("answer %d", i))
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		_, err = s.meta.WaitForSent(ctx, account, igsid, i)
		cancel()
		require.NoError(t, err)
	}
	time.Sleep(1500 * time.Millisecond) // the last echo

	// Every instagram-events signal of the run is a customer's message: none is an echo.
	ctx := context.Background()
	it := s.tc.GetWorkflowHistory(ctx, identity.WorkflowID(account, igsid), "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	signals := 0
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(t, err)
		if a := ev.GetWorkflowExecutionSignaledEventAttributes(); a != nil && a.GetSignalName() == "instagram-events" {
			signals++
		}
	}
	require.Equal(t, n, signals, "instagram-events signals: one per customer message, none for the echoes of our %d replies", n)
	require.Len(t, s.meta.Sent(account, igsid), n)
}
