// Command healthcheck is the HEALTHCHECK of the ingress image: it GETs ingress's /healthz
// from inside the container and exits 0 on 200, 1 otherwise. The distroless runtime image
// has no shell, curl or wget, so the probe is a tiny static binary of its own.
//
// With no argument it probes the port of INGRESS_ADDR (the same variable ingress listens
// on; default :8080) on the loopback address; an argument overrides the whole URL.
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv("INGRESS_ADDR"), os.Stderr))
}

func run(args []string, ingressAddr string, stderr io.Writer) int {
	url := "http://" + probeAddr(ingressAddr) + "/healthz"
	if len(args) > 0 {
		url = args[0]
	}
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "healthcheck: GET %s: %s\n", url, resp.Status)
		return 1
	}
	return 0
}

// probeAddr turns a listen address (":8080", "0.0.0.0:9000", "[::]:8080",
// "10.0.0.5:8080") into an address to dial from inside the same container.
func probeAddr(listen string) string {
	if listen == "" {
		listen = ":8080"
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil || port == "" {
		return "127.0.0.1:8080"
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}
