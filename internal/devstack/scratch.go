package devstack

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ScratchDir makes a directory for one run's throwaway state (PostgreSQL clusters, Temporal
// databases, rendered configuration): <root>/.data/run/<purpose>-<pid>. It lives in the
// checkout, so two checkouts never share one, and its name carries the process id, so two
// runs of one checkout do not either. Directories of runs whose process is gone are removed
// first, after stopping any PostgreSQL left running in them.
func ScratchDir(root, purpose string) (string, error) {
	base := filepath.Join(root, ".data", "run")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", err
	}
	CleanScratch(base)
	dir := filepath.Join(base, fmt.Sprintf("%s-%d", safeName(purpose), os.Getpid()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return dir, nil
}

// CleanScratch removes the run directories under base whose process is gone.
func CleanScratch(base string) {
	entries, _ := os.ReadDir(base)
	for _, e := range entries {
		i := strings.LastIndexByte(e.Name(), '-')
		if !e.IsDir() || i < 0 {
			continue
		}
		pid, err := strconv.Atoi(e.Name()[i+1:])
		if err != nil || pid == os.Getpid() || syscall.Kill(pid, 0) == nil {
			continue
		}
		dir := filepath.Join(base, e.Name())
		stopOrphanPostmasters(dir)
		_ = os.RemoveAll(dir)
	}
}

// stopOrphanPostmasters stops PostgreSQL servers whose data directory is under dir.
func stopOrphanPostmasters(dir string) {
	pids, _ := filepath.Glob(filepath.Join(dir, "*", "postmaster.pid"))
	more, _ := filepath.Glob(filepath.Join(dir, "*", "*", "postmaster.pid"))
	for _, f := range append(pids, more...) {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
		if pid <= 0 || syscall.Kill(pid, 0) != nil {
			continue
		}
		_ = syscall.Kill(pid, syscall.SIGQUIT)
		for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
			time.Sleep(50 * time.Millisecond)
		}
	}
}
