package devstack

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// ProcSpec describes a child process of a stack.
type ProcSpec struct {
	Name    string
	Path    string
	Args    []string
	Env     []string // nil: this process's environment
	Dir     string
	LogPath string // stdout and stderr, appended
	// Credential runs the process as another user (PostgreSQL refuses to run as root).
	Credential *syscall.Credential
	// DeathSignal is what the kernel sends the process when this one dies, however it dies
	// (default SIGTERM): a killed test binary or a `make test` stopped with Ctrl-C leaves
	// nothing running. PostgreSQL wants SIGINT (fast shutdown).
	DeathSignal syscall.Signal
}

// Process is a running child process with its output in a log file.
type Process struct {
	spec ProcSpec
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// StartProc starts a process. Its parent-death signal is set, so it never outlives the
// process that started it (Linux; the signal is sent when the starting thread exits, and Go
// keeps its threads for the life of the process).
func StartProc(spec ProcSpec) (*Process, error) {
	if spec.Name == "" {
		spec.Name = filepath.Base(spec.Path)
	}
	var logf *os.File
	if spec.LogPath != "" {
		if err := os.MkdirAll(filepath.Dir(spec.LogPath), 0o755); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(spec.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, err
		}
		logf = f
	}
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Env, cmd.Dir = spec.Env, spec.Dir
	if logf != nil {
		cmd.Stdout, cmd.Stderr = logf, logf
	}
	sig := spec.DeathSignal
	if sig == 0 {
		sig = syscall.SIGTERM
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: sig, Credential: spec.Credential}
	if err := cmd.Start(); err != nil {
		if logf != nil {
			logf.Close()
		}
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	p := &Process{spec: spec, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		if logf != nil {
			logf.Close()
		}
		close(p.done)
	}()
	return p, nil
}

// Name is the process's name in the stack.
func (p *Process) Name() string { return p.spec.Name }

// PID is the process id (also after it exited).
func (p *Process) PID() int { return p.cmd.Process.Pid }

// LogPath is where its output goes.
func (p *Process) LogPath() string { return p.spec.LogPath }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Running reports whether the process has not exited yet.
func (p *Process) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Err is how the process ended (nil while it runs or after a clean exit).
func (p *Process) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// Stop sends sig and waits up to grace for the process to exit, then kills it.
func (p *Process) Stop(sig os.Signal, grace time.Duration) {
	if !p.Running() {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// errExited says a process ended while we waited for it to come up.
func (p *Process) errExited() error {
	msg := fmt.Sprintf("%s exited (%v)", p.spec.Name, p.err)
	if p.spec.LogPath != "" {
		msg += "; see " + p.spec.LogPath + "\n" + tail(p.spec.LogPath, 15)
	}
	return errors.New(msg)
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := ""
	for _, l := range lines {
		if len(l) > 400 {
			l = l[:400] + "…"
		}
		out += "  | " + l + "\n"
	}
	return out
}
