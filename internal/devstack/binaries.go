package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// The pinned Temporal versions. The CLI v1.5.1 embeds server 1.29.1 and UI 2.42.1 (its dev
// server); the cluster runs the same server and UI, built from their own modules, and
// docker-compose.yml pins the same versions as images.
const (
	TemporalCLIVersion    = "v1.5.1"
	TemporalServerVersion = "v1.29.1"
	TemporalUIVersion     = "v2.42.1"
)

const (
	cliPkg     = "github.com/temporalio/cli/cmd/temporal"
	serverMod  = "go.temporal.io/server"
	uiMod      = "github.com/temporalio/ui-server/v2"
	cliVersion = "Server 1.29.1" // in `temporal --version`
)

// Binaries are the pinned Temporal programs in a bin directory:
//
//	bin/temporal                          CLI and dev server (with the UI)
//	bin/temporal-server-v1.29.1/          temporal-server, temporal-sql-tool, config/docker.yaml,
//	                                      schema/postgresql/v12 (what the server and admin-tools images hold)
//	bin/temporal-ui-server-v2.42.1/       temporal-ui-server, config/ (what the UI image holds)
//
// They are built with `go install module@version` outside the project module, so the
// project's go.mod never carries the server's dependency tree.
type Binaries struct {
	CLI       string
	ServerDir string // "" when only the CLI is there
	UIDir     string
}

// Server is the temporal-server binary; its config root is ServerDir (config/docker.yaml).
func (b *Binaries) Server() string { return filepath.Join(b.ServerDir, "temporal-server") }

// SQLTool is temporal-sql-tool, what deploy/temporal/setup-schema.sh calls.
func (b *Binaries) SQLTool() string { return filepath.Join(b.ServerDir, "temporal-sql-tool") }

// SchemaDir is the PostgreSQL schema of the server version (TEMPORAL_SCHEMA_DIR).
func (b *Binaries) SchemaDir() string {
	return filepath.Join(b.ServerDir, "schema", "postgresql", "v12")
}

// UIServer is the Temporal UI server binary; its config root is UIDir.
func (b *Binaries) UIServer() string { return filepath.Join(b.UIDir, "temporal-ui-server") }

func serverDir(binDir string) string {
	return filepath.Join(binDir, "temporal-server-"+TemporalServerVersion)
}
func uiDir(binDir string) string {
	return filepath.Join(binDir, "temporal-ui-server-"+TemporalUIVersion)
}

// LocateBinaries finds the pinned binaries under binDir without building anything; cluster
// asks for the server and UI too.
func LocateBinaries(binDir string, cluster bool) (*Binaries, error) {
	b := &Binaries{CLI: filepath.Join(binDir, "temporal")}
	if !cliOK(b.CLI) {
		return nil, fmt.Errorf("the pinned Temporal CLI is not built in %s (make test, make run or `go run ./internal/devstack/cmd/devstack build` build it)", binDir)
	}
	if !cluster {
		return b, nil
	}
	b.ServerDir, b.UIDir = serverDir(binDir), uiDir(binDir)
	for _, d := range []string{b.ServerDir, b.UIDir} {
		if _, err := os.Stat(filepath.Join(d, ".complete")); err != nil {
			return nil, fmt.Errorf("%s is not built (make test-cluster, make run-cluster or `go run ./internal/devstack/cmd/devstack build -cluster` build it)", d)
		}
	}
	return b, nil
}

func cliOK(path string) bool {
	out, err := exec.Command(path, "--version").Output()
	return err == nil && bytes.Contains(out, []byte(cliVersion))
}

// BuildBinaries builds what is missing under binDir (the first time: about 3 minutes for
// the CLI, 3 more for the server, half a minute for the UI on 2 cores with a warm module
// cache) and returns them all.
func BuildBinaries(ctx context.Context, binDir string, cluster bool, log io.Writer) (*Binaries, error) {
	binDir, err := filepath.Abs(binDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return nil, err
	}
	cli := filepath.Join(binDir, "temporal")
	if !cliOK(cli) {
		fmt.Fprintf(log, "building Temporal CLI %s into %s (first time only, about 3 minutes)\n", TemporalCLIVersion, binDir)
		start := time.Now()
		tmp, err := os.MkdirTemp(binDir, ".build-cli-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		if err := goInstall(ctx, tmp, cliPkg+"@"+TemporalCLIVersion); err != nil {
			return nil, err
		}
		_ = os.Remove(cli) // may be a symlink to another checkout's CLI
		if err := os.Rename(filepath.Join(tmp, "temporal"), cli); err != nil {
			return nil, err
		}
		fmt.Fprintf(log, "built the Temporal CLI in %s\n", time.Since(start).Round(time.Second))
	}
	if cluster {
		if err := buildServer(ctx, binDir, log); err != nil {
			return nil, err
		}
		if err := buildUI(ctx, binDir, log); err != nil {
			return nil, err
		}
	}
	return LocateBinaries(binDir, cluster)
}

