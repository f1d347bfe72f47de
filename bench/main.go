// Command bench is the load generator of `make bench`: it starts the real stack
// (PostgreSQL database, Temporal dev server, worker, ingress; the sandbox as Meta and
// Rocket.Chat) through internal/devstack, drives it with simulated Instagram users and
// agents, runs the same load through a minimal non-durable relay (the baseline), and writes
// docs/benchmarks.md and a raw JSON file.
//
//	go run ./bench                       # full run (about 15 minutes on 2 cores)
//	go run ./bench -quick -out /dev/null # CI: small numbers, under a minute
//	go run ./bench -scenarios steady,baseline -users 50
//
// It needs a PostgreSQL server where it may create databases (-database-url, or
// E2E_DATABASE_URL) and the pinned Temporal CLI (-temporal-cli, or TEMPORAL_CLI, default
// bin/temporal); scripts/bench.sh provides both.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/igdirect/bridge/internal/devstack"
)

type config struct {
	quick       bool
	scenarios   []string
	baseline    bool
	experiments []string
	users       int
	out         string
	rawDir      string
	adminDSN    string
	temporalCLI string
	binDir      string
	logDir      string

	steadyRate  float64
	steadyPaced time.Duration
	steadySat   time.Duration
	think       time.Duration

	burstEvents  int
	burstConc    int
	burstTimeout time.Duration

	scaleConvs   int
	scaleConc    int
	scaleRate    float64
	scaleSample  int
	scaleTimeout time.Duration

	outage          time.Duration
	recoveryPre     time.Duration
	recoveryRate    float64
	recoveryTimeout time.Duration

	targets []string // bridge targets of the common scenarios: "dev", "cluster"
	shards  int      // history shards of the cluster targets

	giveawayN      int
	giveawayWindow time.Duration

	scaleoutDur     time.Duration
	scaleoutConfigs []scaleoutConfig

	memoryConvs  int
	memoryCache  int
	memorySample int

	expDuration   time.Duration
	expUsers      int
	render        string
	extraEnv      []string
	extraTemporal []string
	warmupTimeout time.Duration
	drainTimeout  time.Duration
	settle        time.Duration
	idle          time.Duration
}

// variantAtoms are the bridge configurations -experiments can combine with "+", all
// reachable without changing the product: environment variables, dev-server dynamic
// config, and what the sandbox sends.
var variantAtoms = map[string]variant{
	"default":    {},
	"reorder0":   {Env: []string{"REORDER_WINDOW=0s"}},
	"reorder50":  {Env: []string{"REORDER_WINDOW=50ms"}},
	"reorder100": {Env: []string{"REORDER_WINDOW=100ms"}},
	// Temporal fires no timer earlier than TimerProcessorMaxTimeShift after it is set (default
	// 1 s; devstack runs with 20 ms, like scripts/lib.sh and the e2e tests).
	"timer20ms": {TemporalFlags: []string{"--dynamic-config-value", `history.timerProcessorMaxTimeShift="20ms"`}},
	"timer1s":   {TemporalFlags: []string{"--dynamic-config-value", `history.timerProcessorMaxTimeShift="1s"`}},
	// ...and reads the timer queue at most 20 times a second (transferProcessorMaxPollRPS's
	// twin for timers).
	"timerpoll": {TemporalFlags: []string{"--dynamic-config-value", "history.timerProcessorMaxPollRPS=1000"}},
	"eager":     {TemporalFlags: []string{"--dynamic-config-value", "system.enableActivityEagerExecution=true"}},
	"noeager":   {TemporalFlags: []string{"--dynamic-config-value", "system.enableActivityEagerExecution=false"}},
	// Both timer settings: precise sub-second timers.
	"timers": {TemporalFlags: []string{"--dynamic-config-value", `history.timerProcessorMaxTimeShift="20ms"`,
		"--dynamic-config-value", "history.timerProcessorMaxPollRPS=1000"}},
	"partitions1": {TemporalFlags: []string{
		"--dynamic-config-value", "matching.numTaskqueueReadPartitions=1",
		"--dynamic-config-value", "matching.numTaskqueueWritePartitions=1"}},
	// What ingress dropping echo events (instead of signalling them) would save.
	"noecho": {DropEchoes: true},
}

