package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/igdirect/bridge/internal/devstack"
	"github.com/igdirect/bridge/sandbox/meta"
	"github.com/igdirect/bridge/sandbox/rocketchat"
)

// target is what the generator drives: the bridge (a devstack) or the baseline relay, each
// with its own Meta and Rocket.Chat emulators configured alike.
type target struct {
	kind    string // "bridge" or "baseline"
	name    string
	meta    *meta.Server
	rc      *rocketchat.Server
	stack   *devstack.Stack
	tokenOf func(igsid string) string
	pids    map[string]int
	groups  map[string]func() []int
	obs     *observer
	closers []func()
	// nextUsers is where the next generator's user indices start.
	nextUsers int
}

func (t *target) stop() {
	live.Lock()
	delete(live.m, t)
	live.Unlock()
	for i := len(t.closers) - 1; i >= 0; i-- {
		t.closers[i]()
	}
	t.closers = nil
}

// live holds the running targets, so an interrupted benchmark stops what it started.
var live = struct {
	sync.Mutex
	m map[*target]bool
}{m: map[*target]bool{}}

func register(t *target) *target {
	live.Lock()
	live.m[t] = true
	live.Unlock()
	return t
}

// stopAll stops every running target (on SIGINT/SIGTERM).
func stopAll() {
	live.Lock()
	var ts []*target
	for t := range live.m {
		ts = append(ts, t)
	}
	live.Unlock()
	for _, t := range ts {
		t.stop()
	}
}

// variant is a configuration of the bridge under test (experiments change it).
type variant struct {
	Name          string   `json:"name"`
	Env           []string `json:"env,omitempty"`
	TemporalFlags []string `json:"temporal_flags,omitempty"`
	DropEchoes    bool     `json:"drop_echoes,omitempty"`
}

// emulatorOptions are shared by both targets: Meta batches webhook events (here: echoes of
// our sends) up to 100 per POST as it does under load, and the generator's HTTP client
// keeps its connections.
func metaOptions(o *meta.Options) {
	o.MaxBatch = 100
	o.HTTPClient = &http.Client{Transport: &http.Transport{
		MaxIdleConns: 2048, MaxIdleConnsPerHost: 2048, IdleConnTimeout: 90 * time.Second,
	}}
}

