package devstack

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
)

// RunOptions configures Run, the stack of `make run` (dev server) and `make run-cluster`
// (the production topology of docker-compose.yml).
type RunOptions struct {
	Root    string
	Cluster bool
	Out     io.Writer
}

// The fixed addresses of make run and make run-cluster (README).
const (
	runPGPort        = 55432 // make run's PostgreSQL (PG_PORT)
	runClusterPGPort = 55436 // make run-cluster's PostgreSQL (PG_PORT)
	sandboxMetaAddr  = "127.0.0.1:9091"
	sandboxRCAddr    = "127.0.0.1:9092"
)

// runStack is what Run started, stopped in reverse order.
type runStack struct {
	pg      *Postgres
	dev     *DevServer
	cluster *Cluster
	bridge  *Bridge
	sandbox *Process
}

func (r *runStack) stop() {
	if r.sandbox != nil {
		r.sandbox.Stop(syscall.SIGTERM, 10*time.Second)
	}
	if r.bridge != nil {
		r.bridge.Stop()
	}
	if r.dev != nil {
		r.dev.Stop()
	}
	if r.cluster != nil {
		r.cluster.Stop()
	}
	if r.pg != nil {
		r.pg.Stop()
	}
}

// processes are everything Run watches: one of them exiting ends the run.
func (r *runStack) processes() map[string]*Process {
	out := map[string]*Process{}
	if r.pg != nil {
		out[PostgresProc] = r.pg.proc
	}
	if r.dev != nil {
		out[Temporal] = r.dev.proc
	}
	if r.cluster != nil {
		for n, p := range r.cluster.Processes() {
			out[n] = p
		}
	}
	if r.bridge != nil {
		for n, p := range r.bridge.Processes() {
			out[n] = p
		}
	}
	if r.sandbox != nil {
		out["sandbox"] = r.sandbox
	}
	return out
}

