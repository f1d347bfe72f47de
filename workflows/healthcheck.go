package workflows

import "go.temporal.io/sdk/workflow"

// HealthCheck checks every connected page: that its token is still valid and that Meta
// still delivers its webhooks to us (subscribed_apps). Meta drops subscriptions silently
// after delivery failures (instagram-messaging.md §2.3, trap 7); the check subscribes such
// pages again. Each page's activity records what it found, so this run reports only what
// changed: a re-subscription, a new problem, or a problem that went away. Nothing to say,
// nothing posted. A Temporal schedule (HealthCheckScheduleID) runs it.
func HealthCheck(ctx workflow.Context) (HealthCheckResult, error) {
	var pages []ConnectedPage
	if err := workflow.ExecuteActivity(storeCtx(ctx), ActivityListConnectedPages).Get(ctx, &pages); err != nil {
		return HealthCheckResult{}, err
	}
	var checked []ConnectedPage
	var futures []workflow.Future
	for _, p := range pages {
		if !p.HasToken {
			continue // nothing to check with; `instagram list` shows it as not connected
		}
		checked = append(checked, p)
		futures = append(futures, workflow.ExecuteActivity(graphCtx(ctx), ActivityCheckPageHealth, PageRef{PageID: p.PageID}))
	}
	res := HealthCheckResult{Checked: len(checked)}
	for i, f := range futures {
		var h PageHealth
		if err := f.Get(ctx, &h); err != nil {
			// The check itself failed (Meta unreachable for minutes): worth a line, the
			// stored state stays as it was.
			h = PageHealth{PageID: checked[i].PageID, IGUsername: checked[i].IGUsername, Problem: "could not be checked: " + errorText(err)}
		}
		if h.Resubscribed || h.Problem != h.PreviousProblem {
			res.Changes = append(res.Changes, h)
		}
	}
	if len(res.Changes) > 0 {
		postSetup(ctx, healthMessage(res.Changes))
		res.Reported = true
	}
	return res, nil
}
