package ingress

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/igdirect/bridge/identity"
	"github.com/igdirect/bridge/workflows"
)

// WokenStates are the conversation states an admin's change wakes (ConversationState):
// blocked ones retry at once; customers waiting for an agent are registered again, in the
// department the page points to now (issue 19: they stayed queued in the old one).
var WokenStates = []string{workflows.StateBlocked, workflows.StateWaitingForAgent}

// wakeBlocked tells the account's blocked conversations that an admin changed something
// (connected or authorized the account, edited its page): they try again now instead of at
// their next scheduled check. It runs in the background: a failure only means they wait for
// that check.
func (s *Server) wakeBlocked(account, reason string) {
	if !identity.ValidID(account) || s.temporal == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		states := make([]string, len(WokenStates))
		for i, st := range WokenStates {
			states[i] = "'" + st + "'"
		}
		query := fmt.Sprintf("%s = '%s' AND %s IN (%s) AND ExecutionStatus = 'Running'",
			workflows.SAAccount.GetName(), account, workflows.SAState.GetName(), strings.Join(states, ", "))
		var token []byte
		woken := 0
		for {
			resp, err := s.temporal.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
				Namespace: s.cfg.TemporalNamespace, Query: query, NextPageToken: token})
			if err != nil {
				s.log.Warn("Could not list blocked conversations to wake them", "account", account, "error", err)
				return
			}
			for _, e := range resp.GetExecutions() {
				id := e.GetExecution().GetWorkflowId()
				if err := s.temporal.SignalWorkflow(ctx, id, "", workflows.SignalWake, workflows.WakeEvent{Reason: reason}); err == nil {
					woken++
				}
			}
			if token = resp.GetNextPageToken(); len(token) == 0 {
				break
			}
		}
		if woken > 0 {
			s.log.Info("Blocked conversations woken", "account", account, "count", woken, "reason", reason)
		}
	}()
}
