// Package devstack starts one complete deployment of the bridge for tests and benchmarks:
// a fresh PostgreSQL database, a Temporal dev server from the pinned CLI (the flags of
// specs/temporal-go.md §6.4 and the search attributes of workflows.SearchAttributeTypes),
// the real worker and ingress binaries as processes, and the sandbox emulators of Meta and
// Rocket.Chat in-process, with the sandbox's business page connected through the admin API.
//
// It is the harness of e2e/ made reusable. The concepts map one to one: e2e's
// stackOptions{extraEnv, temporalFlags} are Options.Env and Options.TemporalFlags; e2e's
// settings (CLOSE_LINGER=1s, REORDER_WINDOW=300ms, LOG_LEVEL=debug, a 500 ms Rocket.Chat
// webhook timeout, visitor-message webhooks on, 200 ms/2 s Meta retries) are expressed as
//
//	devstack.Options{
//		Name: "shared", TaskQueue: "e2e-shared", AdminDSN: os.Getenv("E2E_DATABASE_URL"),
//		TemporalCLI: os.Getenv("TEMPORAL_CLI"), BinDir: binDir, LogDir: logsDir,
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
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // PostgreSQL driver
	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"

	"github.com/igdirect/bridge/config"
	"github.com/igdirect/bridge/identity"
	"github.com/igdirect/bridge/internal/temporalx"
	"github.com/igdirect/bridge/sandbox/meta"
	"github.com/igdirect/bridge/sandbox/rocketchat"
	"github.com/igdirect/bridge/workflows"
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
)

// Process names for StartProcess, StopProcess and PID.
const (
	Worker   = "worker"
	Ingress  = "ingress"
	Temporal = "temporal"
)

// Options configures a stack. AdminDSN and TemporalCLI are required.
type Options struct {
	// Name names the stack's database, task queue and log files ("shared", "bench-steady").
	Name string
	// AdminDSN is a PostgreSQL DSN of a server where the stack may create a database.
	AdminDSN string
	// TemporalCLI is the pinned Temporal CLI binary that runs the dev server.
	TemporalCLI string
	// BinDir holds the built worker and ingress binaries (see Build). Empty: Start builds
	// them into a temporary directory from ModuleDir.
	BinDir string
	// ModuleDir is the module root to build from when BinDir is empty (default: found by
	// walking up from the working directory to go.mod).
	ModuleDir string
	// LogDir receives <name>-temporal.log, <name>-worker.log, <name>-ingress.log. Empty: a
	// temporary directory, removed by Stop.
	LogDir string
	// TaskQueue is TEMPORAL_TASK_QUEUE (default "devstack-<name>").
	TaskQueue string
	// Env is added to the environment of worker and ingress after the stack's own
	// variables, so it overrides them (e.g. "REORDER_WINDOW=0s", "LOG_LEVEL=debug").
	Env []string
	// TemporalFlags are extra dev-server arguments, e.g. dynamic config values.
	TemporalFlags []string
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
	opts       Options
	name       string
	dbName     string
	dbURL      string
	taskQueue  string
	binDir     string
	logDir     string
	ownLogDir  bool
	ownBinDir  string
	temporalDB string
	tPort      int

	mu       sync.Mutex
	temporal *testsuite.DevServer
	tc       client.Client
	tPID     int
	procs    map[string]*proc

	meta     *meta.Server
	metaHTTP *httptest.Server
	rc       *rocketchat.Server
	rcHTTP   *httptest.Server

	ingressURL   string
	adminURL     string // ingress's internal listener (ADMIN_ADDR)
	adminToken   string
	commandToken string
	webhookToken string
	appSecret    string
	botToken     string
	visitorKey   []byte
	// dc and fc encrypt and decrypt payloads as the product's processes do.
	dc  converter.DataConverter
	fc  converter.FailureConverter
	env []string
}

