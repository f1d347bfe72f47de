package ingress

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/igdirect/bridge/config"
	"github.com/igdirect/bridge/identity"
	"github.com/igdirect/bridge/workflows"
)

// recordingTemporal stands in for the Temporal client: it records the signals ingress
// sends, or refuses them like an unreachable server.
type recordingTemporal struct {
	client.Client // methods the webhooks do not use panic
	mu            sync.Mutex
	signals       []workflows.InstagramEvent // the events of every Instagram signal, in order
	batches       int                        // Instagram signals sent (one per conversation per delivery)
	rcSignals     []workflows.RocketChatEvent
	refuse        bool
}

func (r *recordingTemporal) SignalWithStartWorkflow(_ context.Context, _ string, _ string, arg any, _ client.StartWorkflowOptions, _ any, _ ...any) (client.WorkflowRun, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refuse {
		return nil, serviceerror.NewUnavailable("temporal is down")
	}
	r.batches++
	r.signals = append(r.signals, arg.(workflows.InstagramBatch).Events...)
	return nil, nil
}

func (r *recordingTemporal) SignalWorkflow(_ context.Context, _ string, _ string, _ string, arg any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refuse {
		return serviceerror.NewUnavailable("temporal is down")
	}
	switch v := arg.(type) {
	case workflows.InstagramBatch:
		r.batches++
		r.signals = append(r.signals, v.Events...)
	case workflows.RocketChatEvent:
		r.rcSignals = append(r.rcSignals, v)
	}
	return nil
}

const (
	testSecret       = "app-secret-for-tests"
	testWebhookToken = "rc-webhook-token"
)

var visitorKeyForTests = []byte("0123456789abcdef0123456789abcdef")

