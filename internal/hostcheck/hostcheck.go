// Package hostcheck guards listeners meant for operators and monitoring (ingress's
// internal listener, the worker's metrics) against DNS rebinding: a page an operator's
// browser opens can make its own host name resolve to 127.0.0.1 and then read what a
// loopback listener answers as if it were the page's own origin. Such a request still
// names the attacker's host in its Host header, so a listener that answers only requests
// addressed to an IP address, to localhost, or to a name the operator configured gives it
// nothing.
package hostcheck

import (
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Allowed reports whether host (a Host header: name or address, with or without a port)
// is an IP address, localhost (or a name under .localhost, which resolves to loopback
// only), or one of names (compared without case and trailing dot).
func Allowed(host string, names []string) bool {
	h := host
	if hp, _, err := net.SplitHostPort(host); err == nil {
		h = hp
	}
	h = strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]")), ".")
	if h == "" {
		return false
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	for _, n := range names {
		if h == strings.TrimSuffix(strings.ToLower(strings.TrimSpace(n)), ".") {
			return true
		}
	}
	return false
}

// Handler answers 421 Misdirected Request, and nothing else, to a request whose Host is
// not Allowed; hint names the setting that adds names (ADMIN_HOSTS).
func Handler(names []string, hint string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !Allowed(r.Host, names) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusMisdirectedRequest)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "this internal listener answers only requests addressed to an IP address, localhost or a name in " + hint})
			return
		}
		next.ServeHTTP(w, r)
	})
}