// Run starts the interactive stack and runs until ctx ends (Ctrl-C) or one of its
// processes exits; then it stops everything it started. .data/ keeps the state between
// runs: PostgreSQL, the dev server's database or the cluster, the generated secrets.
func Run(ctx context.Context, o RunOptions) (err error) {
	out := o.Out
	say := func(format string, args ...any) { fmt.Fprintf(out, "\033[1;34m==>\033[0m "+format+"\n", args...) }
	data := filepath.Join(o.Root, ".data")
	logDir := filepath.Join(data, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	if err := loadSecrets(filepath.Join(data, "secrets.env")); err != nil {
		return err
	}
	env := func(k, def string) string {
		if v := os.Getenv(k); v != "" {
			return v
		}
		return def
	}
	pgPort := runPGPort
	if o.Cluster {
		pgPort = runClusterPGPort
	}
	if v := os.Getenv("PG_PORT"); v != "" {
		if pgPort, err = strconv.Atoi(v); err != nil {
			return fmt.Errorf("PG_PORT=%q is not a port", v)
		}
	}
	localDB := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/igdirect?sslmode=disable", pgPort)
	dbURL := env("DATABASE_URL", localDB)
	temporalAddr := env("TEMPORAL_ADDRESS", "127.0.0.1:7233")
	ingressAddr := env("INGRESS_ADDR", ":8080")
	adminAddr := env("ADMIN_ADDR", "127.0.0.1:9081")
	publicURL := env("PUBLIC_URL", "http://localhost:8080")
	_, ingressPort, err := net.SplitHostPort(ingressAddr)
	if err != nil {
		return fmt.Errorf("INGRESS_ADDR=%q: %w", ingressAddr, err)
	}
	_, adminPort, err := net.SplitHostPort(adminAddr)
	if err != nil {
		return fmt.Errorf("ADMIN_ADDR=%q: %w", adminAddr, err)
	}
	ingressLocal := "http://127.0.0.1:" + ingressPort
	adminLocal := "http://127.0.0.1:" + adminPort // ingress's internal listener: admin API, codec
	sandbox := os.Getenv("ROCKETCHAT_URL") == "" && os.Getenv("META_APP_SECRET") == ""
	startPG := !o.Cluster && strings.Contains(dbURL, fmt.Sprintf("127.0.0.1:%d", pgPort))
	startTemporal := o.Cluster || temporalAddr == "127.0.0.1:7233"

	// Refuse to start over another stack: ports would clash and half the processes exit.
	ports := []int{}
	for _, port := range []string{ingressPort, adminPort} {
		if p, _ := strconv.Atoi(port); p > 0 {
			ports = append(ports, p)
		}
	}
	if startTemporal {
		ports = append(ports, 7233, 8233)
	}
	if sandbox {
		ports = append(ports, 9091, 9092)
	}
	cports := DefaultClusterPorts()
	if o.Cluster {
		cports.Postgres = pgPort
		ports = append(ports, pgPort, cports.FrontendHTTP, cports.History, cports.Matching, cports.FrontendMembership,
			cports.HistoryMembership, cports.MatchingMembership, cports.WorkerMembership, 8081, 8082, 9082)
	}
	for _, p := range ports {
		if !portFree(p) {
			return fmt.Errorf("port %d is already in use (another make run or make run-cluster?); stop it first", p)
		}
	}

	say("Building")
	bin := filepath.Join(o.Root, "bin")
	if err := Build(ctx, o.Root, bin, "./sandbox/cmd/sandbox"); err != nil {
		return err
	}
	bins, err := BuildBinaries(ctx, bin, o.Cluster, out)
	if err != nil {
		return err
	}

	r := &runStack{}
	defer func() {
		say("Stopping")
		r.stop()
	}()
	namespace := env("TEMPORAL_NAMESPACE", "default")
	if startPG {
		say("Starting PostgreSQL on 127.0.0.1:%d (.data/pg)", pgPort)
		if r.pg, err = StartPostgres(ctx, PostgresOptions{Dir: filepath.Join(data, "pg"), Port: pgPort,
			LogPath: filepath.Join(logDir, "postgres.log")}); err != nil {
			return err
		}
		if err := ensureDatabase(ctx, r.pg.SuperuserDSN("postgres"), "igdirect"); err != nil {
			return err
		}
	}
	switch {
	case o.Cluster:
		say("Starting the production topology of docker-compose.yml (.data/cluster): PostgreSQL on 127.0.0.1:%d, Temporal frontend, history, matching, internal worker, UI http://localhost:8233", pgPort)
		r.cluster, err = StartCluster(ctx, ClusterOptions{Root: o.Root, Binaries: bins, Dir: filepath.Join(data, "cluster"),
			LogDir: logDir, Namespace: namespace, Ports: cports, UI: true})
		if err != nil {
			return err
		}
		dbURL, temporalAddr = r.cluster.BridgeDSN(), r.cluster.FrontendAddress()
	case startTemporal:
		say("Starting Temporal dev server (UI http://localhost:8233)")
		// The UI decrypts payloads through ingress's codec endpoint (internal listener).
		r.dev, err = StartDevServer(ctx, DevServerOptions{CLI: bins.CLI, DBFile: filepath.Join(data, "temporal", "dev.db"),
			Port: 7233, UIPort: 8233, LogPath: filepath.Join(logDir, "temporal.log"),
			UICodecEndpoint: adminLocal + "/codec/" + os.Getenv("CODEC_AUTH_TOKEN")})
		if err != nil {
			return err
		}
	}

	bridgeEnv := []string{"DATABASE_URL=" + dbURL, "TEMPORAL_ADDRESS=" + temporalAddr, "INGRESS_ADDR=" + ingressAddr,
		"ADMIN_ADDR=" + adminAddr, "PUBLIC_URL=" + publicURL}
	if sandbox {
		say("No Rocket.Chat / Meta credentials set: starting the sandbox emulators")
		sb := []string{
			"META_APP_ID=910000000000001",
			"META_APP_SECRET=" + os.Getenv("SANDBOX_META_APP_SECRET"), "META_VERIFY_TOKEN=" + os.Getenv("SANDBOX_META_VERIFY_TOKEN"),
			"META_GRAPH_URL=http://" + sandboxMetaAddr, "META_DIALOG_URL=http://" + sandboxMetaAddr,
			// The sandbox's CDN serves customer media over plain HTTP on loopback (tests and make run only).
			"MEDIA_FETCH_TEST_ORIGINS=http://" + sandboxMetaAddr,
			"ROCKETCHAT_URL=http://" + sandboxRCAddr, "ROCKETCHAT_USER_ID=bridge-bot",
			"ROCKETCHAT_AUTH_TOKEN=" + os.Getenv("SANDBOX_ROCKETCHAT_AUTH_TOKEN"),
			"ROCKETCHAT_WEBHOOK_TOKEN=" + os.Getenv("SANDBOX_ROCKETCHAT_WEBHOOK_TOKEN"),
			"ROCKETCHAT_COMMAND_TOKEN=" + os.Getenv("SANDBOX_ROCKETCHAT_COMMAND_TOKEN"),
		}
		bridgeEnv = append(bridgeEnv, sb...)
		r.sandbox, err = StartProc(ProcSpec{Name: "sandbox", Path: filepath.Join(bin, "sandbox"),
			LogPath: filepath.Join(logDir, "sandbox.log"),
			Env: MergeEnv(os.Environ(), sb, []string{
				"SANDBOX_META_ADDR=" + sandboxMetaAddr, "SANDBOX_RC_ADDR=" + sandboxRCAddr,
				"SANDBOX_INSTAGRAM_WEBHOOK=" + ingressLocal + "/webhooks/instagram",
				"SANDBOX_ROCKETCHAT_WEBHOOK=" + ingressLocal + "/webhooks/rocketchat",
				"SANDBOX_PAGE_TOKEN=" + os.Getenv("SANDBOX_PAGE_TOKEN"),
			})})
		if err != nil {
			return err
		}
		if err := waitURL(ctx, "http://"+sandboxRCAddr+"/sandbox/state", r.sandbox); err != nil {
			return err
		}
	}
	bo := BridgeOptions{BinDir: bin, LogDir: logDir, Env: MergeEnv(os.Environ(), bridgeEnv), Addr: ingressAddr,
		AdminAddrs: []string{adminAddr}}
	if o.Cluster {
		// Two replicas each, as `docker compose up --scale worker=2 --scale ingress=2`; ingress
		// behind a round-robin proxy on INGRESS_ADDR.
		bo.Workers, bo.Ingresses = 2, 2
		bo.ReplicaAddrs = []string{"127.0.0.1:8081", "127.0.0.1:8082"}
		bo.AdminAddrs = []string{adminAddr, "127.0.0.1:9082"}
	}
	if r.bridge, err = NewBridge(bo); err != nil {
		return err
	}
	if err := r.bridge.Start(); err != nil {
		return err
	}
	for _, u := range r.bridge.ReplicaURLs() {
		if err := waitURL(ctx, u+"/healthz", r.bridge.Process(Ingress)); err != nil {
			return err
		}
	}
	if sandbox {
		if err := connectSandboxPage(adminLocal); err != nil {
			return err
		}
	}
	banner(out, o.Cluster, sandbox, publicURL, adminLocal, r)
	say("Press Ctrl-C to stop everything.")

	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			for name, p := range r.processes() {
				if p != nil && !p.Running() {
					say("%s exited (%v); see %s", name, p.Err(), p.LogPath())
					return fmt.Errorf("%s exited", name)
				}
			}
		}
	}
}

