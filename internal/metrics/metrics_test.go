package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandlerExposesProductMetrics(t *testing.T) {
	r := New()
	r.WebhookRequests.WithLabelValues("instagram", "200").Inc()
	r.InstagramSends.WithLabelValues("17841400000000001", "ok").Add(3)
	r.InboundLatency.Observe(0.05)
	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	for _, want := range []string{
		`igdirect_webhook_requests_total{code="200",source="instagram"} 1`,
		`igdirect_instagram_sends_total{account="17841400000000001",result="ok"} 3`,
		`igdirect_inbound_latency_seconds_count 1`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics output lacks %q", want)
		}
	}
}

// TestServeHasFullTimeouts (issue 20, item 7): the worker's metrics server bounds every
// phase of a connection, not only the request headers: a client that sends a request
// slowly, never reads the answer, or keeps an idle connection open is cut off.
func TestServeHasFullTimeouts(t *testing.T) {
	srv := New().server("127.0.0.1:0", nil)
	if srv.ReadHeaderTimeout <= 0 || srv.ReadTimeout <= 0 || srv.WriteTimeout <= 0 || srv.IdleTimeout <= 0 {
		t.Fatalf("timeouts: header %v, read %v, write %v, idle %v: every one must be set",
			srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout)
	}
	if srv.MaxHeaderBytes <= 0 || srv.MaxHeaderBytes > 64<<10 {
		t.Fatalf("MaxHeaderBytes %d", srv.MaxHeaderBytes)
	}
}
