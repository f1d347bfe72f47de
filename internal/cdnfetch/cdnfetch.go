// Package cdnfetch fetches customers' media from Meta's CDN, and nothing else. The URL
// comes from a signed webhook, but signed does not mean harmless: a URL to 127.0.0.1, to
// the cloud's metadata service (169.254.169.254), to a private address, or one that
// redirects there, would make the worker fetch from inside the network and post the
// answer into a Rocket.Chat room. So:
//
//   - only HTTPS, on the default port, to a host under one of the allowed DNS suffixes
//     (MEDIA_FETCH_HOSTS; Meta's CDN by default), with no user info and no IP literal;
//   - every connection is checked where it is made, after DNS resolution: loopback,
//     private, link-local, multicast, CGNAT and reserved addresses are refused (so DNS
//     that points a CDN-looking name inside, or rebinding, does not help), and no proxy
//     is used, so the address checked is the address connected to;
//   - every redirect is checked like the first URL;
//   - the body streams, with a hard size limit (Content-Length first, then the bytes
//     actually read), a deadline, and a minimum transfer rate (a 1 byte/s trickle does
//     not hold a transfer for hours); active content (HTML, SVG, XML, scripts) and bodies
//     without a type are refused;
//   - a bounded number of transfers run at once per process.
//
// Tests and `make run` need media from the sandbox's emulated CDN on plain HTTP on the
// loopback address: Options.TestOrigins allows exact origins (http://127.0.0.1:port), and
// only loopback ones. The worker refuses them when PUBLIC_URL is HTTPS, which production
// always is (Meta calls only HTTPS), and logs a warning whenever they are set, so a
// production deployment cannot be downgraded silently.
package cdnfetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultHosts are the DNS suffixes of Meta's media CDN (lookaside.fbsbx.com for
// attachments, scontent-*.cdninstagram.com and *.fbcdn.net for stories and profile
// pictures, instagram-messaging.md §2.3).
var DefaultHosts = []string{"fbsbx.com", "cdninstagram.com", "fbcdn.net"}

// Errors of Fetch. ErrRefused, ErrTooLarge and ErrType are permanent (show the link
// instead); ErrTooSlow and network errors may be retried.
var (
	ErrRefused  = errors.New("cdnfetch: URL not allowed")
	ErrTooLarge = errors.New("cdnfetch: media larger than the limit")
	ErrType     = errors.New("cdnfetch: media type refused")
	ErrTooSlow  = errors.New("cdnfetch: media transfer too slow")
)

// StatusError is a non-200 answer of the CDN.
type StatusError struct{ Code int }

func (e *StatusError) Error() string {
	return fmt.Sprintf("cdnfetch: the CDN answered HTTP %d", e.Code)
}

// Options configure a Fetcher; zero values take the defaults.
type Options struct {
	// Hosts are the allowed DNS suffixes (matched on label boundaries).
	Hosts []string
	// TestOrigins are exact origins, http://<loopback IP>:<port>, also allowed, over HTTP
	// and to that loopback address only. Never in production (see the package doc).
	TestOrigins []string
	// MaxConcurrent bounds the transfers running at once (default 4).
	MaxConcurrent int
	// Timeout bounds a whole transfer, headers and body (default 2 minutes).
	Timeout time.Duration
	// MinRate is the slowest average transfer rate, bytes/s, accepted after Grace (default
	// 32 KiB/s after 10 s).
	MinRate int64
	Grace   time.Duration
	// HeaderTimeout bounds the wait for the CDN's answer headers (default 15 s).
	HeaderTimeout time.Duration
	// Transport, when set, replaces the network: requests that pass the URL checks go to
	// it instead of being dialled (so the address checks at dial time do not apply). Only
	// for in-process simulation of Meta's CDN (package sim); never set in production.
	Transport http.RoundTripper
}

// Fetcher is safe for concurrent use.
type Fetcher struct {
	hosts   []string
	origins map[string]netip.AddrPort // "http://127.0.0.1:9091" → its address
	slots   chan struct{}
	opts    Options
	client  *http.Client
}

