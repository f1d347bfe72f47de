// Package devstack starts the bridge's stacks on one machine — the one way every stack is
// started: `make run` and `make run-cluster` (cmd/devstack), the end-to-end tests (e2e/) and
// the benchmark (bench/).
//
// A Stack (tests, benchmark) is one complete deployment: PostgreSQL, Temporal — the dev
// server of the pinned CLI, or the production topology of docker-compose.yml run natively
// (Cluster) — the real worker and ingress binaries as processes (one or more replicas each,
// several ingress replicas behind a round-robin proxy), and the sandbox emulators of Meta
// and Rocket.Chat in-process, with the sandbox's business page connected through the admin
// API. Everything a stack starts is a child process with a parent-death signal, on free
// ports, with its state in a scratch directory of the checkout: it stops with Stop, and with
// the process that started it however that process ends.
//
// e2e's settings (CLOSE_LINGER=1s, REORDER_WINDOW=300ms, LOG_LEVEL=debug, a 500 ms
// Rocket.Chat webhook timeout, visitor-message webhooks on, 200 ms/2 s Meta retries) are
// expressed as
//
//	devstack.Options{
//		Name: "shared", TaskQueue: "e2e-shared", AdminDSN: dsn, Binaries: bins, BinDir: binDir, LogDir: logsDir,
//		Env: []string{"CLOSE_LINGER=1s", "REORDER_WINDOW=300ms", "LOG_LEVEL=debug"},
//		MetaOptions: func(o *meta.Options) { o.RetryInitial, o.RetryMax = 200*time.Millisecond, 2*time.Second },
//		RocketChatOptions: func(o *rocketchat.Options) {
//			o.WebhookTimeout = 500 * time.Millisecond
//			o.OnVisitorMessage = true
//		},
//	}
//
// Without those overrides a stack runs with the product's defaults, which is what the
// benchmark wants.
package devstack

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/igdirect/bridge/config"
	"github.com/igdirect/bridge/identity"
	"github.com/igdirect/bridge/internal/temporalx"
	"github.com/igdirect/bridge/sandbox/meta"
	"github.com/igdirect/bridge/sandbox/rocketchat"
)

// The sandbox's business page, its Instagram account, its Rocket.Chat department and agents.
const (
	PageID         = "102030405060708"
	Account        = "17841400000000001"
	PageToken      = "EAAGsandboxpagetoken0000000000000000001"
	PageUsername   = "casaazul.store"
	PageName       = "Casa Azul"
	DepartmentID   = "dept-ig"
	DepartmentName = "Instagram"
	AgentName      = "ana" // available
	BackupAgent    = "bruno"
	// SetupChannel is the default ROCKETCHAT_SETUP_CHANNEL.
	SetupChannel = "omnichannel-instagram-setup"
	// BotUserID is the Rocket.Chat bot user the product authenticates as.
	BotUserID = "bridge-bot"
	// AdminUserID and AdminUsername are the Rocket.Chat admin (role admin) who types
	// commands in the setup channel.
	AdminUserID   = "user-maria-admin"
	AdminUsername = "maria.admin"
)

// Process names for StartProcess, StopProcess and PID. Replicas after the first are
// "worker-2", "ingress-2", … (ReplicaName); the cluster's processes are Frontend, History,
// Matching, InternalWorker, UI and PostgresProc.
const (
	Worker  = "worker"
	Ingress = "ingress"
	// Temporal is the dev server's process, or, on a cluster, every Temporal service at once.
	Temporal = "temporal"
)

// Topology is how Temporal runs.
type Topology string

const (
	// TopologyDev: `temporal server start-dev` of the pinned CLI (one process, SQLite, one
	// history shard), what `make run` and `make test` use.
	TopologyDev Topology = "dev"
	// TopologyCluster: the production topology of docker-compose.yml (StartCluster).
	TopologyCluster Topology = "cluster"
)

