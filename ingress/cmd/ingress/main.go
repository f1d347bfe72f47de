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
	if err := cfg.ValidateIngress(); err != nil {
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
	topts, err := temporalx.Options(cfg, log)
	if err != nil {
		return err
	}
	tc, err := client.NewLazyClient(topts)
	if err != nil {
		return err
	}
	defer tc.Close()

	handler := ingress.New(cfg, tc, st, ring.Current().Key(keys.VisitorToken), log)
	handler.SetKeyRing(ring)
	handler.SetMetrics(metrics.New())
	codec, err := temporalx.PayloadCodec(cfg)
	if err != nil {
		return err
	}
	handler.SetPayloadCodec(codec)

	// Two listeners: the public one Meta, Rocket.Chat and browsers reach, and the internal
	// one for operators and monitoring (admin API, metrics, readiness, payload codec).
	servers := []*http.Server{ingress.NewHTTPServer(cfg.IngressAddr, handler.Handler())}
	if cfg.AdminAddr != "" {
		servers = append(servers, ingress.NewHTTPServer(cfg.AdminAddr, handler.AdminHandler()))
	}
	// Webhook activity for the doctor: counted in memory, written every few seconds, and
	// once more at shutdown.
	actx, stopActivity := context.WithCancel(context.Background())
	activityDone := make(chan struct{})
	go func() { handler.RecordActivity(actx); close(activityDone) }()
	defer func() {
		stopActivity()
		select {
		case <-activityDone:
		case <-time.After(5 * time.Second):
		}
	}()
	errc := make(chan error, len(servers))
	for _, srv := range servers {
		go func() { errc <- srv.ListenAndServe() }()
	}
	log.Info("ingress listening", "addr", cfg.IngressAddr, "admin_addr", cfg.AdminAddr, "public_url", cfg.PublicURL)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, srv := range servers {
		if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	return nil
}