// New checks the options and builds a Fetcher.
func New(o Options) (*Fetcher, error) {
	if len(o.Hosts) == 0 {
		o.Hosts = DefaultHosts
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = 4
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.MinRate <= 0 {
		o.MinRate = 32 << 10
	}
	if o.Grace <= 0 {
		o.Grace = 10 * time.Second
	}
	if o.HeaderTimeout <= 0 {
		o.HeaderTimeout = 15 * time.Second
	}
	f := &Fetcher{origins: map[string]netip.AddrPort{}, slots: make(chan struct{}, o.MaxConcurrent), opts: o}
	for _, h := range o.Hosts {
		h = strings.ToLower(strings.Trim(strings.TrimSpace(h), "."))
		if !validHostname(h) || !strings.Contains(h, ".") {
			return nil, fmt.Errorf("media host %q is not a DNS name like fbcdn.net", h)
		}
		f.hosts = append(f.hosts, h)
	}
	for _, o := range o.TestOrigins {
		u, err := url.Parse(strings.TrimRight(strings.TrimSpace(o), "/"))
		if err != nil || u.Scheme != "http" || u.Path != "" || u.User != nil || u.RawQuery != "" {
			return nil, fmt.Errorf("test origin %q is not http://<loopback IP>:<port>", o)
		}
		ap, err := netip.ParseAddrPort(u.Host)
		if err != nil || !ap.Addr().Unmap().IsLoopback() {
			return nil, fmt.Errorf("test origin %q is not on a loopback IP address (127.0.0.1, [::1])", o)
		}
		f.origins["http://"+ap.String()] = ap
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: f.checkDial}
	var transport http.RoundTripper = &http.Transport{
		Proxy:                 nil, // the address checked must be the address connected to
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: o.HeaderTimeout,
		MaxIdleConnsPerHost:   o.MaxConcurrent,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	if o.Transport != nil {
		transport = o.Transport
	}
	f.client = &http.Client{
		Transport: transport,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return fmt.Errorf("%w: more than 5 redirects", ErrRefused)
			}
			return f.checkURL(req.URL)
		},
	}
	return f, nil
}

// Media is an open transfer. Read it (at most the limit), then Close it: Close frees the
// transfer's slot.
type Media struct {
	// Type is the media type the CDN declared (lower case, no parameters).
	Type string
	// Length is the declared length, -1 when unknown.
	Length int64

	body     io.ReadCloser
	limit    int64
	read     int64
	started  time.Time
	minRate  int64
	grace    time.Duration
	cancel   context.CancelFunc
	release  func()
	err      error
	closeOne sync.Once
}

// Fetch opens the media at rawURL, refusing it (before any connection when the URL itself
// is not allowed) as the package doc describes. maxBytes is the size limit.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string, maxBytes int64) (*Media, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: unparseable URL", ErrRefused)
	}
	if err := f.checkURL(u); err != nil {
		return nil, err
	}
	select {
	case f.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	release := sync.OnceFunc(func() { <-f.slots })
	tctx, cancel := context.WithTimeout(ctx, f.opts.Timeout)
	fail := func(err error) (*Media, error) {
		cancel()
		release()
		return nil, err
	}
	req, err := http.NewRequestWithContext(tctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fail(fmt.Errorf("%w: %v", ErrRefused, err))
	}
	req.Header.Set("Accept", "image/*, video/*, audio/*, application/pdf, */*;q=0.1")
	resp, err := f.client.Do(req)
	if err != nil {
		if errors.Is(err, ErrRefused) {
			return fail(err)
		}
		return fail(fmt.Errorf("cdnfetch: %w", redactURL(err)))
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return fail(&StatusError{Code: resp.StatusCode})
	}
	mt, _, perr := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	mt = strings.ToLower(mt)
	switch {
	case perr != nil || mt == "":
		resp.Body.Close()
		return fail(fmt.Errorf("%w: no media type", ErrType))
	case activeContent(mt):
		resp.Body.Close()
		return fail(fmt.Errorf("%w: %s is active content", ErrType, mt))
	case resp.ContentLength > maxBytes:
		resp.Body.Close()
		return fail(fmt.Errorf("%w: %d bytes declared", ErrTooLarge, resp.ContentLength))
	}
	return &Media{Type: mt, Length: resp.ContentLength, body: resp.Body, limit: maxBytes, started: time.Now(),
		minRate: f.opts.MinRate, grace: f.opts.Grace, cancel: cancel, release: release}, nil
}

// Read streams the body. It fails with ErrTooLarge past the limit (however the body is
// framed: chunked bodies declare no length) and with ErrTooSlow below the minimum rate.
func (m *Media) Read(p []byte) (int, error) {
	if m.err != nil {
		return 0, m.err
	}
	if room := m.limit + 1 - m.read; int64(len(p)) > room {
		p = p[:room]
	}
	n, err := m.body.Read(p)
	m.read += int64(n)
	switch {
	case m.read > m.limit:
		m.err = fmt.Errorf("%w: more than %d bytes", ErrTooLarge, m.limit)
		return n - int(m.read-m.limit), m.err
	case errors.Is(err, context.DeadlineExceeded):
		m.err = fmt.Errorf("%w: not done within the time limit", ErrTooSlow)
		return n, m.err
	case err != nil && err != io.EOF:
		m.err = fmt.Errorf("cdnfetch: reading the media: %w", redactURL(err))
		return n, m.err
	}
	if elapsed := time.Since(m.started); err == nil && elapsed > m.grace && float64(m.read) < float64(m.minRate)*elapsed.Seconds() {
		m.err = fmt.Errorf("%w: %d bytes in %s", ErrTooSlow, m.read, elapsed.Round(time.Second))
		return n, m.err
	}
	return n, err
}

