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
	"github.com/igdirect/bridge/internal/cdnfetch"
	"github.com/igdirect/bridge/internal/keys"
	"github.com/igdirect/bridge/internal/logging"
	"github.com/igdirect/bridge/internal/metrics"
	"github.com/igdirect/bridge/internal/temporalx"
	"github.com/igdirect/bridge/rocketchat"
	"github.com/igdirect/bridge/setupguide/gather"
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
	if err := cfg.ValidateWorker(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ring, err := cfg.KeyRing()
	if err != nil {
		return err
	}
	st, err := store.OpenMigrated(ctx, cfg.DatabaseURL.Value(), ring, false)
	if err != nil {
		return err
	}
	defer st.Close()
	// The second step of a key rotation: renew what older keys sealed (README).
	if res, err := st.Reseal(ctx); err != nil {
		return fmt.Errorf("re-seal stored secrets: %w", err)
	} else if res.Resealed > 0 || res.Undecryptable > 0 {
		log.Warn("Stored secrets re-sealed with the current TOKEN_ENCRYPTION_KEY", "resealed", res.Resealed,
			"undecryptable", res.Undecryptable, "key_id", ring.Current().IDString())
	}
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
	go janitor(ctx, st, janitorInterval, log)
	reg := metrics.New()
	if cfg.MetricsAddr != "" {
		go func() {
			if err := reg.Serve(ctx, cfg.MetricsAddr, cfg.AdminHostNames()); err != nil {
				log.Error("metrics endpoint stopped", "addr", cfg.MetricsAddr, "error", err)
			}
		}()
	}
	cdn, err := cdnfetch.New(cdnfetch.Options{Hosts: cfg.MediaHosts(), TestOrigins: cfg.MediaTestOrigins(),
		MaxConcurrent: cfg.MediaFetchConcurrency})
	if err != nil {
		return fmt.Errorf("MEDIA_FETCH_HOSTS / MEDIA_FETCH_TEST_ORIGINS: %w", err)
	}
	if origins := cfg.MediaTestOrigins(); len(origins) > 0 {
		log.Warn("MEDIA_FETCH_TEST_ORIGINS is set: customer media is also fetched over plain HTTP from these loopback origins; never in production",
			"origins", origins)
	}
	acts := &activities.Activities{
		Store:      st,
		RC:         rocketchat.NewClient(cfg.RocketChatURL, cfg.RocketChatUserID, cfg.RocketChatAuthToken.Value(), httpClient),
		IG:         instagram.NewClient(cfg.MetaGraphURL, cfg.MetaGraphVersion, cfg.MetaAppID, cfg.MetaAppSecret.Value(), httpClient),
		VisitorKey: ring.Current().Key(keys.VisitorToken),
		Settings: workflows.Settings{ReorderWindow: cfg.ReorderWindow, CloseLinger: cfg.CloseLinger,
			ReauthRetry: cfg.ReauthRetryInterval},
		Log:       log,
		CDN:       cdn,
		PublicURL: cfg.PublicURL,
		MediaKey:  ring.Current().Key(keys.MediaURL),
		Metrics:   reg,

		SetupChannel: cfg.RocketChatSetupChannel,
	}
	// A process-wide setting of the SDK; it must be set before the first worker is created.
	worker.SetStickyWorkflowCacheSize(cfg.WorkflowCacheSize)
	w := worker.New(tc, cfg.TemporalTaskQueue, workerOptions(reg.Interceptor()))
	w.RegisterWorkflowWithOptions(workflows.Conversation, workflow.RegisterOptions{Name: workflows.ConversationWorkflowName})
	acts.Register(w)
	admin := &activities.Admin{
		Store: st, RC: acts.RC, IG: acts.IG, PublicURL: cfg.PublicURL, SetupChannel: cfg.RocketChatSetupChannel, Keys: ring,
		Setup: gather.Config{PublicURL: cfg.PublicURL, SetupChannel: cfg.RocketChatSetupChannel, MetaAppID: cfg.MetaAppID != "",
			CommandsEnabled: cfg.RocketChatCommandToken.Value() != "", AdminAPIToken: cfg.AdminAPIToken.Value() != "",
			CommandUsers: len(cfg.CommandUsers())},
	}
	registerAdmin(w, admin)
	postSetupGuideAtFirstStart(ctx, log, admin)
	// The schedule is set up in the background: a Temporal server that is briefly away at
	// start-up must not stop the worker (the conversations need it more than the check).
	go keepHealthSchedule(ctx, log, tc, cfg.TemporalTaskQueue)
	// worker.Run gives up at once when the server cannot be reached; a Temporal server that
	// restarts just as the worker starts must only delay it.
	if err := waitForTemporal(ctx, log, tc); err != nil {
		return err
	}
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

// waitForTemporal waits until the Temporal frontend answers a health check.
func waitForTemporal(ctx context.Context, log *slog.Logger, tc client.Client) error {
	wait := 500 * time.Millisecond
	for {
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := tc.CheckHealth(hctx, &client.CheckHealthRequest{})
		cancel()
		if err == nil {
			return nil
		}
		log.Warn("Temporal not reachable yet; waiting", "error", err, "in", wait)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 10*time.Second)
	}
}
