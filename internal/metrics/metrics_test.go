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
