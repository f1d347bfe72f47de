package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestProbeAddr(t *testing.T) {
	for _, tc := range []struct{ listen, want string }{
		{"", "127.0.0.1:8080"},
		{":8080", "127.0.0.1:8080"},
		{":9000", "127.0.0.1:9000"},
		{"0.0.0.0:8081", "127.0.0.1:8081"},
		{"[::]:8080", "[::1]:8080"},
		{"10.0.0.5:8080", "10.0.0.5:8080"},
		{"garbage", "127.0.0.1:8080"},
	} {
		if got := probeAddr(tc.listen); got != tc.want {
			t.Errorf("probeAddr(%q) = %q, want %q", tc.listen, got, tc.want)
		}
	}
}

func TestRun(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	var stderr bytes.Buffer
	if rc := run(nil, addr, &stderr); rc != 0 {
		t.Fatalf("healthy server: rc %d, stderr %q", rc, stderr.String())
	}
	status = http.StatusServiceUnavailable
	if rc := run(nil, addr, &stderr); rc != 1 || !strings.Contains(stderr.String(), "503") {
		t.Fatalf("unhealthy server: rc %d, stderr %q", rc, stderr.String())
	}
	srv.Close()
	if rc := run([]string{srv.URL + "/healthz"}, "", &stderr); rc != 1 {
		t.Fatalf("closed server: rc %d", rc)
	}
}
