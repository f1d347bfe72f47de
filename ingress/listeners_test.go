package ingress

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/igdirect/bridge/config"
	"github.com/igdirect/bridge/internal/codec"
	"github.com/igdirect/bridge/internal/keys"
	"github.com/igdirect/bridge/internal/metrics"
)

const codecToken = "codec-token-0123456789abcdef0123456789"

// The public listener serves only what Meta, Rocket.Chat and browsers need; the admin
// API, metrics, readiness and the codec endpoint answer only on the admin listener.
func TestInternalEndpointsAreNotPublic(t *testing.T) {
	s := New(&config.Config{AdminAPIToken: "admin-token-0123456789abcdef0123456789", CodecAuthToken: codecToken},
		&recordingTemporal{}, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.SetMetrics(metrics.New())
	for _, path := range []string{"/admin/api/pages", "/admin/api/settings", "/metrics", "/readyz", "/codec/decode", "/codec/" + codecToken + "/decode"} {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(method, path, strings.NewReader("{}"))
			req.Header.Set("Authorization", "Bearer admin-token-0123456789abcdef0123456789")
			s.Handler().ServeHTTP(rec, req)
			require.Equal(t, http.StatusNotFound, rec.Code, "%s %s on the public listener: %s", method, path, rec.Body)
		}
	}
	// The admin listener has them (401 without the token, metrics served).
	rec := httptest.NewRecorder()
	s.AdminHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1:9081/admin/api/pages", nil))
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	rec = httptest.NewRecorder()
	s.AdminHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1:9081/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	// And nothing of the public side.
	rec = httptest.NewRecorder()
	s.AdminHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "http://127.0.0.1:9081/webhooks/instagram", nil))
	require.Equal(t, http.StatusNotFound, rec.Code)
	// Every public path is in the documented allow-list.
	for _, p := range []string{"/webhooks/instagram", "/webhooks/rocketchat", "/rocketchat/command", "/oauth/start", "/oauth/callback", "/media/", "/healthz", "/console/"} {
		require.Contains(t, PublicPaths, p)
	}
}

func codecServer(t *testing.T, token config.Secret) (*Server, *codec.Codec) {
	t.Helper()
	r, err := keys.NewRing([]byte(strings.Repeat("k", 32)))
	require.NoError(t, err)
	c, err := codec.New(r)
	require.NoError(t, err)
	s := New(&config.Config{CodecAuthToken: token, CodecCORSOrigins: "http://localhost:8233"}, nil, nil, nil,
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.SetPayloadCodec(c)
	return s, c
}

// encryptedBody is what the Temporal UI posts to /decode: payloads as protojson.
func encryptedBody(t *testing.T, c *codec.Codec, v string) string {
	t.Helper()
	ps, err := codec.DataConverter(c).ToPayloads(v)
	require.NoError(t, err)
	b, err := protojson.Marshal(ps)
	require.NoError(t, err)
	return string(b)
}

func TestCodecEndpoint(t *testing.T) {
	s, c := codecServer(t, codecToken)
	body := encryptedBody(t, c, "Olá from a customer")
	do := func(method, path, origin, auth, ctype, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "http://127.0.0.1:9081"+path, strings.NewReader(body))
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		rec := httptest.NewRecorder()
		s.AdminHandler().ServeHTTP(rec, req)
		return rec
	}
	decoded := func(t *testing.T, rec *httptest.ResponseRecorder) string {
		t.Helper()
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var ps commonpb.Payloads
		require.NoError(t, protojson.Unmarshal(rec.Body.Bytes(), &ps))
		var out string
		require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(&ps, &out))
		return out
	}

	t.Run("bearer token (CLI)", func(t *testing.T) {
		require.Equal(t, "Olá from a customer", decoded(t, do("POST", "/codec/decode", "", "Bearer "+codecToken, "application/json", body)))
	})
	t.Run("token in the path (UI) from the UI's origin", func(t *testing.T) {
		rec := do("POST", "/codec/"+codecToken+"/decode", "http://localhost:8233", "", "application/json", body)
		require.Equal(t, "Olá from a customer", decoded(t, rec))
		require.Equal(t, "http://localhost:8233", rec.Header().Get("Access-Control-Allow-Origin"))
	})
	t.Run("preflight needs no token", func(t *testing.T) {
		rec := do("OPTIONS", "/codec/"+codecToken+"/decode", "http://localhost:8233", "", "", "")
		require.Equal(t, http.StatusNoContent, rec.Code)
		require.Contains(t, rec.Header().Get("Access-Control-Allow-Headers"), "X-Namespace")
		require.Contains(t, rec.Header().Get("Access-Control-Allow-Methods"), "POST")
	})
	t.Run("encode round trip", func(t *testing.T) {
		plain, _ := converter.GetDefaultDataConverter().ToPayloads("typed in the UI")
		b, _ := protojson.Marshal(plain)
		rec := do("POST", "/codec/encode", "", "Bearer "+codecToken, "application/json", string(b))
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.NotContains(t, rec.Body.String(), "typed in the UI")
		var ps commonpb.Payloads
		require.NoError(t, protojson.Unmarshal(rec.Body.Bytes(), &ps))
		var out string
		require.NoError(t, codec.DataConverter(c).FromPayloads(&ps, &out))
		require.Equal(t, "typed in the UI", out)
	})

	refusals := []struct {
		name                              string
		method, path, origin, auth, ctype string
		body                              string
		want                              int
	}{
		{"no token", "POST", "/codec/decode", "", "", "application/json", body, http.StatusUnauthorized},
		{"wrong bearer", "POST", "/codec/decode", "", "Bearer " + codecToken + "x", "application/json", body, http.StatusUnauthorized},
		{"wrong path token", "POST", "/codec/nope/decode", "", "", "application/json", body, http.StatusUnauthorized},
		{"admin token is not the codec token", "POST", "/codec/decode", "", "Bearer admin", "application/json", body, http.StatusUnauthorized},
		{"origin not allowed", "POST", "/codec/" + codecToken + "/decode", "http://evil.example", "", "application/json", body, http.StatusForbidden},
		{"preflight from another origin", "OPTIONS", "/codec/decode", "http://evil.example", "", "", "", http.StatusForbidden},
		{"GET", "GET", "/codec/decode", "", "Bearer " + codecToken, "", "", http.StatusMethodNotAllowed},
		{"unknown operation", "POST", "/codec/" + codecToken + "/dump", "", "", "application/json", body, http.StatusNotFound},
		{"not JSON", "POST", "/codec/decode", "", "Bearer " + codecToken, "text/plain", body, http.StatusUnsupportedMediaType},
		{"malformed payloads", "POST", "/codec/decode", "", "Bearer " + codecToken, "application/json", `{"payloads":[{"data":"%%%"}]}`, http.StatusBadRequest},
		{"over 8 MiB", "POST", "/codec/decode", "", "Bearer " + codecToken, "application/json", `{"payloads":[{"data":"` + strings.Repeat("A", 9<<20) + `"}]}`, http.StatusBadRequest},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(tt.method, tt.path, tt.origin, tt.auth, tt.ctype, tt.body)
			require.Equal(t, tt.want, rec.Code, rec.Body.String())
			require.NotContains(t, rec.Body.String(), "Olá")
			if tt.origin == "http://evil.example" {
				require.Empty(t, rec.Header().Get("Access-Control-Allow-Origin"))
			}
		})
	}
	t.Run("off without CODEC_AUTH_TOKEN", func(t *testing.T) {
		off, _ := codecServer(t, "")
		for _, path := range []string{"/codec/decode", "/codec/x/decode"} {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("POST", "http://127.0.0.1:9081"+path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer ")
			off.AdminHandler().ServeHTTP(rec, req)
			require.Equal(t, http.StatusNotFound, rec.Code)
			var e map[string]string
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &e))
			require.Contains(t, e["error"], "CODEC_AUTH_TOKEN")
		}
	})
}