// Options configures a stack.
type Options struct {
	// Name names the stack's database, task queue and log files ("shared", "bench-steady").
	Name     string
	Topology Topology
	// AdminDSN is a PostgreSQL DSN of a server where the stack may create its database (dev
	// server topology). Empty: the stack starts a PostgreSQL of its own. A cluster always
	// runs its own (the one compose runs), which holds the bridge's database too.
	AdminDSN string
	// Binaries are the pinned Temporal programs (the cluster needs the server's too).
	// Nil: TemporalCLI for the dev server, the checkout's bin/ for a cluster.
	Binaries *Binaries
	// TemporalCLI is the pinned Temporal CLI binary (when Binaries is nil).
	TemporalCLI string
	// Root is the checkout (docker-compose.yml, deploy/, bin/; default: found from the
	// working directory).
	Root string
	// BinDir holds the built worker and ingress binaries (see Build). Empty: Start builds
	// them into a temporary directory from ModuleDir.
	BinDir string
	// ModuleDir is the module root to build from when BinDir is empty (default Root).
	ModuleDir string
	// LogDir receives <name>-temporal.log, <name>-worker.log, <name>-ingress.log, … Empty: a
	// temporary directory, removed by Stop.
	LogDir string
	// TaskQueue is TEMPORAL_TASK_QUEUE (default "devstack-<name>").
	TaskQueue string
	// Env is added to the environment of worker and ingress after the stack's own
	// variables, so it overrides them (e.g. "REORDER_WINDOW=0s", "LOG_LEVEL=debug").
	Env []string
	// TemporalFlags are extra dev-server arguments, e.g. dynamic config values. On a
	// cluster, its "--dynamic-config-value KEY=JSON" pairs are added to the dynamic config.
	TemporalFlags []string
	// Workers and Ingresses are replica counts (default 1 each).
	Workers, Ingresses int
	// HistoryShards of a cluster (default 4).
	HistoryShards int
	// ClusterTLS turns on mutual TLS on a cluster's frontend; the bridge gets the client
	// certificate through TEMPORAL_TLS_* variables.
	ClusterTLS *FrontendTLS
	// DurablePostgres keeps fsync on in the stack's own PostgreSQL (benchmarks).
	DurablePostgres bool
	// TemporalLogLevel is the cluster servers' LOG_LEVEL (default warn).
	TemporalLogLevel string
	// MetaOptions and RocketChatOptions adjust the emulators' options before they are built.
	MetaOptions       func(*meta.Options)
	RocketChatOptions func(*rocketchat.Options)
	// MetaHandler and RocketChatHandler, when set, wrap the emulators' HTTP handlers (to
	// observe or delay the product's calls).
	MetaHandler       func(http.Handler) http.Handler
	RocketChatHandler func(http.Handler) http.Handler
	// Agents replaces the default agents (ana available, bruno not) of the department.
	Agents []rocketchat.Agent
	// SkipConnectPage leaves the page unconnected (tests of the admin API).
	SkipConnectPage bool
	// DropDatabase drops the stack's database in Stop (benchmarks; tests keep it for
	// post-mortems).
	DropDatabase bool
	// StartTimeout bounds waiting for ingress and the worker (default 60 s).
	StartTimeout time.Duration
}

// Stack is one running deployment. Its methods are safe for concurrent use except Stop.
type Stack struct {
	opts      Options
	name      string
	root      string
	dir       string // scratch directory, removed by Stop
	dbName    string
	dbURL     string
	adminDSN  string
	taskQueue string
	binDir    string
	logDir    string
	ownBinDir string
	bins      *Binaries
	namespace string

	mu      sync.Mutex
	pg      *Postgres // the stack's own PostgreSQL (no AdminDSN)
	dev     *DevServer
	cluster *Cluster
	tc      client.Client
	bridge  *Bridge

	meta     *meta.Server
	metaHTTP *httptest.Server
	rc       *rocketchat.Server
	rcHTTP   *httptest.Server

	adminToken   string
	commandToken string
	webhookToken string
	appSecret    string
	botToken     string
	visitorKey   []byte
	key          []byte // TOKEN_ENCRYPTION_KEY
	// dc and fc encrypt and decrypt payloads as the product's processes do.
	dc  converter.DataConverter
	fc  converter.FailureConverter
	env []string
}

