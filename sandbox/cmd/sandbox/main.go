// Command sandbox runs the Meta and Rocket.Chat emulators as one process, for `make run`
// without real credentials and for benchmarks. It seeds one business page with its
// Instagram account, one Rocket.Chat department and an agent who answers every message.
//
// Configuration (environment): SANDBOX_META_ADDR, SANDBOX_RC_ADDR (listen addresses),
// SANDBOX_INSTAGRAM_WEBHOOK, SANDBOX_ROCKETCHAT_WEBHOOK (the bridge's ingress URLs),
// META_APP_SECRET, ROCKETCHAT_WEBHOOK_TOKEN, ROCKETCHAT_USER_ID, ROCKETCHAT_AUTH_TOKEN,
// SANDBOX_PAGE_TOKEN, SANDBOX_AUTO_REPLY (default true).
package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/igdirect/bridge/sandbox/meta"
	"github.com/igdirect/bridge/sandbox/rocketchat"
)

func env(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	m := meta.New(meta.Options{
		AppSecret:  env("META_APP_SECRET", "sandbox-app-secret"),
		WebhookURL: env("SANDBOX_INSTAGRAM_WEBHOOK", "http://127.0.0.1:8080/webhooks/instagram"),
		Logger:     log.With("emulator", "meta"),
	})
	m.SetPublicURL("http://" + env("SANDBOX_META_ADDR", "127.0.0.1:9091"))
	m.AddPage(meta.Page{
		PageID: "102030405060708", IGAccountID: "17841400000000001", Username: "casaazul.store",
		Name: "Casa Azul Store", AccessToken: env("SANDBOX_PAGE_TOKEN", "sandbox-page-token"),
	})
	m.AddUser("17841400000000001", meta.User{IGSID: "6871234500000001", Name: "Ana Costa", Username: "ana.costa.pt"})

	o := rocketchat.DefaultOptions()
	o.WebhookURL = env("SANDBOX_ROCKETCHAT_WEBHOOK", "http://127.0.0.1:8080/webhooks/rocketchat")
	o.WebhookSecret = env("ROCKETCHAT_WEBHOOK_TOKEN", "sandbox-webhook-token")
	o.BotUserID = env("ROCKETCHAT_USER_ID", "bridge-bot")
	o.BotAuthToken = env("ROCKETCHAT_AUTH_TOKEN", "sandbox-bot-token")
	o.SiteURL = "http://" + env("SANDBOX_RC_ADDR", "127.0.0.1:9092")
	o.Logger = log.With("emulator", "rocketchat")
	rc := rocketchat.New(o)
	rc.AddDepartment("dept-instagram", "Instagram", "")
	// The channel where the bridge's bot posts setup messages (authorization links, health).
	rc.AddChannel(env("ROCKETCHAT_SETUP_CHANNEL", "omnichannel-instagram-setup"))
	rc.AddAgent(rocketchat.Agent{ID: "agent-ana", Username: "ana", Name: "Ana Agent", Departments: []string{"dept-instagram"}, Available: true})
	// An admin to type commands as (POST /sandbox/commands with "user":"admin"): changes
	// need the admin or livechat-manager role.
	rc.AddUser(rocketchat.User{ID: "user-admin", Username: "admin", Name: "Sandbox Admin", AuthToken: "sandbox-admin-token",
		Permissions: []string{}, Roles: []string{"user", "admin"}})
	if env("SANDBOX_AUTO_REPLY", "true") == "true" {
		rc.SetAutoReply(true, 500*time.Millisecond)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	servers := []*http.Server{
		{Addr: env("SANDBOX_META_ADDR", "127.0.0.1:9091"), Handler: m.Handler(), ReadHeaderTimeout: 5 * time.Second},
		{Addr: env("SANDBOX_RC_ADDR", "127.0.0.1:9092"), Handler: rc.Handler(), ReadHeaderTimeout: 5 * time.Second},
	}
	errc := make(chan error, len(servers))
	for _, s := range servers {
		log.Info("sandbox listening", "addr", s.Addr)
		go func() { errc <- s.ListenAndServe() }()
	}
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			log.Error("sandbox stopped", "error", err)
			os.Exit(1)
		}
	case <-ctx.Done():
	}
	for _, s := range servers {
		_ = s.Shutdown(context.Background())
	}
	m.Close()
	rc.Close()
}
