package devstack

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"
)

// The services of the production topology, as processes. Temporal's own name for the
// internal worker service (system workflows: schedules, batch operations, namespace
// deletion) is "worker"; it is "temporal-worker" here to tell it from the bridge's worker.
const (
	Frontend         = "temporal-frontend"
	History          = "temporal-history"
	Matching         = "temporal-matching"
	InternalWorker   = "temporal-worker"
	InternalFrontend = "temporal-internal-frontend"
	UI               = "temporal-ui"
	PostgresProc     = "postgres"
)

// serverServices in start order. History comes first and alone: on an empty database the
// first process to start writes the cluster metadata, and processes starting at once race
// for it ("failed to initialize current cluster metadata").
var serverServices = []struct{ name, service string }{
	{History, "history"}, {Matching, "matching"}, {Frontend, "frontend"}, {InternalFrontend, "internal-frontend"},
	{InternalWorker, "worker"},
}

// ClusterOptions configures the production topology of docker-compose.yml, run natively:
// PostgreSQL, Temporal's frontend, history, matching and internal worker as separate
// processes of the pinned server, and the UI. It runs what compose runs — the environment of
// the compose services, deploy/postgres/init-databases.sh, deploy/temporal/setup-schema.sh,
// the dynamic config, deploy/temporal/setup-namespace.sh — so a mistake in deploy/ or in
// docker-compose.yml shows up here.
type ClusterOptions struct {
	// Root is the checkout (docker-compose.yml, deploy/).
	Root     string
	Binaries *Binaries
	// Dir holds the cluster's state (the PostgreSQL data directory Dir/postgres, the
	// rendered dynamic config). Kept: the next start reuses it, as a compose volume.
	Dir    string
	LogDir string
	// LogPrefix starts every log file name (e.g. "shared-").
	LogPrefix string
	// HistoryShards is TEMPORAL_NUM_HISTORY_SHARDS (0: compose's default, 512; fixed once
	// the database holds data).
	HistoryShards int
	// Namespace is TEMPORAL_NAMESPACE (default "default").
	Namespace string
	// Ports: zero ports are chosen free.
	Ports ClusterPorts
	// UI starts the Temporal UI server.
	UI bool
	// LogLevel is the server's LOG_LEVEL (default: the config template's, info).
	LogLevel string
	// DynamicConfig values are added to deploy/temporal/dynamicconfig/production.yaml in a
	// copy (tests that need the server to behave differently, e.g. an early continue-as-new).
	DynamicConfig map[string]any
	// TLS turns on mutual TLS on the frontend.
	TLS *FrontendTLS
	// Passwords of the PostgreSQL roles (compose's POSTGRES_PASSWORD, APP_DB_PASSWORD,
	// TEMPORAL_DB_PASSWORD); generated when empty, stored in Dir for the next start.
	PostgresPassword, AppDBPassword, TemporalDBPassword string
	// PostgresDurable keeps fsync on (benchmarks of the production topology).
	PostgresDurable bool
}

// ClusterPorts are the host ports of the cluster. The defaults of make run-cluster are the
// config template's (frontend 7233, history 7234, matching 7235, membership 6933–6939).
type ClusterPorts struct {
	Postgres                                                    int
	Frontend, FrontendHTTP, History, Matching, InternalFrontend int
	FrontendMembership, HistoryMembership, MatchingMembership   int
	WorkerMembership, InternalFrontendMembership                int
	InternalFrontendHTTP                                        int
	UI                                                          int
}

// DefaultClusterPorts are the template's ports, for make run-cluster.
func DefaultClusterPorts() ClusterPorts {
	return ClusterPorts{Frontend: 7233, FrontendHTTP: 7243, History: 7234, Matching: 7235, InternalFrontend: 7236,
		FrontendMembership: 6933, HistoryMembership: 6934, MatchingMembership: 6935, WorkerMembership: 6939,
		InternalFrontendMembership: 6936, InternalFrontendHTTP: 7246, UI: 8233}
}

