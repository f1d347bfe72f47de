package devstack

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestMergeEnvOverridesInPlace(t *testing.T) {
	got := MergeEnv([]string{"A=1", "B=2", "C=3"}, []string{"B=20", "D=4"}, []string{"A=10", "B=200"})
	require.Equal(t, []string{"A=10", "B=200", "C=3", "D=4"}, got)
}

func TestDatabaseNameIsAValidIdentifier(t *testing.T) {
	name := DatabaseName("Bench Steady/1", time.Unix(0, 123456789012))
	require.Equal(t, "devstack_bench_steady_1_456789012", name)
	require.Regexp(t, `^[a-z0-9_]+$`, DatabaseName("x-y", time.Now()))
}

func TestDSNWithDatabase(t *testing.T) {
	got, err := DSNWithDatabase("postgres://postgres@127.0.0.1:55434/postgres?sslmode=disable", "devstack_x")
	require.NoError(t, err)
	require.Equal(t, "postgres://postgres@127.0.0.1:55434/devstack_x?sslmode=disable", got)
	_, err = DSNWithDatabase("host=localhost dbname=x", "y")
	require.Error(t, err)
}

func TestReadUsageOfThisProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc is Linux only")
	}
	// Burn a little CPU so the counter moves.
	deadline := time.Now().Add(50 * time.Millisecond)
	for x := 0; time.Now().Before(deadline); x++ {
		_ = x * x
	}
	u, err := ReadUsage(os.Getpid())
	require.NoError(t, err)
	require.Positive(t, u.CPU)
	require.Positive(t, u.RSS)
	require.GreaterOrEqual(t, u.HWM, u.RSS)
	_, err = ReadUsage(-1)
	require.Error(t, err)
}

func TestParseStatWithSpacesInTheName(t *testing.T) {
	stat := []byte("4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 1 0 1 1 1")
	u, s, err := parseStatTimes(stat)
	require.NoError(t, err)
	require.Equal(t, int64(250), u)
	require.Equal(t, int64(75), s)
	require.Equal(t, 1, parsePPID(stat))
}

func TestFindChildPID(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc is Linux only")
	}
	cmd := exec.Command("sleep", "30")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	require.Equal(t, cmd.Process.Pid, findChildPID(os.Getpid(), "30"))
	require.Zero(t, findChildPID(os.Getpid(), "31"))
	require.Contains(t, Children(os.Getpid()), cmd.Process.Pid)
}

// roundTrip: a customer message reaches a room, the agent's answer reaches Instagram.
func roundTrip(t *testing.T, s *Stack, igsid string) {
	t.Helper()
	s.Meta().UserSendsText(Account, igsid, "hello from devstack")
	var rid string
	require.Eventually(t, func() bool {
		rooms := s.RC().Rooms(s.VisitorToken(igsid))
		if len(rooms) == 0 {
			return false
		}
		rid = rooms[0].ID
		for _, m := range s.RC().Messages(rid) {
			if strings.Contains(m.Msg, "hello from devstack") {
				return true
			}
		}
		return false
	}, 30*time.Second, 50*time.Millisecond)
	_, err := s.RC().AgentSend(rid, AgentName, "hi!")
	require.NoError(t, err)
	sctx, scancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer scancel()
	sent, err := s.Meta().WaitForSent(sctx, Account, igsid, 1)
	require.NoError(t, err)
	require.Contains(t, sent[0].Text, "hi!")
}

func devBinaries(t *testing.T) *Binaries {
	t.Helper()
	requirePostgresBinaries(t)
	if cli := os.Getenv("TEMPORAL_CLI"); cli != "" {
		return &Binaries{CLI: cli}
	}
	b, err := LocateBinaries(filepath.Join(moduleRoot(t), "bin"), false)
	if err != nil {
		t.Skipf("needs the pinned Temporal CLI (make test builds it): %v", err)
	}
	return b
}

// TestStackStartsAndCarriesAMessage starts a whole dev-server stack with its own
// PostgreSQL (about 10 s with a warm build cache) and leaves nothing behind.
func TestStackStartsAndCarriesAMessage(t *testing.T) {
	bins := devBinaries(t)
	if testing.Short() {
		t.Skip("starts a whole stack")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Name: "devstack-test", Binaries: bins, DropDatabase: true,
		Env: []string{"REORDER_WINDOW=0s"}})
	require.NoError(t, err)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			s.Stop()
		}
	})

	procs := s.Processes()
	for _, name := range []string{Worker, Ingress, Temporal, PostgresProc} {
		require.Positive(t, procs[name], name)
		_, err = ReadUsage(procs[name])
		require.NoError(t, err)
	}
	require.Contains(t, s.Env(), "REORDER_WINDOW=0s")

	status, body, err := s.Admin(http.MethodGet, "/pages/"+PageID, "")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, body)
	roundTrip(t, s, "6900000000000001")

	s.Stop()
	stopped = true
	for name, pid := range procs {
		require.Error(t, syscall.Kill(pid, 0), "%s (pid %d) still runs after Stop", name, pid)
	}
}

// TestClusterStackWithReplicas: the production topology with two workers and two ingress
// replicas behind the proxy carries a conversation, and keeps carrying it with one worker
// killed.
func TestClusterStackWithReplicas(t *testing.T) {
	bins := clusterBinaries(t)
	if testing.Short() {
		t.Skip("starts a whole cluster stack")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Name: "devstack-cluster", Topology: TopologyCluster, Binaries: bins,
		Workers: 2, Ingresses: 2, Env: []string{"REORDER_WINDOW=0s"}})
	require.NoError(t, err)
	t.Cleanup(s.Stop)
	procs := s.Processes()
	for _, name := range []string{Worker, "worker-2", Ingress, "ingress-2", Frontend, History, Matching, InternalWorker, PostgresProc} {
		require.Positive(t, procs[name], name)
	}
	require.Len(t, s.IngressReplicas(), 2)
	roundTrip(t, s, "6900000000000002")
	s.StopProcess(Worker, syscall.SIGKILL)
	roundTrip(t, s, "6900000000000003")
}
