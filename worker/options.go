package main

import (
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/worker"
)

// workerOptions are the worker's options; metrics is the activity interceptor.
func workerOptions(metrics interceptor.WorkerInterceptor) worker.Options {
	return worker.Options{
		Interceptors: []interceptor.WorkerInterceptor{metrics},
		// More pollers than the default 2 per task type: under bursts, workflow tasks waited
		// for a free poller (docs/benchmarks.md).
		MaxConcurrentWorkflowTaskPollers: 8,
		MaxConcurrentActivityTaskPollers: 8,
	}
}