// Start starts a stack. On error everything started so far is stopped again.
func Start(ctx context.Context, opts Options) (_ *Stack, err error) {
	if opts.Name == "" {
		opts.Name = "stack"
	}
	if opts.Topology == "" {
		opts.Topology = TopologyDev
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 60 * time.Second
	}
	s := &Stack{opts: opts, name: opts.Name, root: opts.Root, namespace: "default"}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	if s.root == "" {
		if s.root, err = ModuleRoot(); err != nil {
			return nil, err
		}
	}
	if err := s.locateBinaries(); err != nil {
		return nil, err
	}
	s.taskQueue = opts.TaskQueue
	if s.taskQueue == "" {
		s.taskQueue = "devstack-" + s.name
	}
	if s.dir, err = ScratchDir(s.root, "stack-"+s.name); err != nil {
		return nil, err
	}
	s.logDir = opts.LogDir
	if s.logDir == "" {
		s.logDir = filepath.Join(s.dir, "logs")
	}
	if err = os.MkdirAll(s.logDir, 0o755); err != nil {
		return nil, err
	}
	s.binDir = opts.BinDir
	if s.binDir == "" {
		if s.ownBinDir, err = os.MkdirTemp("", "devstack-bin-"); err != nil {
			return nil, err
		}
		s.binDir = s.ownBinDir
		mod := opts.ModuleDir
		if mod == "" {
			mod = s.root
		}
		if err = Build(ctx, mod, s.binDir); err != nil {
			return nil, err
		}
	}

	s.key = make([]byte, 32)
	_, _ = rand.Read(s.key)
	key := s.key
	if s.dc, s.fc, err = temporalx.Converters(&config.Config{
		TokenEncryptionKey: config.Secret(base64.StdEncoding.EncodeToString(key))}); err != nil {
		return nil, err
	}
	if err := s.startTemporalAndDatabase(ctx); err != nil {
		return nil, err
	}
	s.visitorKey = config.DeriveKey(key, "visitor-token")
	// Every secret the bridge compares is at least 32 bytes (it refuses shorter ones).
	s.appSecret, s.webhookToken, s.botToken = RandomString(32), RandomString(32), RandomString(32)
	s.adminToken, s.commandToken = RandomString(32), RandomString(32)
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	ingressAddr := fmt.Sprintf("127.0.0.1:%d", port) // the one ingress, or the proxy in front of several
	ingressURL := "http://" + ingressAddr

	mo := meta.Options{AppSecret: s.appSecret, WebhookURL: ingressURL + "/webhooks/instagram"}
	if opts.MetaOptions != nil {
		opts.MetaOptions(&mo)
	}
	s.meta = meta.New(mo)
	s.meta.AddPage(meta.Page{PageID: PageID, IGAccountID: Account, Username: PageUsername, Name: PageName, AccessToken: PageToken})
	s.metaHTTP = httptest.NewServer(wrap(s.meta.Handler(), opts.MetaHandler))
	s.meta.SetPublicURL(s.metaHTTP.URL) // CDN links of customer media point here

	ro := rocketchat.DefaultOptions()
	ro.WebhookURL, ro.WebhookSecret = ingressURL+"/webhooks/rocketchat", s.webhookToken
	ro.BotUserID, ro.BotAuthToken = BotUserID, s.botToken
	if opts.RocketChatOptions != nil {
		opts.RocketChatOptions(&ro)
	}
	s.rc = rocketchat.New(ro)
	s.rc.AddDepartment(DepartmentID, DepartmentName, "")
	agents := opts.Agents
	if agents == nil {
		agents = []rocketchat.Agent{
			{ID: "agent-ana", Username: AgentName, Name: "Ana Agent", Departments: []string{DepartmentID}, Available: true},
			{ID: "agent-bruno", Username: BackupAgent, Name: "Bruno Backup", Departments: []string{DepartmentID}, Available: false},
		}
	}
	for _, a := range agents {
		s.rc.AddAgent(a)
	}
	s.rc.AddChannel(SetupChannel) // where the bot posts authorization buttons and reports
	// The admin who types commands in the setup channel: changes need the admin or
	// livechat-manager role, which Rocket.Chat reports (users.info).
	s.rc.AddUser(rocketchat.User{ID: AdminUserID, Username: AdminUsername, Name: "Maria Admin", AuthToken: RandomString(32),
		Permissions: []string{}, Roles: []string{"user", "admin"}})
	s.rcHTTP = httptest.NewServer(wrap(s.rc.Handler(), opts.RocketChatHandler))

	own := []string{
		"DATABASE_URL=" + s.dbURL,
		"TEMPORAL_ADDRESS=" + s.TemporalAddress(),
		"TEMPORAL_NAMESPACE=" + s.namespace,
		"TEMPORAL_TASK_QUEUE=" + s.taskQueue,
		"PUBLIC_URL=" + ingressURL,
		"ROCKETCHAT_URL=" + s.rcHTTP.URL, "ROCKETCHAT_USER_ID=" + BotUserID, "ROCKETCHAT_AUTH_TOKEN=" + s.botToken,
		"ROCKETCHAT_WEBHOOK_TOKEN=" + s.webhookToken,
		"ROCKETCHAT_COMMAND_TOKEN=" + s.commandToken,
		"META_APP_ID=910000000000001", "META_APP_SECRET=" + s.appSecret, "META_VERIFY_TOKEN=devstack-verify-token-0123456789abcdef",
		"META_GRAPH_URL=" + s.metaHTTP.URL, "META_DIALOG_URL=" + s.metaHTTP.URL,
		"MEDIA_FETCH_TEST_ORIGINS=" + s.metaHTTP.URL, // the sandbox's CDN is plain HTTP on loopback
		"TOKEN_ENCRYPTION_KEY=" + base64.StdEncoding.EncodeToString(key),
		"ADMIN_API_TOKEN=" + s.adminToken,
		"METRICS_ADDR=127.0.0.1:0", // several stacks and replicas run side by side
	}
	if s.cluster != nil {
		own = append(own, s.cluster.ClientTLSEnv()...)
	}
	s.env = MergeEnv(os.Environ(), own, opts.Env)
	s.bridge, err = NewBridge(BridgeOptions{BinDir: s.binDir, LogDir: s.logDir, LogPrefix: safeName(s.name) + "-",
		Env: s.env, Workers: opts.Workers, Ingresses: opts.Ingresses, Addr: ingressAddr})
	if err != nil {
		return nil, err
	}
	if err = s.bridge.Start(); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	for _, u := range s.bridge.ReplicaURLs() {
		if err = s.waitHTTP(wctx, u+"/healthz"); err != nil {
			return nil, err
		}
	}
	if err = s.WaitWorkerReady(wctx); err != nil {
		return nil, err
	}
	if !opts.SkipConnectPage {
		if err = s.ConnectPage(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Stack) locateBinaries() error {
	s.bins = s.opts.Binaries
	if s.opts.Topology == TopologyCluster {
		if s.bins == nil || s.bins.ServerDir == "" {
			b, err := LocateBinaries(filepath.Join(s.root, "bin"), true)
			if err != nil {
				return err
			}
			s.bins = b
		}
		return nil
	}
	if s.bins == nil {
		if s.opts.TemporalCLI == "" {
			return errors.New("devstack: Binaries or TemporalCLI is required")
		}
		s.bins = &Binaries{CLI: s.opts.TemporalCLI}
	}
	return nil
}

// startTemporalAndDatabase starts Temporal and makes the bridge's database: on the admin
// server (or the stack's own PostgreSQL) for the dev server; in the cluster's PostgreSQL,
// owned by the role compose makes for the bridge, for a cluster.
func (s *Stack) startTemporalAndDatabase(ctx context.Context) error {
	s.dbName = DatabaseName(s.name, time.Now())
	if s.opts.Topology == TopologyCluster {
		dc, err := dynamicConfigOf(s.opts.TemporalFlags)
		if err != nil {
			return err
		}
		level := s.opts.TemporalLogLevel
		if level == "" {
			level = "warn"
		}
		shards := s.opts.HistoryShards
		if shards == 0 {
			shards = 4
		}
		s.cluster, err = StartCluster(ctx, ClusterOptions{Root: s.root, Binaries: s.bins, Dir: filepath.Join(s.dir, "cluster"),
			LogDir: s.logDir, LogPrefix: safeName(s.name) + "-", HistoryShards: shards, LogLevel: level,
			DynamicConfig: dc, TLS: s.opts.ClusterTLS, PostgresDurable: s.opts.DurablePostgres})
		if err != nil {
			return err
		}
		s.namespace = s.cluster.Namespace()
		s.adminDSN = s.cluster.Postgres().SuperuserDSN("postgres")
		if err := createDatabaseOwned(ctx, s.adminDSN, s.dbName, "igdirect"); err != nil {
			return err
		}
		var err2 error
		s.dbURL, err2 = DSNWithDatabase(s.cluster.BridgeDSN(), s.dbName)
		if err2 != nil {
			return err2
		}
		return s.connectClient(ctx)
	}
	s.adminDSN = s.opts.AdminDSN
	if s.adminDSN == "" {
		pg, err := StartPostgres(ctx, PostgresOptions{Dir: filepath.Join(s.dir, "postgres"),
			LogPath: filepath.Join(s.logDir, safeName(s.name)+"-postgres.log"), Durable: s.opts.DurablePostgres})
		if err != nil {
			return err
		}
		s.pg = pg
		s.adminDSN = pg.SuperuserDSN("postgres")
	}
	var err error
	if s.dbURL, err = createDatabase(ctx, s.adminDSN, s.dbName); err != nil {
		return err
	}
	s.dev, err = StartDevServer(ctx, DevServerOptions{CLI: s.bins.CLI, DBFile: filepath.Join(s.dir, "temporal.db"),
		Flags: s.opts.TemporalFlags, LogPath: filepath.Join(s.logDir, safeName(s.name)+"-temporal.log")})
	if err != nil {
		return err
	}
	return s.connectClient(ctx)
}

// dynamicConfigOf turns dev-server "--dynamic-config-value KEY=JSON" pairs into dynamic
// config values for a cluster; any other flag has no cluster equivalent.
func dynamicConfigOf(flags []string) (map[string]any, error) {
	out := map[string]any{}
	for i := 0; i < len(flags); i++ {
		if flags[i] != "--dynamic-config-value" || i+1 == len(flags) {
			return nil, fmt.Errorf("devstack: dev-server flag %q has no cluster equivalent", flags[i])
		}
		k, v, ok := strings.Cut(flags[i+1], "=")
		if !ok {
			return nil, fmt.Errorf("devstack: %q is not KEY=JSON", flags[i+1])
		}
		var val any
		if err := json.Unmarshal([]byte(v), &val); err != nil {
			return nil, fmt.Errorf("devstack: dynamic config %s: %w", k, err)
		}
		out[k] = val
		i++
	}
	return out, nil
}

// connectClient (re)connects the stack's own Temporal client, with the bridge's code and
// the TEMPORAL_TLS_* settings the bridge gets.
func (s *Stack) connectClient(ctx context.Context) error {
	cfg := &config.Config{TemporalAddress: s.TemporalAddress(), TemporalNamespace: s.namespace,
		TokenEncryptionKey: config.Secret(base64.StdEncoding.EncodeToString(s.key))}
	if t := s.opts.ClusterTLS; s.cluster != nil && t != nil {
		cfg.TemporalTLSClientCertPath, cfg.TemporalTLSClientKeyPath = t.ClientCert, t.ClientKey
		cfg.TemporalTLSServerCACertPath, cfg.TemporalTLSServerName = t.ClientCA, t.ServerName
	}
	opts, err := temporalx.Options(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	c, err := dialReady(ctx, opts, 2*time.Minute)
	if err != nil {
		return err
	}
	s.mu.Lock()
	old := s.tc
	s.tc = c
	s.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return nil
}

func wrap(h http.Handler, with func(http.Handler) http.Handler) http.Handler {
	if with == nil {
		return h
	}
	return with(h)
}

// StartTemporal starts Temporal again after StopTemporal: the dev server on its port and
// database file, or every service of the cluster. The client is reconnected.
func (s *Stack) StartTemporal() error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if s.cluster != nil {
		if err := s.cluster.StartServices(ctx); err != nil {
			return err
		}
	} else if err := s.dev.Start(ctx); err != nil {
		return err
	}
	return s.connectClient(ctx)
}

// StopTemporal stops Temporal (the dev server, or every service of the cluster; the
// history stays).
func (s *Stack) StopTemporal() {
	if s.cluster != nil {
		s.cluster.StopServices()
	} else if s.dev != nil {
		s.dev.Stop()
	}
}

// StartProcess starts a process of the stack again: a worker or ingress replica, a
// service of the cluster, the cluster's PostgreSQL, or Temporal as a whole.
func (s *Stack) StartProcess(name string) error {
	switch {
	case name == Temporal:
		return s.StartTemporal()
	case s.cluster != nil && name == PostgresProc:
		return s.cluster.Postgres().StartAgain(context.Background())
	case s.cluster != nil && isClusterService(name):
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		return s.cluster.StartService(ctx, name)
	}
	return s.bridge.StartProcess(name)
}

func isClusterService(name string) bool {
	for _, sv := range serverServices {
		if sv.name == name {
			return true
		}
	}
	return false
}

// StopProcess signals a process (SIGTERM for a clean stop, SIGKILL for a crash) and waits
// for it to exit (killing it after a grace period).
func (s *Stack) StopProcess(name string, sig os.Signal) {
	switch {
	case name == Temporal:
		s.StopTemporal()
	case s.cluster != nil && name == PostgresProc:
		if sig == syscall.SIGTERM {
			sig = syscall.SIGINT // PostgreSQL's fast shutdown; SIGTERM waits for every session
		}
		s.cluster.Postgres().StopWith(sig)
	case s.cluster != nil && (isClusterService(name) || name == UI):
		s.cluster.StopService(name, sig)
	default:
		s.bridge.StopProcess(name, sig)
	}
}

// Running reports whether a process runs (it may have exited by itself).
func (s *Stack) Running(name string) bool {
	return s.PID(name) > 0
}

// PID returns the process id of a process of the stack, 0 when it is not running.
func (s *Stack) PID(name string) int {
	if name == Temporal && s.dev != nil {
		return s.dev.PID()
	}
	if s.cluster != nil {
		if pid, ok := s.cluster.PIDs()[name]; ok {
			return pid
		}
	}
	if name == PostgresProc && s.pg != nil {
		return s.pg.PID()
	}
	if s.bridge == nil {
		return 0
	}
	if p := s.bridge.Process(name); p != nil && p.Running() {
		return p.PID()
	}
	return 0
}

// Processes maps the name of every running process of the stack to its id: the bridge's
// replicas, the dev server ("temporal") or the cluster's processes, and PostgreSQL
// ("postgres", the postmaster) when the stack runs its own.
func (s *Stack) Processes() map[string]int {
	out := map[string]int{}
	if s.bridge == nil {
		return out
	}
	for _, n := range s.bridge.Names() {
		if pid := s.PID(n); pid > 0 {
			out[n] = pid
		}
	}
	if s.dev != nil && s.dev.PID() > 0 {
		out[Temporal] = s.dev.PID()
	}
	if s.cluster != nil {
		for n, pid := range s.cluster.PIDs() {
			out[n] = pid
		}
	}
	if s.pg != nil && s.pg.PID() > 0 {
		out[PostgresProc] = s.pg.PID()
	}
	return out
}

// Stop stops the processes, Temporal and the emulators, drops the database when
// Options.DropDatabase is set, and removes the stack's scratch directory.
func (s *Stack) Stop() {
	if s.bridge != nil {
		s.bridge.Stop()
	}
	s.mu.Lock()
	if s.tc != nil {
		s.tc.Close()
		s.tc = nil
	}
	s.mu.Unlock()
	if s.dev != nil {
		s.dev.Stop()
	}
	if s.meta != nil {
		s.meta.Close()
	}
	if s.metaHTTP != nil {
		s.metaHTTP.Close()
	}
	if s.rc != nil {
		s.rc.Close()
	}
	if s.rcHTTP != nil {
		s.rcHTTP.Close()
	}
	if s.opts.DropDatabase && s.dbName != "" && s.opts.AdminDSN != "" && s.cluster == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_ = dropDatabase(ctx, s.opts.AdminDSN, s.dbName)
		cancel()
	}
	if s.cluster != nil {
		s.cluster.Stop()
	}
	if s.pg != nil {
		s.pg.Stop()
	}
	if s.ownBinDir != "" {
		_ = os.RemoveAll(s.ownBinDir)
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir) // the state, and the logs unless they went to LogDir
	}
}

