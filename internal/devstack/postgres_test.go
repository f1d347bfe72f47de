package devstack

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/stretchr/testify/require"
)

func requirePostgresBinaries(t *testing.T) {
	t.Helper()
	if _, err := PostgresBinDir(); err != nil {
		t.Skipf("needs the PostgreSQL server binaries (make test installs them): %v", err)
	}
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := ModuleRoot()
	require.NoError(t, err)
	return root
}

// TestPostgresWithPasswordRestartsAndKeepsData: a cluster with password authentication (as
// compose's postgresql service) refuses a wrong password, keeps its data over a restart on
// the same port, and its directory is removed with the run's scratch directory.
func TestPostgresWithPasswordRestartsAndKeepsData(t *testing.T) {
	requirePostgresBinaries(t)
	dir, err := ScratchDir(moduleRoot(t), "pg-test")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	ctx := context.Background()
	pg, err := StartPostgres(ctx, PostgresOptions{Dir: filepath.Join(dir, "pg"), SuperuserPassword: "s3cret"})
	require.NoError(t, err)
	t.Cleanup(pg.Stop)
	port := pg.Port()

	db, err := sqlx.Open("postgres", pg.SuperuserDSN("postgres"))
	require.NoError(t, err)
	_, err = db.Exec(`CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)`)
	require.NoError(t, err)
	db.Close()

	bad, err := sqlx.Open("postgres", pg.DSN("postgres", "wrong", "postgres"))
	require.NoError(t, err)
	require.Error(t, bad.Ping(), "a wrong password must be refused")
	bad.Close()

	require.NoError(t, pg.Restart(ctx))
	require.Equal(t, port, pg.Port())
	db, err = sqlx.Open("postgres", pg.SuperuserDSN("postgres"))
	require.NoError(t, err)
	defer db.Close()
	var v int
	require.NoError(t, db.Get(&v, `SELECT v FROM kept`))
	require.Equal(t, 42, v)
}

// TestPostgresDiesWithItsParent: the server is started with a parent-death signal, so a
// run that dies (a test binary killed by its timeout) leaves no server behind. A helper
// process starts PostgreSQL and is killed with SIGKILL.
func TestPostgresDiesWithItsParent(t *testing.T) {
	if os.Getenv("DEVSTACK_PG_CHILD") != "" {
		pg, err := StartPostgres(context.Background(), PostgresOptions{Dir: os.Getenv("DEVSTACK_PG_CHILD")})
		if err != nil {
			os.Exit(3)
		}
		os.Stdout.WriteString(strconv.Itoa(pg.PID()) + "\n")
		time.Sleep(time.Minute)
		return
	}
	requirePostgresBinaries(t)
	dir, err := ScratchDir(moduleRoot(t), "pg-orphan")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := newHelper(exe, "-test.run=^TestPostgresDiesWithItsParent$")
	cmd.Env = append(os.Environ(), "DEVSTACK_PG_CHILD="+filepath.Join(dir, "pg"))
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	buf := make([]byte, 32)
	n, _ := out.Read(buf)
	pid, err := strconv.Atoi(string(buf[:n-1]))
	require.NoError(t, err, "helper output %q", buf[:n])
	require.NoError(t, syscall.Kill(pid, 0), "postmaster %d runs", pid)
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	require.Eventually(t, func() bool { return syscall.Kill(pid, 0) != nil }, 30*time.Second, 100*time.Millisecond,
		"postmaster %d still runs after its parent was killed", pid)
}

func newHelper(exe string, args ...string) *exec.Cmd { return exec.Command(exe, args...) }
