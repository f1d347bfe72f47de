package cdnfetch

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cdn is a stand-in for Meta's CDN on the loopback address, allowed as a test origin.
func cdn(t *testing.T, h http.HandlerFunc) (*httptest.Server, *Fetcher) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	f, err := New(Options{TestOrigins: []string{srv.URL}, MinRate: 1000, Grace: 300 * time.Millisecond, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return srv, f
}

func image(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "image/jpeg")
		_, _ = io.WriteString(w, body)
	}
}

func TestFetchStreamsWithinTheLimit(t *testing.T) {
	srv, f := cdn(t, image("JPEGDATA"))
	m, err := f.Fetch(context.Background(), srv.URL+"/ig_messaging_cdn/?asset_id=1", 100)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	b, err := io.ReadAll(m)
	if err != nil || string(b) != "JPEGDATA" || m.Type != "image/jpeg" || m.Length != 8 {
		t.Fatalf("%q %v %q %d", b, err, m.Type, m.Length)
	}
	if m.Err() != nil {
		t.Fatal(m.Err())
	}
}

// The URLs of the bad-input list, and their relatives, are refused before any
// connection is made (the handler would fail the test).
func TestRefusedURLs(t *testing.T) {
	srv, f := cdn(t, func(http.ResponseWriter, *http.Request) { t.Error("a refused URL reached the network") })
	_, port, _ := strings.Cut(strings.TrimPrefix(srv.URL, "http://127.0.0.1"), ":")
	for _, u := range []string{
		"http://127.0.0.1/x", "https://127.0.0.1/x", "http://127.0.0.2:" + port + "/x", "https://169.254.169.254/latest/meta-data/",
		"http://169.254.169.254/latest/meta-data/", "https://[::1]/x", "http://[::1]:" + port + "/x", "https://2130706433/x",
		"https://0x7f000001/x", "https://0177.0.0.1/x", "file:///etc/passwd", "ftp://lookaside.fbsbx.com/x", "gopher://x",
		"http://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1", "https://lookaside.fbsbx.com:8443/x",
		"https://user:pw@lookaside.fbsbx.com/x", "https://evil.example/x", "https://fbsbx.com.evil.example/x",
		"https://evilfbsbx.com/x", "https://localhost/x", "https://10.0.0.1/x", "https://[fd00::1]/x",
		"https://[::ffff:127.0.0.1]/x", "//lookaside.fbsbx.com/x", "lookaside.fbsbx.com/x", "", "%zz",
		srv.URL + "@evil.example/x", "http://localhost:" + port + "/x",
	} {
		if _, err := f.Fetch(context.Background(), u, 100); !errors.Is(err, ErrRefused) {
			t.Errorf("%q: %v", u, err)
		}
	}
}

// A redirect is checked like the first URL: a chain from the CDN into private ranges
// stops at the first hop that leaves the allowed hosts.
func TestRedirectsIntoPrivateRangesAreRefused(t *testing.T) {
	for _, target := range []string{"http://169.254.169.254/latest/meta-data/", "https://10.1.2.3/", "http://127.0.0.1:1/",
		"https://lookaside.fbsbx.com.evil.example/", "file:///etc/passwd"} {
		srv, f := cdn(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/hop" {
				http.Redirect(w, r, "/hop2", http.StatusFound)
				return
			}
			http.Redirect(w, r, target, http.StatusFound)
		})
		if _, err := f.Fetch(context.Background(), srv.URL+"/hop", 100); !errors.Is(err, ErrRefused) {
			t.Errorf("redirect to %s: %v", target, err)
		}
	}
}

// The check at dial time covers what the URL cannot show: a CDN-looking name that
// resolves inside the network (or rebinds between the check and the connection).
func TestDialCheck(t *testing.T) {
	f, err := New(Options{TestOrigins: []string{"http://127.0.0.1:9091"}})
	if err != nil {
		t.Fatal(err)
	}
	for addr, ok := range map[string]bool{
		"157.240.22.35:443": true, "[2a03:2880:f12f:83:face:b00c::25de]:443": true, "127.0.0.1:9091": true,
		"127.0.0.1:443": false, "127.0.0.1:9092": false, "10.0.0.8:443": false, "172.16.3.4:443": false, "192.168.1.1:443": false,
		"169.254.169.254:80": false, "[::1]:443": false, "[fe80::1]:443": false, "[fd12::1]:443": false, "0.0.0.0:443": false,
		"100.64.1.1:443": false, "[::ffff:10.0.0.1]:443": false, "[64:ff9b::a00:1]:443": false, "224.0.0.1:443": false,
		"255.255.255.255:443": false, "192.0.0.8:443": false, "[2002:a00:1::]:443": false, "not-an-address": false,
	} {
		if err := f.checkDial("tcp", addr, nil); (err == nil) != ok {
			t.Errorf("%s: %v", addr, err)
		}
	}
	if !PublicAddr(netip.MustParseAddr("8.8.8.8")) || PublicAddr(netip.MustParseAddr("169.254.169.254")) {
		t.Fatal("PublicAddr")
	}
}

