package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/igdirect/bridge/internal/devstack"
)

// The store's tests need a PostgreSQL server. E2E_DATABASE_URL names one where they may
// create databases; without it they start a throwaway cluster of their own (as the
// end-to-end tests do) when PostgreSQL's binaries are installed, and skip, saying why,
// when they are not.
var noPostgres string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if os.Getenv("E2E_DATABASE_URL") != "" {
		return m.Run()
	}
	if _, err := devstack.PostgresBinDir(); err != nil {
		noPostgres = err.Error()
		return m.Run()
	}
	root, err := devstack.ModuleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := devstack.ScratchDir(root, "store-test-postgres")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	pg, err := devstack.StartPostgres(context.Background(), devstack.PostgresOptions{
		Dir: filepath.Join(dir, "pg"), LogPath: filepath.Join(dir, "postgres.log")})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start PostgreSQL:", err)
		return 1
	}
	defer pg.Stop()
	os.Setenv("E2E_DATABASE_URL", pg.SuperuserDSN("postgres"))
	return m.Run()
}
