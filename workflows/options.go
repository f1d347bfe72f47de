package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// localOptions: a local activity must answer within a workflow task's budget; a retry or
// two for a blip, then the regular activity takes over.
func localOptions(name string) workflow.LocalActivityOptions {
	return workflow.LocalActivityOptions{
		StartToCloseTimeout:    5 * time.Second,
		ScheduleToCloseTimeout: 8 * time.Second,
		Summary:                name,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 200 * time.Millisecond, BackoffCoefficient: 2, MaximumAttempts: 2,
		},
	}
}

// activityOptions: every activity has a bounded schedule-to-close; what is still failing
// after it becomes a state of the workflow (blocked, with a retry deadline).
func activityOptions(name string) workflow.ActivityOptions {
	o := workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 2 * time.Minute,
		Summary:                name,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Second,
		},
	}
	switch name {
	case ActivityUploadToRoom:
		// Media of up to max_upload_bytes goes from Meta's CDN to Rocket.Chat, which may take
		// minutes; the activity heartbeats meanwhile, so a dead worker is noticed in 20 s.
		o.StartToCloseTimeout, o.HeartbeatTimeout, o.ScheduleToCloseTimeout = 10*time.Minute, 20*time.Second, 15*time.Minute
	case ActivitySyncReplies:
		// A file reply: Meta fetches the file from ingress while it handles the send. It
		// heartbeats too.
		o.StartToCloseTimeout, o.HeartbeatTimeout, o.ScheduleToCloseTimeout = 2*time.Minute, 20*time.Second, 5*time.Minute
	}
	return o
}

// LocalActivityOptionsFor and ActivityOptionsFor are the options a conversation runs the
// activity name with, as a local and as a regular activity (the simulator models
// Temporal's timeouts and retries from them).
func LocalActivityOptionsFor(name string) workflow.LocalActivityOptions { return localOptions(name) }

func ActivityOptionsFor(name string) workflow.ActivityOptions { return activityOptions(name) }