// dropEchoes makes Meta's webhook deliveries of echoes (our own sends coming back) vanish
// with a 200, as if ingress acknowledged them without signalling the conversation.
func dropEchoes(o *meta.Options) {
	next := o.HTTPClient.Transport
	o.HTTPClient.Transport = roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Body != nil && r.Method == http.MethodPost {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				return nil, err
			}
			if bytes.Contains(body, []byte(`"is_echo":true`)) {
				return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Header: http.Header{},
					Body: io.NopCloser(strings.NewReader(`{"status":"ok"}`)), Request: r}, nil
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		return next.RoundTrip(r)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func addAgents(rc *rocketchat.Server) {
	rc.AddDepartment(devstack.DepartmentID, devstack.DepartmentName, "")
	rc.AddAgent(rocketchat.Agent{ID: "agent-ana", Username: devstack.AgentName, Name: "Ana Agent",
		Departments: []string{devstack.DepartmentID}, Available: true})
}

// stackSpec is how a bridge target is deployed: on the dev server or the production
// topology, with how many replicas, and with what extra environment.
type stackSpec struct {
	topology           devstack.Topology
	workers, ingresses int
	shards             int // of a cluster; 0: -shards
	env                []string
}

// kindOf names a target by its topology: "bridge" is the dev server (as in every report
// before the cluster), "cluster" the production topology.
func kindOf(topo devstack.Topology) string {
	if topo == devstack.TopologyCluster {
		return "cluster"
	}
	return "bridge"
}

// newBridge starts a devstack for a scenario.
func newBridge(ctx context.Context, cfg *config, name string, v variant, spec stackSpec) (*target, error) {
	obs := &observer{}
	env := append(append(append([]string{"LOG_LEVEL=info"}, cfg.extraEnv...), v.Env...), spec.env...)
	opts := devstack.Options{
		Name: "bench-" + name, Topology: spec.topology, AdminDSN: cfg.adminDSN, TemporalCLI: cfg.temporalCLI,
		BinDir: cfg.binDir, LogDir: cfg.logDir, DropDatabase: true, Workers: spec.workers, Ingresses: spec.ingresses,
		Env: env, TemporalFlags: append(append([]string(nil), cfg.extraTemporal...), v.TemporalFlags...),
		MetaOptions: func(o *meta.Options) {
			metaOptions(o)
			if v.DropEchoes {
				dropEchoes(o)
			}
		},
		Agents:            []rocketchat.Agent{{ID: "agent-ana", Username: devstack.AgentName, Name: "Ana Agent", Departments: []string{devstack.DepartmentID}, Available: true}},
		MetaHandler:       obs.wrapMeta,
		RocketChatHandler: obs.wrapRC,
		StartTimeout:      2 * time.Minute,
	}
	if spec.topology == devstack.TopologyCluster {
		// The production topology as compose runs it (512 history shards by default, the
		// production dynamic config), with PostgreSQL writing to disk as in production.
		opts.AdminDSN, opts.HistoryShards, opts.DurablePostgres = "", cfg.shards, true
		if spec.shards > 0 {
			opts.HistoryShards = spec.shards
		}
		opts.TemporalFlags = nil // the dev server's flags; the cluster runs deploy/temporal/dynamicconfig
	}
	s, err := devstack.Start(ctx, opts)
	if err != nil {
		return nil, err
	}
	t := &target{kind: kindOf(spec.topology), name: name, meta: s.Meta(), rc: s.RC(), stack: s, tokenOf: s.VisitorToken, obs: obs,
		pids: map[string]int{benchProc: os.Getpid()}, groups: map[string]func() []int{}}
	for n, pid := range s.Processes() {
		if n != devstack.PostgresProc {
			t.pids[n] = pid
		}
	}
	if u, err := url.Parse(cfg.adminDSN); err == nil && u.Port() != "" && s.Cluster() == nil {
		t.groups["postgres"] = postgresPIDs(u.Port())
	} else if pm := s.PID(devstack.PostgresProc); pm > 0 {
		// The postmaster and its backends (Temporal's and the bridge's sessions).
		t.groups["postgres"] = func() []int { return append([]int{pm}, devstack.Children(pm)...) }
	}
	t.closers = append(t.closers, s.Stop)
	return register(t), nil
}

// newBaseline starts the relay and its own emulators.
func newBaseline(ctx context.Context, cfg *config, name string) (*target, error) {
	t := &target{kind: "baseline", name: name, obs: &observer{}, pids: map[string]int{}, groups: map[string]func() []int{},
		tokenOf: baselineVisitorToken}
	port, err := devstack.FreePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	appSecret, webhookToken := devstack.RandomString(32), devstack.RandomString(24)
	mo := meta.Options{AppSecret: appSecret, WebhookURL: "http://" + addr + "/webhooks/instagram"}
	metaOptions(&mo)
	t.meta = meta.New(mo)
	t.meta.AddPage(meta.Page{PageID: devstack.PageID, IGAccountID: devstack.Account, Username: devstack.PageUsername,
		Name: devstack.PageName, AccessToken: devstack.PageToken})
	metaHTTP := httptest.NewServer(t.obs.wrapMeta(t.meta.Handler()))
	t.closers = append(t.closers, t.meta.Close, metaHTTP.Close)

	ro := rocketchat.DefaultOptions()
	ro.WebhookURL, ro.WebhookSecret = "http://"+addr+"/webhooks/rocketchat", webhookToken
	t.rc = rocketchat.New(ro)
	addAgents(t.rc)
	rcHTTP := httptest.NewServer(t.obs.wrapRC(t.rc.Handler()))
	t.closers = append(t.closers, t.rc.Close, rcHTTP.Close)

	cmd, err := startRelay(ctx, relayConfig{Addr: addr, AppSecret: appSecret, WebhookToken: webhookToken,
		RCURL: rcHTTP.URL, MetaURL: metaHTTP.URL, PageID: devstack.PageID, PageToken: devstack.PageToken,
		Department: devstack.DepartmentID}, filepath.Join(cfg.logDir, "baseline-"+name+".log"))
	if err != nil {
		t.stop()
		return nil, err
	}
	t.closers = append(t.closers, func() { _ = cmd.Process.Kill() })
	t.pids["relay"] = cmd.Process.Pid
	t.pids[benchProc] = os.Getpid()
	return register(t), nil
}

// benchProc names this process (generator and emulators) in the resource figures; it is
// not part of either target's totals.
const benchProc = "bench"

// tagRE finds the generator's message tag in any text or request body.
var tagRE = regexp.MustCompile(`bm:(\d+)`)

func parseTag(s string) (uint64, bool) {
	m := tagRE.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	id, err := strconv.ParseUint(m[1], 10, 64)
	return id, err == nil
}

// observer watches the emulators' HTTP traffic to learn, cheaply and at once, when a
// tagged message was posted into a room (POST livechat/message answered 200) and when an
// agent's reply to it was sent to Instagram (POST …/messages answered 200). Timings come
// from the emulators' own records (collect); this only drives waiting.
type observer struct {
	g atomic.Pointer[gen]
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (o *observer) watch(next http.Handler, match func(*http.Request) bool, on func(g *gen, id uint64)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !match(r) {
			next.ServeHTTP(w, r)
			return
		}
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		r.Body = io.NopCloser(bytes.NewReader(body))
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status != http.StatusOK {
			return
		}
		if id, ok := parseTag(string(body)); ok {
			if g := o.g.Load(); g != nil {
				on(g, id)
			}
		}
	})
}

func (o *observer) wrapRC(next http.Handler) http.Handler {
	return o.watch(next, func(r *http.Request) bool { return r.URL.Path == "/api/v1/livechat/message" },
		func(g *gen, id uint64) { g.seen(id, false) })
}

func (o *observer) wrapMeta(next http.Handler) http.Handler {
	return o.watch(next, func(r *http.Request) bool {
		return len(r.URL.Path) > 9 && r.URL.Path[len(r.URL.Path)-9:] == "/messages"
	},
		func(g *gen, id uint64) { g.seen(id, true) })
}