// proposed is the combination of the changes the report recommends.
const proposed = "reorder0+noecho"

// parseVariant combines atoms: "timer20ms+reorder100+noecho".
func parseVariant(name string) (variant, error) {
	v := variant{Name: name}
	for _, a := range strings.Split(name, "+") {
		atom, ok := variantAtoms[a]
		if !ok {
			return v, fmt.Errorf("unknown experiment %q (%s, combined with +)", a, variantNames())
		}
		v.Env = append(v.Env, atom.Env...)
		v.TemporalFlags = append(v.TemporalFlags, atom.TemporalFlags...)
		v.DropEchoes = v.DropEchoes || atom.DropEchoes
	}
	return v, nil
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-serve-baseline" {
		if err := serveBaseline(); err != nil {
			log.Fatal(err)
		}
		return
	}
	log.SetFlags(log.Ltime)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s := <-sigs
		log.Printf("%s: stopping the stacks", s)
		stopAll()
		if d := tempBin.Load(); d != nil {
			_ = os.RemoveAll(*d)
		}
		os.Exit(130)
	}()
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		log.Fatal(err)
	}
	if cfg.render != "" {
		if err := render(cfg); err != nil {
			log.Fatal(err)
		}
		return
	}
	if err := run(cfg); err != nil {
		log.Fatal(err)
	}
}

