package ingress

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/igdirect/bridge/config"
)

// Malformed OAuth requests are refused before anything is looked up, consumed or
// stored (there is no database here: reaching it would answer 503), and what the browser
// sent is not logged.
func TestOAuthRefusesMalformedQueries(t *testing.T) {
	var logs bytes.Buffer
	s := New(&config.Config{}, nil, nil, nil, slog.New(slog.NewJSONHandler(&logs, nil)))
	long := strings.Repeat("A", 100<<10)
	for _, tt := range []struct {
		name, path string
		want       int
		text       string
	}{
		{"repeated state at start", "/oauth/start?state=abc&state=def", 400, "given 2 times"},
		{"huge state at start", "/oauth/start?state=" + strings.Repeat("s", 200), 400, "longer than"},
		{"repeated state at callback", "/oauth/callback?state=abc&state=def&code=AQx", 400, "given 2 times"},
		{"repeated code", "/oauth/callback?state=abc&code=AQx&code=AQy", 400, "given 2 times"},
		{"100 KB error_description", "/oauth/callback?state=abc&error=access_denied&error_description=" + long, 400, "longer than 1000"},
		{"huge code", "/oauth/callback?state=abc&code=" + strings.Repeat("c", 3000), 400, "longer than"},
		{"no state", "/oauth/callback?code=AQx", 400, "no state"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
			require.Equal(t, tt.want, rec.Code)
			require.Contains(t, rec.Body.String(), tt.text)
			require.NotContains(t, rec.Body.String(), long[:200], "the page does not echo the input")
			require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			require.Empty(t, rec.Header().Values("Set-Cookie"), "no cookie for a refused request")
		})
	}
	require.NotContains(t, logs.String(), long[:200])
}

// The page shown for a Meta error does not render what the browser sent as HTML.
func TestOAuthPagesEscape(t *testing.T) {
	rec := httptest.NewRecorder()
	s := New(&config.Config{}, nil, nil, nil, slog.New(slog.DiscardHandler))
	s.oauthPage(rec, http.StatusOK, page{Title: "x", Text: "<script>alert(1)</script>" + url.QueryEscape("&")})
	require.NotContains(t, rec.Body.String(), "<script>alert(1)")
	require.Contains(t, rec.Header().Get("Content-Security-Policy"), "default-src 'none'")
}