func TestOnlyLoopbackTestOrigins(t *testing.T) {
	for _, o := range []string{"http://10.0.0.1:80", "https://127.0.0.1:443", "http://localhost:9091", "http://cdn.example:80",
		"http://127.0.0.1:9091/path", "127.0.0.1:9091", "http://169.254.169.254:80"} {
		if _, err := New(Options{TestOrigins: []string{o}}); err == nil {
			t.Errorf("test origin %q accepted", o)
		}
	}
	for _, h := range []string{"localhost", "127.0.0.1", "fb cdn.net", ""} {
		if _, err := New(Options{Hosts: []string{h}}); err == nil {
			t.Errorf("host %q accepted", h)
		}
	}
}

func TestRefusedAnswers(t *testing.T) {
	big := strings.Repeat("x", 200)
	tests := []struct {
		name string
		h    http.HandlerFunc
		want error
	}{
		{"svg", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "image/svg+xml")
			_, _ = io.WriteString(w, `<svg onload="alert(1)"/>`)
		}, ErrType},
		{"html", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = io.WriteString(w, "<html>")
		}, ErrType},
		{"no content type", func(w http.ResponseWriter, _ *http.Request) {
			w.Header()["Content-Type"] = nil
			_, _ = io.WriteString(w, "\xff\xd8\xff")
		}, ErrType},
		{"over-limit Content-Length", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "video/mp4")
			w.Header().Set("Content-Length", strconv.Itoa(len(big)))
			_, _ = io.WriteString(w, big)
		}, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, f := cdn(t, tt.h)
			if _, err := f.Fetch(context.Background(), srv.URL+"/x", 100); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	t.Run("status", func(t *testing.T) {
		srv, f := cdn(t, func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusGone) })
		var se *StatusError
		if _, err := f.Fetch(context.Background(), srv.URL+"/x", 100); !errors.As(err, &se) || se.Code != http.StatusGone {
			t.Fatalf("err = %v", err)
		}
	})
}

// A chunked body (no length declared) is cut at the limit; the reader never hands out
// more than the limit.
func TestOverLimitChunkedBody(t *testing.T) {
	srv, f := cdn(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "video/mp4")
		for i := 0; i < 50; i++ {
			_, _ = io.WriteString(w, "0123456789")
			w.(http.Flusher).Flush()
		}
	})
	m, err := f.Fetch(context.Background(), srv.URL+"/x", 100)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	b, err := io.ReadAll(m)
	if !errors.Is(err, ErrTooLarge) || len(b) > 100 || !errors.Is(m.Err(), ErrTooLarge) {
		t.Fatalf("read %d bytes, err %v", len(b), err)
	}
}

// A trickle (here 10 bytes/s against a 1000 bytes/s minimum) is cut after the grace
// period, not after the whole transfer.
func TestTrickleIsCut(t *testing.T) {
	srv, f := cdn(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/mp4")
		for i := 0; i < 100; i++ {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
			_, _ = io.WriteString(w, "x")
			w.(http.Flusher).Flush()
		}
	})
	m, err := f.Fetch(context.Background(), srv.URL+"/x", 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	start := time.Now()
	_, err = io.ReadAll(m)
	if !errors.Is(err, ErrTooSlow) || time.Since(start) > 3*time.Second {
		t.Fatalf("err %v after %s", err, time.Since(start))
	}
}

// At most MaxConcurrent transfers are open; Close frees a slot.
func TestConcurrencyCap(t *testing.T) {
	srv := httptest.NewServer(image("x"))
	defer srv.Close()
	f, err := New(Options{TestOrigins: []string{srv.URL}, MaxConcurrent: 1})
	if err != nil {
		t.Fatal(err)
	}
	first, err := f.Fetch(context.Background(), srv.URL+"/a", 10)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := f.Fetch(ctx, srv.URL+"/b", 10); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second transfer while the first is open: %v", err)
	}
	first.Close()
	first.Close() // twice is harmless and frees one slot only
	second, err := f.Fetch(context.Background(), srv.URL+"/b", 10)
	if err != nil {
		t.Fatal(err)
	}
	second.Close()
}

// TestPublicAddrRefusesEmbeddedIPv4 (issue 20, item 8): IPv6 forms that carry an IPv4
// address or tunnel to one are not public, whatever the IPv4 address inside.
func TestPublicAddrRefusesEmbeddedIPv4(t *testing.T) {
	for _, a := range []string{
		"::7f00:1",            // IPv4-compatible 127.0.0.1
		"::a9fe:a9fe",         // IPv4-compatible 169.254.169.254
		"::808:808",           // IPv4-compatible, even of a public IPv4 (deprecated form)
		"::ffff:0:7f00:1",     // IPv4-translated 127.0.0.1
		"::ffff:0:808:808",    // IPv4-translated
		"2001::1",             // Teredo
		"2001:0:4136:e378::1", // Teredo with a server address
		"2001:10::1",          // ORCHID
		"2001:20::1",          // ORCHIDv2
		"3fff::1",             // documentation (RFC 9637)
		"5f00::1",             // SRv6 SIDs
	} {
		if PublicAddr(netip.MustParseAddr(a)) {
			t.Errorf("PublicAddr(%s) = true, want false", a)
		}
	}
	for _, a := range []string{"2a03:2880:f12f:83:face:b00c::25de", "2001:4860:4860::8888", "157.240.22.35"} {
		if !PublicAddr(netip.MustParseAddr(a)) {
			t.Errorf("PublicAddr(%s) = false, want true", a)
		}
	}
}
