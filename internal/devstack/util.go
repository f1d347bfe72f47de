package devstack

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq" // PostgreSQL driver
)

// Build builds the worker and ingress binaries (and more packages of the module, e.g.
// "./sandbox/cmd/sandbox") of the module at moduleDir ("" = found from the working
// directory) into binDir.
func Build(ctx context.Context, moduleDir, binDir string, more ...string) error {
	if moduleDir == "" {
		var err error
		if moduleDir, err = ModuleRoot(); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return err
	}
	abs, err := filepath.Abs(binDir)
	if err != nil {
		return err
	}
	args := append([]string{"build", "-o", abs + string(filepath.Separator), "./worker", "./ingress/cmd/ingress"}, more...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = moduleDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// ModuleRoot walks up from the working directory to the directory holding go.mod.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("devstack: go.mod not found above the working directory")
		}
		dir = parent
	}
}

// DatabaseName is the name of a stack's database: devstack_<name>_<9 digits of t>.
func DatabaseName(name string, t time.Time) string {
	return fmt.Sprintf("devstack_%s_%09d", strings.ReplaceAll(safeName(name), "-", "_"), t.UnixNano()%1e9)
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9_-]+`)

// safeName lowercases name and replaces anything but letters, digits, '_' and '-'.
func safeName(name string) string {
	n := unsafeChars.ReplaceAllString(strings.ToLower(name), "_")
	if len(n) > 40 {
		n = n[:40]
	}
	if n == "" {
		n = "stack"
	}
	return n
}

func createDatabase(ctx context.Context, adminDSN, name string) (string, error) {
	db, err := sqlx.Open("postgres", adminDSN)
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return DSNWithDatabase(adminDSN, name)
}

// createDatabaseOwned creates a database owned by a role (the bridge's role of a cluster).
func createDatabaseOwned(ctx context.Context, adminDSN, name, owner string) error {
	db, err := sqlx.Open("postgres", adminDSN)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE DATABASE `+name+` OWNER `+owner); err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	return nil
}

func dropDatabase(ctx context.Context, adminDSN, name string) error {
	db, err := sqlx.Open("postgres", adminDSN)
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
	return err
}

// DSNWithDatabase replaces the database of a URL-form PostgreSQL DSN.
func DSNWithDatabase(dsn, name string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("devstack: the admin DSN must be a postgres:// URL")
	}
	u.Path = "/" + name
	return u.String(), nil
}

// MergeEnv returns base with every KEY=VALUE of the overrides applied in order: a later
// value replaces an earlier one of the same key, which keeps its position.
func MergeEnv(base []string, overrides ...[]string) []string {
	out := make([]string, 0, len(base))
	idx := map[string]int{}
	add := func(kv string) {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := idx[k]; ok {
			out[i] = kv
			return
		}
		idx[k] = len(out)
		out = append(out, kv)
	}
	for _, kv := range base {
		add(kv)
	}
	for _, o := range overrides {
		for _, kv := range o {
			add(kv)
		}
	}
	return out
}

// RandomString returns n random URL-safe characters.
func RandomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}
