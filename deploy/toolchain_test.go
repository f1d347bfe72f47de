package deploy

import (
	"regexp"
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
