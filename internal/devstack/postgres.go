package devstack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
)

// PostgresOptions configures a PostgreSQL server run as a child process.
type PostgresOptions struct {
	// Dir is the data directory: initdb runs when it holds no cluster yet, so a directory
	// kept between runs keeps its databases (make run) and a fresh one starts empty.
	Dir string
	// Port on 127.0.0.1; 0 picks a free one.
	Port int
	// LogPath receives the server's log (default Dir/../<base>.log).
	LogPath string
	// SuperuserPassword turns on password authentication (scram-sha-256) on TCP with this
	// password for the superuser "postgres", as the postgres image does with
	// POSTGRES_PASSWORD. Empty: trust on loopback (throwaway dev and test clusters).
	SuperuserPassword string
	// Settings are extra server settings (-c key=value), e.g. max_connections.
	Settings map[string]string
	// Durable keeps fsync on. Off by default: test and dev clusters are thrown away, and
	// fsync on this machine's disk would only slow them down.
	Durable bool
}

// Postgres is a running PostgreSQL server.
type Postgres struct {
	opts   PostgresOptions
	bin    string
	cred   *syscall.Credential
	proc   *Process
	dir    string
	port   int
	logDir string
}

// PostgresBinDir finds the PostgreSQL server binaries: PG_BINDIR, the newest
// /usr/lib/postgresql/*/bin (Debian, Ubuntu), or the directory of initdb on PATH. The
// scripts install PostgreSQL with apt-get first when it is missing (scripts/lib.sh).
func PostgresBinDir() (string, error) {
	ok := func(d string) bool {
		for _, b := range []string{"initdb", "postgres"} {
			if fi, err := os.Stat(filepath.Join(d, b)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if d := os.Getenv("PG_BINDIR"); d != "" {
		if ok(d) {
			return d, nil
		}
		return "", fmt.Errorf("PG_BINDIR=%s holds no initdb and postgres", d)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersionOf(dirs[i]) > pgVersionOf(dirs[j]) })
	for _, d := range dirs {
		if ok(d) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil && ok(filepath.Dir(p)) {
		return filepath.Dir(p), nil
	}
	return "", errors.New("PostgreSQL server binaries not found. Install them (Debian/Ubuntu: sudo apt-get install postgresql; macOS: brew install postgresql@15) or set PG_BINDIR")
}

func pgVersionOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// postgresCredential is who runs the server: PostgreSQL refuses to run as root, so root
// runs it as the "postgres" account (created when missing); anyone else as themselves.
func postgresCredential() (*syscall.Credential, error) {
	if os.Getuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		if out, err := exec.Command("useradd", "--system", "--no-create-home", "postgres").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("create user postgres: %v: %s", err, out)
		}
		if u, err = user.Lookup("postgres"); err != nil {
			return nil, err
		}
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
}

// StartPostgres creates the cluster if needed and starts the server, waiting until it
// accepts connections.
func StartPostgres(ctx context.Context, opts PostgresOptions) (*Postgres, error) {
	bin, err := PostgresBinDir()
	if err != nil {
		return nil, err
	}
	cred, err := postgresCredential()
	if err != nil {
		return nil, err
	}
	p := &Postgres{opts: opts, bin: bin, cred: cred, dir: opts.Dir, port: opts.Port}
	if p.dir, err = filepath.Abs(p.dir); err != nil {
		return nil, err
	}
	p.logDir = filepath.Dir(p.dir)
	if cred != nil && !reachable(p.dir, cred) {
		// The postgres account must reach the data directory through every parent; a
		// checkout under a private directory gets its cluster under /tmp instead (the same
		// name every time, so it is reused like the original).
		sum := sha256.Sum256([]byte(p.dir))
		p.dir = filepath.Join(os.TempDir(), "igdirect-pg-"+hex.EncodeToString(sum[:6]))
	}
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return nil, err
	}
	if cred != nil {
		if err := chownR(p.dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
	}
	if err := p.stopStale(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(p.dir, "PG_VERSION")); err != nil {
		if err := p.initdb(); err != nil {
			return nil, err
		}
	}
	if p.port == 0 {
		if p.port, err = FreePort(); err != nil {
			return nil, err
		}
	}
	if err := p.start(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Postgres) initdb() error {
	args := []string{"-D", p.dir, "-U", "postgres", "--encoding=UTF8", "--no-sync"}
	if p.opts.SuperuserPassword != "" {
		// initdb wants an empty directory: the password file goes next to it for the call.
		pw := p.dir + ".pwfile"
		if err := os.WriteFile(pw, []byte(p.opts.SuperuserPassword+"\n"), 0o600); err != nil {
			return err
		}
		defer os.Remove(pw)
		if p.cred != nil {
			if err := os.Chown(pw, int(p.cred.Uid), int(p.cred.Gid)); err != nil {
				return err
			}
		}
		args = append(args, "--auth-local=trust", "--auth-host=scram-sha-256", "--pwfile="+pw)
	} else {
		args = append(args, "--auth=trust")
	}
	cmd := exec.Command(filepath.Join(p.bin, "initdb"), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb %s: %v\n%s", p.dir, err, out)
	}
	return nil
}

func (p *Postgres) start(ctx context.Context) error {
	args := []string{"-D", p.dir, "-p", strconv.Itoa(p.port),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="}
	settings := map[string]string{"max_connections": "300"}
	if !p.opts.Durable {
		settings["fsync"] = "off"
	}
	for k, v := range p.opts.Settings {
		settings[k] = v
	}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "-c", k+"="+settings[k])
	}
	logPath := p.opts.LogPath
	if logPath == "" {
		logPath = filepath.Join(p.logDir, filepath.Base(p.opts.Dir)+".log")
	}
	proc, err := StartProc(ProcSpec{Name: "postgres", Path: filepath.Join(p.bin, "postgres"), Args: args,
		LogPath: logPath, Credential: p.cred, DeathSignal: syscall.SIGINT})
	if err != nil {
		return err
	}
	p.proc = proc
	deadline := time.Now().Add(60 * time.Second)
	for {
		if err := p.ping(ctx); err == nil {
			return nil
		} else if !proc.Running() {
			return fmt.Errorf("PostgreSQL did not start: %w", proc.errExited())
		} else if time.Now().After(deadline) || ctx.Err() != nil {
			proc.Stop(syscall.SIGINT, 10*time.Second)
			return fmt.Errorf("PostgreSQL on port %d not ready after 60 s: %v", p.port, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *Postgres) ping(ctx context.Context) error {
	db, err := sqlx.Open("postgres", p.SuperuserDSN("postgres"))
	if err != nil {
		return err
	}
	defer db.Close()
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return db.PingContext(cctx)
}

// stopStale stops a server a crashed earlier run left on this data directory: one whose
// parent is gone (pg_ctl-started servers of the old scripts, or a postmaster that missed
// its parent-death signal). A server with a live parent belongs to another run: refused.
func (p *Postgres) stopStale() error {
	b, err := os.ReadFile(filepath.Join(p.dir, "postmaster.pid"))
	if err != nil {
		return nil
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return nil // the file of a server that is gone; postgres removes it itself
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	if ppid := parsePPID(stat); ppid != 1 && ppid != 0 {
		return fmt.Errorf("PostgreSQL data directory %s is in use by process %d (another run of this checkout?)", p.dir, pid)
	}
	_ = syscall.Kill(pid, syscall.SIGINT)
	for i := 0; i < 300 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if syscall.Kill(pid, 0) == nil {
		return fmt.Errorf("a PostgreSQL left by an earlier run (pid %d, %s) does not stop", pid, p.dir)
	}
	return nil
}

// Stop shuts the server down (fast shutdown: sessions are ended, nothing is lost).
func (p *Postgres) Stop() {
	if p != nil && p.proc != nil {
		p.proc.Stop(syscall.SIGINT, 30*time.Second)
	}
}

// StopWith stops the server with a signal: SIGINT is a fast shutdown, SIGQUIT or SIGKILL
// a crash (the next start recovers from the write-ahead log).
func (p *Postgres) StopWith(sig os.Signal) {
	if p != nil && p.proc != nil {
		p.proc.Stop(sig, 30*time.Second)
	}
}

// Restart stops the server and starts it again on the same port and data directory.
func (p *Postgres) Restart(ctx context.Context) error {
	p.Stop()
	return p.start(ctx)
}

// StartAgain starts a stopped server (after Stop) on the same port and data directory.
func (p *Postgres) StartAgain(ctx context.Context) error {
	if p.proc != nil && p.proc.Running() {
		return nil
	}
	return p.start(ctx)
}

// Port is the server's TCP port on 127.0.0.1.
func (p *Postgres) Port() int { return p.port }

// Dir is the data directory actually used.
func (p *Postgres) Dir() string { return p.dir }

// PID is the postmaster's process id (0 when stopped).
func (p *Postgres) PID() int {
	if p == nil || p.proc == nil || !p.proc.Running() {
		return 0
	}
	return p.proc.PID()
}

// Running reports whether the server process runs.
func (p *Postgres) Running() bool { return p != nil && p.proc != nil && p.proc.Running() }

// DSN is a postgres:// URL for a role and database of this server.
func (p *Postgres) DSN(role, password, database string) string {
	u := url.URL{Scheme: "postgres", Host: fmt.Sprintf("127.0.0.1:%d", p.port), Path: "/" + database,
		RawQuery: "sslmode=disable"}
	if password != "" {
		u.User = url.UserPassword(role, password)
	} else {
		u.User = url.User(role)
	}
	return u.String()
}

// SuperuserDSN is the DSN of the superuser "postgres" for a database.
func (p *Postgres) SuperuserDSN(database string) string {
	return p.DSN("postgres", p.opts.SuperuserPassword, database)
}

// reachable reports whether the user of cred can traverse every parent of dir.
func reachable(dir string, cred *syscall.Credential) bool {
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return false
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return true
		}
		mode := fi.Mode().Perm()
		var bit os.FileMode
		switch {
		case st.Uid == cred.Uid:
			bit = 0o100
		case st.Gid == cred.Gid:
			bit = 0o010
		default:
			bit = 0o001
		}
		if mode&bit == 0 {
			return false
		}
		if d == filepath.Dir(d) {
			return true
		}
	}
}

func chownR(dir string, uid, gid int) error {
	return filepath.Walk(dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
}