// Accessors.

func (s *Stack) Name() string               { return s.name }
func (s *Stack) Meta() *meta.Server         { return s.meta }
func (s *Stack) RC() *rocketchat.Server     { return s.rc }
func (s *Stack) MetaURL() string            { return s.metaHTTP.URL }
func (s *Stack) MetaHTTP() *httptest.Server { return s.metaHTTP }
func (s *Stack) RCHTTP() *httptest.Server   { return s.rcHTTP }
func (s *Stack) RocketChatURL() string      { return s.rcHTTP.URL }
func (s *Stack) IngressURL() string         { return s.bridge.URL() }
func (s *Stack) IngressReplicas() []string  { return s.bridge.ReplicaURLs() }
func (s *Stack) AdminToken() string         { return s.adminToken }
func (s *Stack) CommandToken() string       { return s.commandToken }
func (s *Stack) WebhookToken() string       { return s.webhookToken }
func (s *Stack) AppSecret() string          { return s.appSecret }
func (s *Stack) BotToken() string           { return s.botToken }
func (s *Stack) VisitorKey() []byte         { return s.visitorKey }
func (s *Stack) DatabaseName() string       { return s.dbName }
func (s *Stack) DatabaseURL() string        { return s.dbURL }
func (s *Stack) TaskQueue() string          { return s.taskQueue }
func (s *Stack) Namespace() string          { return s.namespace }
func (s *Stack) LogDir() string             { return s.logDir }
func (s *Stack) Topology() Topology         { return s.opts.Topology }
func (s *Stack) Env() []string              { return append([]string(nil), s.env...) }
func (s *Stack) VisitorToken(igsid string) string {
	return identity.VisitorToken(s.visitorKey, Account, igsid)
}

