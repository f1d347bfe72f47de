package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The images are built with the Go patch release go.mod pins (toolchain line): the
// standard library's security fixes arrive in patch releases, and make test scans that
// release with govulncheck.
func TestDockerfileBuildsWithThePinnedToolchain(t *testing.T) {
	mod := string(readRepoFile(t, "go.mod"))
	m := regexp.MustCompile(`(?m)^toolchain go(\d+\.\d+\.\d+)$`).FindStringSubmatch(mod)
	if m == nil {
		t.Fatal("go.mod has no toolchain line pinning a patch release (toolchain go1.x.y)")
	}
	d := regexp.MustCompile(`(?m)^ARG GO_VERSION=(\S+)$`).FindStringSubmatch(string(readRepoFile(t, dockerfile)))
	if d == nil || d[1] != m[1] {
		t.Fatalf("%s builds with Go %v, go.mod pins go%s", dockerfile, d, m[1])
	}
}

// fakeGo stands in for the go command: it records each call with the GOTOOLCHAIN it ran
// under, and reports the pinned release only when GOTOOLCHAIN selects it (the machine's
// own go is older), or fails to get it as a go command without the module proxy does.
const fakeGo = `#!/bin/sh
echo "GOTOOLCHAIN=$GOTOOLCHAIN $*" >> "$FAKE_DIR/calls"
v=go1.0.0-machine
[ "$GOTOOLCHAIN" = "$PINNED" ] && v=$PINNED
if [ -n "$FAKE_GO_UNREACHABLE" ] && [ "$v" = "$PINNED" ]; then
  echo "go: downloading $PINNED (linux/amd64)" >&2
  echo "go: download $PINNED for linux/amd64: toolchain not available" >&2
  exit 1
fi
case "$1" in
version) echo "go version $v linux/amd64" ;;
env) [ "$2" = GOVERSION ] && echo "$v" ;;
esac
exit 0
`

// TestMakeUsesThePinnedToolchain (issue 20, item 9): make build, make vet and the scripts
// behind make run and make test run the go command with the toolchain go.mod pins, the
// one govulncheck scans and the images are built with, not whatever go the machine has;
// when it cannot be had they stop and say why.
func TestMakeUsesThePinnedToolchain(t *testing.T) {
	mk, err := exec.LookPath("make")
	if err != nil {
		t.Skip("no make")
	}
	m := regexp.MustCompile(`(?m)^toolchain (go\d+\.\d+\.\d+)$`).FindStringSubmatch(string(readRepoFile(t, "go.mod")))
	if m == nil {
		t.Fatal("go.mod has no toolchain line")
	}
	pinned := m[1]
	dir := t.TempDir()
	writeExecutable(t, filepath.Join(dir, "go"), fakeGo)
	env := append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"), "FAKE_DIR="+dir, "PINNED="+pinned, "GOTOOLCHAIN=local")
	run := func(t *testing.T, extra []string, name string, args ...string) (string, error) {
		t.Helper()
		_ = os.Remove(filepath.Join(dir, "calls"))
		cmd := exec.Command(name, args...)
		cmd.Dir = repoRoot
		cmd.Env = append(env, extra...)
		out, err := cmd.CombinedOutput()
		calls, _ := os.ReadFile(filepath.Join(dir, "calls"))
		return string(out) + string(calls), err
	}
	for _, tt := range []struct {
		name string
		cmd  []string
		want string // a go call that must run under the pinned toolchain
	}{
		{"make build", []string{mk, "-s", "build"}, "build -o bin/"},
		{"make vet", []string{mk, "-s", "vet"}, "vet ./..."},
		{"scripts of make run and make test", []string{"bash", "-c", "source scripts/lib.sh && go version"}, "version"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := run(t, nil, tt.cmd[0], tt.cmd[1:]...)
			if err != nil {
				t.Fatalf("%v: %v\n%s", tt.cmd, err, out)
			}
			if !strings.Contains(out, "GOTOOLCHAIN="+pinned+" "+tt.want) {
				t.Fatalf("%v did not run `go %s` with GOTOOLCHAIN=%s:\n%s", tt.cmd, tt.want, pinned, out)
			}
		})
		t.Run(tt.name+", toolchain unreachable", func(t *testing.T) {
			out, err := run(t, []string{"FAKE_GO_UNREACHABLE=1"}, tt.cmd[0], tt.cmd[1:]...)
			if err == nil || !strings.Contains(out, "go.mod pins "+pinned) {
				t.Fatalf("%v without the pinned toolchain: err %v, want a failure naming it:\n%s", tt.cmd, err, out)
			}
			if strings.Contains(out, "GOTOOLCHAIN=local "+tt.want) || strings.Contains(out, "GOTOOLCHAIN=local build") {
				t.Fatalf("%v fell back to the machine's go:\n%s", tt.cmd, out)
			}
		})
	}
	for _, script := range []string{"scripts/run.sh", "scripts/test.sh", "scripts/bench.sh"} {
		body := string(readRepoFile(t, script))
		src := strings.Index(body, "source \"$(dirname \"${BASH_SOURCE[0]}\")/lib.sh\"")
		if src < 0 || regexp.MustCompile(`(?m)^\s*go `).FindStringIndex(body[:src]) != nil {
			t.Errorf("%s must source scripts/lib.sh before its first go command", script)
		}
	}
}
