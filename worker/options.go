package main

import (
	"time"

	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/worker"
)

// stopTimeout is how long a stopping worker (SIGTERM: a rolling restart) lets its running
// activities finish before cancelling them. Most of a conversation's calls take
// milliseconds, so a restart does not turn them into retries; a long upload cut short is
// settled by its delivery intent. docker-compose.yml gives the worker 30 s to stop.
const stopTimeout = 25 * time.Second

// workerOptions are the worker's options; metrics is the activity interceptor.
func workerOptions(metrics interceptor.WorkerInterceptor) worker.Options {
	return worker.Options{
		Interceptors: []interceptor.WorkerInterceptor{metrics},
		// More pollers than the default 2 per task type: under bursts, workflow tasks waited
		// for a free poller (docs/benchmarks.md).
		MaxConcurrentWorkflowTaskPollers: 8,
		MaxConcurrentActivityTaskPollers: 8,
		WorkerStopTimeout:                stopTimeout,
	}
}