func newWebhookServer(tc *recordingTemporal) *Server {
	cfg := &config.Config{MetaAppSecret: testSecret, MetaVerifyToken: "verify-me", MetaAppID: "910000000000001",
		RocketChatWebhookToken: testWebhookToken, RocketChatUserID: "bridge-bot", MaxWebhookBody: 64 << 10, TemporalTaskQueue: "q"}
	return New(cfg, tc, nil, visitorKeyForTests, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func sign(body []byte) string {
	m := hmac.New(sha256.New, []byte(testSecret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

const validBody = `{"object":"instagram","entry":[{"id":"17841400000000001","time":1767225600123,"messaging":[{"sender":{"id":"6871234500000001"},"recipient":{"id":"17841400000000001"},"timestamp":1767225599871,"message":{"mid":"aWdfMID1","text":"Do you ship to Lisbon? \ud83d\ude42"}}]}]}`

// TestInstagramWebhookBadInput: every kind of bad request gets its documented answer and
// records nothing in Temporal.
func TestInstagramWebhookBadInput(t *testing.T) {
	big := `{"object":"instagram","entry":[{"id":"1","messaging":[{"message":{"text":"` + strings.Repeat("a", 70<<10) + `"}}]}]}`
	tests := []struct {
		name        string
		body        string
		contentType string
		headers     map[string]string
		signWith    string // "" = sign the body correctly, "-" = no signature
		want        int
		wantText    string
	}{
		{"wrong content type", validBody, "text/plain", nil, "", http.StatusUnsupportedMediaType, "application/json"},
		{"no content type", validBody, "", nil, "", http.StatusUnsupportedMediaType, "application/json"},
		{"missing signature", validBody, "application/json", nil, "-", http.StatusUnauthorized, "X-Hub-Signature-256"},
		{"legacy sha1 header alone", validBody, "application/json", map[string]string{"X-Hub-Signature": "sha1=0123"}, "-", http.StatusUnauthorized, "sha1"},
		{"forged signature", validBody, "application/json", nil, "sha256=" + strings.Repeat("0", 64), http.StatusForbidden, "signature"},
		{"malformed signature", validBody, "application/json", nil, "md5=abc", http.StatusForbidden, "signature"},
		{"signature of a re-serialised body", validBody, "application/json", nil, sign([]byte(strings.ReplaceAll(validBody, `\ud83d\ude42`, "🙂"))), http.StatusForbidden, "signature"},
		{"oversized body", big, "application/json", nil, "", http.StatusRequestEntityTooLarge, "larger than"},
		{"malformed JSON", `{"object":"instagram","entry":[`, "application/json", nil, "", http.StatusBadRequest, "malformed"},
		{"invalid UTF-8", "{\"object\":\"instagram\",\"entry\":[{\"id\":\"1\",\"messaging\":[{\"message\":{\"text\":\"\xff\xfe\"}}]}]}", "application/json", nil, "", http.StatusBadRequest, "malformed"},
		{"missing object", `{"entry":[]}`, "application/json", nil, "", http.StatusBadRequest, "malformed"},
		{"wrong object", `{"object":"whatsapp_business_account","entry":[]}`, "application/json", nil, "", http.StatusOK, "ignored"},
		{"dashboard test event", `{"object":"instagram","entry":[{"id":"0","time":1527459824,"messaging":[{"sender":{"id":"1"},"recipient":{"id":"0"},"timestamp":"1527459824","message":{"mid":"random_mid","text":"random_text"}}]}]}`, "application/json", nil, "", http.StatusOK, `"events":0`},
		{"missing sender", `{"object":"instagram","entry":[{"id":"17841400000000001","messaging":[{"recipient":{"id":"17841400000000001"},"timestamp":1,"message":{"mid":"m","text":"x"}}]}]}`, "application/json", nil, "", http.StatusOK, `"events":0`},
		{"unknown event kind", `{"object":"instagram","entry":[{"id":"17841400000000001","messaging":[{"sender":{"id":"6871234500000001"},"recipient":{"id":"17841400000000001"},"timestamp":1,"brand_new":{}}]}]}`, "application/json", nil, "", http.StatusOK, `"events":0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := &recordingTemporal{}
			req := httptest.NewRequest(http.MethodPost, "/webhooks/instagram", strings.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			switch tt.signWith {
			case "":
				req.Header.Set("X-Hub-Signature-256", sign([]byte(tt.body)))
			case "-":
			default:
				req.Header.Set("X-Hub-Signature-256", tt.signWith)
			}
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			newWebhookServer(tc).Handler().ServeHTTP(rec, req)
			require.Equal(t, tt.want, rec.Code, rec.Body.String())
			require.Contains(t, rec.Body.String(), tt.wantText)
			require.Empty(t, tc.signals, "bad input must record nothing")
		})
	}
}

func TestInstagramWebhookRecordsOrAsksForRetry(t *testing.T) {
	post := func(tc *recordingTemporal, body string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/instagram", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Hub-Signature-256", sign([]byte(body)))
		rec := httptest.NewRecorder()
		newWebhookServer(tc).Handler().ServeHTTP(rec, req)
		return rec
	}
	tc := &recordingTemporal{}
	rec := post(tc, validBody)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Len(t, tc.signals, 1)
	require.Equal(t, "Do you ship to Lisbon? 🙂", tc.signals[0].Text)
	// A replayed delivery is recorded again: the conversation drops the duplicate by mid.
	require.Equal(t, http.StatusOK, post(tc, validBody).Code)
	require.Len(t, tc.signals, 2)
	require.Equal(t, tc.signals[0].DedupKey(), tc.signals[1].DedupKey())

	down := &recordingTemporal{refuse: true}
	rec = post(down, validBody)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, "Meta must retry what Temporal could not record")
}

func TestRocketChatWebhook(t *testing.T) {
	token := identity.VisitorToken(visitorKeyForTests, "17841400000000001", "6871234500000001")
	agentMsg := `{"_id":"room1","type":"Message","visitor":{"token":"` + token + `"},"messages":[{"_id":"a1","msg":"hello","agentId":"agent1","username":"ana","u":{"_id":"agent1","username":"ana","name":"Ana"}}]}`
	tests := []struct {
		name, body, tokenHeader string
		want                    int
		wantSignals             int
	}{
		{"missing token", agentMsg, "", http.StatusUnauthorized, 0},
		{"wrong token", agentMsg, "nope", http.StatusForbidden, 0},
		{"malformed", `{"type":`, testWebhookToken, http.StatusBadRequest, 0},
		{"agent message", agentMsg, testWebhookToken, http.StatusOK, 1},
		{"visitor message echoed back", `{"_id":"room1","type":"Message","visitor":{"token":"` + token + `"},"messages":[{"_id":"v1","msg":"hi","username":"guest-1"}]}`, testWebhookToken, http.StatusOK, 0},
		{"our own note", `{"_id":"room1","type":"Message","visitor":{"token":"` + token + `"},"messages":[{"_id":"n1","msg":"note","agentId":"bridge-bot","u":{"_id":"bridge-bot"}}]}`, testWebhookToken, http.StatusOK, 0},
		{"another channel's visitor", `{"_id":"room9","type":"Message","visitor":{"token":"web-widget-visitor"},"messages":[{"_id":"a9","msg":"x","agentId":"agent1"}]}`, testWebhookToken, http.StatusOK, 0},
		{"forged visitor token", strings.ReplaceAll(agentMsg, token, "ig.17841400000000001.6871234500000001.000000000000000000000000"), testWebhookToken, http.StatusOK, 0},
		{"close with transcript", `{"_id":"room1","type":"LivechatSession","visitor":{"token":"` + token + `"},"messages":[{"_id":"a1","msg":"hello","agentId":"agent1"},{"_id":"c","msg":"done","agentId":"agent1","closingMessage":true}]}`, testWebhookToken, http.StatusOK, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := &recordingTemporal{}
			req := httptest.NewRequest(http.MethodPost, "/webhooks/rocketchat", strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			if tt.tokenHeader != "" {
				req.Header.Set("X-RocketChat-Livechat-Token", tt.tokenHeader)
			}
			rec := httptest.NewRecorder()
			newWebhookServer(tc).Handler().ServeHTTP(rec, req)
			require.Equal(t, tt.want, rec.Code, rec.Body.String())
			require.Len(t, tc.rcSignals, tt.wantSignals)
		})
	}
}

// FuzzInstagramWebhook feeds signed arbitrary bodies through the whole handler: it must
// never panic, and must answer 200 (recorded or ignored) or 400, never a 5xx.
func FuzzInstagramWebhook(f *testing.F) {
	f.Add([]byte(validBody))
	f.Add([]byte(`{"object":"instagram","entry":[{"id":"17841400000000001","standby":[{"sender":{"id":"6871234500000001"},"recipient":{"id":"17841400000000001"},"timestamp":"1767225599871","message":{"mid":"m","is_deleted":true}}]}]}`))
	f.Add([]byte(`{"object":"instagram","entry":[{"id":17841400000000001,"messaging":[{"sender":{"id":6871234500000001},"recipient":{"id":17841400000000001},"timestamp":1,"reaction":{"mid":"m","action":"unreact"}}]}]}`))
	f.Add([]byte(`{"object":"instagram","entry":[{"id":"1","messaging":[{"sender":{"id":"2"},"recipient":{"id":"1"},"timestamp":1,"message":{"mid":"m","attachments":[{"type":"ephemeral"},{"type":"x","payload":{"url":null}}]}}]}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		tc := &recordingTemporal{}
		req := httptest.NewRequest(http.MethodPost, "/webhooks/instagram", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Hub-Signature-256", sign(body))
		rec := httptest.NewRecorder()
		newWebhookServer(tc).Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest && rec.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body.String())
		}
		if rec.Code != http.StatusOK && len(tc.signals) > 0 {
			t.Fatalf("refused body recorded %d events", len(tc.signals))
		}
	})
}

// readTracker fails the test if the body is read at all.
type readTracker struct{ read bool }

func (r *readTracker) Read([]byte) (int, error) { r.read = true; return 0, io.EOF }

// The signature header is checked (present, once, well-formed) before the body is read:
// a client without one cannot make ingress read up to MAX_WEBHOOK_BODY. Bodies of exactly
// MAX_WEBHOOK_BODY bytes are read; one more byte is refused.
func TestInstagramWebhookHeaderChecksAndBodyLimit(t *testing.T) {
	good := sign([]byte(validBody))
	for _, tt := range []struct {
		name    string
		headers []string
		want    int
	}{
		{"no signature", nil, http.StatusUnauthorized},
		{"two signature headers", []string{good, good}, http.StatusBadRequest},
		{"uppercase hex", []string{"sha256=" + strings.ToUpper(good[7:])}, http.StatusForbidden},
		{"uppercase prefix", []string{"SHA256=" + good[7:]}, http.StatusForbidden},
		{"short", []string{good[:40]}, http.StatusForbidden},
		{"sha1 form", []string{"sha1=" + strings.Repeat("a", 40)}, http.StatusForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := &readTracker{}
			req := httptest.NewRequest(http.MethodPost, "/webhooks/instagram", body)
			req.Header.Set("Content-Type", "application/json")
			for _, h := range tt.headers {
				req.Header.Add("X-Hub-Signature-256", h)
			}
			rec := httptest.NewRecorder()
			tc := &recordingTemporal{}
			newWebhookServer(tc).Handler().ServeHTTP(rec, req)
			require.Equal(t, tt.want, rec.Code, rec.Body.String())
			require.False(t, body.read, "the body was read before the signature header was checked")
			require.Empty(t, tc.signals)
		})
	}

	// newWebhookServer's MAX_WEBHOOK_BODY is 64 KiB.
	const limit = 64 << 10
	exact := `{"object":"instagram","entry":[]}`
	exact += strings.Repeat(" ", limit-len(exact))
	for _, tt := range []struct {
		name    string
		body    string
		chunked bool
		want    int
	}{
		{"exactly MAX_WEBHOOK_BODY", exact, false, http.StatusOK},
		{"exactly MAX_WEBHOOK_BODY, chunked", exact, true, http.StatusOK},
		{"one byte more", exact + " ", false, http.StatusRequestEntityTooLarge},
		{"one byte more, chunked", exact + " ", true, http.StatusRequestEntityTooLarge},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var r io.Reader = strings.NewReader(tt.body)
			if tt.chunked {
				r = io.MultiReader(r) // hides the length: sent without Content-Length
			}
			req := httptest.NewRequest(http.MethodPost, "/webhooks/instagram", r)
			if tt.chunked {
				req.ContentLength = -1
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Hub-Signature-256", sign([]byte(tt.body)))
			rec := httptest.NewRecorder()
			newWebhookServer(&recordingTemporal{}).Handler().ServeHTTP(rec, req)
			require.Equal(t, tt.want, rec.Code, rec.Body.String())
		})
	}
}

// Slowloris: a client that sends its headers, or its body, a byte at a time is cut off by
// the server's timeouts instead of holding a connection (and a goroutine) for ever.
func TestSlowClientsAreCutOff(t *testing.T) {
	srv := NewHTTPServer("127.0.0.1:0", newWebhookServer(&recordingTemporal{}).Handler())
	require.Equal(t, 5*time.Second, srv.ReadHeaderTimeout)
	require.Equal(t, 30*time.Second, srv.ReadTimeout)
	require.Equal(t, 64<<10, srv.MaxHeaderBytes)
	srv.ReadHeaderTimeout, srv.ReadTimeout = 500*time.Millisecond, time.Second // the same bounds, shorter for the test
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	for _, tt := range []struct {
		name string
		head string
	}{
		{"headers", "POST /webhooks/instagram HTTP/1.1\r\nHost: x\r\n"},
		{"body", "POST /webhooks/instagram HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Hub-Signature-256: sha256=" + strings.Repeat("0", 64) + "\r\nContent-Length: 100000\r\n\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", ln.Addr().String())
			require.NoError(t, err)
			defer c.Close()
			_, err = io.WriteString(c, tt.head)
			require.NoError(t, err)
			start := time.Now()
			for time.Since(start) < 5*time.Second {
				if _, err := c.Write([]byte("x")); err != nil {
					return // the server closed the connection
				}
				time.Sleep(100 * time.Millisecond)
			}
			t.Fatalf("a client sending its %s a byte at a time was still connected after 5 s", tt.name)
		})
	}
}

// TestUnauthenticatedBodyReadsAreBounded (issue 20, item 6): the signature can only be
// checked over the whole body, so until then a body is unauthenticated memory. Reads
// share a budget (8 × MAX_WEBHOOK_BODY, at most 64 at once): a request past it waits
// briefly, then gets 503 with Retry-After (Meta retries), instead of one more buffer;
// once the slow bodies end, the budget is free again.
func TestUnauthenticatedBodyReadsAreBounded(t *testing.T) {
	s := newWebhookServer(&recordingTemporal{})
	s.bodyWait = 200 * time.Millisecond
	h := s.Handler()
	const maxBody = 64 << 10 // newWebhookServer's MAX_WEBHOOK_BODY
	var (
		wg    sync.WaitGroup
		pipes []*io.PipeWriter
		codes = make(chan int, 8)
	)
	for range 8 { // each announces a full-size body and sends it slowly
		pr, pw := io.Pipe()
		pipes = append(pipes, pw)
		req := httptest.NewRequest(http.MethodPost, "/webhooks/instagram", pr)
		req.ContentLength = maxBody
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Hub-Signature-256", "sha256="+strings.Repeat("0", 64))
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			codes <- rec.Code
		}()
		_, _ = pw.Write([]byte("{")) // the read has begun
	}
	post := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/webhooks/instagram", strings.NewReader(validBody))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Hub-Signature-256", sign([]byte(validBody)))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	rec := post()
	require.Equal(t, http.StatusServiceUnavailable, rec.Code, "a read past the budget: %s", rec.Body.String())
	require.NotEmpty(t, rec.Header().Get("Retry-After"))
	for _, pw := range pipes {
		_ = pw.CloseWithError(io.ErrUnexpectedEOF)
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		require.Equal(t, http.StatusBadRequest, c)
	}
	rec = post()
	require.Equal(t, http.StatusOK, rec.Code, "the budget is free again: %s", rec.Body.String())
}
