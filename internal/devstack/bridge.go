package devstack

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// BridgeOptions configures the bridge's own processes: worker and ingress replicas.
type BridgeOptions struct {
	BinDir string // the built worker and ingress
	LogDir string
	// LogPrefix starts every log file name ("shared-" → shared-worker.log).
	LogPrefix string
	// Env is the environment of every replica; INGRESS_ADDR and METRICS_ADDR are set per
	// replica.
	Env []string
	// Workers and Ingresses are the replica counts (default 1 each).
	Workers, Ingresses int
	// Addr is where clients reach ingress (host:port; port 0: free): the one ingress itself,
	// or the round-robin proxy in front of several.
	Addr string
	// ReplicaAddrs are the addresses of several ingress replicas behind the proxy (default:
	// free ports).
	ReplicaAddrs []string
	// AdminAddrs are the ingress replicas' internal listeners (ADMIN_ADDR: admin API,
	// metrics, readiness, payload codec), one per replica (default: free ports on 127.0.0.1).
	AdminAddrs []string
}

// Bridge runs worker and ingress replicas. Replica names: "worker", "worker-2", …,
// "ingress", "ingress-2", …
type Bridge struct {
	opts     BridgeOptions
	mu       sync.Mutex
	procs    map[string]*Process
	env      map[string][]string // per replica
	addr     string
	proxy    *RoundRobin
	replicas []string // ingress replica addresses (behind the proxy)
	admins   []string // their internal listeners
}

// ReplicaName is the process name of replica i (1-based) of "worker" or "ingress".
func ReplicaName(kind string, i int) string {
	if i <= 1 {
		return kind
	}
	return fmt.Sprintf("%s-%d", kind, i)
}

// NewBridge chooses the addresses; Start starts the processes.
func NewBridge(opts BridgeOptions) (*Bridge, error) {
	opts.Workers, opts.Ingresses = max(opts.Workers, 1), max(opts.Ingresses, 1)
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	b := &Bridge{opts: opts, procs: map[string]*Process{}, env: map[string][]string{}}
	host, port, err := net.SplitHostPort(opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("ingress address %q: %w", opts.Addr, err)
	}
	if port == "0" {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		port = strconv.Itoa(p)
	}
	b.addr = net.JoinHostPort(host, port)
	metrics := envValue(opts.Env, "METRICS_ADDR")
	for i := 1; i <= opts.Workers; i++ {
		env := []string{}
		if i > 1 {
			env = append(env, "METRICS_ADDR="+nextPortAddr(metrics, i-1))
		}
		b.env[ReplicaName(Worker, i)] = MergeEnv(opts.Env, env)
	}
	for i := 1; i <= opts.Ingresses; i++ {
		admin := ""
		if i <= len(opts.AdminAddrs) {
			admin = opts.AdminAddrs[i-1]
		} else {
			p, err := FreePort()
			if err != nil {
				return nil, err
			}
			admin = fmt.Sprintf("127.0.0.1:%d", p)
		}
		b.admins = append(b.admins, admin)
		a := b.addr // one ingress listens where clients go
		if opts.Ingresses > 1 {
			if i <= len(opts.ReplicaAddrs) {
				a = opts.ReplicaAddrs[i-1]
			} else {
				p, err := FreePort()
				if err != nil {
					return nil, err
				}
				a = fmt.Sprintf("127.0.0.1:%d", p)
			}
			b.replicas = append(b.replicas, a)
		}
		b.env[ReplicaName(Ingress, i)] = MergeEnv(opts.Env, []string{"INGRESS_ADDR=" + a, "ADMIN_ADDR=" + admin})
	}
	return b, nil
}

// nextPortAddr is addr with its port raised by n (":9464" + 1 → ":9465"); port 0 stays 0.
func nextPortAddr(addr string, n int) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	p, err := strconv.Atoi(port)
	if err != nil || p == 0 {
		return addr
	}
	return net.JoinHostPort(host, strconv.Itoa(p+n))
}

func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v
		}
	}
	return ""
}

// Start starts every replica (and the proxy in front of several ingress replicas).
func (b *Bridge) Start() error {
	if len(b.replicas) > 0 && b.proxy == nil {
		p, err := StartRoundRobin(b.addr, b.replicas)
		if err != nil {
			return err
		}
		b.proxy = p
	}
	for _, name := range b.Names() {
		if err := b.StartProcess(name); err != nil {
			return err
		}
	}
	return nil
}

// Names lists the replicas, workers first.
func (b *Bridge) Names() []string {
	var out []string
	for i := 1; i <= b.opts.Workers; i++ {
		out = append(out, ReplicaName(Worker, i))
	}
	for i := 1; i <= b.opts.Ingresses; i++ {
		out = append(out, ReplicaName(Ingress, i))
	}
	return out
}

// StartProcess starts one replica (again).
func (b *Bridge) StartProcess(name string) error {
	env, ok := b.env[name]
	if !ok {
		return fmt.Errorf("devstack: unknown process %q", name)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if p := b.procs[name]; p != nil && p.Running() {
		return fmt.Errorf("devstack: %s is already running", name)
	}
	kind, _, _ := strings.Cut(name, "-")
	p, err := StartProc(ProcSpec{Name: name, Path: filepath.Join(b.opts.BinDir, kind), Env: env,
		LogPath: filepath.Join(b.opts.LogDir, b.opts.LogPrefix+name+".log")})
	if err != nil {
		return err
	}
	b.procs[name] = p
	return nil
}

// StopProcess signals a replica (SIGTERM: clean stop; SIGKILL: a crash) and waits up to 15 s
// for it to exit, then kills it.
func (b *Bridge) StopProcess(name string, sig os.Signal) {
	b.mu.Lock()
	p := b.procs[name]
	delete(b.procs, name)
	b.mu.Unlock()
	if p != nil {
		p.Stop(sig, 15*time.Second)
	}
}

// Processes are the running replicas by name.
func (b *Bridge) Processes() map[string]*Process {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := map[string]*Process{}
	for n, p := range b.procs {
		out[n] = p
	}
	return out
}

// Process returns a replica's process (nil when it was never started or was stopped).
func (b *Bridge) Process(name string) *Process {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.procs[name]
}

// Stop stops every replica (ingress first: it stops taking webhooks) and the proxy.
func (b *Bridge) Stop() {
	names := b.Names()
	for i := len(names) - 1; i >= 0; i-- {
		b.StopProcess(names[i], syscall.SIGTERM)
	}
	if b.proxy != nil {
		b.proxy.Close()
	}
}

// URL is where clients reach ingress (an address on all interfaces, ":8080", is reached on
// 127.0.0.1).
func (b *Bridge) URL() string {
	host, port, _ := net.SplitHostPort(b.addr)
	if host == "" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// ReplicaURLs are the ingress replicas' own addresses.
func (b *Bridge) ReplicaURLs() []string {
	if len(b.replicas) == 0 {
		return []string{b.URL()}
	}
	var out []string
	for _, r := range b.replicas {
		out = append(out, "http://"+r)
	}
	return out
}

// AdminURLs are the ingress replicas' internal listeners, in replica order.
func (b *Bridge) AdminURLs() []string {
	var out []string
	for _, a := range b.admins {
		out = append(out, "http://"+a)
	}
	return out
}

// LogPath is where a replica writes its output.
func (b *Bridge) LogPath(name string) string {
	return filepath.Join(b.opts.LogDir, b.opts.LogPrefix+name+".log")
}
