package deploy

// The setup scripts of docker-compose.yml's one-shot services, run with /bin/sh against
// fake admin-tools binaries (temporal, temporal-sql-tool) that record their calls.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func runScript(t *testing.T, script string, env []string) (string, error) {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	cmd := exec.Command(sh, filepath.Join(repoRoot, script))
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func writeExecutable(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
}

// fakeTemporal answers the CLI calls of setup-namespace.sh. State lives in $FAKE_DIR:
// ns (namespace exists), sas (created attributes), sa-refused (the first create was
// refused, as a frontend that does not know a new namespace yet does).
const fakeTemporal = `#!/bin/sh
echo "temporal $*" >> "$FAKE_DIR/calls"
case "$1 $2 $3" in
"operator cluster health") echo "temporal.api.workflowservice.v1.WorkflowService: SERVING" ;;
"operator namespace describe") [ -f "$FAKE_DIR/ns" ] || { echo "Namespace not found" >&2; exit 1; } ;;
"operator namespace create") touch "$FAKE_DIR/ns" ;;
"operator search-attribute create")
  [ -f "$FAKE_DIR/ns" ] || exit 1
  if [ -n "$FAKE_REFUSE_FIRST" ] && [ ! -f "$FAKE_DIR/sa-refused" ]; then
    touch "$FAKE_DIR/sa-refused"; echo "Namespace not found" >&2; exit 1
  fi
  shift 3
  while [ $# -gt 0 ]; do
    case $1 in
    --name) n=$2; shift 2 ;;
    --type) [ "$n" = "$FAKE_DROP" ] || echo "  $n  $2" >> "$FAKE_DIR/sas"; shift 2 ;;
    *) shift ;;
    esac
  done ;;
"operator search-attribute list")
  printf '  Name  Type\n  WorkflowId  Keyword\n'
  cat "$FAKE_DIR/sas" 2>/dev/null ;;
*) echo "unexpected call: $*" >&2; exit 2 ;;
esac
`

func TestSetupNamespaceScript(t *testing.T) {
	c := loadCompose(t)
	s := c.Services[setupService]
	script := scriptOf(t, setupService, s)
	sas := composeSearchAttributes(t, c)
	for _, tc := range []struct {
		name        string
		nsExists    bool
		refuseFirst bool   // the first search-attribute create fails (namespace cache)
		drop        string // an attribute the fake server does not keep
		wantErr     bool
		wantOut     string
	}{
		{name: "fresh namespace", refuseFirst: true, wantOut: "has every search attribute"},
		{name: "existing namespace", nsExists: true, wantOut: "namespace default exists"},
		{name: "attribute missing afterwards", nsExists: true, drop: "ConversationState", wantErr: true, wantOut: "missing after create: ConversationState=Keyword"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeExecutable(t, filepath.Join(dir, "temporal"), fakeTemporal)
			if tc.nsExists {
				writeExecutable(t, filepath.Join(dir, "ns"), "")
			}
			refuse := ""
			if tc.refuseFirst {
				refuse = "1"
			}
			env := []string{
				"PATH=" + dir + ":/usr/bin:/bin", "HOME=" + dir,
				"FAKE_DIR=" + dir, "FAKE_REFUSE_FIRST=" + refuse, "FAKE_DROP=" + tc.drop,
			}
			for _, k := range sortedKeys(s.Environment) {
				env = append(env, k+"="+resolve(s.Environment[k]))
			}
			out, err := runScript(t, script, env)
			if (err != nil) != tc.wantErr {
				t.Fatalf("%s: error %v, want error %v; output:\n%s", script, err, tc.wantErr, out)
			}
			if !strings.Contains(out, tc.wantOut) {
				t.Errorf("%s: output lacks %q:\n%s", script, tc.wantOut, out)
			}
			calls, _ := os.ReadFile(filepath.Join(dir, "calls"))
			var create string
			for _, line := range strings.Split(string(calls), "\n") {
				if strings.HasPrefix(line, "temporal operator search-attribute create") {
					create = line
				}
			}
			if !strings.Contains(create, "--namespace default") {
				t.Errorf("search-attribute create not called for namespace default: %q", create)
			}
			for _, name := range sortedKeys(sas) {
				if want := "--name " + name + " --type " + sas[name]; !strings.Contains(create, want) {
					t.Errorf("search-attribute create lacks %q: %q", want, create)
				}
			}
			created := strings.Contains(string(calls), "temporal operator namespace create --namespace default --retention 720h")
			if created == tc.nsExists {
				t.Errorf("namespace create called: %v, namespace existed: %v\ncalls:\n%s", created, tc.nsExists, calls)
			}
		})
	}
}

func TestSetupSchemaScript(t *testing.T) {
	c := loadCompose(t)
	s := c.Services["temporal-schema"]
	if s == nil {
		t.Fatal("no service temporal-schema")
	}
	script := scriptOf(t, "temporal-schema", s)
	dir := t.TempDir()
	schema := filepath.Join(dir, "schema")
	for _, sub := range []string{"temporal/versioned", "visibility/versioned"} {
		if err := os.MkdirAll(filepath.Join(schema, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeExecutable(t, filepath.Join(dir, "temporal-sql-tool"), `#!/bin/sh
echo "$* password=$SQL_PASSWORD" >> "$FAKE_DIR/calls"
`)
	env := []string{"PATH=" + dir + ":/usr/bin:/bin", "HOME=" + dir, "FAKE_DIR=" + dir, "TEMPORAL_SCHEMA_DIR=" + schema}
	for _, k := range sortedKeys(s.Environment) {
		env = append(env, k+"="+resolve(s.Environment[k]))
	}
	out, err := runScript(t, script, env)
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	calls, _ := os.ReadFile(filepath.Join(dir, "calls"))
	want := []string{
		"--db temporal setup-schema -v 0.0 password=required-TEMPORAL_DB_PASSWORD",
		"--db temporal update-schema -d " + schema + "/temporal/versioned",
		"--db temporal_visibility setup-schema -v 0.0",
		"--db temporal_visibility update-schema -d " + schema + "/visibility/versioned",
	}
	lines := strings.Split(strings.TrimSpace(string(calls)), "\n")
	if len(lines) != len(want) {
		t.Fatalf("want %d temporal-sql-tool calls, got:\n%s", len(want), calls)
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) || !strings.Contains(lines[i], "--plugin postgres12 --ep postgresql -p 5432 -u temporal") {
			t.Errorf("call %d: %q, want it to contain %q and the connection flags", i+1, lines[i], w)
		}
	}
}