// FrontendTLS is mutual TLS on the frontend: the server's certificate, the CA its clients'
// certificates must chain to, and a client certificate for the cluster's own tools
// (namespace setup, UI, the stack's client). With it the internal worker reaches the
// cluster through an internal frontend (USE_INTERNAL_FRONTEND), which needs no client
// certificate — as Temporal advises for a frontend that authenticates its clients.
type FrontendTLS struct {
	ServerCert, ServerKey string
	ClientCA              string
	ClientCert, ClientKey string
	// ServerName is the name in the server certificate that clients check.
	ServerName string
}

// Cluster is a running production topology.
type Cluster struct {
	opts    ClusterOptions
	compose *compose
	pg      *Postgres
	env     []string // of the server processes
	mu      sync.Mutex
	procs   map[string]*Process
	ns      string
	bridge  string // the bridge's DATABASE_URL, as compose builds it
}

// StartCluster starts PostgreSQL, prepares it as compose does, and starts the services.
// On error everything started is stopped.
func StartCluster(ctx context.Context, opts ClusterOptions) (_ *Cluster, err error) {
	if opts.Binaries == nil || opts.Binaries.ServerDir == "" {
		return nil, fmt.Errorf("devstack: the cluster needs the server binaries (BuildBinaries with cluster)")
	}
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, err
	}
	if opts.LogDir == "" {
		opts.LogDir = opts.Dir
	}
	c := &Cluster{opts: opts, procs: map[string]*Process{}, ns: opts.Namespace}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	if c.compose, err = loadCompose(filepath.Join(opts.Root, "docker-compose.yml")); err != nil {
		return nil, err
	}
	if err := c.passwords(); err != nil {
		return nil, err
	}
	if err := c.choosePorts(); err != nil {
		return nil, err
	}
	fresh := false
	if _, err := os.Stat(filepath.Join(opts.Dir, "postgres", "PG_VERSION")); err != nil {
		fresh = true
	}
	if err := c.startPostgres(ctx); err != nil {
		return nil, err
	}
	if fresh {
		// The postgres image runs its init scripts only on an empty data volume.
		if err := c.initDatabases(ctx); err != nil {
			return nil, err
		}
	}
	if err := c.runOneShot(ctx, "temporal-schema", c.schemaEnv); err != nil {
		return nil, err
	}
	if c.env, err = c.serverEnv(); err != nil {
		return nil, err
	}
	if err := c.StartServices(ctx); err != nil {
		return nil, err
	}
	if err := c.runOneShot(ctx, "temporal-setup", c.setupEnv); err != nil {
		return nil, err
	}
	if opts.UI {
		if err := c.startUI(); err != nil {
			return nil, err
		}
	}
	if c.bridge, err = c.bridgeDSN(); err != nil {
		return nil, err
	}
	return c, nil
}

