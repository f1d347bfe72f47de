// Command devstack starts the bridge's stacks on this machine (internal/devstack):
//
//	devstack build [-cluster]   build the pinned Temporal binaries into bin/ (cached)
//	devstack run                make run: PostgreSQL, Temporal dev server + UI, worker, ingress, sandbox
//	devstack run -cluster       make run-cluster: the production topology of docker-compose.yml
//
// The scripts build it into bin/ and exec it, so Ctrl-C reaches it directly; everything it
// starts stops with it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/igdirect/bridge/internal/devstack"
)

func main() {
	// Die with the parent (make): killing make without its process group (a supervisor,
	// `timeout make run`) must not leave the stack running. The stack's children die with
	// this process in turn (their parent-death signal).
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0)
	if os.Getppid() == 1 {
		os.Exit(1)
	}
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "devstack:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: devstack build|run [-cluster]")
	}
	root, err := devstack.ModuleRoot()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	cluster := fs.Bool("cluster", false, "the production topology (Temporal server on PostgreSQL, separate services)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch args[0] {
	case "build":
		_, err := devstack.BuildBinaries(ctx, filepath.Join(root, "bin"), *cluster, os.Stderr)
		return err
	case "run":
		return runStack(ctx, root, *cluster)
	}
	return fmt.Errorf("unknown command %q (build, run)", args[0])
}