// AdminURL is the first ingress replica's internal listener (ADMIN_ADDR): admin API,
// metrics, readiness, payload codec.
func (s *Stack) AdminURL() string { return s.bridge.AdminURLs()[0] }

// Converters encrypt and decrypt payloads as the stack's processes do.
func (s *Stack) Converters() (converter.DataConverter, converter.FailureConverter) { return s.dc, s.fc }

// Cluster is the stack's Temporal cluster (nil on the dev server).
func (s *Stack) Cluster() *Cluster { return s.cluster }

// TemporalAddress is the frontend's address.
func (s *Stack) TemporalAddress() string {
	if s.cluster != nil {
		return s.cluster.FrontendAddress()
	}
	return s.dev.Address()
}

// Secrets are the credentials the stack configured, by name (no log may contain one).
func (s *Stack) Secrets() map[string]string {
	out := map[string]string{
		"META_APP_SECRET": s.appSecret, "ROCKETCHAT_WEBHOOK_TOKEN": s.webhookToken,
		"ROCKETCHAT_AUTH_TOKEN": s.botToken, "ADMIN_API_TOKEN": s.adminToken, "ROCKETCHAT_COMMAND_TOKEN": s.commandToken,
		"TOKEN_ENCRYPTION_KEY": envValue(s.env, "TOKEN_ENCRYPTION_KEY"), "page access token": PageToken,
	}
	if s.cluster != nil {
		for k, v := range s.cluster.Passwords() {
			out[k] = v
		}
	}
	return out
}