type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start starts a stack. On error everything started so far is stopped again.
func Start(ctx context.Context, opts Options) (_ *Stack, err error) {
	if opts.AdminDSN == "" || opts.TemporalCLI == "" {
		return nil, errors.New("devstack: AdminDSN and TemporalCLI are required")
	}
	if opts.Name == "" {
		opts.Name = "stack"
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 60 * time.Second
	}
	s := &Stack{opts: opts, name: opts.Name, procs: map[string]*proc{}}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	s.taskQueue = opts.TaskQueue
	if s.taskQueue == "" {
		s.taskQueue = "devstack-" + s.name
	}
	s.logDir = opts.LogDir
	if s.logDir == "" {
		if s.logDir, err = os.MkdirTemp("", "devstack-logs-"); err != nil {
			return nil, err
		}
		s.ownLogDir = true
	} else if err = os.MkdirAll(s.logDir, 0o755); err != nil {
		return nil, err
	}
	s.binDir = opts.BinDir
	if s.binDir == "" {
		if s.ownBinDir, err = os.MkdirTemp("", "devstack-bin-"); err != nil {
			return nil, err
		}
		s.binDir = s.ownBinDir
		if err = Build(ctx, opts.ModuleDir, s.binDir); err != nil {
			return nil, err
		}
	}

	s.dbName = DatabaseName(s.name, time.Now())
	if s.dbURL, err = createDatabase(ctx, opts.AdminDSN, s.dbName); err != nil {
		return nil, err
	}
	s.temporalDB = filepath.Join(os.TempDir(), fmt.Sprintf("devstack-%s-%d.db", safeName(s.name), time.Now().UnixNano()))
	if s.tPort, err = FreePort(); err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	if s.dc, s.fc, err = temporalx.Converters(&config.Config{
		TokenEncryptionKey: config.Secret(base64.StdEncoding.EncodeToString(key))}); err != nil {
		return nil, err
	}
	if err = s.StartTemporal(); err != nil {
		return nil, err
	}
	s.visitorKey = config.DeriveKey(key, "visitor-token")
	s.appSecret, s.webhookToken, s.botToken = RandomString(32), RandomString(32), RandomString(32)
	s.adminToken, s.commandToken = RandomString(32), RandomString(32)
	ingressPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	s.ingressURL = fmt.Sprintf("http://127.0.0.1:%d", ingressPort)
	adminPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	s.adminURL = fmt.Sprintf("http://127.0.0.1:%d", adminPort)

	mo := meta.Options{AppSecret: s.appSecret, WebhookURL: s.ingressURL + "/webhooks/instagram"}
	if opts.MetaOptions != nil {
		opts.MetaOptions(&mo)
	}
	s.meta = meta.New(mo)
	s.meta.AddPage(meta.Page{PageID: PageID, IGAccountID: Account, Username: PageUsername, Name: PageName, AccessToken: PageToken})
	s.metaHTTP = httptest.NewServer(wrap(s.meta.Handler(), opts.MetaHandler))

	ro := rocketchat.DefaultOptions()
	ro.WebhookURL, ro.WebhookSecret = s.ingressURL+"/webhooks/rocketchat", s.webhookToken
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
	s.rcHTTP = httptest.NewServer(wrap(s.rc.Handler(), opts.RocketChatHandler))

	s.env = MergeEnv(os.Environ(), []string{
		"DATABASE_URL=" + s.dbURL,
		fmt.Sprintf("TEMPORAL_ADDRESS=127.0.0.1:%d", s.tPort),
		"TEMPORAL_NAMESPACE=default",
		"TEMPORAL_TASK_QUEUE=" + s.taskQueue,
		fmt.Sprintf("INGRESS_ADDR=127.0.0.1:%d", ingressPort),
		fmt.Sprintf("ADMIN_ADDR=127.0.0.1:%d", adminPort),
		"PUBLIC_URL=" + s.ingressURL,
		"ROCKETCHAT_URL=" + s.rcHTTP.URL, "ROCKETCHAT_USER_ID=" + BotUserID, "ROCKETCHAT_AUTH_TOKEN=" + s.botToken,
		"ROCKETCHAT_WEBHOOK_TOKEN=" + s.webhookToken,
		"ROCKETCHAT_COMMAND_TOKEN=" + s.commandToken,
		"META_APP_ID=910000000000001", "META_APP_SECRET=" + s.appSecret, "META_VERIFY_TOKEN=devstack-verify-token-0123456789abcdef",
		"META_GRAPH_URL=" + s.metaHTTP.URL, "META_DIALOG_URL=" + s.metaHTTP.URL,
		"MEDIA_FETCH_TEST_ORIGINS=" + s.metaHTTP.URL, // the sandbox's CDN is plain HTTP on loopback
		"TOKEN_ENCRYPTION_KEY=" + base64.StdEncoding.EncodeToString(key),
		"ADMIN_API_TOKEN=" + s.adminToken,
	}, opts.Env)

	if err = s.StartProcess(Worker); err != nil {
		return nil, err
	}
	if err = s.StartProcess(Ingress); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, opts.StartTimeout)
	defer cancel()
	if err = s.waitHTTP(wctx, s.ingressURL+"/healthz"); err != nil {
		return nil, err
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

func wrap(h http.Handler, with func(http.Handler) http.Handler) http.Handler {
	if with == nil {
		return h
	}
	return with(h)
}

// StartTemporal starts the dev server on the stack's port and database file (again, after
// StopTemporal: the file keeps the history).
func (s *Stack) StartTemporal() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.temporal != nil {
		return nil
	}
	logf, err := os.OpenFile(filepath.Join(s.logDir, safeName(s.name)+"-temporal.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	sa, err := searchAttributes()
	if err != nil {
		logf.Close()
		return err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", s.tPort)
	srv, err := testsuite.StartDevServer(context.Background(), testsuite.DevServerOptions{
		ExistingPath:     s.opts.TemporalCLI,
		ClientOptions:    &client.Options{HostPort: addr, DataConverter: s.dc, FailureConverter: s.fc},
		DBFilename:       s.temporalDB,
		SearchAttributes: sa,
		LogLevel:         "warn",
		ExtraArgs:        append(TemporalArgs(), s.opts.TemporalFlags...),
		Stdout:           logf, Stderr: logf,
	})
	if err != nil {
		logf.Close()
		return fmt.Errorf("start Temporal dev server: %w", err)
	}
	s.temporal, s.tc = srv, srv.Client()
	s.tPID = findChildPID(os.Getpid(), "--port", fmt.Sprint(s.tPort))
	return nil
}

// TemporalArgs are the dev-server flags every stack uses, the same as scripts/lib.sh and
// e2e/harness_test.go (specs/temporal-go.md §6.4, docs/benchmarks.md): WAL journal, the
// transfer-queue poll rate that removes ~50 ms per task hop, sub-second timers that fire on
// time instead of after ~1 s (the reorder window), activities that start in the worker that
// scheduled them, and search attributes visible at once.
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

// StopTemporal stops the dev server (its database file stays for StartTemporal).
func (s *Stack) StopTemporal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.temporal != nil {
		_ = s.temporal.Stop()
		s.temporal, s.tPID = nil, 0
	}
}

// searchAttributes turns workflows.SearchAttributeTypes into the dev server's option.
func searchAttributes() (temporal.SearchAttributes, error) {
	var updates []temporal.SearchAttributeUpdate
	for name, typ := range workflows.SearchAttributeTypes {
		switch typ {
		case enumspb.INDEXED_VALUE_TYPE_KEYWORD:
			updates = append(updates, temporal.NewSearchAttributeKeyKeyword(name).ValueSet(""))
		case enumspb.INDEXED_VALUE_TYPE_TEXT:
			updates = append(updates, temporal.NewSearchAttributeKeyString(name).ValueSet(""))
		case enumspb.INDEXED_VALUE_TYPE_INT:
			updates = append(updates, temporal.NewSearchAttributeKeyInt64(name).ValueSet(0))
		case enumspb.INDEXED_VALUE_TYPE_DOUBLE:
			updates = append(updates, temporal.NewSearchAttributeKeyFloat64(name).ValueSet(0))
		case enumspb.INDEXED_VALUE_TYPE_BOOL:
			updates = append(updates, temporal.NewSearchAttributeKeyBool(name).ValueSet(false))
		case enumspb.INDEXED_VALUE_TYPE_DATETIME:
			updates = append(updates, temporal.NewSearchAttributeKeyTime(name).ValueSet(time.Time{}))
		case enumspb.INDEXED_VALUE_TYPE_KEYWORD_LIST:
			updates = append(updates, temporal.NewSearchAttributeKeyKeywordList(name).ValueSet(nil))
		default:
			return temporal.SearchAttributes{}, fmt.Errorf("devstack: search attribute %s has unsupported type %s", name, typ)
		}
	}
	return temporal.NewSearchAttributes(updates...), nil
}

// StartProcess starts "worker" or "ingress" with the stack's environment.
func (s *Stack) StartProcess(name string) error {
	if name != Worker && name != Ingress {
		return fmt.Errorf("devstack: unknown process %q", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if p := s.procs[name]; p != nil {
		select {
		case <-p.done:
		default:
			return fmt.Errorf("devstack: %s is already running", name)
		}
	}
	logf, err := os.OpenFile(filepath.Join(s.logDir, safeName(s.name)+"-"+name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(s.binDir, name))
	cmd.Env = s.env
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	s.procs[name] = p
	return nil
}

// StopProcess signals a process (SIGTERM for a clean stop, SIGKILL for a crash) and waits
// up to 15 s for it to exit, then kills it.
func (s *Stack) StopProcess(name string, sig os.Signal) {
	s.mu.Lock()
	p := s.procs[name]
	delete(s.procs, name)
	s.mu.Unlock()
	if p == nil {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Running reports whether a process is running (it may have exited by itself).
func (s *Stack) Running(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.procs[name]
	if p == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// PID returns the process id of "worker", "ingress" or "temporal" (the dev server), 0 when
// it is not running or (temporal, outside Linux) cannot be found.
func (s *Stack) PID(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if name == Temporal {
		return s.tPID
	}
	if p := s.procs[name]; p != nil {
		select {
		case <-p.done:
			return 0
		default:
			return p.cmd.Process.Pid
		}
	}
	return 0
}

// Stop stops the processes, the dev server and the emulators, removes the dev server's
// database file, and drops the database when Options.DropDatabase is set.
func (s *Stack) Stop() {
	for _, name := range []string{Ingress, Worker} {
		s.StopProcess(name, syscall.SIGTERM)
	}
	s.StopTemporal()
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
	if s.temporalDB != "" {
		for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
			_ = os.Remove(s.temporalDB + suffix)
		}
	}
	if s.opts.DropDatabase && s.dbName != "" && s.dbURL != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_ = dropDatabase(ctx, s.opts.AdminDSN, s.dbName)
		cancel()
	}
	if s.ownLogDir {
		_ = os.RemoveAll(s.logDir)
	}
	if s.ownBinDir != "" {
		_ = os.RemoveAll(s.ownBinDir)
	}
}

// Accessors.

func (s *Stack) Name() string            { return s.name }
func (s *Stack) Meta() *meta.Server      { return s.meta }
func (s *Stack) RC() *rocketchat.Server  { return s.rc }
func (s *Stack) MetaURL() string         { return s.metaHTTP.URL }
func (s *Stack) RocketChatURL() string   { return s.rcHTTP.URL }
func (s *Stack) IngressURL() string      { return s.ingressURL }
func (s *Stack) AdminURL() string        { return s.adminURL }
func (s *Stack) AdminToken() string      { return s.adminToken }
func (s *Stack) CommandToken() string    { return s.commandToken }
func (s *Stack) WebhookToken() string    { return s.webhookToken }
func (s *Stack) AppSecret() string       { return s.appSecret }
func (s *Stack) BotToken() string        { return s.botToken }
func (s *Stack) VisitorKey() []byte      { return s.visitorKey }
func (s *Stack) DatabaseName() string    { return s.dbName }
func (s *Stack) DatabaseURL() string     { return s.dbURL }
func (s *Stack) TaskQueue() string       { return s.taskQueue }
func (s *Stack) LogDir() string          { return s.logDir }
func (s *Stack) TemporalDBFile() string  { return s.temporalDB }
func (s *Stack) TemporalAddress() string { return fmt.Sprintf("127.0.0.1:%d", s.tPort) }
func (s *Stack) Env() []string           { return append([]string(nil), s.env...) }
func (s *Stack) VisitorToken(igsid string) string {
	return identity.VisitorToken(s.visitorKey, Account, igsid)
}

// Temporal returns the client of the running dev server (nil while it is stopped).
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
	req, err := http.NewRequest(method, s.adminURL+"/admin/api"+path, strings.NewReader(body))
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

// WaitWorkerReady waits until a worker polls the stack's task queue for workflow tasks.
func (s *Stack) WaitWorkerReady(ctx context.Context) error {
	for {
		if tc := s.Temporal(); tc != nil {
			resp, err := tc.WorkflowService().DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{
				Namespace:     "default",
				TaskQueue:     &taskqueuepb.TaskQueue{Name: s.taskQueue, Kind: enumspb.TASK_QUEUE_KIND_NORMAL},
				TaskQueueType: enumspb.TASK_QUEUE_TYPE_WORKFLOW,
			})
			if err == nil && len(resp.GetPollers()) > 0 {
				return nil
			}
		}
		if !s.Running(Worker) {
			return fmt.Errorf("worker exited; see %s", filepath.Join(s.logDir, safeName(s.name)+"-worker.log"))
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
		if !s.Running(Ingress) {
			return fmt.Errorf("ingress exited; see %s", filepath.Join(s.logDir, safeName(s.name)+"-ingress.log"))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not up: %w", u, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Build builds the worker and ingress binaries of the module at moduleDir ("" = found from
// the working directory) into binDir.
func Build(ctx context.Context, moduleDir, binDir string) error {
	if moduleDir == "" {
		var err error
		if moduleDir, err = ModuleRoot(); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return err
	}
	abs, err := filepath.Abs(binDir)
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", abs+string(filepath.Separator), "./worker", "./ingress/cmd/ingress")
	cmd.Dir = moduleDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("build worker and ingress: %w\n%s", err, out)
	}
	return nil
}

// ModuleRoot walks up from the working directory to the directory holding go.mod.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("devstack: go.mod not found above the working directory")
		}
		dir = parent
	}
}

// DatabaseName is the name of a stack's database: devstack_<name>_<9 digits of t>.
func DatabaseName(name string, t time.Time) string {
	return fmt.Sprintf("devstack_%s_%09d", strings.ReplaceAll(safeName(name), "-", "_"), t.UnixNano()%1e9)
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9_-]+`)

// safeName lowercases name and replaces anything but letters, digits, '_' and '-'.
func safeName(name string) string {
	n := unsafeChars.ReplaceAllString(strings.ToLower(name), "_")
	if len(n) > 40 {
		n = n[:40]
	}
	if n == "" {
		n = "stack"
	}
	return n
}

func createDatabase(ctx context.Context, adminDSN, name string) (string, error) {
	db, err := sqlx.Open("postgres", adminDSN)
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return DSNWithDatabase(adminDSN, name)
}

func dropDatabase(ctx context.Context, adminDSN, name string) error {
	db, err := sqlx.Open("postgres", adminDSN)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
	return err
}

// DSNWithDatabase replaces the database of a URL-form PostgreSQL DSN.
func DSNWithDatabase(dsn, name string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("devstack: the admin DSN must be a postgres:// URL")
	}
	u.Path = "/" + name
	return u.String(), nil
}

// MergeEnv returns base with every KEY=VALUE of the overrides applied in order: a later
// value replaces an earlier one of the same key, which keeps its position.
func MergeEnv(base []string, overrides ...[]string) []string {
	out := make([]string, 0, len(base))
	idx := map[string]int{}
	add := func(kv string) {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
			return
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	for _, kv := range base {
		add(kv)
	}
	for _, o := range overrides {
		for _, kv := range o {
			add(kv)
		}
	}
	return out
}

// FreePort returns a free TCP port on the loopback interface.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// RandomString returns n random URL-safe characters.
func RandomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}