// passwords reads or makes the role passwords (kept in Dir/passwords.env, mode 0600).
func (c *Cluster) passwords() error {
	path := filepath.Join(c.opts.Dir, "passwords.env")
	saved := map[string]string{}
	if b, err := os.ReadFile(path); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				saved[k] = v
			}
		}
	}
	pick := func(given *string, key string) {
		switch {
		case *given != "":
		case saved[key] != "":
			*given = saved[key]
		default:
			*given = strings.ToLower(RandomString(24)) // URL-safe, like `openssl rand -hex`
		}
		saved[key] = *given
	}
	pick(&c.opts.PostgresPassword, "POSTGRES_PASSWORD")
	pick(&c.opts.AppDBPassword, "APP_DB_PASSWORD")
	pick(&c.opts.TemporalDBPassword, "TEMPORAL_DB_PASSWORD")
	var b strings.Builder
	for _, k := range []string{"POSTGRES_PASSWORD", "APP_DB_PASSWORD", "TEMPORAL_DB_PASSWORD"} {
		fmt.Fprintf(&b, "%s=%s\n", k, saved[k])
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

func (c *Cluster) choosePorts() error {
	p := &c.opts.Ports
	for _, f := range []*int{&p.Postgres, &p.Frontend, &p.FrontendHTTP, &p.History, &p.Matching, &p.InternalFrontend,
		&p.InternalFrontendHTTP, &p.UI} {
		if *f == 0 {
			n, err := FreePort()
			if err != nil {
				return err
			}
			*f = n
		}
	}
	for _, f := range []*int{&p.FrontendMembership, &p.HistoryMembership, &p.MatchingMembership, &p.WorkerMembership,
		&p.InternalFrontendMembership} {
		if *f == 0 {
			n, err := FreeLowPort()
			if err != nil {
				return err
			}
			*f = n
		}
	}
	return nil
}

// composeVars are the variables compose would read from .env and the shell for the
// services used here: the passwords and namespace of this cluster, and from the environment
// the sizing variables (TEMPORAL_NUM_HISTORY_SHARDS, POSTGRES_MAX_CONNECTIONS,
// TEMPORAL_NAMESPACE_RETENTION) unless the options set them, and CODEC_AUTH_TOKEN (the UI's
// codec endpoint).
func (c *Cluster) composeVars() map[string]string {
	vars := map[string]string{}
	for _, k := range []string{"TEMPORAL_NAMESPACE_RETENTION", "POSTGRES_MAX_CONNECTIONS", "TEMPORAL_NUM_HISTORY_SHARDS",
		"CODEC_AUTH_TOKEN"} {
		if v := os.Getenv(k); v != "" {
			vars[k] = v
		}
	}
	vars["POSTGRES_PASSWORD"] = c.opts.PostgresPassword
	vars["APP_DB_PASSWORD"] = c.opts.AppDBPassword
	vars["TEMPORAL_DB_PASSWORD"] = c.opts.TemporalDBPassword
	vars["TEMPORAL_NAMESPACE"] = c.opts.Namespace
	if c.opts.HistoryShards > 0 {
		vars["TEMPORAL_NUM_HISTORY_SHARDS"] = strconv.Itoa(c.opts.HistoryShards)
	}
	return vars
}

// native maps compose's network to this machine: "service:port" addresses (in URLs and
// TEMPORAL_ADDRESS) become 127.0.0.1 and the host port chosen here.
func (c *Cluster) native(v string) string {
	p := c.opts.Ports
	for from, to := range map[string]string{
		"postgresql:5432": fmt.Sprintf("127.0.0.1:%d", p.Postgres),
		"temporal:7233":   fmt.Sprintf("127.0.0.1:%d", p.Frontend),
	} {
		v = strings.ReplaceAll(v, from, to)
	}
	return v
}

// hostKeys hold a bare host name of the postgresql service; portKeys (nativeEnv's argument)
// its bare container port.
var hostKeys = map[string]bool{"SQL_HOST": true, "POSTGRES_SEEDS": true}

// nativeEnv is a compose service's environment on this machine. portKeys name variables
// that hold a bare container port of the postgresql service ("5432").
func (c *Cluster) nativeEnv(service string, portKeys ...string) (map[string]string, *composeService, error) {
	s, err := c.compose.service(service)
	if err != nil {
		return nil, nil, err
	}
	env, err := s.env(c.composeVars())
	if err != nil {
		return nil, nil, fmt.Errorf("docker-compose.yml service %s: %w", service, err)
	}
	for k, v := range env {
		env[k] = c.native(v)
		if hostKeys[k] {
			if v != "postgresql" {
				return nil, nil, fmt.Errorf("docker-compose.yml service %s: %s is %q, expected the postgresql service", service, k, v)
			}
			env[k] = "127.0.0.1"
		}
	}
	for _, k := range portKeys {
		if env[k] != "5432" {
			return nil, nil, fmt.Errorf("docker-compose.yml service %s: %s is %q, expected the postgresql service's port 5432", service, k, env[k])
		}
		env[k] = strconv.Itoa(c.opts.Ports.Postgres)
	}
	return env, s, nil
}

func (c *Cluster) startPostgres(ctx context.Context) error {
	env, s, err := c.nativeEnv("postgresql")
	if err != nil {
		return err
	}
	if u := env["POSTGRES_USER"]; u != "postgres" {
		return fmt.Errorf("docker-compose.yml: POSTGRES_USER is %q; the native cluster's superuser is postgres", u)
	}
	// command: ["postgres", "-c", "max_connections=…"]
	settings := map[string]string{}
	for i := 0; i+1 < len(s.Command); i++ {
		if s.Command[i] == "-c" {
			arg, err := interpolate(s.Command[i+1], c.composeVars())
			if err != nil {
				return err
			}
			if k, v, ok := strings.Cut(arg, "="); ok {
				settings[k] = v
			}
		}
	}
	c.pg, err = StartPostgres(ctx, PostgresOptions{
		Dir: filepath.Join(c.opts.Dir, "postgres"), Port: c.opts.Ports.Postgres,
		LogPath:           filepath.Join(c.opts.LogDir, c.opts.LogPrefix+"postgres.log"),
		SuperuserPassword: env["POSTGRES_PASSWORD"], Settings: settings, Durable: c.opts.PostgresDurable,
	})
	return err
}

// initDatabases runs the scripts compose mounts into the postgres image's
// /docker-entrypoint-initdb.d, in name order, with the service's environment. The image
// runs them against a server on a Unix socket; here psql reaches the server by TCP.
func (c *Cluster) initDatabases(ctx context.Context) error {
	env, s, err := c.nativeEnv("postgresql")
	if err != nil {
		return err
	}
	const initDir = "/docker-entrypoint-initdb.d/"
	var scripts []string
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 && strings.HasPrefix(parts[1], initDir) && strings.HasSuffix(parts[1], ".sh") {
			scripts = append(scripts, parts[1])
		}
	}
	sort.Strings(scripts)
	if len(scripts) == 0 {
		return fmt.Errorf("docker-compose.yml: the postgresql service mounts no init script into %s", initDir)
	}
	pgBin, err := PostgresBinDir()
	if err != nil {
		return err
	}
	env["PGHOST"], env["PGPORT"], env["PGPASSWORD"] = "127.0.0.1", strconv.Itoa(c.pg.Port()), env["POSTGRES_PASSWORD"]
	env["PATH"] = pgBin + ":" + os.Getenv("PATH")
	for _, script := range scripts {
		host, _ := c.compose.hostPath(s, script)
		if err := c.runScript(ctx, "postgresql-init", []string{"bash", host}, env); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) schemaEnv(env map[string]string) {
	env["TEMPORAL_SCHEMA_DIR"] = c.opts.Binaries.SchemaDir() // where admin-tools keeps it: /etc/temporal/schema/…
	env["PATH"] = c.opts.Binaries.ServerDir + ":" + os.Getenv("PATH")
}

func (c *Cluster) setupEnv(env map[string]string) {
	env["PATH"] = filepath.Dir(c.opts.Binaries.CLI) + ":" + os.Getenv("PATH")
	for k, v := range c.clientTLSEnv() {
		env[k] = v
	}
}

// clientTLSEnv is how the cluster's own clients (the temporal CLI of setup-namespace.sh,
// the bridge in tests) reach a frontend with mutual TLS: the environment variables of the
// temporal CLI, which the bridge reads too.
func (c *Cluster) clientTLSEnv() map[string]string {
	t := c.opts.TLS
	if t == nil {
		return nil
	}
	return map[string]string{
		"TEMPORAL_TLS_CLIENT_CERT_PATH":    t.ClientCert,
		"TEMPORAL_TLS_CLIENT_KEY_PATH":     t.ClientKey,
		"TEMPORAL_TLS_SERVER_CA_CERT_PATH": t.ClientCA,
		"TEMPORAL_TLS_SERVER_NAME":         t.ServerName,
	}
}

// runOneShot runs a one-shot compose service (its entrypoint, a script of deploy/ mounted
// into the container) natively, with the service's environment.
func (c *Cluster) runOneShot(ctx context.Context, service string, adjust func(map[string]string)) error {
	var portKeys []string
	if service == "temporal-schema" {
		portKeys = []string{"SQL_PORT"}
	}
	env, s, err := c.nativeEnv(service, portKeys...)
	if err != nil {
		return err
	}
	adjust(env)
	if len(s.Entrypoint) != 2 || s.Entrypoint[0] != "/bin/sh" {
		return fmt.Errorf("docker-compose.yml service %s: entrypoint %q, expected [/bin/sh, <script>]", service, s.Entrypoint)
	}
	script, ok := c.compose.hostPath(s, s.Entrypoint[1])
	if !ok {
		return fmt.Errorf("docker-compose.yml service %s: %s is not mounted from the checkout", service, s.Entrypoint[1])
	}
	return c.runScript(ctx, service, []string{"/bin/sh", script}, env)
}

func (c *Cluster) runScript(ctx context.Context, name string, argv []string, env map[string]string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = containerEnv(env)
	logPath := filepath.Join(c.opts.LogDir, c.opts.LogPrefix+name+".log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s (%s) failed: %v; see %s\n%s", name, strings.Join(argv[1:], " "), err, logPath, tail(logPath, 15))
	}
	return nil
}