// Err is the error that ended the transfer early, if any: after a consumer (an upload)
// fails, it tells whether the CDN side was the cause.
func (m *Media) Err() error { return m.err }

// Close ends the transfer and frees its slot.
func (m *Media) Close() error {
	var err error
	m.closeOne.Do(func() {
		err = m.body.Close()
		m.cancel()
		m.release()
	})
	return err
}

// checkURL refuses what the package doc lists, before any connection.
func (f *Fetcher) checkURL(u *url.URL) error {
	if u.User != nil {
		return fmt.Errorf("%w: user info in the URL", ErrRefused)
	}
	if _, ok := f.origins[strings.ToLower(u.Scheme)+"://"+u.Host]; ok && u.Scheme == "http" {
		return nil
	}
	if u.Scheme != "https" {
		return fmt.Errorf("%w: scheme %q (only https)", ErrRefused, u.Scheme)
	}
	if p := u.Port(); p != "" && p != "443" {
		return fmt.Errorf("%w: port %s", ErrRefused, p)
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if _, err := netip.ParseAddr(host); err == nil || !validHostname(host) {
		return fmt.Errorf("%w: host %q is not a DNS name", ErrRefused, host)
	}
	for _, h := range f.hosts {
		if host == h || strings.HasSuffix(host, "."+h) {
			return nil
		}
	}
	return fmt.Errorf("%w: host %q is not Meta's CDN (MEDIA_FETCH_HOSTS)", ErrRefused, host)
}

// checkDial runs for every connection, with the address actually dialled.
func (f *Fetcher) checkDial(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: dial address %q", ErrRefused, address)
	}
	for _, allowed := range f.origins {
		if ap.Addr().Unmap() == allowed.Addr().Unmap() && ap.Port() == allowed.Port() {
			return nil
		}
	}
	if !PublicAddr(ap.Addr()) {
		return fmt.Errorf("%w: %s is not a public address", ErrRefused, ap.Addr())
	}
	return nil
}

// nonPublic are the ranges netip's predicates do not cover: shared (CGNAT), IETF
// protocol assignments, documentation, benchmarking, reserved, broadcast; every IPv6 form
// that embeds or tunnels to an IPv4 address (IPv4-compatible ::/96, IPv4-translated
// ::ffff:0:0:0/96, NAT64, 6to4, Teredo), whose IPv4 part may be loopback or private and
// which a host may route there; ORCHID identifiers, SRv6 SIDs, discard-only, deprecated
// site-local.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("::/96"),
	netip.MustParsePrefix("::ffff:0:0:0/96"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("100::/64"),
	netip.MustParsePrefix("2001::/32"),
	netip.MustParsePrefix("2001:10::/28"),
	netip.MustParsePrefix("2001:20::/28"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("3fff::/20"),
	netip.MustParsePrefix("5f00::/16"),
	netip.MustParsePrefix("2002::/16"),
	netip.MustParsePrefix("fec0::/10"),
}

// PublicAddr reports whether ip is a public unicast address.
func PublicAddr(ip netip.Addr) bool {
	ip = ip.Unmap()
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// activeContent are types a browser would run or render as a document: never copied into
// a room, whatever accepted_media_types says (image/* would include image/svg+xml).
func activeContent(mt string) bool {
	switch mt {
	case "text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml",
		"text/javascript", "application/javascript", "application/x-javascript", "application/ecmascript",
		"text/css", "application/x-shockwave-flash":
		return true
	}
	return strings.HasSuffix(mt, "+xml")
}

// validHostname: letters, digits, '-' and '.', labels not empty, and a top-level label
// that is not a number (so no form of an IPv4 address: 2130706433, 0x7f000001, 127.1).
func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	labels := strings.Split(h, ".")
	if tld := labels[len(labels)-1]; strings.Trim(tld, "0123456789") == "" || strings.HasPrefix(tld, "0x") {
		return false
	}
	for _, label := range labels {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// redactURL drops the URL from a transport error: CDN URLs carry signatures.
func redactURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}
