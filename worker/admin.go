package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/igdirect/bridge/activities"
	"github.com/igdirect/bridge/setupguide"
	"github.com/igdirect/bridge/setupguide/gather"
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
		workflows.DepartmentsWorkflowName:      workflows.RocketChatDepartments,
		workflows.ConsoleLinkWorkflowName:      workflows.ConsoleLink,
		workflows.DoctorWorkflowName:           workflows.Doctor,
		workflows.SetupGuideWorkflowName:       workflows.SetupGuide,
		workflows.UserRolesWorkflowName:        workflows.RocketChatUserRoles,
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

// postSetupGuideAtFirstStart posts the setup instructions in the setup channel the first
// time a worker starts on this database: the counterpart of the original app's install
// message. It runs before the worker takes work, bounded to a few seconds, so a Rocket.Chat
// that is down delays the start only that long; then the next start tries again.
func postSetupGuideAtFirstStart(ctx context.Context, log *slog.Logger, admin *activities.Admin) {
	ctx, cancel := context.WithTimeout(ctx, 8*time.Second)
	defer cancel()
	facts, err := admin.SetupFacts(ctx)
	if err != nil {
		log.Warn("Setup guide not posted: facts not readable", "error", err)
		return
	}
	if facts.GuidePosted {
		return
	}
	// Claimed before posting: of workers starting together, one posts.
	if claimed, err := admin.Store.ClaimNotice(ctx, gather.SetupGuideNotice); err != nil || !claimed {
		return
	}
	items := setupguide.Items(facts, time.Now())
	msg := workflows.SetupGuideMessage(facts, items, workflows.SetupGuideInput{FirstStart: true})
	if err := admin.PostSetupMessage(ctx, msg); err != nil {
		log.Warn("Setup guide not posted in the setup channel; the next start tries again", "channel", admin.SetupChannel, "error", err)
		if err := admin.Store.ClearNotices(context.WithoutCancel(ctx), gather.SetupGuideNotice); err != nil {
			log.Warn("Setup guide claim not released", "error", err)
		}
		return
	}
	log.Info("Setup guide posted in the setup channel", "channel", admin.SetupChannel, "missing", setupguide.Missing(items))
}
