package console

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// failureLimiter bounds wrong ADMIN_API_TOKEN guesses on the public listener, per client:
// after perClient failures within window, that client's sign-ins by token wait until its
// oldest failure leaves the window; other clients are not affected. A generous global cap
// still bounds a guesser with many addresses (then everyone waits, for at most a window).
// The token is long and compared as a digest; this only keeps guessing noisy and slow.
//
// The client is the peer's address, or — only when the peer is a trusted proxy
// (TRUSTED_PROXIES) — the rightmost address of X-Forwarded-For that is not itself a
// trusted proxy (what the nearest untrusted hop said). IPv6 clients are counted per /64,
// which one host can fill at will.
type failureLimiter struct {
	mu        sync.Mutex
	perClient int
	global    int
	window    time.Duration
	trusted   []netip.Prefix
	clients   map[string][]time.Time
	all       []time.Time
}

const (
	perClientFailures = 10
	globalFailures    = 300
	// maxTrackedClients bounds the memory of the per-client counts (the global cap bounds
	// how many new ones a window can bring anyway).
	maxTrackedClients = 4 * globalFailures
)

func newFailureLimiter(perClient, global int, window time.Duration, trusted []netip.Prefix) *failureLimiter {
	return &failureLimiter{perClient: perClient, global: global, window: window, trusted: trusted, clients: map[string][]time.Time{}}
}

// client names the client of a request for the limiter.
func (l *failureLimiter) client(r *http.Request) string {
	peer := addrOf(r.RemoteAddr)
	addr := peer
	if peer.IsValid() && l.isTrusted(peer) {
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break // a malformed hop: the proxy's peer is all we know
			}
			addr = a.Unmap()
			if !l.isTrusted(addr) {
				break
			}
		}
	}
	if !addr.IsValid() {
		return r.RemoteAddr
	}
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

func addrOf(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

func (l *failureLimiter) isTrusted(a netip.Addr) bool {
	for _, p := range l.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (l *failureLimiter) prune(now time.Time) {
	keep := func(ts []time.Time) []time.Time {
		i := 0
		for i < len(ts) && now.Sub(ts[i]) > l.window {
			i++
		}
		return ts[i:]
	}
	l.all = keep(l.all)
	for k, ts := range l.clients {
		if ts = keep(ts); len(ts) == 0 {
			delete(l.clients, k)
		} else {
			l.clients[k] = ts
		}
	}
}

func (l *failureLimiter) allow(client string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.prune(time.Now())
	return len(l.clients[client]) < l.perClient && len(l.all) < l.global
}

func (l *failureLimiter) fail(client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	l.all = append(l.all, now)
	if _, known := l.clients[client]; !known && len(l.clients) >= maxTrackedClients {
		return // counted globally only
	}
	l.clients[client] = append(l.clients[client], now)
}
