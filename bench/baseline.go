package main

// The baseline: a minimal relay with no durability, measured on the same load through the
// same generator, so the report can show what the bridge's guarantees cost. It verifies
// Meta's signature, parses the webhook and calls the Rocket.Chat Livechat REST API
// directly (visitor, room, message) before answering; agent messages from the Omnichannel
// webhook go straight to the Send API. Nothing is stored: when Rocket.Chat or Meta fails,
// the relay answers 502 and the message is lost unless the sender retries in time.
//
// It runs as a child process of the benchmark (`bench -serve-baseline`), so its CPU time
// and memory are measured like the worker's and ingress's.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// relayConfig travels to the child process in the environment.
type relayConfig struct {
	Addr         string // listen address
	AppSecret    string
	WebhookToken string // X-RocketChat-Livechat-Token
	RCURL        string
	MetaURL      string
	PageID       string
	PageToken    string
	Department   string
}

const relayEnv = "BENCH_BASELINE_CONFIG"

type relay struct {
	cfg relayConfig
	hc  *http.Client
	// sendLimit keeps the Send API calls under Meta's 300/s per account (the sandbox answers
	// code 613 above it); a relay that ignored it would stall on Rocket.Chat's webhook retry.
	sendLimit *rate.Limiter
	mu        sync.Mutex
	users     map[string]*relayUser // by IGSID
}

type relayUser struct {
	mu  sync.Mutex
	rid string
}

// serveBaseline runs the relay until the process is killed.
func serveBaseline() error {
	var cfg relayConfig
	if err := json.Unmarshal([]byte(os.Getenv(relayEnv)), &cfg); err != nil {
		return fmt.Errorf("baseline: bad %s: %w", relayEnv, err)
	}
	srv := &http.Server{Addr: cfg.Addr, Handler: newRelay(cfg).handler(), ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	return srv.ListenAndServe()
}

func newRelay(cfg relayConfig) *relay {
	return &relay{cfg: cfg, users: map[string]*relayUser{}, sendLimit: rate.NewLimiter(280, 20),
		// The worker's client: default transport, 20 s timeout.
		hc: &http.Client{Timeout: 20 * time.Second}}
}

func (r *relay) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /webhooks/instagram", r.instagram)
	mux.HandleFunc("POST /webhooks/rocketchat", r.rocketchat)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })
	return mux
}

type igEnvelope struct {
	Object string `json:"object"`
	Entry  []struct {
		ID        json.Number `json:"id"`
		Messaging []struct {
			Sender    struct{ ID json.Number } `json:"sender"`
			Recipient struct{ ID json.Number } `json:"recipient"`
			Timestamp int64                    `json:"timestamp"`
			Message   *struct {
				MID    string `json:"mid"`
				Text   string `json:"text"`
				IsEcho bool   `json:"is_echo"`
			} `json:"message"`
		} `json:"messaging"`
	} `json:"entry"`
}

