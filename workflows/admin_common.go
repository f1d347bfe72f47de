package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Activity options shared by the administration workflows. Unlike conversations, which
// retry without end so that no message is lost, administration is interactive: an admin
// waits for the answer, so retries are bounded and the outcome is reported either way.

// storeCtx is for activities that only touch the database.
func storeCtx(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    10 * time.Second,
		ScheduleToCloseTimeout: 2 * time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: 500 * time.Millisecond, MaximumInterval: 10 * time.Second},
	})
}

// graphCtx is for activities that call the Graph API. Permanent refusals come back as
// non-retryable application errors; everything else is retried for a few minutes.
func graphCtx(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 3 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:        time.Second,
			BackoffCoefficient:     2,
			MaximumInterval:        30 * time.Second,
			NonRetryableErrorTypes: []string{ErrOAuthRejected, ErrGraphRefused, ErrUnknownPage},
		},
	})
}

// setupCtx is for messages in the setup channel: worth retrying through a short Rocket.Chat
// outage, pointless after a long one.
func setupCtx(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    30 * time.Second,
		ScheduleToCloseTimeout: 15 * time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
	})
}

// postSetupAsync posts a message in the setup channel without waiting.
func postSetupAsync(ctx workflow.Context, m SetupMessage) workflow.Future {
	return workflow.ExecuteActivity(setupCtx(ctx), ActivityPostSetupMessage, m)
}

// postSetup posts a message in the setup channel. A message that cannot be posted is
// logged, not fatal: the workflow's result (visible in Temporal) says the same.
func postSetup(ctx workflow.Context, m SetupMessage) {
	if err := postSetupAsync(ctx, m).Get(ctx, nil); err != nil {
		workflow.GetLogger(ctx).Warn("Setup-channel message not posted", "error", err)
	}
}

// errorText reduces an activity error to the message an admin should read.
func errorText(err error) string {
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		return app.Message()
	}
	var timeout *temporal.TimeoutError
	if errors.As(err, &timeout) {
		return "no answer in time"
	}
	return err.Error()
}

// SetupNotice posts one message in the setup channel (for ingress, which never calls
// Rocket.Chat itself).
func SetupNotice(ctx workflow.Context, m SetupMessage) error {
	return postSetupAsync(ctx, m).Get(ctx, nil)
}
