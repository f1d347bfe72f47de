package devstack

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/igdirect/bridge/workflows"
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

func TestSearchAttributesCoverTheWorkflowsList(t *testing.T) {
	sa, err := searchAttributes()
	require.NoError(t, err)
	require.Equal(t, len(workflows.SearchAttributeTypes), sa.Size())
	for k := range sa.GetUntypedValues() {
		typ, ok := workflows.SearchAttributeTypes[k.GetName()]
		require.True(t, ok, k.GetName())
		require.Equal(t, typ, k.GetValueType(), k.GetName())
	}
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

// TestStackStartsAndCarriesAMessage starts a whole stack (about 10 s with a warm build
// cache) when the end-to-end environment is there.
func TestStackStartsAndCarriesAMessage(t *testing.T) {
	dsn, cli := os.Getenv("E2E_DATABASE_URL"), os.Getenv("TEMPORAL_CLI")
	if dsn == "" || cli == "" {
		t.Skip("needs E2E_DATABASE_URL and TEMPORAL_CLI; run with `make test`")
	}
	if testing.Short() {
		t.Skip("starts a whole stack")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Name: "devstack-test", AdminDSN: dsn, TemporalCLI: cli, DropDatabase: true,
		Env: []string{"REORDER_WINDOW=0s"}})
	require.NoError(t, err)
	t.Cleanup(s.Stop)

	require.Positive(t, s.PID(Worker))
	require.Positive(t, s.PID(Ingress))
	require.Positive(t, s.PID(Temporal), "dev server found in /proc")
	_, err = ReadUsage(s.PID(Temporal))
	require.NoError(t, err)
	require.Contains(t, s.Env(), "REORDER_WINDOW=0s")

	status, body, err := s.Admin(http.MethodGet, "/pages/"+PageID, "")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, status, body)

	igsid := "6900000000000001"
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
	_, err = s.RC().AgentSend(rid, AgentName, "hi!")
	require.NoError(t, err)
	sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
	defer scancel()
	sent, err := s.Meta().WaitForSent(sctx, Account, igsid, 1)
	require.NoError(t, err)
	require.Contains(t, sent[0].Text, "hi!")
}