func (r *relay) instagram(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, 4<<20))
	if err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	sig, ok := strings.CutPrefix(req.Header.Get("X-Hub-Signature-256"), "sha256=")
	want := hmac.New(sha256.New, []byte(r.cfg.AppSecret))
	want.Write(body)
	got, derr := hex.DecodeString(sig)
	if !ok || derr != nil || !hmac.Equal(got, want.Sum(nil)) {
		http.Error(w, "bad signature", http.StatusForbidden)
		return
	}
	var env igEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	for _, e := range env.Entry {
		for _, m := range e.Messaging {
			if m.Message == nil || m.Message.IsEcho || m.Message.Text == "" {
				continue
			}
			if err := r.relayIn(req.Context(), m.Sender.ID.String(), m.Message.MID, m.Message.Text); err != nil {
				http.Error(w, "rocket.chat: "+err.Error(), http.StatusBadGateway)
				return
			}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"status":"ok"}`)
}

// relayIn posts one customer message, registering the visitor and opening the room on the
// customer's first message.
func (r *relay) relayIn(ctx context.Context, igsid, mid, text string) error {
	r.mu.Lock()
	u := r.users[igsid]
	if u == nil {
		u = &relayUser{}
		r.users[igsid] = u
	}
	r.mu.Unlock()
	token := baselineVisitorToken(igsid)
	u.mu.Lock()
	if u.rid == "" {
		err := r.rcCall(ctx, http.MethodPost, "livechat/visitor", nil,
			map[string]any{"visitor": map[string]any{"token": token, "name": igsid, "department": r.cfg.Department}}, nil)
		if err == nil {
			var room struct {
				Room struct {
					ID string `json:"_id"`
				} `json:"room"`
			}
			err = r.rcCall(ctx, http.MethodGet, "livechat/room", url.Values{"token": {token}}, nil, &room)
			u.rid = room.Room.ID
		}
		if err != nil {
			u.mu.Unlock()
			return err
		}
	}
	rid := u.rid
	u.mu.Unlock()
	sum := sha256.Sum256([]byte(mid))
	return r.rcCall(ctx, http.MethodPost, "livechat/message", nil,
		map[string]any{"token": token, "rid": rid, "msg": text, "_id": "bl" + hex.EncodeToString(sum[:12])}, nil)
}

func baselineVisitorToken(igsid string) string { return "bl." + igsid }

func (r *relay) rcCall(ctx context.Context, method, path string, q url.Values, body, out any) error {
	u := strings.TrimRight(r.cfg.RCURL, "/") + "/api/v1/" + path
	if q != nil {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: HTTP %d %s", method, path, resp.StatusCode, bytes.TrimSpace(b))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

type rcWebhook struct {
	Type    string `json:"type"`
	Visitor struct {
		Token string `json:"token"`
	} `json:"visitor"`
	Agent *struct {
		Name     string `json:"name"`
		Username string `json:"username"`
	} `json:"agent"`
	Messages []struct {
		Msg     string `json:"msg"`
		AgentID string `json:"agentId"`
	} `json:"messages"`
}

func (r *relay) rocketchat(w http.ResponseWriter, req *http.Request) {
	if !hmac.Equal([]byte(req.Header.Get("X-RocketChat-Livechat-Token")), []byte(r.cfg.WebhookToken)) {
		http.Error(w, "bad token", http.StatusForbidden)
		return
	}
	var p rcWebhook
	if err := json.NewDecoder(io.LimitReader(req.Body, 4<<20)).Decode(&p); err != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	igsid, ok := strings.CutPrefix(p.Visitor.Token, "bl.")
	if p.Type != "Message" || !ok {
		_, _ = io.WriteString(w, `{"status":"ignored"}`)
		return
	}
	for _, m := range p.Messages {
		if m.AgentID == "" || m.Msg == "" {
			continue
		}
		text := m.Msg
		if p.Agent != nil && p.Agent.Name != "" {
			text = p.Agent.Name + ": " + text
		}
		if err := r.sendIG(req.Context(), igsid, text); err != nil {
			http.Error(w, "meta: "+err.Error(), http.StatusBadGateway)
			return
		}
	}
	_, _ = io.WriteString(w, `{"status":"ok"}`)
}

func (r *relay) sendIG(ctx context.Context, igsid, text string) error {
	if err := r.sendLimit.Wait(ctx); err != nil {
		return err
	}
	mac := hmac.New(sha256.New, []byte(r.cfg.AppSecret))
	mac.Write([]byte(r.cfg.PageToken))
	q := url.Values{"access_token": {r.cfg.PageToken}, "appsecret_proof": {hex.EncodeToString(mac.Sum(nil))}}
	body, _ := json.Marshal(map[string]any{"recipient": map[string]string{"id": igsid},
		"message": map[string]string{"text": text}, "messaging_type": "RESPONSE"})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		strings.TrimRight(r.cfg.MetaURL, "/")+"/v23.0/"+r.cfg.PageID+"/messages?"+q.Encode(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := r.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("send: HTTP %d %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	return nil
}

// startRelay starts the relay as a child process and waits until it answers.
func startRelay(ctx context.Context, cfg relayConfig, logPath string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	b, _ := json.Marshal(cfg)
	cmd := exec.Command(exe, "-serve-baseline")
	cmd.Env = append(os.Environ(), relayEnv+"="+string(b))
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	go func() { _ = cmd.Wait(); logf.Close() }()
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if resp, err := c.Get("http://" + cfg.Addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return cmd, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	return nil, errors.New("baseline relay did not come up; see " + logPath)
}
