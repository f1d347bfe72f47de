package ingress

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/igdirect/bridge/config"
)

// The checks of /rocketchat/command that come before any database or Temporal call.
func TestCommandEndpointRefusesAndIgnores(t *testing.T) {
	const token = "s3cret-command-token"
	withToken := &config.Config{RocketChatCommandToken: token}
	tests := []struct {
		name        string
		cfg         *config.Config
		contentType string
		body        string
		wantStatus  int
		wantBody    string
	}{
		{"not JSON", withToken, "text/plain", `{}`, http.StatusUnsupportedMediaType, "application/json"},
		{"malformed", withToken, "application/json", `{"token":`, http.StatusBadRequest, "malformed"},
		{"commands disabled", &config.Config{}, "application/json", `{"token":"x","text":"instagram help"}`, http.StatusForbidden, "ROCKETCHAT_COMMAND_TOKEN is not set"},
		{"missing token", withToken, "application/json", `{"text":"instagram help"}`, http.StatusUnauthorized, "missing token"},
		{"wrong token", withToken, "application/json", `{"token":"s3cret-command-tokem","text":"instagram help"}`, http.StatusForbidden, "does not match"},
		{"bot message", withToken, "application/json", `{"token":"` + token + `","bot":true,"text":"instagram help"}`, http.StatusOK, "{}"},
		{"integration message", withToken, "application/json", `{"token":"` + token + `","bot":{"i":"abc"},"text":"instagram help"}`, http.StatusOK, "{}"},
		{"edited message", withToken, "application/json", `{"token":"` + token + `","isEdited":true,"text":"instagram help"}`, http.StatusOK, "{}"},
		{"not a command", withToken, "application/json", `{"token":"` + token + `","bot":false,"text":"lunch?"}`, http.StatusOK, "{}"},
		{"help", withToken, "application/json; charset=utf-8", `{"token":"` + token + `","bot":false,"text":"/instagram help"}`, http.StatusOK, `"text":"*Instagram Direct commands*`},
		{"trigger word", withToken, "application/json", `{"token":"` + token + `","trigger_word":"!ig","text":"!ig"}`, http.StatusOK, "Instagram Direct commands"},
		{"unknown command", withToken, "application/json", `{"token":"` + token + `","text":"instagram dance"}`, http.StatusOK, "Unknown command `dance`"},
		{"no database", withToken, "application/json", `{"token":"` + token + `","text":"instagram list"}`, http.StatusOK, "no database connection"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(tt.cfg, nil, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
			req := httptest.NewRequest(http.MethodPost, "/rocketchat/command", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.contentType)
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			require.Equal(t, tt.wantStatus, rec.Code, rec.Body.String())
			require.Contains(t, rec.Body.String(), tt.wantBody)
			require.Equal(t, "application/json", rec.Header().Get("Content-Type"))
		})
	}
}

func TestOAuthEndpointsWithoutDatabase(t *testing.T) {
	s := New(&config.Config{}, nil, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, path := range []string{"/oauth/start?state=x", "/oauth/callback?state=x&code=y"} {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		require.Equal(t, http.StatusServiceUnavailable, rec.Code)
		require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
		require.Equal(t, "no-referrer", rec.Header().Get("Referrer-Policy"))
		require.Contains(t, rec.Body.String(), "<h1>Not available</h1>")
	}
}
