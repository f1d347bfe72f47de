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
	withToken := &config.Config{RocketChatCommandToken: token, RocketChatSetupChannel: "omnichannel-instagram-setup"}
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
		{"bot message", withToken, "application/json", `{"token":"` + token + `",` + inSetup + `"bot":true,"text":"instagram help"}`, http.StatusOK, "{}"},
		{"integration message", withToken, "application/json", `{"token":"` + token + `",` + inSetup + `"bot":{"i":"abc"},"text":"instagram help"}`, http.StatusOK, "{}"},
		{"edited message", withToken, "application/json", `{"token":"` + token + `",` + inSetup + `"isEdited":true,"text":"instagram help"}`, http.StatusOK, "{}"},
		{"not a command", withToken, "application/json", `{"token":"` + token + `",` + inSetup + `"bot":false,"text":"lunch?"}`, http.StatusOK, "{}"},
		{"help", withToken, "application/json; charset=utf-8", `{"token":"` + token + `",` + inSetup + `"bot":false,"text":"/instagram help"}`, http.StatusOK, `"text":"*Instagram Direct commands*`},
		{"trigger word", withToken, "application/json", `{"token":"` + token + `",` + inSetup + `"trigger_word":"!ig","text":"!ig"}`, http.StatusOK, "Instagram Direct commands"},
		{"unknown command", withToken, "application/json", `{"token":"` + token + `",` + inSetup + `"text":"instagram dance"}`, http.StatusOK, "Unknown command `dance`"},
		{"no database", withToken, "application/json", `{"token":"` + token + `",` + inSetup + `"text":"instagram list"}`, http.StatusOK, "no database connection"},
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

// inSetup is what Rocket.Chat sends for a message in the setup channel.
const inSetup = `"channel_id":"GsetupRoom01","channel_name":"omnichannel-instagram-setup","user_id":"uAdmin01","user_name":"maria.admin",`

// Only the setup channel runs commands (by name or by id); an Omnichannel room (no channel
// name) or another channel gets a refusal Rocket.Chat does not post; with
// ROCKETCHAT_COMMAND_USERS only those users may change anything (and only with a manager
// role: uAdmin01 is an admin, rights_test.go has the rest). None of these reaches the
// database (there is none here: a command that gets past the checks answers "no database").
func TestCommandAuthorisation(t *testing.T) {
	const token = "s3cret-command-token"
	byName := &config.Config{RocketChatCommandToken: token, RocketChatSetupChannel: "omnichannel-instagram-setup"}
	byID := &config.Config{RocketChatCommandToken: token, RocketChatSetupChannel: "GsetupRoom01"}
	allowList := &config.Config{RocketChatCommandToken: token, RocketChatSetupChannel: "#omnichannel-instagram-setup", RocketChatCommandUsers: "uOther, uAdmin01"}
	onlyOther := &config.Config{RocketChatCommandToken: token, RocketChatSetupChannel: "omnichannel-instagram-setup", RocketChatCommandUsers: "uOther"}
	body := func(fields, text string) string {
		return `{"token":"` + token + `",` + fields + `"text":"` + text + `"}`
	}
	tests := []struct {
		name       string
		cfg        *config.Config
		body       string
		wantStatus int
		wantBody   string
	}{
		{"setup channel by name", byName, body(inSetup, "instagram unauthorize"), http.StatusOK, "no database connection"},
		{"setup channel by id", byID, body(inSetup, "instagram unauthorize"), http.StatusOK, "no database connection"},
		{"another channel", byName, body(`"channel_id":"GENERAL","channel_name":"general","user_id":"uAdmin01","user_name":"maria.admin",`, "instagram unauthorize"), http.StatusForbidden, "only in the setup channel"},
		{"a channel named like the setup channel's id", byID, body(`"channel_id":"GENERAL","channel_name":"GsetupRoom01",`, "instagram list"), http.StatusOK, "no database"},
		{"a change without a user id", byID, body(`"channel_id":"GENERAL","channel_name":"GsetupRoom01",`, "instagram unauthorize"), http.StatusOK, "did not say who you are"},
		{"an Omnichannel room (customer typing)", byName, body(`"channel_id":"hG7xQp2Ws9KeLm3Zr","user_id":"kZ3ttd2hrbxzR7YcT","user_name":"guest-42",`, "instagram unauthorize"), http.StatusForbidden, "only in the setup channel"},
		{"no channel at all", byName, body(`"user_id":"uAdmin01",`, "instagram unauthorize"), http.StatusForbidden, "only in the setup channel"},
		{"user on the allow-list", allowList, body(inSetup, "instagram edit casaazul.store welcome=hi"), http.StatusOK, "no database"},
		{"user not on the allow-list", onlyOther, body(inSetup, "instagram unauthorize"), http.StatusOK, "Only the users listed in ROCKETCHAT_COMMAND_USERS"},
		{"settings change by a user not allowed", onlyOther, body(inSetup, "instagram settings unsend_action=delete"), http.StatusOK, "may not run"},
		{"read-only command by a user not allowed", onlyOther, body(inSetup, "instagram settings"), http.StatusOK, "no database"},
		{"help by anyone", onlyOther, body(inSetup, "instagram help"), http.StatusOK, "Instagram Direct commands"},
		{"no user id with an allow-list", onlyOther, body(`"channel_name":"omnichannel-instagram-setup",`, "instagram authorize"), http.StatusOK, "may not run"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs strings.Builder
			s := New(tt.cfg, &rolesTemporal{roles: map[string][]string{"uAdmin01": {"user", "admin"}}}, nil, nil, slog.New(slog.NewJSONHandler(&logs, nil)))
			req := httptest.NewRequest(http.MethodPost, "/rocketchat/command", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, req)
			require.Equal(t, tt.wantStatus, rec.Code, rec.Body.String())
			require.Contains(t, rec.Body.String(), tt.wantBody)
			require.NotContains(t, logs.String(), token, "the token is never logged")
			if tt.wantStatus != http.StatusOK || strings.Contains(tt.wantBody, "may not") {
				require.Contains(t, logs.String(), `"user_id"`, "refusals log who tried")
			}
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
