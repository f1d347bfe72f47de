package devstack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/igdirect/bridge/workflows"
)

// DevServerOptions configures the Temporal dev server of the pinned CLI.
type DevServerOptions struct {
	CLI string
	// DBFile is the SQLite file; it keeps the history when the server restarts.
	DBFile string
	// Port of the frontend on 127.0.0.1 (0: free); UIPort of the UI (0: no UI).
	Port, UIPort int
	// Flags are extra arguments after TemporalArgs (dynamic config values).
	Flags   []string
	LogPath string
	// UICodecEndpoint is where the UI decrypts payloads (ingress's codec endpoint).
	UICodecEndpoint string
}

// DevServer is `temporal server start-dev` run as a child process.
type DevServer struct {
	opts DevServerOptions
	proc *Process
}

// StartDevServer starts the dev server and registers the search attributes the workflows
// use (the CLI's --search-attribute flags are ignored for an existing database file, so
// they are created through the operator API, idempotently, on every start).
func StartDevServer(ctx context.Context, opts DevServerOptions) (*DevServer, error) {
	if opts.Port == 0 {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		opts.Port = p
	}
	if err := os.MkdirAll(filepath.Dir(opts.DBFile), 0o755); err != nil {
		return nil, err
	}
	d := &DevServer{opts: opts}
	return d, d.Start(ctx)
}

// Start starts the server again after Stop (same port and file).
func (d *DevServer) Start(ctx context.Context) error {
	if d.proc != nil && d.proc.Running() {
		return nil
	}
	args := []string{"server", "start-dev", "--db-filename", d.opts.DBFile, "--ip", "127.0.0.1",
		"--port", strconv.Itoa(d.opts.Port), "--log-level", "warn"}
	if d.opts.UIPort > 0 {
		args = append(args, "--ui-port", strconv.Itoa(d.opts.UIPort))
		if d.opts.UICodecEndpoint != "" {
			args = append(args, "--ui-codec-endpoint", d.opts.UICodecEndpoint)
		}
	} else {
		args = append(args, "--headless")
	}
	args = append(append(args, TemporalArgs()...), d.opts.Flags...)
	proc, err := StartProc(ProcSpec{Name: Temporal, Path: d.opts.CLI, Args: args, LogPath: d.opts.LogPath,
		DeathSignal: syscall.SIGTERM})
	if err != nil {
		return err
	}
	d.proc = proc
	if err := waitListening(ctx, proc, d.opts.Port, time.Minute); err != nil {
		proc.Stop(syscall.SIGTERM, 10*time.Second)
		return err
	}
	c, err := dialReady(ctx, client.Options{HostPort: d.Address()}, time.Minute)
	if err != nil {
		proc.Stop(syscall.SIGTERM, 10*time.Second)
		return err
	}
	defer c.Close()
	return EnsureSearchAttributes(ctx, c, "default")
}

// Stop stops the server; its database file stays.
func (d *DevServer) Stop() {
	if d.proc != nil {
		d.proc.Stop(syscall.SIGTERM, 15*time.Second)
	}
}

// Address is the frontend's gRPC address.
func (d *DevServer) Address() string { return fmt.Sprintf("127.0.0.1:%d", d.opts.Port) }

// PID of the server process (0 when stopped).
func (d *DevServer) PID() int {
	if d.proc == nil || !d.proc.Running() {
		return 0
	}
	return d.proc.PID()
}

// TemporalArgs are the dev-server flags every stack uses (specs/temporal-go.md §6.4,
// docs/benchmarks.md): WAL journal, the transfer-queue poll rate that removes ~50 ms per
// task hop, sub-second timers that fire on time instead of after ~1 s (the reorder window),
// activities that start in the worker that scheduled them, and search attributes visible at
// once.
func TemporalArgs() []string {
	return []string{
		"--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal",
		"--dynamic-config-value", "history.transferProcessorMaxPollRPS=1000",
		"--dynamic-config-value", `history.timerProcessorMaxTimeShift="20ms"`,
		"--dynamic-config-value", "history.timerProcessorMaxPollRPS=1000",
		"--dynamic-config-value", "system.enableActivityEagerExecution=true",
		"--dynamic-config-value", "system.forceSearchAttributesCacheRefreshOnRead=true",
	}
}

// dialReady connects and waits until the frontend answers its health check.
func dialReady(ctx context.Context, opts client.Options, timeout time.Duration) (client.Client, error) {
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) && ctx.Err() == nil {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		c, err := client.DialContext(cctx, opts)
		if err == nil {
			_, err = c.CheckHealth(cctx, &client.CheckHealthRequest{})
			if err == nil {
				cancel()
				return c, nil
			}
			c.Close()
		}
		cancel()
		lastErr = err
		time.Sleep(200 * time.Millisecond)
	}
	return nil, fmt.Errorf("Temporal at %s not ready: %v", opts.HostPort, lastErr)
}

// EnsureSearchAttributes creates the search attributes of workflows.SearchAttributeTypes
// that the namespace lacks.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return fmt.Errorf("list search attributes: %w", err)
	}
	missing := map[string]enumspb.IndexedValueType{}
	for name, typ := range workflows.SearchAttributeTypes {
		if _, ok := resp.GetCustomAttributes()[name]; !ok {
			missing[name] = typ
		}
	}
	if len(missing) == 0 {
		return nil
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: missing})
	if err != nil {
		return fmt.Errorf("create search attributes: %w", err)
	}
	return nil
}