// TestInternalListenerChecksHost (issue 20, item 9): a page an operator's browser opens can
// make its own host name resolve to 127.0.0.1 (DNS rebinding) and read the internal
// listener's answers as same-origin. The internal listener answers only requests addressed
// to an IP address, localhost, or a name in ADMIN_HOSTS; the rest get 421 and nothing.
func TestInternalListenerChecksHost(t *testing.T) {
	s := New(&config.Config{AdminAPIToken: "admin-token-0123456789abcdef0123456789", AdminHosts: "ingress, Metrics.Internal."},
		&recordingTemporal{}, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.SetMetrics(metrics.New())
	h := s.AdminHandler()
	for host, want := range map[string]int{
		"127.0.0.1:9081": http.StatusOK, "[::1]:9081": http.StatusOK, "localhost:9081": http.StatusOK, "LOCALHOST": http.StatusOK,
		"10.1.2.3:9081": http.StatusOK, "ingress:9081": http.StatusOK, "metrics.internal": http.StatusOK,
		"attacker.example:9081": http.StatusMisdirectedRequest, "attacker.example": http.StatusMisdirectedRequest,
		"127.0.0.1.attacker.example:9081": http.StatusMisdirectedRequest, "localhost.attacker.example": http.StatusMisdirectedRequest,
		"ingress.attacker.example:9081": http.StatusMisdirectedRequest, "": http.StatusMisdirectedRequest,
	} {
		for _, path := range []string{"/metrics", "/healthz", "/admin/api/pages"} {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Host = host
			if path == "/admin/api/pages" {
				req.Header.Set("Authorization", "Bearer wrong")
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			got := rec.Code
			if want == http.StatusOK && path == "/admin/api/pages" {
				require.Equal(t, http.StatusUnauthorized, got, "Host %q %s: %s", host, path, rec.Body)
				continue
			}
			require.Equal(t, want, got, "Host %q %s: %s", host, path, rec.Body)
			if want != http.StatusOK {
				require.NotContains(t, rec.Body.String(), "igdirect_", "Host %q", host)
			}
		}
	}
}
