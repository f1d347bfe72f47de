// Package e2e runs the product end to end: a real PostgreSQL, a real Temporal server, the
// real worker and ingress processes, and the sandbox emulators of Meta and Rocket.Chat.
// Stacks are started by internal/devstack, the one starter of every stack.
//
// `make test` runs them on the Temporal dev server; `make test-cluster` (E2E_TOPOLOGY=cluster)
// on the production topology of docker-compose.yml (Temporal's services as separate
// processes on PostgreSQL, two workers, two ingress replicas behind a round-robin proxy).
// They need the pinned Temporal binaries in bin/ (TEMPORAL_CLI overrides the CLI) and the
// PostgreSQL server binaries: the tests start a throwaway PostgreSQL of their own unless
// E2E_DATABASE_URL names a server where they may create databases. Without the binaries the
// tests skip, saying so.
package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/igdirect/bridge/internal/devstack"
	"github.com/igdirect/bridge/sandbox/meta"
	"github.com/igdirect/bridge/sandbox/rocketchat"
)

// The sandbox's business page and its Instagram account.
const (
	pageID    = devstack.PageID
	account   = devstack.Account
	pageToken = devstack.PageToken
	agentName = devstack.AgentName
	// setupChannel is the default ROCKETCHAT_SETUP_CHANNEL.
	setupChannel = devstack.SetupChannel
	// e2eVerifyToken is META_VERIFY_TOKEN (secrets are at least 32 bytes).
	e2eVerifyToken = "e2e-verify-token-0123456789abcdef"
)

