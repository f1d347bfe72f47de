package devstack

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// RoundRobin is the small load balancer in front of several ingress replicas: each request
// goes to the next replica. A replica that refuses the connection (stopped, restarting) is
// skipped for a second and the request goes to the next one — the request never reached
// it, so that is safe; any other failure is the client's 502, as from a real load balancer.
type RoundRobin struct {
	backends  []string // host:port
	next      atomic.Uint64
	mu        sync.Mutex
	downTill  map[string]time.Time
	transport http.RoundTripper
	srv       *http.Server
	ln        net.Listener
}

// maxProxiedBody bounds what the proxy buffers to retry on another replica (ingress refuses
// bodies over MAX_WEBHOOK_BODY, 4 MiB by default, anyway).
const maxProxiedBody = 16 << 20

// StartRoundRobin listens on addr ("127.0.0.1:0" for a free port) and spreads requests over
// the backends.
func StartRoundRobin(addr string, backends []string) (*RoundRobin, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	p := &RoundRobin{backends: backends, downTill: map[string]time.Time{}, ln: ln,
		transport: &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second}}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetXForwarded()
			pr.Out.Host = pr.In.Host // ingress builds no URLs from Host, but keep what the client sent
		},
		Transport: p,
	}
	p.srv = &http.Server{Handler: rp, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// Addr is the proxy's listen address.
func (p *RoundRobin) Addr() string { return p.ln.Addr().String() }

// Close stops the proxy.
func (p *RoundRobin) Close() { _ = p.srv.Close() }

func (p *RoundRobin) pick() []string {
	n := uint64(len(p.backends))
	start := p.next.Add(1)
	now := time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	var up, down []string
	for i := range n {
		b := p.backends[(start+i)%n]
		if p.downTill[b].After(now) {
			down = append(down, b)
		} else {
			up = append(up, b)
		}
	}
	return append(up, down...) // every replica down: try them anyway
}

func (p *RoundRobin) markDown(b string) {
	p.mu.Lock()
	p.downTill[b] = time.Now().Add(time.Second)
	p.mu.Unlock()
}

// RoundTrip sends the request to the next replica, skipping ones that refuse connections.
func (p *RoundRobin) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxProxiedBody+1))
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		if len(b) > maxProxiedBody {
			return nil, errors.New("proxy: request too large")
		}
		body = b
	}
	var lastErr error
	for _, b := range p.pick() {
		out := r.Clone(r.Context())
		out.URL.Scheme, out.URL.Host = "http", b
		out.Body = io.NopCloser(bytes.NewReader(body))
		out.ContentLength = int64(len(body))
		resp, err := p.transport.RoundTrip(out)
		if err == nil {
			return resp, nil
		}
		lastErr = err
		if !errors.Is(err, syscall.ECONNREFUSED) {
			break
		}
		p.markDown(b)
	}
	return nil, fmt.Errorf("no ingress replica answered: %w", lastErr)
}
