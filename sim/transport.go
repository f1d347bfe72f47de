package sim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"time"
)

// The network between the bridge and the world: every HTTP call of the real clients goes
// in-process to the emulators (package sandbox, in their deterministic mode), through the
// faults of the schedule. A call costs simulated time on the calling attempt's clock.

// Hosts of the simulated world.
const (
	hostRC     = "chat.sim.example"
	hostGraph  = "graph.sim.example"
	hostCDN    = "lookaside.fbsbx.com" // Meta's attachment CDN (an allowed cdnfetch host)
	hostBridge = "bridge.sim.example"  // ingress's /media, where Meta fetches agents' files
)

// Services, for faults.
const (
	svcRC   = "rocketchat"
	svcMeta = "meta"
	svcCDN  = "cdn"
	svcDB   = "database"
	// svcBridge is Meta fetching an agent's file from ingress: no faults are injected there.
	// Ingress down would fail Meta's fetch, and Meta answers that with 100/2018047, which the
	// spec lists as final; modelling it would only show the agent a refusal the product is
	// right to give. The simulator's faults are the ones the product must ride through.
	svcBridge = "bridge"
)

// faultKind is what goes wrong with one call.
type faultKind int

const (
	faultNone          faultKind = iota
	faultRefused                 // the connection is refused: nothing happened
	faultTimeoutBefore           // no answer, and the request never arrived
	faultStatusBefore            // a 5xx from a proxy in front: nothing happened
	faultTimeoutAfter            // the request was handled, the answer is lost
	faultStatusAfter             // the request was handled, then a 5xx (Meta: "accepted, then 500")
	faultCrashBefore             // the worker dies before the call
	faultCrashAfter              // the worker dies after the call took effect, before it saw the answer
)

// callFault is the fate of one call.
type callFault struct {
	kind    faultKind
	latency time.Duration
}

// clientTimeout is the bridge's HTTP client timeout (worker/main.go: 20 s).
const clientTimeout = 20 * time.Second

// transport is the bridge's HTTP transport in the simulation.
type transport struct {
	sim    *Sim
	routes map[string]http.Handler
	// service names the service of a host.
	service map[string]string
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout (simulated)" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func refusedError(host string) error {
	return &net.OpError{Op: "dial", Net: "tcp", Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 443},
		Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	s := t.sim
	h, ok := t.routes[req.URL.Host]
	if !ok {
		return nil, fmt.Errorf("sim: no route to %s", req.URL.Host)
	}
	svc := t.service[req.URL.Host]
	a := attemptOf(req.Context())
	if a != nil && a.dead {
		return nil, errWorkerDied
	}
	f := s.faults.call(svc, a)
	if k, ok := s.faults.forcedFor(req.Method, req.URL.Path); ok {
		f.kind = k
	}
	if a != nil {
		a.calls++
		if f.latency >= clientTimeout {
			// The client gives up first; whether the request arrived is a coin toss.
			f.latency = clientTimeout
			if f.kind == faultNone {
				f.kind = faultTimeoutBefore
				if s.faults.rng(svc).chance(0.5) {
					f.kind = faultTimeoutAfter
				}
			}
		}
		if !a.spend(f.latency) {
			return nil, context.DeadlineExceeded
		}
	}
	switch f.kind {
	case faultRefused:
		return nil, refusedError(req.URL.Host)
	case faultTimeoutBefore:
		return nil, timeoutError{}
	case faultStatusBefore:
		return unavailable(req, svc), nil
	case faultCrashBefore:
		if a != nil {
			a.dead = true
			return nil, errWorkerDied
		}
	}
	rec := httptest.NewRecorder()
	if req.Body != nil {
		// The emulators read the whole body; a streamed body (an upload) is read here.
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	h.ServeHTTP(rec, req)
	s.stats.calls++
	switch f.kind {
	case faultTimeoutAfter:
		return nil, timeoutError{}
	case faultStatusAfter:
		return unavailable(req, svc), nil
	case faultCrashAfter:
		if a != nil {
			a.dead = true
			return nil, errWorkerDied
		}
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// unavailable is a transient server error as each service answers it: Meta's error
// envelope with a transient code (spec instagram §10: code 2, "temporarily unavailable");
// Rocket.Chat's proxy answering 503 with no JSON.
func unavailable(req *http.Request, svc string) *http.Response {
	var status int
	var body, ctype string
	switch svc {
	case svcMeta:
		status, ctype = http.StatusInternalServerError, "application/json"
		body = `{"error":{"message":"An unexpected error has occurred. Please retry your request later.","type":"OAuthException","is_transient":true,"code":2,"fbtrace_id":"ASimFault"}}`
	case svcCDN:
		status, ctype, body = http.StatusServiceUnavailable, "text/html", "<html><body>503 Service Unavailable</body></html>"
	default:
		status, ctype, body = http.StatusServiceUnavailable, "text/html", "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>"
	}
	return &http.Response{StatusCode: status, Status: fmt.Sprintf("%d %s", status, http.StatusText(status)),
		Header: http.Header{"Content-Type": {ctype}}, Body: io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)), Request: req, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
}

// isTimeout tells the simulated timeouts apart (for tests of the transport).
func isTimeout(err error) bool {
	var te timeoutError
	return errors.As(err, &te)
}