func banner(out io.Writer, cluster, sandbox bool, publicURL, adminLocal string, r *runStack) {
	what := "Instagram Direct for Rocket.Chat is running."
	if cluster {
		what = "Instagram Direct for Rocket.Chat is running on the production topology."
	}
	fmt.Fprintf(out, "\n  %s\n\n", what)
	fmt.Fprintf(out, "  Temporal UI        http://localhost:8233  (conversations: workflow IDs instagram:<account>:<user>)\n")
	fmt.Fprintf(out, "  Ingress            %s  (webhooks: /webhooks/instagram, /webhooks/rocketchat)\n", publicURL)
	fmt.Fprintf(out, "  Ingress (internal) %s  (admin API, /metrics, /readyz, payload codec for the UI)\n", adminLocal)
	if cluster {
		pids := r.cluster.PIDs()
		var names []string
		for n := range pids {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(out, "  Temporal           frontend 127.0.0.1:7233, history, matching, internal worker (%s)\n", strings.Join(names, ", "))
		fmt.Fprintf(out, "  Replicas           worker ×2, ingress ×2 (127.0.0.1:8081, 127.0.0.1:8082; internal 127.0.0.1:9081, 127.0.0.1:9082) behind the round-robin proxy\n")
	}
	fmt.Fprintf(out, "  Logs               .data/logs/\n")
	if sandbox {
		fmt.Fprint(out, `  Sandbox Meta       http://127.0.0.1:9091/sandbox/state
  Sandbox Rocket.Chat http://127.0.0.1:9092/sandbox/state  (agent "ana" answers every message)

  Make a simulated Instagram user send a message:

    curl -s -X POST http://127.0.0.1:9091/sandbox/messages -H 'Content-Type: application/json' -d '{"igsid":"6871234500000001","text":"Hello from Instagram!"}'

  Then see it in the Rocket.Chat room, and the agent's reply sent back to Instagram:

    curl -s 'http://127.0.0.1:9092/sandbox/state'; curl -s 'http://127.0.0.1:9091/sandbox/sent?igsid=6871234500000001'
`)
	}
	fmt.Fprintln(out)
}

// loadSecrets creates .data/secrets.env once (the embedded defaults' secrets: encryption
// key, sandbox credentials, admin and codec tokens), appends the ones an older file lacks,
// and sets every variable of it that the environment (.env included) does not set already.
func loadSecrets(path string) error {
	hex64 := func() string {
		b := make([]byte, 32)
		_, _ = rand.Read(b)
		return fmt.Sprintf("%x", b) // 64 characters: safe in URLs, paths and .env
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if _, err := os.Stat(path); err != nil {
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		content := "TOKEN_ENCRYPTION_KEY=" + base64.StdEncoding.EncodeToString(key) + "\n" +
			"SANDBOX_PAGE_TOKEN=EAAG" + hex64() + "\n" + "ADMIN_API_TOKEN=" + hex64() + "\n"
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			return err
		}
	}
	read := func() (map[string]string, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		m := map[string]string{}
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "="); ok && !strings.HasPrefix(k, "#") {
				m[k] = v
			}
		}
		return m, sc.Err()
	}
	m, err := read()
	if err != nil {
		return err
	}
	// Added since the first version of secrets.env: appended once, kept afterwards. Every
	// secret the bridge compares is at least 32 bytes (it refuses shorter ones).
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	for _, k := range []string{"SANDBOX_META_APP_SECRET", "SANDBOX_META_VERIFY_TOKEN", "SANDBOX_ROCKETCHAT_WEBHOOK_TOKEN",
		"SANDBOX_ROCKETCHAT_AUTH_TOKEN", "SANDBOX_ROCKETCHAT_COMMAND_TOKEN", "CODEC_AUTH_TOKEN"} {
		if len(m[k]) < 32 {
			m[k] = hex64()
			fmt.Fprintf(f, "%s=%s\n", k, m[k])
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	for k, v := range m {
		if _, set := os.LookupEnv(k); !set {
			_ = os.Setenv(k, v)
		}
	}
	return nil
}

// connectSandboxPage connects the sandbox's page through the admin API, as an admin would.
func connectSandboxPage(ingress string) error {
	body := fmt.Sprintf(`{"ig_account_id":"17841400000000001","ig_username":"casaazul.store","name":"Casa Azul Store","access_token":%q,"department":"Instagram"}`,
		os.Getenv("SANDBOX_PAGE_TOKEN"))
	req, err := http.NewRequest(http.MethodPut, ingress+"/admin/api/pages/102030405060708", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+os.Getenv("ADMIN_API_TOKEN"))
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("connect the sandbox page: HTTP %d: %s", resp.StatusCode, b)
	}
	return nil
}

// waitURL waits until u answers 2xx, or the process exits.
func waitURL(ctx context.Context, u string, p *Process) error {
	c := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if resp, err := c.Get(u); err == nil {
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return nil
			}
		}
		if p != nil && !p.Running() {
			return p.errExited()
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("%s did not come up", u)
}

// ensureDatabase creates a database when it does not exist.
func ensureDatabase(ctx context.Context, adminDSN, name string) error {
	db, err := sqlx.Open("postgres", adminDSN)
	if err != nil {
		return err
	}
	defer db.Close()
	var n int
	if err := db.GetContext(ctx, &n, `SELECT count(*) FROM pg_database WHERE datname = $1`, name); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	_, err = db.ExecContext(ctx, `CREATE DATABASE `+name)
	return err
}
