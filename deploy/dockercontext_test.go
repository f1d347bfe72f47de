package deploy

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// dockerignore is a matcher for the .dockerignore forms this repository uses: names and
// globs relative to the context root ("bin", ".env.*"), "**/glob" at any depth, and "!"
// exceptions; the last matching pattern wins and a pattern also matches what is below the
// directory it names, as in Docker.
type dockerignore []ignoreRule

type ignoreRule struct {
	pattern string
	exclude bool
}

func loadDockerignore(t *testing.T) dockerignore {
	t.Helper()
	var d dockerignore
	for i, line := range strings.Split(string(readRepoFile(t, ".dockerignore")), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		exclude := !strings.HasPrefix(line, "!")
		p := strings.TrimPrefix(line, "!")
		if strings.Contains(strings.TrimPrefix(p, "**/"), "**") {
			t.Fatalf(".dockerignore:%d: %q: this test understands ** only as a leading **/", i+1, line)
		}
		d = append(d, ignoreRule{filepath.Clean(p), exclude})
	}
	return d
}

func (d dockerignore) excluded(rel string) bool {
	out := false
	for _, p := range d {
		if p.matches(rel) {
			out = p.exclude
		}
	}
	return out
}

func (p ignoreRule) matches(rel string) bool {
	parts := strings.Split(rel, "/")
	for i := 1; i <= len(parts); i++ { // rel and each of its parent directories
		prefix := strings.Join(parts[:i], "/")
		if glob, ok := strings.CutPrefix(p.pattern, "**/"); ok {
			for j := 0; j < i; j++ {
				if m, _ := filepath.Match(glob, strings.Join(parts[j:i], "/")); m {
					return true
				}
			}
		} else if m, _ := filepath.Match(p.pattern, prefix); m {
			return true
		}
	}
	return false
}

// TestDockerContextHasBuildInputs: .dockerignore keeps every file the image build compiles
// or embeds, and keeps secrets and local data out.
func TestDockerContextHasBuildInputs(t *testing.T) {
	ignore := loadDockerignore(t)
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-deps", "-f", "{{if and .Module .Module.Main}}{{range .GoFiles}}{{$.Dir}}/{{.}}\n{{end}}{{range .EmbedFiles}}{{$.Dir}}/{{.}}\n{{end}}{{end}}",
		"./worker", "./ingress/cmd/ingress", "./deploy/healthcheck")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	inputs := []string{"go.mod", "go.sum"}
	for _, f := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(root, f)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, filepath.ToSlash(rel))
	}
	if len(inputs) < 10 {
		t.Fatalf("go list found only %v", inputs)
	}
	for _, f := range inputs {
		if ignore.excluded(f) {
			t.Errorf(".dockerignore excludes %s, which the image build needs", f)
		}
	}
	for _, f := range []string{".env", ".env.production", ".data/pg/PG_VERSION", ".git/HEAD", "bin/temporal"} {
		if !ignore.excluded(f) {
			t.Errorf(".dockerignore lets %s into the build context", f)
		}
	}
}
