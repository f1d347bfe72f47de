// Command ingress runs the bridge's HTTP server (webhooks from Meta and Rocket.Chat, the
// admin API, health and readiness).
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

	"go.temporal.io/sdk/client"

	"github.com/igdirect/bridge/config"
	"github.com/igdirect/bridge/ingress"
	"github.com/igdirect/bridge/internal/keys"
	"github.com/igdirect/bridge/internal/logging"
	"github.com/igdirect/bridge/internal/metrics"
	"github.com/igdirect/bridge/internal/temporalx"
	"github.com/igdirect/bridge/store"
)

func main() {
	log := logging.New("ingress")
	if err := run(log); err != nil {
		log.Error("ingress stopped", "error", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	if err := config.Require("META_APP_SECRET", cfg.MetaAppSecret.Value(), "META_VERIFY_TOKEN", cfg.MetaVerifyToken.Value(),
		"ROCKETCHAT_WEBHOOK_TOKEN", cfg.RocketChatWebhookToken.Value()); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ring, err := cfg.KeyRing()
	if err != nil {
		return err
	}
	// Seal-only: ingress stores page tokens and OAuth codes but never reads one.
	st, err := store.OpenMigrated(ctx, cfg.DatabaseURL.Value(), ring, true)
	if err != nil {
		return err
	}
	defer st.Close()
	// A lazy client lets ingress start and answer 503 while Temporal is down; Meta and
	// Rocket.Chat retry, and nothing is lost.
	tc, err := client.NewLazyClient(temporalx.Options(cfg, log))
	if err != nil {
		return err
	}
	defer tc.Close()

	handler := ingress.New(cfg, tc, st, ring.Current().Key(keys.VisitorToken), log)
	handler.SetKeyRing(ring)
	handler.SetMetrics(metrics.New())
	srv := &http.Server{
		Addr:              cfg.IngressAddr,
		Handler:           handler.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Info("ingress listening", "addr", cfg.IngressAddr, "public_url", cfg.PublicURL)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