var (
	binDir    string // built worker and ingress
	shared    *stack
	skipWhy   string
	logsDir   string
	testStart = time.Now()

	root     string
	bins     *devstack.Binaries
	adminDSN string            // where dev-server stacks create their databases
	topology devstack.Topology // E2E_TOPOLOGY: "dev" (default) or "cluster"
	// databases maps a stack's database name to its URL (a cluster's database lives in the
	// cluster's own PostgreSQL).
	databases = struct {
		sync.Mutex
		m map[string]string
	}{m: map[string]string{}}
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	var err error
	if root, err = devstack.ModuleRoot(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	topology = devstack.Topology(os.Getenv("E2E_TOPOLOGY"))
	if topology == "" {
		topology = devstack.TopologyDev
	}
	if topology != devstack.TopologyDev && topology != devstack.TopologyCluster {
		fmt.Fprintf(os.Stderr, "E2E_TOPOLOGY=%q: want dev or cluster\n", topology)
		return 1
	}
	if skipWhy = locate(); skipWhy != "" {
		if topology == devstack.TopologyCluster {
			fmt.Fprintln(os.Stderr, "E2E_TOPOLOGY=cluster:", skipWhy)
			return 1
		}
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "igdirect-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binDir = filepath.Join(dir, "bin")
	logsDir = os.Getenv("E2E_LOGS")
	if logsDir == "" {
		logsDir = filepath.Join(dir, "logs")
	}
	_ = os.MkdirAll(logsDir, 0o755)
	if err := devstack.Build(context.Background(), root, binDir); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		return 1
	}
	adminDSN = os.Getenv("E2E_DATABASE_URL")
	if adminDSN == "" && topology == devstack.TopologyDev {
		// One throwaway PostgreSQL for every dev-server stack of this run; each stack makes
		// its own database in it. It stops with this process, however that ends.
		pgDir, err := devstack.ScratchDir(root, "e2e-postgres")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(pgDir)
		pg, err := devstack.StartPostgres(context.Background(), devstack.PostgresOptions{
			Dir: filepath.Join(pgDir, "pg"), LogPath: filepath.Join(logsDir, "postgres.log")})
		if err != nil {
			fmt.Fprintln(os.Stderr, "start PostgreSQL:", err)
			return 1
		}
		defer pg.Stop()
		adminDSN = pg.SuperuserDSN("postgres")
	}
	shared, err = startStack("shared", stackOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start stack:", err)
		return 1
	}
	code := m.Run()
	shared.stop()
	return code
}

// locate finds the pinned Temporal binaries and PostgreSQL; it returns why the tests
// cannot run when something is missing.
func locate() string {
	if _, err := devstack.PostgresBinDir(); err != nil && os.Getenv("E2E_DATABASE_URL") == "" {
		return "end-to-end tests need PostgreSQL (or E2E_DATABASE_URL); run them with `make test`: " + err.Error()
	}
	b, err := devstack.LocateBinaries(filepath.Join(root, "bin"), topology == devstack.TopologyCluster)
	if cli := os.Getenv("TEMPORAL_CLI"); cli != "" && topology == devstack.TopologyDev {
		b, err = &devstack.Binaries{CLI: cli}, nil
	}
	if err != nil {
		return "end-to-end tests need the pinned Temporal binaries; run them with `make test` (or `make test-cluster`): " + err.Error()
	}
	bins = b
	return ""
}

// stack is one complete deployment of the product (a devstack.Stack), with the fields and
// helpers the tests use.
type stack struct {
	st            *devstack.Stack
	name          string
	dbName        string
	tc            client.Client
	tPort         int
	temporalFlags []string
	meta          *meta.Server
	metaHTTP      *httptest.Server
	rc            *rocketchat.Server
	rcHTTP        *httptest.Server
	ingressURL    string
	// adminURL is ingress's internal listener (ADMIN_ADDR): admin API, metrics, codec (the
	// first replica's, on a cluster).
	adminURL   string
	adminToken string
	// commandToken is the Rocket.Chat outgoing integration's token (ROCKETCHAT_COMMAND_TOKEN).
	commandToken string
	codecToken   string // CODEC_AUTH_TOKEN
	// secrets are every secret the stack was configured with; no log may contain one.
	secrets    map[string]string
	visitorKey []byte
	// converters encrypt and decrypt payloads as the product's processes do.
	dataConverter    converter.DataConverter
	failureConverter converter.FailureConverter
	env              []string
}

type stackOptions struct {
	extraEnv      []string
	temporalFlags []string // extra dev-server flags, e.g. dynamic config (a cluster gets their dynamic config values)
	// topology overrides E2E_TOPOLOGY for this stack; clusterTLS turns on mutual TLS on a
	// cluster's frontend.
	topology   devstack.Topology
	clusterTLS *devstack.FrontendTLS
}

func startStack(name string, opts stackOptions) (*stack, error) {
	topo := topology
	if opts.topology != "" {
		topo = opts.topology
	}
	b := bins
	if topo == devstack.TopologyCluster && b.ServerDir == "" {
		var err error
		if b, err = devstack.LocateBinaries(filepath.Join(root, "bin"), true); err != nil {
			return nil, err
		}
	}
	codecToken := randomString(32)
	o := devstack.Options{
		Name: name, Topology: topo, AdminDSN: adminDSN, Binaries: b, Root: root, ClusterTLS: opts.clusterTLS,
		BinDir: binDir, LogDir: logsDir, TaskQueue: "e2e-" + name,
		Env: append([]string{
			"CLOSE_LINGER=1s",
			"REORDER_WINDOW=300ms",
			"LOG_LEVEL=debug",
			"REAUTH_RETRY_INTERVAL=1s",
			"META_VERIFY_TOKEN=" + e2eVerifyToken,
			"CODEC_AUTH_TOKEN=" + codecToken,
		}, opts.extraEnv...),
		TemporalFlags: opts.temporalFlags,
		MetaOptions: func(o *meta.Options) {
			o.RetryInitial, o.RetryMax = 200*time.Millisecond, 2*time.Second
		},
		RocketChatOptions: func(o *rocketchat.Options) {
			o.WebhookTimeout = 500 * time.Millisecond
			// The worst case an admin can configure: visitor messages are sent to the webhook
			// too; they must never go back to Instagram.
			o.OnVisitorMessage = true
		},
		StartTimeout: 2 * time.Minute,
	}
	if topo == devstack.TopologyCluster {
		// The production topology: replicas behind the proxy, several history shards.
		o.Workers, o.Ingresses, o.HistoryShards = 2, 2, 4
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st, err := devstack.Start(ctx, o)
	if err != nil {
		return nil, err
	}
	// An agent of another department, always online: never serves the page's conversations.
	st.RC().AddDepartment("dept-web", "Website", "")
	st.RC().AddAgent(rocketchat.Agent{ID: "agent-wendy", Username: "wendy", Name: "Wendy Web", Departments: []string{"dept-web"}, Available: true})
	s := &stack{st: st, name: name, dbName: st.DatabaseName(), tc: st.Temporal(), temporalFlags: opts.temporalFlags,
		meta: st.Meta(), metaHTTP: st.MetaHTTP(), rc: st.RC(), rcHTTP: st.RCHTTP(), ingressURL: st.IngressURL(),
		adminURL: st.AdminURL(), adminToken: st.AdminToken(), commandToken: st.CommandToken(), codecToken: codecToken,
		secrets: st.Secrets(), visitorKey: st.VisitorKey(), env: st.Env()}
	s.secrets["CODEC_AUTH_TOKEN"] = codecToken
	s.dataConverter, s.failureConverter = st.Converters()
	if _, port, err := net.SplitHostPort(st.TemporalAddress()); err == nil {
		fmt.Sscan(port, &s.tPort)
	}
	databases.Lock()
	databases.m[s.dbName] = st.DatabaseURL()
	databases.Unlock()
	return s, nil
}

// startTemporal starts Temporal again after stopTemporal (the dev server, or every service
// of the cluster) and reconnects s.tc.
func (s *stack) startTemporal() error {
	if err := s.st.StartTemporal(); err != nil {
		return err
	}
	s.tc = s.st.Temporal()
	return nil
}

// stopTemporal stops Temporal: the dev server, or every service of the cluster.
func (s *stack) stopTemporal() { s.st.StopTemporal() }

// startProcess starts a process of the stack: "worker", "ingress", or on a cluster a
// Temporal service (devstack.History, …) or devstack.PostgresProc.
func (s *stack) startProcess(name string) error { return s.st.StartProcess(name) }

// stopProcess signals a process and waits for it to exit.
func (s *stack) stopProcess(name string, sig syscall.Signal) { s.st.StopProcess(name, sig) }

func (s *stack) stop() { s.st.Stop() }

func (s *stack) connectPage() error { return s.st.ConnectPage() }

// admin calls the admin API and returns the status and the body.
func (s *stack) admin(method, path, body string) (int, string, error) {
	return s.st.Admin(method, path, body)
}

// setSetting writes an application setting straight into the product's database, as an
// admin's command would, while everything runs.
func (s *stack) setSetting(key, value string) error { return s.st.SetSetting(key, value) }

// visitorToken is the Rocket.Chat visitor token the product uses for a customer.
func (s *stack) visitorToken(igsid string) string { return s.st.VisitorToken(igsid) }

func requireStack(t *testing.T) *stack {
	t.Helper()
	if skipWhy != "" {
		t.Skip(skipWhy)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("process logs are in %s", logsDir)
		}
	})
	return shared
}