// buildServer builds temporal-server (cmd/server) and temporal-sql-tool (cmd/tools/sql) of
// the pinned server module, and copies the files the images carry: config/docker.yaml (the
// config template the server renders from its environment) and the PostgreSQL schema.
func buildServer(ctx context.Context, binDir string, log io.Writer) error {
	dst := serverDir(binDir)
	if _, err := os.Stat(filepath.Join(dst, ".complete")); err == nil {
		return nil
	}
	fmt.Fprintf(log, "building Temporal server %s and temporal-sql-tool into %s (first time only, about 3 minutes)\n", TemporalServerVersion, dst)
	start := time.Now()
	tmp, err := os.MkdirTemp(binDir, ".build-server-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// go install names binaries after their package directory: cmd/server → server,
	// cmd/tools/sql → sql; they get the images' names below.
	if err := goInstall(ctx, tmp, serverMod+"/cmd/server@"+TemporalServerVersion, serverMod+"/cmd/tools/sql@"+TemporalServerVersion); err != nil {
		return err
	}
	out := filepath.Join(tmp, "out")
	if err := os.MkdirAll(filepath.Join(out, "config"), 0o755); err != nil {
		return err
	}
	for from, to := range map[string]string{"server": "temporal-server", "sql": "temporal-sql-tool"} {
		if err := os.Rename(filepath.Join(tmp, from), filepath.Join(out, to)); err != nil {
			return err
		}
	}
	mod, err := moduleDir(ctx, serverMod+"@"+TemporalServerVersion)
	if err != nil {
		return err
	}
	if err := copyFile(filepath.Join(mod, "config", "docker.yaml"), filepath.Join(out, "config", "docker.yaml")); err != nil {
		return err
	}
	if err := copyTree(filepath.Join(mod, "schema", "postgresql"), filepath.Join(out, "schema", "postgresql"), ".sql"); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, ".complete"), []byte(TemporalServerVersion+"\n"), 0o644); err != nil {
		return err
	}
	_ = os.RemoveAll(dst)
	if err := os.Rename(out, dst); err != nil {
		return err
	}
	fmt.Fprintf(log, "built the Temporal server in %s\n", time.Since(start).Round(time.Second))
	return nil
}

// buildUI builds the UI server (the module behind the temporalio/ui image; the UI's assets
// are embedded) and copies its config directory (config/docker.yaml reads TEMPORAL_ADDRESS,
// TEMPORAL_UI_PORT, … like the image).
func buildUI(ctx context.Context, binDir string, log io.Writer) error {
	dst := uiDir(binDir)
	if _, err := os.Stat(filepath.Join(dst, ".complete")); err == nil {
		return nil
	}
	fmt.Fprintf(log, "building Temporal UI server %s into %s (first time only, under a minute)\n", TemporalUIVersion, dst)
	start := time.Now()
	tmp, err := os.MkdirTemp(binDir, ".build-ui-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := goInstall(ctx, tmp, uiMod+"/cmd/server@"+TemporalUIVersion); err != nil {
		return err
	}
	out := filepath.Join(tmp, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if err := os.Rename(filepath.Join(tmp, "server"), filepath.Join(out, "temporal-ui-server")); err != nil {
		return err
	}
	mod, err := moduleDir(ctx, uiMod+"@"+TemporalUIVersion)
	if err != nil {
		return err
	}
	if err := copyTree(filepath.Join(mod, "config"), filepath.Join(out, "config"), ".yaml"); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, ".complete"), []byte(TemporalUIVersion+"\n"), 0o644); err != nil {
		return err
	}
	_ = os.RemoveAll(dst)
	if err := os.Rename(out, dst); err != nil {
		return err
	}
	fmt.Fprintf(log, "built the Temporal UI server in %s\n", time.Since(start).Round(time.Second))
	return nil
}

// goEnv runs the go command outside any module: GOWORK off, in the temporary directory.
func goCmd(ctx context.Context, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = os.TempDir()
	cmd.Env = MergeEnv(os.Environ(), []string{"GOWORK=off", "GOFLAGS=-mod=mod"}, env)
	return cmd
}

func goInstall(ctx context.Context, gobin string, pkgs ...string) error {
	cmd := goCmd(ctx, []string{"GOBIN=" + gobin}, append([]string{"install"}, pkgs...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go install %s: %v\n%s", strings.Join(pkgs, " "), err, out)
	}
	return nil
}

// moduleDir is where the go command keeps a module version's files (downloading it if
// needed).
func moduleDir(ctx context.Context, modVersion string) (string, error) {
	out, err := goCmd(ctx, nil, "mod", "download", "-json", modVersion).Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %w", modVersion, err)
	}
	var m struct{ Dir, Error string }
	if err := json.Unmarshal(out, &m); err != nil {
		return "", err
	}
	if m.Error != "" || m.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %s", modVersion, m.Error)
	}
	return m.Dir, nil
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}

// copyTree copies the files of a tree whose names end in ext. Only data files: a .go file
// under bin/ would make bin/ a package of the project (go test ./... would find it).
func copyTree(from, to, ext string) error {
	return filepath.Walk(from, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		if fi.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		if !strings.HasSuffix(path, ext) {
			return nil
		}
		return copyFile(path, filepath.Join(to, rel))
	})
}
