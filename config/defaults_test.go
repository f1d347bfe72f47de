package config

import (
	"net"
	"os"
	"strings"
	"testing"
)

// TestListenersDefaultToLoopback (issue 20, item 7): what only operators and monitoring
// should reach listens on the loopback address unless configured otherwise. The worker's
// metrics name every Instagram account id.
func TestListenersDefaultToLoopback(t *testing.T) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k == "METRICS_ADDR" || k == "ADMIN_ADDR" {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	for name, addr := range map[string]string{"METRICS_ADDR": c.MetricsAddr, "ADMIN_ADDR": c.AdminAddr} {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatalf("%s default %q: %v", name, addr, err)
		}
		if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
			t.Errorf("%s defaults to %q, which is not a loopback address", name, addr)
		}
	}
}
