// Package e2e runs the product end to end: a real PostgreSQL, a real Temporal dev server,
// the real worker and ingress processes, and the sandbox emulators of Meta and Rocket.Chat.
//
// `make test` provides the environment: E2E_DATABASE_URL (a PostgreSQL server where the
// tests may create databases) and TEMPORAL_CLI (the pinned CLI binary that runs the dev
// server). Without them the tests skip, saying so.
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
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"
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

// The sandbox's business page and its Instagram account.
const (
	pageID    = "102030405060708"
	account   = "17841400000000001"
	pageToken = "EAAGsandboxpagetoken0000000000000000001"
	agentName = "ana"
	// setupChannel is the default ROCKETCHAT_SETUP_CHANNEL.
	setupChannel = "omnichannel-instagram-setup"
	// e2eVerifyToken is META_VERIFY_TOKEN (secrets are at least 32 bytes).
	e2eVerifyToken = "e2e-verify-token-0123456789abcdef"
)

var (
	binDir    string // built worker and ingress
	shared    *stack
	skipWhy   string
	logsDir   string
	testStart = time.Now()
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if os.Getenv("E2E_DATABASE_URL") == "" || os.Getenv("TEMPORAL_CLI") == "" {
		skipWhy = "end-to-end tests need E2E_DATABASE_URL and TEMPORAL_CLI; run them with `make test`"
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
	build := exec.Command("go", "build", "-o", binDir+"/", "./worker", "./ingress/cmd/ingress")
	build.Dir = ".."
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		return 1
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

// stack is one complete deployment of the product.
type stack struct {
	name          string
	dbName        string
	temporal      *testsuite.DevServer
	tc            client.Client
	temporalDB    string
	tPort         int
	temporalFlags []string
	meta          *meta.Server
	metaHTTP      *httptest.Server
	rc            *rocketchat.Server
	rcHTTP        *httptest.Server
	ingressURL    string
	// adminURL is ingress's internal listener (ADMIN_ADDR): admin API, metrics, codec.
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
	procs            map[string]*exec.Cmd
}

type stackOptions struct {
	extraEnv      []string
	temporalFlags []string // extra dev-server flags, e.g. dynamic config
}

func startStack(name string, opts stackOptions) (*stack, error) {
	s := &stack{name: name, procs: map[string]*exec.Cmd{}}
	s.dbName = fmt.Sprintf("e2e_%s_%d", name, time.Now().UnixNano()%1e9)
	if err := createDatabase(s.dbName); err != nil {
		return nil, err
	}
	s.temporalDB = filepath.Join(os.TempDir(), fmt.Sprintf("igdirect-%s-%d.db", name, time.Now().UnixNano()))
	s.tPort = freePort()
	s.temporalFlags = opts.temporalFlags
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	var err error
	if s.dataConverter, s.failureConverter, err = temporalx.Converters(&config.Config{
		TokenEncryptionKey: config.Secret(base64.StdEncoding.EncodeToString(key))}); err != nil {
		return nil, err
	}
	if err := s.startTemporal(); err != nil {
		return nil, err
	}
	s.visitorKey = config.DeriveKey(key, "visitor-token")
	appSecret, webhookToken, botToken := randomString(32), randomString(32), randomString(32)
	s.adminToken = randomString(32)
	s.commandToken = randomString(32)
	s.codecToken = randomString(32)
	s.secrets = map[string]string{"META_APP_SECRET": appSecret, "ROCKETCHAT_WEBHOOK_TOKEN": webhookToken,
		"ROCKETCHAT_AUTH_TOKEN": botToken, "ADMIN_API_TOKEN": s.adminToken, "ROCKETCHAT_COMMAND_TOKEN": s.commandToken, "CODEC_AUTH_TOKEN": s.codecToken,
		"TOKEN_ENCRYPTION_KEY": base64.StdEncoding.EncodeToString(key), "page access token": pageToken}
	ingressPort := freePort()
	s.ingressURL = fmt.Sprintf("http://127.0.0.1:%d", ingressPort)
	adminPort := freePort()
	s.adminURL = fmt.Sprintf("http://127.0.0.1:%d", adminPort)

	s.meta = meta.New(meta.Options{AppSecret: appSecret, WebhookURL: s.ingressURL + "/webhooks/instagram",
		RetryInitial: 200 * time.Millisecond, RetryMax: 2 * time.Second})
	s.meta.AddPage(meta.Page{PageID: pageID, IGAccountID: account, Username: "casaazul.store", Name: "Casa Azul", AccessToken: pageToken})
	s.metaHTTP = httptest.NewServer(s.meta.Handler())
	s.meta.SetPublicURL(s.metaHTTP.URL) // CDN links of customer media point here

	rcOpts := rocketchat.DefaultOptions()
	rcOpts.WebhookURL, rcOpts.WebhookSecret = s.ingressURL+"/webhooks/rocketchat", webhookToken
	rcOpts.BotUserID, rcOpts.BotAuthToken = "bridge-bot", botToken
	rcOpts.WebhookTimeout = 500 * time.Millisecond
	// The worst case an admin can configure: visitor messages are sent to the webhook too;
	// they must never go back to Instagram.
	rcOpts.OnVisitorMessage = true
	s.rc = rocketchat.New(rcOpts)
	s.rc.AddDepartment("dept-ig", "Instagram", "")
	s.rc.AddAgent(rocketchat.Agent{ID: "agent-ana", Username: agentName, Name: "Ana Agent", Departments: []string{"dept-ig"}, Available: true})
	s.rc.AddAgent(rocketchat.Agent{ID: "agent-bruno", Username: "bruno", Name: "Bruno Backup", Departments: []string{"dept-ig"}, Available: false})
	// An agent of another department, always online: never serves the page's conversations.
	s.rc.AddDepartment("dept-web", "Website", "")
	s.rc.AddAgent(rocketchat.Agent{ID: "agent-wendy", Username: "wendy", Name: "Wendy Web", Departments: []string{"dept-web"}, Available: true})
	s.rc.AddChannel(setupChannel) // where the bot posts authorization buttons and reports
	s.rcHTTP = httptest.NewServer(s.rc.Handler())

	s.env = append(os.Environ(),
		"DATABASE_URL="+databaseURL(s.dbName),
		fmt.Sprintf("TEMPORAL_ADDRESS=127.0.0.1:%d", s.tPort),
		"TEMPORAL_TASK_QUEUE=e2e-"+name,
		fmt.Sprintf("INGRESS_ADDR=127.0.0.1:%d", ingressPort),
		fmt.Sprintf("ADMIN_ADDR=127.0.0.1:%d", adminPort),
		"PUBLIC_URL="+s.ingressURL,
		"ROCKETCHAT_URL="+s.rcHTTP.URL, "ROCKETCHAT_USER_ID=bridge-bot", "ROCKETCHAT_AUTH_TOKEN="+botToken,
		"ROCKETCHAT_WEBHOOK_TOKEN="+webhookToken,
		"META_APP_ID=910000000000001", "META_APP_SECRET="+appSecret, "META_VERIFY_TOKEN="+e2eVerifyToken,
		"META_GRAPH_URL="+s.metaHTTP.URL, "META_DIALOG_URL="+s.metaHTTP.URL,
		"MEDIA_FETCH_TEST_ORIGINS="+s.metaHTTP.URL, // the sandbox's CDN is plain HTTP on loopback
		"ROCKETCHAT_COMMAND_TOKEN="+s.commandToken,
		"TOKEN_ENCRYPTION_KEY="+base64.StdEncoding.EncodeToString(key),
		"ADMIN_API_TOKEN="+s.adminToken,
		"CODEC_AUTH_TOKEN="+s.codecToken,
		"CLOSE_LINGER=1s",
		"REORDER_WINDOW=300ms",
		"LOG_LEVEL=debug",
		"METRICS_ADDR=127.0.0.1:0", // several stacks run side by side
		"REAUTH_RETRY_INTERVAL=1s",
	)
	s.env = append(s.env, opts.extraEnv...)
	if err := s.startProcess("worker"); err != nil {
		return nil, err
	}
	if err := s.startProcess("ingress"); err != nil {
		return nil, err
	}
	if err := waitHTTP(s.ingressURL+"/healthz", 60*time.Second); err != nil {
		return nil, err
	}
	if err := s.connectPage(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *stack) startTemporal() error {
	sa := temporal.NewSearchAttributes()
	var keys []temporal.SearchAttributeUpdate
	for _, k := range []temporal.SearchAttributeKeyKeyword{workflows.SAPageID, workflows.SAAccount, workflows.SAUsername,
		workflows.SARoomID, workflows.SADepartment, workflows.SAState} {
		keys = append(keys, k.ValueSet(""))
	}
	sa = temporal.NewSearchAttributes(keys...)
	logf, _ := os.OpenFile(filepath.Join(logsDir, s.name+"-temporal.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	srv, err := testsuite.StartDevServer(context.Background(), testsuite.DevServerOptions{
		ExistingPath: os.Getenv("TEMPORAL_CLI"),
		ClientOptions: &client.Options{HostPort: fmt.Sprintf("127.0.0.1:%d", s.tPort),
			DataConverter: s.dataConverter, FailureConverter: s.failureConverter},
		DBFilename:       s.temporalDB,
		SearchAttributes: sa,
		LogLevel:         "warn",
		ExtraArgs: append([]string{
			"--sqlite-pragma", "journal_mode=wal", "--sqlite-pragma", "synchronous=normal",
			"--dynamic-config-value", "history.transferProcessorMaxPollRPS=1000",
			// Sub-second timers (the reorder window) fire on time instead of after ~1 s, and
			// activities start in the worker that scheduled them (docs/benchmarks.md).
			"--dynamic-config-value", `history.timerProcessorMaxTimeShift="20ms"`,
			"--dynamic-config-value", "history.timerProcessorMaxPollRPS=1000",
			"--dynamic-config-value", "system.enableActivityEagerExecution=true",
			"--dynamic-config-value", "system.forceSearchAttributesCacheRefreshOnRead=true",
		}, s.temporalFlags...),
		Stdout: logf, Stderr: logf,
	})
	if err != nil {
		return fmt.Errorf("start Temporal dev server: %w", err)
	}
	s.temporal, s.tc = srv, srv.Client()
	return nil
}

func (s *stack) stopTemporal() {
	if s.temporal != nil {
		_ = s.temporal.Stop()
		s.temporal = nil
	}
}

func (s *stack) startProcess(name string) error {
	logf, err := os.OpenFile(filepath.Join(logsDir, s.name+"-"+name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(filepath.Join(binDir, name))
	cmd.Env = s.env
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return err
	}
	s.procs[name] = cmd
	return nil
}

func (s *stack) stopProcess(name string, sig syscall.Signal) {
	if cmd := s.procs[name]; cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Signal(sig)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		delete(s.procs, name)
	}
}

func (s *stack) stop() {
	for name := range s.procs {
		s.stopProcess(name, syscall.SIGTERM)
	}
	s.stopTemporal()
	s.meta.Close()
	s.metaHTTP.Close()
	s.rc.Close()
	s.rcHTTP.Close()
	_ = os.Remove(s.temporalDB)
}

func (s *stack) connectPage() error {
	body := fmt.Sprintf(`{"ig_account_id":%q,"ig_username":"casaazul.store","name":"Casa Azul","access_token":%q,"department":"Instagram"}`, account, pageToken)
	req, _ := http.NewRequest(http.MethodPut, s.adminURL+"/admin/api/pages/"+pageID, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("connect page: HTTP %d", resp.StatusCode)
	}
	return nil
}

// admin calls the admin API and decodes the JSON answer into out (if not nil).
func (s *stack) admin(method, path, body string) (int, string, error) {
	req, err := http.NewRequest(method, s.adminURL+"/admin/api"+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+s.adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

// setSetting writes an application setting straight into the product's database, as an
// admin's command would, while everything runs.
func (s *stack) setSetting(key, value string) error {
	db, err := sqlx.Open("postgres", databaseURL(s.dbName))
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(`INSERT INTO app_settings (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, key, value)
	return err
}

// visitorToken is the Rocket.Chat visitor token the product uses for a customer.
func (s *stack) visitorToken(igsid string) string {
	return identity.VisitorToken(s.visitorKey, account, igsid)
}

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

func createDatabase(name string) error {
	db, err := sqlx.Open("postgres", os.Getenv("E2E_DATABASE_URL"))
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(`CREATE DATABASE ` + name)
	return err
}

func databaseURL(name string) string {
	u, err := url.Parse(os.Getenv("E2E_DATABASE_URL"))
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	return u.String()
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitHTTP(u string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(u); err == nil {
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