// serverEnv is the environment of the server processes: compose's temporal service with
// host and ports of this machine, as the image's config template reads them
// (config/docker.yaml of the server module).
func (c *Cluster) serverEnv() ([]string, error) {
	env, s, err := c.nativeEnv("temporal", "DB_PORT")
	if err != nil {
		return nil, err
	}
	p := c.opts.Ports
	// config/docker.yaml of server 1.29.1 takes the PostgreSQL visibility store's port from
	// POSTGRES_PORT (the default store's from DB_PORT); compose relies on both defaulting to
	// 5432.
	env["POSTGRES_PORT"] = env["DB_PORT"]
	// Processes on one host: every service binds 127.0.0.1 on its own ports.
	for k, v := range map[string]int{
		"FRONTEND_GRPC_PORT": p.Frontend, "FRONTEND_HTTP_PORT": p.FrontendHTTP, "FRONTEND_MEMBERSHIP_PORT": p.FrontendMembership,
		"HISTORY_GRPC_PORT": p.History, "HISTORY_MEMBERSHIP_PORT": p.HistoryMembership,
		"MATCHING_GRPC_PORT": p.Matching, "MATCHING_MEMBERSHIP_PORT": p.MatchingMembership,
		"WORKER_MEMBERSHIP_PORT":            p.WorkerMembership,
		"INTERNAL_FRONTEND_GRPC_PORT":       p.InternalFrontend,
		"INTERNAL_FRONTEND_MEMBERSHIP_PORT": p.InternalFrontendMembership,
		"INTERNAL_FRONTEND_HTTP_PORT":       p.InternalFrontendHTTP,
	} {
		env[k] = strconv.Itoa(v)
	}
	env["BIND_ON_IP"], env["TEMPORAL_BROADCAST_ADDRESS"] = "127.0.0.1", "127.0.0.1"
	if c.opts.LogLevel != "" {
		env["LOG_LEVEL"] = c.opts.LogLevel
	}
	dc, ok := c.compose.hostPath(s, env["DYNAMIC_CONFIG_FILE_PATH"])
	if !ok {
		return nil, fmt.Errorf("docker-compose.yml: DYNAMIC_CONFIG_FILE_PATH %s is not mounted from the checkout", env["DYNAMIC_CONFIG_FILE_PATH"])
	}
	if len(c.opts.DynamicConfig) > 0 {
		if dc, err = c.extendDynamicConfig(dc); err != nil {
			return nil, err
		}
	}
	env["DYNAMIC_CONFIG_FILE_PATH"] = dc
	if t := c.opts.TLS; t != nil {
		env["TEMPORAL_TLS_FRONTEND_CERT"], env["TEMPORAL_TLS_FRONTEND_KEY"] = t.ServerCert, t.ServerKey
		// The template lists CLIENT1 and CLIENT2 whenever CLIENT1 is set.
		env["TEMPORAL_TLS_CLIENT1_CA_CERT"], env["TEMPORAL_TLS_CLIENT2_CA_CERT"] = t.ClientCA, t.ClientCA
		env["TEMPORAL_TLS_REQUIRE_CLIENT_AUTH"] = "true"
		env["USE_INTERNAL_FRONTEND"] = "true"
	}
	return containerEnv(env), nil
}

