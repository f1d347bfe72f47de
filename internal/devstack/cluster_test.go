package devstack

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/igdirect/bridge/workflows"
)

func clusterBinaries(t *testing.T) *Binaries {
	t.Helper()
	requirePostgresBinaries(t)
	b, err := LocateBinaries(filepath.Join(moduleRoot(t), "bin"), true)
	if err != nil {
		t.Skipf("needs the cluster binaries (make test and make test-cluster build them): %v", err)
	}
	return b
}

func TestInterpolateLikeCompose(t *testing.T) {
	vars := map[string]string{"SET": "v", "EMPTY": ""}
	for in, want := range map[string]string{
		"${SET}":            "v",
		"$SET/x":            "v/x",
		"${EMPTY:-d}":       "d",
		"${EMPTY-d}":        "",
		"${UNSET-d}":        "d",
		"${UNSET:-a b}":     "a b",
		"$$(hostname) 7233": "$(hostname) 7233",
		"pre-${SET:?x}-end": "pre-v-end",
	} {
		got, err := interpolate(in, vars)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	_, err := interpolate("${EMPTY:?set EMPTY in .env}", vars)
	require.ErrorContains(t, err, "set EMPTY in .env")
	_, err = interpolate("${UNSET?required}", vars)
	require.ErrorContains(t, err, "required")
}

func TestComposeHostPathFollowsBindMounts(t *testing.T) {
	c, err := loadCompose(filepath.Join(moduleRoot(t), "docker-compose.yml"))
	require.NoError(t, err)
	s, err := c.service("temporal")
	require.NoError(t, err)
	p, ok := c.hostPath(s, "/etc/temporal/config/dynamicconfig/production.yaml")
	require.True(t, ok)
	require.Equal(t, filepath.Join(moduleRoot(t), "deploy/temporal/dynamicconfig/production.yaml"), p)
	_, ok = c.hostPath(s, "/var/lib/elsewhere")
	require.False(t, ok)
}

func TestFreeLowPortIsBelowTheSmallintLimit(t *testing.T) {
	seen := map[int]bool{}
	for range 20 {
		p, err := FreeLowPort()
		require.NoError(t, err)
		require.Less(t, p, 32768)
		require.False(t, seen[p], "port %d handed out twice", p)
		seen[p] = true
	}
}

// TestClusterRunsTheComposeTopology starts the production topology natively and checks
// what compose promises: the databases of init-databases.sh, the schema, four server
// processes, the namespace with the search attributes the worker needs, the UI. Then a
// history service killed with SIGKILL comes back.
func TestClusterRunsTheComposeTopology(t *testing.T) {
	bins := clusterBinaries(t)
	if testing.Short() {
		t.Skip("starts a Temporal cluster")
	}
	dir, err := ScratchDir(moduleRoot(t), "cluster-test")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	c, err := StartCluster(ctx, ClusterOptions{Root: moduleRoot(t), Binaries: bins, Dir: dir, HistoryShards: 2,
		UI: true, LogLevel: "warn"})
	require.NoError(t, err)
	t.Cleanup(c.Stop)
	t.Logf("cluster up in %s", time.Since(start).Round(time.Millisecond))

	pids := c.PIDs()
	for _, name := range []string{Frontend, History, Matching, InternalWorker, UI, PostgresProc} {
		require.Positive(t, pids[name], name)
	}
	require.Zero(t, pids[InternalFrontend], "no internal frontend without TLS")

	// init-databases.sh made the bridge's role and database; compose's DATABASE_URL reaches it.
	db, err := sqlx.Open("postgres", c.BridgeDSN())
	require.NoError(t, err)
	defer db.Close()
	var user string
	require.NoError(t, db.Get(&user, `SELECT current_user`))
	require.Equal(t, "igdirect", user)
	require.True(t, strings.Contains(c.BridgeDSN(), "/igdirect?"), c.BridgeDSN())

	tc, err := client.Dial(client.Options{HostPort: c.FrontendAddress(), Namespace: c.Namespace()})
	require.NoError(t, err)
	defer tc.Close()
	sa, err := tc.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: c.Namespace()})
	require.NoError(t, err)
	for name, typ := range workflows.SearchAttributeTypes {
		require.Equal(t, typ, sa.GetCustomAttributes()[name], name)
	}

	resp, err := http.Get(c.UIURL())
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	c.StopService(History, syscall.SIGKILL)
	require.False(t, c.Running(History))
	require.NoError(t, c.StartService(ctx, History))
	_, err = tc.WorkflowService().GetSystemInfo(ctx, nil)
	require.NoError(t, err)
}
