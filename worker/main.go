// Command worker runs the bridge's Temporal worker: it registers the workflows and the
// activities, which own the HTTP clients for Rocket.Chat and the Graph API.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/igdirect/bridge/activities"
	"github.com/igdirect/bridge/config"
	"github.com/igdirect/bridge/instagram"
	"github.com/igdirect/bridge/internal/logging"
	"github.com/igdirect/bridge/internal/metrics"
	"github.com/igdirect/bridge/internal/temporalx"
	"github.com/igdirect/bridge/rocketchat"
	"github.com/igdirect/bridge/store"
	"github.com/igdirect/bridge/workflows"
)

func main() {
	log := logging.New("worker")
	if err := run(log); err != nil {
		log.Error("worker stopped", "error", err)
		os.Exit(1)
	}
}

func run(log *slog.Logger) error {
	cfg, err := config.Load()
	if err != nil {
		return err
	}
	if err := config.Require("ROCKETCHAT_URL", cfg.RocketChatURL, "META_APP_SECRET", cfg.MetaAppSecret.Value()); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	st, key, err := store.OpenMigrated(ctx, cfg.DatabaseURL.Value(), cfg.EncryptionKey)
	if err != nil {
		return err
	}
	defer st.Close()
	tc, err := temporalx.Dial(ctx, cfg, log, 2*time.Minute)
	if err != nil {
		return err
	}
	defer tc.Close()
	if err := temporalx.CheckSearchAttributes(ctx, tc, cfg.TemporalNamespace); err != nil {
		return err
	}

	// Pooled connections to Rocket.Chat and the Graph API: the default transport keeps only 2
	// idle connections per host, so concurrent activities would open one per call.
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 64
	httpClient := &http.Client{Timeout: 20 * time.Second, Transport: transport}
	reg := metrics.New()
	if cfg.MetricsAddr != "" {
		go func() {
			if err := reg.Serve(ctx, cfg.MetricsAddr); err != nil {
				log.Error("metrics endpoint stopped", "addr", cfg.MetricsAddr, "error", err)
			}
		}()
	}
	acts := &activities.Activities{
		Store:      st,
		RC:         rocketchat.NewClient(cfg.RocketChatURL, cfg.RocketChatUserID, cfg.RocketChatAuthToken.Value(), httpClient),
		IG:         instagram.NewClient(cfg.MetaGraphURL, cfg.MetaGraphVersion, cfg.MetaAppID, cfg.MetaAppSecret.Value(), httpClient),
		VisitorKey: visitorKey(key),
		Settings: workflows.Settings{ReorderWindow: cfg.ReorderWindow, CloseLinger: cfg.CloseLinger,
			ReauthRetry: cfg.ReauthRetryInterval},
		Log:       log,
		HTTP:      &http.Client{Timeout: 60 * time.Second, Transport: transport},
		PublicURL: cfg.PublicURL,
		MediaKey:  config.DeriveKey(key, "media-url"),
		Metrics:   reg,

		SetupChannel: cfg.RocketChatSetupChannel,
	}
	w := worker.New(tc, cfg.TemporalTaskQueue, workerOptions(reg.Interceptor()))
	w.RegisterWorkflowWithOptions(workflows.Conversation, workflow.RegisterOptions{Name: workflows.ConversationWorkflowName})
	acts.Register(w)
	registerAdmin(w, &activities.Admin{
		Store: st, RC: acts.RC, IG: acts.IG, PublicURL: cfg.PublicURL, SetupChannel: cfg.RocketChatSetupChannel,
	})
	// The schedule is set up in the background: a Temporal server that is briefly away at
	// start-up must not stop the worker (the conversations need it more than the check).
	go keepHealthSchedule(ctx, log, tc, cfg.TemporalTaskQueue)
	log.Info("worker starting", "task_queue", cfg.TemporalTaskQueue, "temporal", cfg.TemporalAddress,
		"rocketchat", cfg.RocketChatURL, "graph", cfg.MetaGraphURL)
	if err := w.Run(interruptOn(ctx)); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	return nil
}

// interruptOn turns a context into the channel worker.Run waits on.
func interruptOn(ctx context.Context) <-chan any {
	ch := make(chan any)
	go func() { <-ctx.Done(); close(ch) }()
	return ch
}

// visitorKey derives the visitor-token MAC key from TOKEN_ENCRYPTION_KEY, so one secret
// serves both purposes without the same key bytes being used twice.
func visitorKey(key []byte) []byte { return config.DeriveKey(key, "visitor-token") }

// keepHealthSchedule creates or updates the health-check schedule, retrying until it succeeds.
func keepHealthSchedule(ctx context.Context, log *slog.Logger, tc client.Client, taskQueue string) {
	wait := time.Second
	for {
		err := ensureHealthSchedule(ctx, tc, taskQueue, workflows.DefaultHealthCheckInterval)
		if err == nil {
			return
		}
		log.Warn("Health-check schedule not set up yet; retrying", "error", err, "in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Minute)
	}
}
