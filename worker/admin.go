package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/igdirect/bridge/activities"
	"github.com/igdirect/bridge/workflows"
)

// registerAdmin registers the authorization and administration workflows (issue 5) and
// their activities.
func registerAdmin(w worker.Worker, admin *activities.Admin) {
	for name, fn := range map[string]any{
		workflows.AuthorizationWorkflowName:    workflows.Authorization,
		workflows.UnauthorizeWorkflowName:      workflows.Unauthorize,
		workflows.PageSubscriptionWorkflowName: workflows.PageSubscription,
		workflows.HealthCheckWorkflowName:      workflows.HealthCheck,
		workflows.SetupNoticeWorkflowName:      workflows.SetupNotice,
	} {
		w.RegisterWorkflowWithOptions(fn, workflow.RegisterOptions{Name: name})
	}
	admin.Register(w)
}

// ensureHealthSchedule creates the schedule that runs the health check, or brings an
// existing one up to date (task queue, interval), so every worker start leaves exactly one
// schedule with the current settings. Runs never overlap: a check still running when the
// next is due makes that one skip.
func ensureHealthSchedule(ctx context.Context, tc client.Client, taskQueue string, every time.Duration) error {
	spec := client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: every}}}
	action := &client.ScheduleWorkflowAction{
		ID:                       workflows.HealthCheckScheduleID,
		Workflow:                 workflows.HealthCheckWorkflowName,
		TaskQueue:                taskQueue,
		WorkflowExecutionTimeout: 30 * time.Minute,
	}
	sc := tc.ScheduleClient()
	_, err := sc.Create(ctx, client.ScheduleOptions{
		ID: workflows.HealthCheckScheduleID, Spec: spec, Action: action,
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		Note:    "Checks Instagram page tokens and webhook subscriptions; re-subscribes dropped pages.",
	})
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		if err != nil {
			return fmt.Errorf("create health-check schedule: %w", err)
		}
		return nil
	}
	err = sc.GetHandle(ctx, workflows.HealthCheckScheduleID).Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			s := in.Description.Schedule
			s.Spec, s.Action = &spec, action
			if s.Policy == nil {
				s.Policy = &client.SchedulePolicies{}
			}
			s.Policy.Overlap = enumspb.SCHEDULE_OVERLAP_POLICY_SKIP
			return &client.ScheduleUpdate{Schedule: &s}, nil
		},
	})
	if err != nil {
		return fmt.Errorf("update health-check schedule: %w", err)
	}
	return nil
}