// extendDynamicConfig writes production.yaml with the extra values to Dir.
func (c *Cluster) extendDynamicConfig(base string) (string, error) {
	b, err := os.ReadFile(base)
	if err != nil {
		return "", err
	}
	m := map[string]any{}
	if err := yaml.Unmarshal(b, &m); err != nil {
		return "", fmt.Errorf("%s: %w", base, err)
	}
	for k, v := range c.opts.DynamicConfig {
		m[k] = []map[string]any{{"value": v}}
	}
	out, err := yaml.Marshal(m)
	if err != nil {
		return "", err
	}
	path := filepath.Join(c.opts.Dir, "dynamicconfig.yaml")
	return path, os.WriteFile(path, out, 0o644)
}

// StartServices starts the server processes that are not running, in order, each once the
// one before listens.
func (c *Cluster) StartServices(ctx context.Context) error {
	for _, s := range serverServices {
		if s.name == InternalFrontend && c.opts.TLS == nil {
			continue
		}
		if err := c.StartService(ctx, s.name); err != nil {
			return err
		}
	}
	return nil
}

// StartService starts one server process (again) and waits until it listens.
func (c *Cluster) StartService(ctx context.Context, name string) error {
	var service string
	for _, s := range serverServices {
		if s.name == name {
			service = s.service
		}
	}
	if service == "" {
		return fmt.Errorf("devstack: %q is not a Temporal service", name)
	}
	c.mu.Lock()
	if p := c.procs[name]; p != nil && p.Running() {
		c.mu.Unlock()
		return nil
	}
	proc, err := StartProc(ProcSpec{Name: name, Path: c.opts.Binaries.Server(), Env: c.env,
		Args:    []string{"--root", c.opts.Binaries.ServerDir, "--config", "config", "--env", "docker", "start", "--service", service},
		LogPath: filepath.Join(c.opts.LogDir, c.opts.LogPrefix+name+".log")})
	if err == nil {
		c.procs[name] = proc
	}
	c.mu.Unlock()
	if err != nil {
		return err
	}
	p := c.opts.Ports
	port := map[string]int{History: p.History, Matching: p.Matching, Frontend: p.Frontend,
		InternalFrontend: p.InternalFrontend, InternalWorker: p.WorkerMembership}[name] // the internal worker serves no gRPC
	return waitListening(ctx, proc, port, 2*time.Minute)
}

