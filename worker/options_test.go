package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStopLetsInFlightActivitiesFinish (issue 12, situation 12): a rolling restart (SIGTERM)
// must let the activities a worker runs finish, not cancel them: with the SDK's default stop
// timeout of 0 every in-flight call is cancelled and redone elsewhere.
func TestStopLetsInFlightActivitiesFinish(t *testing.T) {
	opts := workerOptions(nil)
	require.Positive(t, opts.WorkerStopTimeout, "WorkerStopTimeout")
}