func parseFlags(args []string) (*config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	cfg := &config{}
	quick := fs.Bool("quick", false, "CI variant: small numbers, under a minute; its numbers are not asserted")
	scen := fs.String("scenarios", "", "scenarios to run (default steady,burst,scale,recovery,giveaway,scaleout,memory,baseline; steady,burst,scale,recovery,giveaway,baseline with -quick); \"baseline\" also runs each on the non-durable relay")
	targets := fs.String("targets", "dev,cluster", "where the common scenarios run: dev (the Temporal dev server), cluster (the production topology of docker-compose.yml); with -quick the cluster runs steady only")
	shards := fs.Int("shards", 0, "history shards of the cluster (default 512, compose's; 4 with -quick)")
	giveawayN := fs.Int("giveaway", 0, "new customers of the giveaway scenario (default 2000; 50 with -quick)")
	giveawayW := fs.Duration("giveaway-window", 0, "the giveaway's customers write within this window (default 60s; 3s with -quick)")
	scaleoutD := fs.Duration("scaleout-duration", 0, "closed-loop phase of each scale-out configuration (default 25s)")
	memConvs := fs.Int("memory-conversations", 0, "open conversations of the memory-bound scenario (default 1000)")
	fs.IntVar(&cfg.memoryCache, "memory-cache", 200, "WORKFLOW_CACHE_SIZE of the memory-bound scenario's worker")
	fs.IntVar(&cfg.memorySample, "memory-sample", 100, "conversations of each kind (evicted, cached) that get a message in the memory-bound scenario")
	exps := fs.String("experiments", "", "bridge variants for the paced steady phase, atoms combined with + (default: default,reorder0,timerpoll,noecho,"+proposed+"; none with -quick): "+variantNames())
	env := fs.String("env", "", "extra KEY=VALUE,... for worker and ingress of every bridge stack (e.g. GOGC=50)")
	tflags := fs.String("temporal-flags", "", "extra dev-server arguments for every bridge stack, space-separated")
	users := fs.Int("users", 0, "concurrent Instagram users (default 200; 20 with -quick)")
	fs.StringVar(&cfg.out, "out", "", "Markdown report (default docs/benchmarks.md; docs/bench-raw/benchmarks-quick.md with -quick)")
	fs.StringVar(&cfg.rawDir, "raw-dir", "docs/bench-raw", "directory for the raw JSON (\"\" = none)")
	fs.StringVar(&cfg.adminDSN, "database-url", firstEnv("BENCH_DATABASE_URL", "E2E_DATABASE_URL"), "PostgreSQL admin DSN where databases may be created (default: each stack starts its own)")
	fs.StringVar(&cfg.temporalCLI, "temporal-cli", firstEnv("TEMPORAL_CLI"), "pinned Temporal CLI (default bin/temporal)")
	fs.StringVar(&cfg.logDir, "logs", ".data/bench-logs", "process logs")
	rate := fs.Float64("rate", 0, "paced steady load, messages per second over all users (default 20)")
	paced := fs.Duration("paced", 0, "paced steady phase (default 25s; 3s with -quick)")
	sat := fs.Duration("saturation", 0, "closed-loop steady phase (default 25s; 3s with -quick)")
	fs.DurationVar(&cfg.think, "think", 0, "think time of a user between a reply and the next message in the closed loop")
	burstN := fs.Int("burst", 0, "burst events (default 5000; 300 with -quick)")
	fs.IntVar(&cfg.burstConc, "burst-concurrency", 100, "concurrent webhook POSTs during the burst")
	scaleN := fs.Int("scale-conversations", 0, "open conversations of the scale scenario (default 2000, which this 2-core machine opens in about 2 minutes; 50 with -quick)")
	fs.IntVar(&cfg.scaleConc, "scale-concurrency", 50, "concurrent webhook POSTs while opening conversations")
	scaleRate := fs.Float64("scale-rate", 0, "messages per second when writing to the open conversations (default 20)")
	fs.IntVar(&cfg.scaleSample, "scale-sample", 500, "how many of the open conversations get a message (spread over all; 0 = every one)")
	outage := fs.Duration("outage", 0, "Rocket.Chat outage of the recovery scenario (default 60s; 2s with -quick)")
	recRate := fs.Float64("recovery-rate", 0, "paced load during the recovery scenario (default 20)")
	expDur := fs.Duration("experiment-duration", 0, "paced phase of each experiment (default 20s)")
	fs.IntVar(&cfg.expUsers, "experiment-users", 100, "users of each experiment")
	fs.StringVar(&cfg.render, "render", "", "only re-render the Markdown report from a raw JSON file of an earlier run")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	cfg.quick = *quick
	if *env != "" {
		cfg.extraEnv = strings.Split(*env, ",")
	}
	cfg.extraTemporal = strings.Fields(*tflags)
	q := func(full, quick float64) float64 {
		if cfg.quick {
			return quick
		}
		return full
	}
	qd := func(v time.Duration, full, quick time.Duration) time.Duration {
		if v > 0 {
			return v
		}
		if cfg.quick {
			return quick
		}
		return full
	}
	qi := func(v, full, quick int) int {
		if v > 0 {
			return v
		}
		return int(q(float64(full), float64(quick)))
	}
	qf := func(v, full, quick float64) float64 {
		if v > 0 {
			return v
		}
		return q(full, quick)
	}
	cfg.users = qi(*users, 200, 20)
	cfg.steadyRate = qf(*rate, 20, 20)
	cfg.steadyPaced = qd(*paced, 25*time.Second, 3*time.Second)
	cfg.steadySat = qd(*sat, 25*time.Second, 3*time.Second)
	cfg.burstEvents = qi(*burstN, 5000, 300)
	cfg.burstTimeout = qd(0, 5*time.Minute, 30*time.Second)
	cfg.scaleConvs = qi(*scaleN, 2000, 50)
	cfg.scaleRate = qf(*scaleRate, 20, 20)
	cfg.scaleTimeout = qd(0, 8*time.Minute, 30*time.Second)
	cfg.outage = qd(*outage, 60*time.Second, 2*time.Second)
	cfg.recoveryRate = qf(*recRate, 20, 20)
	cfg.recoveryPre = qd(0, 5*time.Second, time.Second)
	cfg.recoveryTimeout = qd(0, 3*time.Minute, 30*time.Second)
	cfg.expDuration = qd(*expDur, 20*time.Second, 4*time.Second)
	cfg.giveawayN = qi(*giveawayN, 2000, 50)
	cfg.shards = qi(*shards, 512, 4)
	cfg.giveawayWindow = qd(*giveawayW, 60*time.Second, 3*time.Second)
	cfg.scaleoutDur = qd(*scaleoutD, 25*time.Second, 3*time.Second)
	cfg.memoryConvs = qi(*memConvs, 1000, 60)
	cfg.scaleoutConfigs = defaultScaleout
	for _, t := range strings.Split(*targets, ",") {
		switch t = strings.TrimSpace(t); t {
		case "":
		case "dev", "cluster":
			cfg.targets = append(cfg.targets, t)
		default:
			return nil, fmt.Errorf("unknown target %q (dev, cluster)", t)
		}
	}
	if *scen == "" {
		*scen = "steady,burst,scale,recovery,giveaway,scaleout,memory,baseline"
		if cfg.quick {
			*scen = "steady,burst,scale,recovery,giveaway,baseline"
		}
	}
	cfg.warmupTimeout = qd(0, 2*time.Minute, 30*time.Second)
	cfg.drainTimeout = qd(0, time.Minute, 15*time.Second)
	cfg.settle = qd(0, 5*time.Second, time.Second)
	cfg.idle = qd(0, 5*time.Second, time.Second)
	for _, s := range strings.Split(*scen, ",") {
		switch s = strings.TrimSpace(s); s {
		case "":
		case "baseline":
			cfg.baseline = true
		case "steady", "burst", "scale", "recovery", "giveaway", "scaleout", "memory":
			cfg.scenarios = append(cfg.scenarios, s)
		default:
			return nil, fmt.Errorf("unknown scenario %q (steady, burst, scale, recovery, giveaway, scaleout, memory, baseline)", s)
		}
	}
	ex := *exps
	if ex == "" && !cfg.quick {
		ex = "default,reorder0,timerpoll,noecho," + proposed
	}
	for _, e := range strings.Split(ex, ",") {
		if e = strings.TrimSpace(e); e == "" || e == "none" {
			continue
		}
		if _, err := parseVariant(e); err != nil {
			return nil, err
		}
		cfg.experiments = append(cfg.experiments, e)
	}
	if cfg.out == "" {
		cfg.out = "docs/benchmarks.md"
		if cfg.quick {
			cfg.out = "docs/bench-raw/benchmarks-quick.md"
		}
	}
	return cfg, nil
}

