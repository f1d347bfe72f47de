// Package metrics defines the Prometheus metrics of both processes and serves them. Metric
// names start with igdirect_. Labels never carry message content or secrets; the account
// label is the Instagram business account ID (a handful per deployment).
package metrics

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/igdirect/bridge/internal/hostcheck"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/temporal"
)

// Registry holds one process's metrics.
type Registry struct {
	reg *prometheus.Registry

	// Ingress.
	WebhookRequests *prometheus.CounterVec   // source, code
	WebhookEvents   *prometheus.CounterVec   // source, kind, outcome (recorded, skipped, refused)
	WebhookLatency  *prometheus.HistogramVec // source: time to answer (acknowledgement latency)

	// Worker.
	ActivityDuration *prometheus.HistogramVec // activity
	ActivityFailures *prometheus.CounterVec   // activity, class (retryable, final)
	Delivered        *prometheus.CounterVec   // direction (to_rocketchat, to_instagram), kind
	InboundLatency   prometheus.Histogram     // Meta's event time → posted in the room
	OutboundLatency  prometheus.Histogram     // agent's message time → accepted by the Send API
	InstagramSends   *prometheus.CounterVec   // account, result (ok, rate_limited, failed)
	// ConversationsBlocked counts conversations that became blocked, by reason (account not
	// connected, department, ...): an alert on its rate finds a misconfiguration.
	ConversationsBlocked *prometheus.CounterVec // reason
	// UnknownOutcomes counts deliveries whose outcome was unknown (a timeout or crash after
	// the call), by how they were settled (echo; thread: found in Instagram's thread; resent: not there;
	// resent_unchecked: the thread could not be read; upload_found, upload_again).
	UnknownOutcomes *prometheus.CounterVec // settled
}

var latencyBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}

// New creates the registry with Go runtime and process collectors.
func New() *Registry {
	r := &Registry{reg: prometheus.NewRegistry()}
	r.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := func(c prometheus.Collector) { r.reg.MustRegister(c) }
	r.WebhookRequests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "igdirect_webhook_requests_total",
		Help: "Webhook requests answered, by source and HTTP status."}, []string{"source", "code"})
	r.WebhookEvents = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "igdirect_webhook_events_total",
		Help: "Events received in webhooks, by source, kind and outcome (recorded in Temporal, skipped, refused)."},
		[]string{"source", "kind", "outcome"})
	r.WebhookLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "igdirect_webhook_ack_seconds",
		Help: "Time to answer a webhook (acknowledgement latency).", Buckets: latencyBuckets}, []string{"source"})
	r.ActivityDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "igdirect_activity_seconds",
		Help: "Duration of activity attempts.", Buckets: latencyBuckets}, []string{"activity"})
	r.ActivityFailures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "igdirect_activity_failures_total",
		Help: "Failed activity attempts: retryable (will be retried) or final."}, []string{"activity", "class"})
	r.Delivered = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "igdirect_delivered_total",
		Help: "Items delivered, by direction and kind."}, []string{"direction", "kind"})
	r.InboundLatency = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "igdirect_inbound_latency_seconds",
		Help: "From the Instagram event's time to its message in the Rocket.Chat room.", Buckets: latencyBuckets})
	r.OutboundLatency = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "igdirect_outbound_latency_seconds",
		Help: "From the agent's message in Rocket.Chat to its acceptance by the Send API.", Buckets: latencyBuckets})
	r.InstagramSends = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "igdirect_instagram_sends_total",
		Help: "Send API calls per Instagram account and result."}, []string{"account", "result"})
	r.ConversationsBlocked = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "igdirect_conversations_blocked_total",
		Help: "Conversations that became blocked (could not make progress by themselves), by reason."}, []string{"reason"})
	r.UnknownOutcomes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "igdirect_unknown_outcomes_total",
		Help: "Deliveries whose outcome was unknown, by how they were settled."}, []string{"settled"})
	for _, c := range []prometheus.Collector{r.WebhookRequests, r.WebhookEvents, r.WebhookLatency, r.ActivityDuration,
		r.ActivityFailures, r.Delivered, r.InboundLatency, r.OutboundLatency, r.InstagramSends, r.ConversationsBlocked,
		r.UnknownOutcomes} {
		f(c)
	}
	return r
}

// Handler serves the registry in the Prometheus text format.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{Registry: r.reg})
}

// server is the worker's metrics server. Every phase of a connection is bounded (headers,
// the whole request, the answer, an idle keep-alive), so a client that holds connections
// open cannot pile them up; the answer is small, the limits generous.
func (r *Registry) server(addr string, hosts []string) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("/metrics", r.Handler())
	return &http.Server{Addr: addr, Handler: hostcheck.Handler(hosts, "ADMIN_HOSTS", mux), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 16 << 10}
}

// Serve runs a metrics-only HTTP server (for the worker, which has no other server) until
// ctx ends. It answers only requests addressed to an IP address, localhost or one of hosts
// (ADMIN_HOSTS; package hostcheck).
func (r *Registry) Serve(ctx context.Context, addr string, hosts []string) error {
	srv := r.server(addr, hosts)
	go func() { <-ctx.Done(); _ = srv.Shutdown(context.Background()) }()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Interceptor measures every activity attempt of the worker: its duration, and whether it
// failed for good or will be retried.
func (r *Registry) Interceptor() interceptor.WorkerInterceptor { return &workerInterceptor{r: r} }

type workerInterceptor struct {
	interceptor.WorkerInterceptorBase
	r *Registry
}

func (w *workerInterceptor) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	return &activityInterceptor{ActivityInboundInterceptorBase: interceptor.ActivityInboundInterceptorBase{Next: next}, r: w.r}
}

type activityInterceptor struct {
	interceptor.ActivityInboundInterceptorBase
	r *Registry
}

func (a *activityInterceptor) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	name := activityName(ctx)
	start := time.Now()
	res, err := a.Next.ExecuteActivity(ctx, in)
	a.r.ActivityDuration.WithLabelValues(name).Observe(time.Since(start).Seconds())
	if err != nil {
		class := "retryable"
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.NonRetryable() {
			class = "final"
		}
		a.r.ActivityFailures.WithLabelValues(name, class).Inc()
	}
	return res, err
}