// waitListening waits until something accepts connections on the port, or the process
// exits.
func waitListening(ctx context.Context, proc *Process, port int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		if !proc.Running() {
			return proc.errExited()
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s not listening on %d after %s; see %s", proc.Name(), port, timeout, proc.LogPath())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// StopService stops one process of the cluster (a Temporal service or the UI) with sig
// (SIGTERM: graceful; SIGKILL: a crash).
func (c *Cluster) StopService(name string, sig os.Signal) {
	c.mu.Lock()
	p := c.procs[name]
	c.mu.Unlock()
	if p != nil {
		p.Stop(sig, 30*time.Second)
	}
}

// StopServices stops every Temporal server process (not PostgreSQL, not the UI): the whole
// Temporal server down.
func (c *Cluster) StopServices() {
	for i := len(serverServices) - 1; i >= 0; i-- {
		c.StopService(serverServices[i].name, syscall.SIGTERM)
	}
}

func (c *Cluster) startUI() error {
	env, _, err := c.nativeEnv("temporal-ui")
	if err != nil {
		return err
	}
	// compose publishes the container's port 8080 on TEMPORAL_UI_ADDR; natively the server
	// listens on the published port itself.
	env["TEMPORAL_UI_PORT"] = strconv.Itoa(c.opts.Ports.UI)
	if t := c.opts.TLS; t != nil {
		env["TEMPORAL_TLS_CA"], env["TEMPORAL_TLS_CERT"], env["TEMPORAL_TLS_KEY"] = t.ClientCA, t.ClientCert, t.ClientKey
		env["TEMPORAL_TLS_SERVER_NAME"], env["TEMPORAL_TLS_ENABLE_HOST_VERIFICATION"] = t.ServerName, "true"
	}
	proc, err := StartProc(ProcSpec{Name: UI, Path: c.opts.Binaries.UIServer(), Env: containerEnv(env),
		Args:    []string{"--root", c.opts.Binaries.UIDir, "--config", "config", "--env", "docker", "start"},
		LogPath: filepath.Join(c.opts.LogDir, c.opts.LogPrefix+UI+".log")})
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.procs[UI] = proc
	c.mu.Unlock()
	return waitListening(context.Background(), proc, c.opts.Ports.UI, time.Minute)
}

// bridgeDSN is compose's DATABASE_URL of the worker service on this machine.
func (c *Cluster) bridgeDSN() (string, error) {
	env, _, err := c.nativeEnv("worker")
	if err != nil {
		return "", err
	}
	dsn := env["DATABASE_URL"]
	if _, err := url.Parse(dsn); err != nil || dsn == "" {
		return "", fmt.Errorf("docker-compose.yml: worker DATABASE_URL %q is not a URL", dsn)
	}
	return dsn, nil
}

// BridgeDSN is the bridge's DATABASE_URL (role igdirect, database igdirect, as compose).
func (c *Cluster) BridgeDSN() string { return c.bridge }

// Passwords are the PostgreSQL roles' passwords by compose's variable names.
func (c *Cluster) Passwords() map[string]string {
	return map[string]string{"POSTGRES_PASSWORD": c.opts.PostgresPassword, "APP_DB_PASSWORD": c.opts.AppDBPassword,
		"TEMPORAL_DB_PASSWORD": c.opts.TemporalDBPassword}
}

// AppDBPassword is the password of the igdirect role.
func (c *Cluster) AppDBPassword() string { return c.opts.AppDBPassword }

// Postgres is the cluster's PostgreSQL (Temporal's and the bridge's databases).
func (c *Cluster) Postgres() *Postgres { return c.pg }

// FrontendAddress is the frontend's gRPC address.
func (c *Cluster) FrontendAddress() string { return fmt.Sprintf("127.0.0.1:%d", c.opts.Ports.Frontend) }

// UIURL is the Temporal UI's address ("" without the UI).
func (c *Cluster) UIURL() string {
	if !c.opts.UI {
		return ""
	}
	return fmt.Sprintf("http://localhost:%d", c.opts.Ports.UI)
}

// Namespace is the namespace setup-namespace.sh prepared.
func (c *Cluster) Namespace() string { return c.ns }

// ClientTLSEnv are the TEMPORAL_TLS_* variables a client of this cluster needs (none
// without TLS).
func (c *Cluster) ClientTLSEnv() []string { return envList(c.clientTLSEnv()) }

// PIDs are the process ids of the running processes by name (PostgreSQL: the postmaster).
func (c *Cluster) PIDs() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for name, p := range c.procs {
		if p.Running() {
			out[name] = p.PID()
		}
	}
	if pid := c.pg.PID(); pid > 0 {
		out[PostgresProc] = pid
	}
	return out
}

// Processes are the cluster's processes by name (PostgreSQL's postmaster included).
func (c *Cluster) Processes() map[string]*Process {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]*Process{}
	for n, p := range c.procs {
		out[n] = p
	}
	if c.pg != nil && c.pg.proc != nil {
		out[PostgresProc] = c.pg.proc
	}
	return out
}

// Running reports whether a process of the cluster runs.
func (c *Cluster) Running(name string) bool {
	if name == PostgresProc {
		return c.pg.Running()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.procs[name]
	return p != nil && p.Running()
}

// Stop stops everything: the UI, the services in reverse order, PostgreSQL.
func (c *Cluster) Stop() {
	c.StopService(UI, syscall.SIGTERM)
	c.StopServices()
	c.pg.Stop()
}

// containerEnv is what a script sees in its container: the service's environment and the
// basics of a shell, nothing else of this process's environment (a TEMPORAL_ADDRESS of the
// caller's shell must not reach the scripts).
func containerEnv(env map[string]string) []string {
	base := map[string]string{"PATH": "/usr/local/bin:/usr/bin:/bin"}
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "LANG"} {
		if v := os.Getenv(k); v != "" {
			base[k] = v
		}
	}
	for k, v := range env {
		base[k] = v
	}
	return envList(base)
}

func envList(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}
