package ingress

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/igdirect/bridge/internal/metrics"
)

// SetMetrics makes the server count its webhooks into reg and serve /metrics.
func (s *Server) SetMetrics(reg *metrics.Registry) { s.metrics = reg }

func (s *Server) metricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.metrics == nil {
			writeError(w, http.StatusNotFound, "metrics are not enabled")
			return
		}
		s.metrics.Handler().ServeHTTP(w, r)
	})
}

// measure counts webhook requests by answer and times their acknowledgement.
func (s *Server) measure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		source, ok := strings.CutPrefix(r.URL.Path, "/webhooks/")
		if s.metrics == nil || !ok || r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		next.ServeHTTP(rec, r)
		s.metrics.WebhookLatency.WithLabelValues(source).Observe(time.Since(start).Seconds())
		s.metrics.WebhookRequests.WithLabelValues(source, strconv.Itoa(rec.status)).Inc()
	})
}

// countEvents records the outcome of a webhook's events.
func (s *Server) countEvents(source, kind, outcome string, n int) {
	if s.metrics != nil && n > 0 {
		s.metrics.WebhookEvents.WithLabelValues(source, kind, outcome).Add(float64(n))
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}
