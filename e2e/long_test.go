package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/igdirect/bridge/identity"
	"github.com/igdirect/bridge/sandbox/meta"
)

// TestLongConversationContinuesAsNew drives one conversation through 3,000 messages on a
// Temporal server that suggests continue-as-new early (after 60 history events instead of
// 4,096), so the conversation crosses many run boundaries while messages keep arriving:
// every message must reach the room once, in order, and every run's history stays bounded.
func TestLongConversationContinuesAsNew(t *testing.T) {
	requireStack(t)
	if testing.Short() {
		t.Skip("3,000-message conversation skipped in -short mode (takes about a minute)")
	}
	const (
		total = 3000
		batch = 50
		// The conversation takes a 50-event delivery in one signal and posts 25 messages per
		// local activity, so 3,000 messages make about 500 history events: a low threshold
		// makes it cross several run boundaries.
		threshold = 60
	)
	s, err := startStack("long", stackOptions{temporalFlags: []string{
		"--dynamic-config-value", fmt.Sprintf("limit.historyCount.suggestContinueAsNew=%d", threshold),
	}})
	require.NoError(t, err)
	t.Cleanup(s.stop)
	igsid := uniqueIGSID()
	s.meta.AddUser(account, meta.User{IGSID: igsid, Name: "Chatty", Username: "chatty"})

	start := time.Now().Add(-time.Hour) // written in the past: posted without waiting out the reorder window
	want := make([]string, 0, total)
	for i := 0; i < total; i += batch {
		var evs []meta.Event
		for j := i; j < i+batch && j < total; j++ {
			text := fmt.Sprintf("message %04d", j)
			want = append(want, text)
			evs = append(evs, s.meta.NewTextEvent(account, igsid, text, start.Add(time.Duration(j)*time.Millisecond)))
		}
		require.Equal(t, http.StatusOK, deliver(t, s, entry(evs...)))
		time.Sleep(100 * time.Millisecond) // messages keep arriving while the conversation works and continues as new
	}

	room := waitRoom(t, s, igsid, 1)
	var got []string
	eventually(t, 4*time.Minute, "all 3,000 messages in the room", func() bool {
		got = texts(visitorMessages(s, room.ID))
		return len(got) >= total
	})
	time.Sleep(time.Second)
	got = texts(visitorMessages(s, room.ID))
	require.Len(t, got, total, "none doubled")
	for i := range want {
		// Messages that waited show their original time after the text.
		require.Contains(t, got[i], want[i], "message %d out of order", i)
	}

	// The history stayed bounded: the conversation continued as new several times, and no run
	// grew far past the suggestion threshold.
	resp, err := s.tc.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
		Query: fmt.Sprintf("WorkflowId = '%s'", identity.WorkflowID(account, igsid)),
	})
	require.NoError(t, err)
	// While a burst of signals goes on, the server refuses a run's continue-as-new until the
	// workflow task sees no new events (specs/temporal-go.md §1.6), so a run may overshoot the
	// suggestion; it must stay far below Temporal's history warning limit (10,240 events).
	runs, continued, longest := 0, 0, int64(0)
	for _, e := range resp.GetExecutions() {
		runs++
		if e.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW {
			continued++
		}
		longest = max(longest, e.GetHistoryLength())
		require.Less(t, e.GetHistoryLength(), int64(10240), "run %s history", e.GetExecution().GetRunId())
	}
	t.Logf("3,000 messages over %d runs (%d continued as new); longest run history %d events (suggestion at %d)",
		runs, continued, longest, threshold)
	require.GreaterOrEqual(t, continued, 2, "the conversation must have continued as new")
	recordRuns(t, s, account, igsid, "continued-as-new-when-suggested", 2)
}