func variantNames() string {
	var names []string
	for n := range variantAtoms {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func firstEnv(keys ...string) string {
	for _, k := range keys {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return ""
}

// Run is everything one invocation measured.
type Run struct {
	Started  time.Time         `json:"started"`
	Wall     float64           `json:"wall_s"`
	Quick    bool              `json:"quick"`
	Args     []string          `json:"args"`
	Machine  Machine           `json:"machine"`
	Settings map[string]string `json:"settings"`
	Results  []*ScenarioResult `json:"results"`
	Samples  map[string][]*msg `json:"samples,omitempty"`
}

func run(cfg *config) error {
	root, err := devstack.ModuleRoot()
	if err != nil {
		return err
	}
	if err := os.Chdir(root); err != nil {
		return err
	}
	if cfg.temporalCLI == "" {
		cfg.temporalCLI = filepath.Join(root, "bin", "temporal")
	}
	if err := os.MkdirAll(cfg.logDir, 0o755); err != nil {
		return err
	}
	bin, err := os.MkdirTemp("", "bench-bin-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(bin)
	tempBin.Store(&bin)
	cfg.binDir = bin
	start := time.Now()
	log.Printf("building worker and ingress")
	if err := devstack.Build(context.Background(), root, bin); err != nil {
		return err
	}
	r := &Run{Started: start, Quick: cfg.quick, Args: os.Args[1:], Machine: machine(cfg), Settings: settings(cfg),
		Samples: map[string][]*msg{}}

	runOne := func(name string, t *target, f func(*config, *target) *ScenarioResult) {
		t0 := time.Now()
		res := f(cfg, t)
		res.Wall = time.Since(t0).Seconds()
		if g := t.obs.g.Load(); g != nil {
			key := name + "/" + t.kind
			if res.Variant != "" {
				key += "/" + res.Variant
			}
			r.Samples[key] = g.select_(nil)
		}
		r.Results = append(r.Results, res)
		log.Printf("%s on %s done in %.0fs: %s", name, t.kind+variantSuffix(res.Variant), res.Wall, oneLine(res))
	}
	failed := func(name, target string, err error) {
		log.Printf("%s on %s: %v", name, target, err)
		r.Results = append(r.Results, &ScenarioResult{Scenario: name, Target: target, Error: err.Error()})
	}
	// Each scenario gets fresh targets; with -quick one target of each kind serves all
	// scenarios (each with its own customers), which saves the stack start-ups.
	shared := map[string]*target{}
	defer func() {
		for _, t := range shared {
			t.stop()
		}
	}()
	ctx := context.Background()
	get := func(kind, name string) (*target, func(), error) {
		if t := shared[kind]; cfg.quick && t != nil {
			t.rc.SetDown(false)
			return t, func() {}, nil
		}
		var t *target
		var err error
		switch kind {
		case "baseline":
			t, err = newBaseline(ctx, cfg, name)
		case "cluster":
			t, err = newBridge(ctx, cfg, name+"-cluster", variant{}, stackSpec{topology: devstack.TopologyCluster})
		default:
			t, err = newBridge(ctx, cfg, name, variant{}, stackSpec{topology: devstack.TopologyDev})
		}
		if err != nil {
			return nil, nil, err
		}
		if cfg.quick {
			shared[kind] = t
			return t, func() {}, nil
		}
		return t, t.stop, nil
	}
	scenarioFns := map[string]func(*config, *target) *ScenarioResult{
		"steady": steady, "burst": burst, "scale": scale, "recovery": recovery, "giveaway": giveaway,
	}
	for _, name := range cfg.scenarios {
		switch name {
		case "scaleout":
			for _, sc := range cfg.scaleoutConfigs {
				log.Printf("scenario scaleout: %s", sc)
				t, err := newBridge(ctx, cfg, "scaleout-"+sc.slug(), variant{}, stackSpec{topology: devstack.TopologyCluster,
					workers: sc.Workers, ingresses: sc.Ingresses, shards: sc.Shards})
				if err != nil {
					failed("scaleout", "cluster", err)
					continue
				}
				runOne("scaleout", t, func(c *config, t *target) *ScenarioResult { return scaleout(c, t, sc) })
				t.stop()
			}
			continue
		case "memory":
			log.Printf("scenario memory: cluster, WORKFLOW_CACHE_SIZE=%d", cfg.memoryCache)
			t, err := newBridge(ctx, cfg, "memory", variant{}, stackSpec{topology: devstack.TopologyCluster,
				env: []string{fmt.Sprintf("WORKFLOW_CACHE_SIZE=%d", cfg.memoryCache)}})
			if err != nil {
				failed("memory", "cluster", err)
				continue
			}
			runOne("memory", t, memoryBound)
			t.stop()
			continue
		}
		var kinds []string
		for _, tg := range cfg.targets {
			if tg == "dev" {
				kinds = append(kinds, "bridge")
			} else if !cfg.quick || name == "steady" {
				kinds = append(kinds, "cluster")
			}
		}
		if cfg.baseline {
			kinds = append(kinds, "baseline")
		}
		for _, kind := range kinds {
			log.Printf("scenario %s: %s", name, kind)
			t, release, err := get(kind, name)
			if err != nil {
				failed(name, kind, err)
				continue
			}
			runOne(name, t, scenarioFns[name])
			release()
		}
	}
	for _, e := range cfg.experiments {
		v, _ := parseVariant(e)
		log.Printf("experiment %s", e)
		t, err := newBridge(ctx, cfg, "exp-"+strings.ReplaceAll(e, "+", "-"), v, stackSpec{topology: devstack.TopologyDev})
		if err != nil {
			failed("experiment", "bridge", err)
			continue
		}
		runOne("experiment", t, func(c *config, t *target) *ScenarioResult { return experiment(c, t, v) })
		t.stop()
	}
	r.Wall = time.Since(start).Seconds()
	r.Machine.LoadEnd = loadavg()

	if cfg.rawDir != "" {
		if err := os.MkdirAll(cfg.rawDir, 0o755); err != nil {
			return err
		}
		name := filepath.Join(cfg.rawDir, "bench-"+start.UTC().Format("20060102T150405Z")+map[bool]string{true: "-quick", false: ""}[cfg.quick]+".json")
		b, err := json.MarshalIndent(r, "", " ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(name, b, 0o644); err != nil {
			return err
		}
		log.Printf("raw results: %s", name)
	}
	if cfg.out != "" {
		if dir := filepath.Dir(cfg.out); dir != "." {
			_ = os.MkdirAll(dir, 0o755)
		}
		if err := os.WriteFile(cfg.out, []byte(report(r)), 0o644); err != nil {
			return err
		}
		log.Printf("report: %s", cfg.out)
	}
	log.Printf("total %.0fs", r.Wall)
	for _, res := range r.Results {
		if res.Error != "" {
			return fmt.Errorf("%s on %s failed: %s", res.Scenario, res.Target, res.Error)
		}
	}
	return nil
}

// render rewrites the report from an earlier run's raw JSON.
func render(cfg *config) error {
	b, err := os.ReadFile(cfg.render)
	if err != nil {
		return err
	}
	var r Run
	if err := json.Unmarshal(b, &r); err != nil {
		return err
	}
	if err := os.WriteFile(cfg.out, []byte(report(&r)), 0o644); err != nil {
		return err
	}
	log.Printf("report: %s", cfg.out)
	return nil
}

// tempBin is the directory of the built binaries, removed on an interrupt too.
var tempBin atomic.Pointer[string]

func variantSuffix(v string) string {
	if v == "" {
		return ""
	}
	return " (" + v + ")"
}

func oneLine(r *ScenarioResult) string {
	var parts []string
	for _, p := range r.Phases {
		parts = append(parts, fmt.Sprintf("%s: n=%d ack p99 %.1fms in p50 %.0fms p99 %.0fms out p50 %.0fms in/s %.1f lost %d",
			p.Name, p.Sent, p.Ack.P99, p.Inbound.P50, p.Inbound.P99, p.Outbound.P50, p.InboundRate, p.Lost+p.NotAcked))
	}
	return strings.Join(parts, "; ")
}

func settings(cfg *config) map[string]string {
	return map[string]string{
		"users":                fmt.Sprint(cfg.users),
		"paced_rate":           fmt.Sprint(cfg.steadyRate),
		"paced":                cfg.steadyPaced.String(),
		"saturation":           cfg.steadySat.String(),
		"think":                cfg.think.String(),
		"burst_events":         fmt.Sprint(cfg.burstEvents),
		"burst_concurrency":    fmt.Sprint(cfg.burstConc),
		"scale_conversations":  fmt.Sprint(cfg.scaleConvs),
		"scale_concurrency":    fmt.Sprint(cfg.scaleConc),
		"scale_rate":           fmt.Sprint(cfg.scaleRate),
		"scale_sample":         fmt.Sprint(cfg.scaleSample),
		"outage":               cfg.outage.String(),
		"recovery_pre":         cfg.recoveryPre.String(),
		"settle":               cfg.settle.String(),
		"idle":                 cfg.idle.String(),
		"extra_env":            strings.Join(cfg.extraEnv, ","),
		"extra_temporal_flags": strings.Join(cfg.extraTemporal, " "),
		"experiment_users":     fmt.Sprint(cfg.expUsers),
		"recovery_rate":        fmt.Sprint(cfg.recoveryRate),
		"experiments":          strings.Join(cfg.experiments, ","),
		"experiment_duration":  cfg.expDuration.String(),
		"GOMAXPROCS":           fmt.Sprint(runtime.GOMAXPROCS(0)),
		"targets":              strings.Join(cfg.targets, ","),
		"cluster_shards":       fmt.Sprint(cfg.shards),
		"giveaway_customers":   fmt.Sprint(cfg.giveawayN),
		"giveaway_window":      cfg.giveawayWindow.String(),
		"scaleout_duration":    cfg.scaleoutDur.String(),
		"memory_conversations": fmt.Sprint(cfg.memoryConvs),
		"memory_cache":         fmt.Sprint(cfg.memoryCache),
		"memory_sample":        fmt.Sprint(cfg.memorySample),
	}
}
