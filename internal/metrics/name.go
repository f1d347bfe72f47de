package metrics

import (
	"context"

	"go.temporal.io/sdk/activity"
)

func activityName(ctx context.Context) string {
	defer func() { _ = recover() }() // outside an activity context (tests) GetInfo panics
	return activity.GetInfo(ctx).ActivityType.Name
}