// requireCluster skips a test that needs the production topology.
func requireCluster(t *testing.T) *stack {
	t.Helper()
	s := requireStack(t)
	if topology != devstack.TopologyCluster {
		t.Skip("needs the production topology: run with `make test-cluster` (E2E_TOPOLOGY=cluster)")
	}
	return s
}

// createDatabase creates a database on the server where dev-server stacks make theirs.
func createDatabase(name string) error {
	db, err := sqlx.Open("postgres", adminDSN)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(`CREATE DATABASE ` + name)
	return err
}

// databaseURL is the URL of a database: a stack's own, or one on the server where
// dev-server stacks make theirs.
func databaseURL(name string) string {
	databases.Lock()
	u, ok := databases.m[name]
	databases.Unlock()
	if ok {
		return u
	}
	pu, err := url.Parse(adminDSN)
	if err != nil {
		panic(err)
	}
	pu.Path = "/" + name
	return pu.String()
}

func freePort() int {
	p, err := devstack.FreePort()
	if err != nil {
		panic(err)
	}
	return p
}

func waitHTTP(u string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(u); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not up after %s", u, timeout)
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

// uniqueIGSID gives each test its own customer, so tests share one stack without sharing
// conversations.
func uniqueIGSID() string {
	return fmt.Sprintf("68%014d", time.Now().UnixNano()%1e14)
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", timeout, what)
}
