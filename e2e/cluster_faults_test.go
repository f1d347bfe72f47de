package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/igdirect/bridge/internal/devstack"
)

// TestClusterFaults: faults only the production topology can show, each during a two-way
// conversation and each ending with exchange's exactly-once, in-order check both ways: the
// history service killed (SIGKILL) mid-load and started again — its shards move back; the
// matching service restarted — task queues are reloaded; PostgreSQL (Temporal's and the
// bridge's) restarted — every process reconnects.
func TestClusterFaults(t *testing.T) {
	requireCluster(t)
	s, err := startStack("cluster-faults", stackOptions{})
	require.NoError(t, err)
	t.Cleanup(s.stop)
	cases := []struct {
		name  string
		fault func() func()
	}{
		{"history killed", func() func() {
			time.AfterFunc(300*time.Millisecond, func() { s.stopProcess(devstack.History, syscall.SIGKILL) })
			return func() { require.NoError(t, s.startProcess(devstack.History)) }
		}},
		{"matching restarted", func() func() {
			s.stopProcess(devstack.Matching, syscall.SIGTERM)
			return func() { require.NoError(t, s.startProcess(devstack.Matching)) }
		}},
		{"postgresql restarted", func() func() {
			s.stopProcess(devstack.PostgresProc, syscall.SIGTERM)
			return func() { require.NoError(t, s.startProcess(devstack.PostgresProc)) }
		}},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) { exchange(t, s, c.name, c.fault) })
	}
}