// Temporal returns the stack's client (nil while Temporal is stopped and not yet
// reconnected).
func (s *Stack) Temporal() client.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tc
}

// WorkflowID is the conversation workflow ID of a customer of the sandbox page.
func (s *Stack) WorkflowID(igsid string) string { return identity.WorkflowID(Account, igsid) }

// ConnectPage connects the sandbox page (token, department) through the admin API.
func (s *Stack) ConnectPage() error {
	body := fmt.Sprintf(`{"ig_account_id":%q,"ig_username":%q,"name":%q,"access_token":%q,"department":%q}`,
		Account, PageUsername, PageName, PageToken, DepartmentName)
	status, resp, err := s.Admin(http.MethodPut, "/pages/"+PageID, body)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("connect page: HTTP %d: %s", status, strings.TrimSpace(resp))
	}
	return nil
}

// Admin calls the admin API and returns the status and body.
func (s *Stack) Admin(method, path, body string) (int, string, error) {
	req, err := http.NewRequest(method, s.AdminURL()+"/admin/api"+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+s.adminToken)
	req.Header.Set("Content-Type", "application/json")
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// SetSetting writes an application setting straight into the product's database, as an
// admin's command would.
func (s *Stack) SetSetting(key, value string) error {
	db, err := sqlx.Open("postgres", s.dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(`INSERT INTO app_settings (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, key, value)
	return err
}

// AppSecretProof is appsecret_proof for a token, as a Graph API client computes it.
func (s *Stack) AppSecretProof(token string) string {
	m := hmac.New(sha256.New, []byte(s.appSecret))
	m.Write([]byte(token))
	return hex.EncodeToString(m.Sum(nil))
}

// WaitWorkerReady waits until every worker replica polls the stack's task queue for
// workflow tasks.
func (s *Stack) WaitWorkerReady(ctx context.Context) error {
	want := max(s.opts.Workers, 1)
	for {
		if tc := s.Temporal(); tc != nil {
			resp, err := tc.WorkflowService().DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{
				Namespace:     s.namespace,
				TaskQueue:     &taskqueuepb.TaskQueue{Name: s.taskQueue, Kind: enumspb.TASK_QUEUE_KIND_NORMAL},
				TaskQueueType: enumspb.TASK_QUEUE_TYPE_WORKFLOW,
			})
			if err == nil && len(resp.GetPollers()) >= want {
				return nil
			}
		}
		for i := 1; i <= want; i++ {
			if n := ReplicaName(Worker, i); !s.Running(n) {
				return fmt.Errorf("%s exited; see %s\n%s", n, s.bridge.LogPath(n), tail(s.bridge.LogPath(n), 15))
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("worker not polling task queue %s: %w", s.taskQueue, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *Stack) waitHTTP(ctx context.Context, u string) error {
	c := &http.Client{Timeout: 2 * time.Second}
	for {
		if resp, err := c.Get(u); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		for i := 1; i <= max(s.opts.Ingresses, 1); i++ {
			if n := ReplicaName(Ingress, i); !s.Running(n) {
				return fmt.Errorf("%s exited; see %s\n%s", n, s.bridge.LogPath(n), tail(s.bridge.LogPath(n), 15))
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not up: %w", u, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
