// Package temporalx wires Temporal clients the same way in every process.
package temporalx

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/igdirect/bridge/config"
	"github.com/igdirect/bridge/workflows"
)

// Options builds client options from the configuration. Payloads are encrypted
// (codec.go): a process without a valid key does not connect at all. TLS, mutual TLS and
// an API key come from the TEMPORAL_TLS_* and TEMPORAL_API_KEY settings (connection.go).
func Options(cfg *config.Config, log *slog.Logger) (client.Options, error) {
	dc, fc, err := Converters(cfg)
	if err != nil {
		return client.Options{}, err
	}
	opts := client.Options{
		HostPort:         cfg.TemporalAddress,
		Namespace:        cfg.TemporalNamespace,
		Logger:           tlog.NewStructuredLogger(log.With("component", "temporal")),
		DataConverter:    dc,
		FailureConverter: fc,
	}
	return opts, applyConnection(&opts, cfg)
}

// Dial connects, retrying for up to wait, so processes may start before the server.
func Dial(ctx context.Context, cfg *config.Config, log *slog.Logger, wait time.Duration) (client.Client, error) {
	opts, err := Options(cfg, log)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(wait)
	for {
		c, err := client.DialContext(ctx, opts)
		if err == nil {
			return c, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("connect to Temporal at %s: %w", cfg.TemporalAddress, err)
		}
		log.Info("Waiting for Temporal", "address", cfg.TemporalAddress, "error", err)
		time.Sleep(time.Second)
	}
}

// CheckSearchAttributes fails when a search attribute the workflows upsert is missing:
// without it every workflow task would fail and retry forever (specs/temporal-go.md §1.9).
func CheckSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes: %w", err)
	}
	var missing []string
	for name, typ := range workflows.SearchAttributeTypes {
		got, ok := resp.GetCustomAttributes()[name]
		if !ok || got != typ {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	var args []string
	for _, m := range missing {
		args = append(args, "--name "+m)
	}
	return fmt.Errorf("namespace %q lacks search attributes %s; create them with: temporal operator search-attribute create --namespace %s --type Keyword %s",
		namespace, strings.Join(missing, ", "), namespace, strings.Join(args, " "))
}
