package deploy

// These tests check docker-compose.yml, the Dockerfile and the setup scripts without a
// Docker engine: structure, start order, the environment contract (config.Config) and the
// search attributes (workflows.SearchAttributeTypes). They never call the docker CLI.

import (
	"bytes"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/igdirect/bridge/config"
	"github.com/igdirect/bridge/workflows"
)

const (
	repoRoot      = ".."
	composePath   = "docker-compose.yml"
	dockerfile    = "Dockerfile"
	envExample    = ".env.example"
	readme        = "README.md"
	setupService  = "temporal-setup" // creates the namespace and the search attributes
	postgresData  = "/var/lib/postgresql/data"
	envFileForApp = ".env"
)

// appServices are the bridge's own processes: built from the Dockerfile target of the same
// name, configured through config.Config.
var appServices = []string{"worker", "ingress"}

// envOutsideConfig lists variables the processes read without config.Config, with the file
// that reads them; the test checks that the file really does.
var envOutsideConfig = map[string]string{
	"LOG_LEVEL":  "internal/logging/logging.go",
	"LOG_FORMAT": "internal/logging/logging.go",
}

// sqlVisibilitySlots is how many custom search attributes of each type a namespace can have
// on SQL visibility (PostgreSQL): go.temporal.io/server common/searchattribute/defs.go.
var sqlVisibilitySlots = map[string]int{
	"Keyword": 10, "Text": 3, "Datetime": 3, "Int": 3, "Double": 3, "Bool": 3, "KeywordList": 3,
}

// ---------------------------------------------------------------------------------------
// docker-compose.yml model. Unknown keys in a service fail the parse (KnownFields), so a
// typo such as "helthcheck" does not silently drop a check.

type composeFile struct {
	Name     string              `yaml:"name"`
	Services map[string]*service `yaml:"services"`
	Volumes  map[string]any      `yaml:"volumes"`
	Networks map[string]any      `yaml:"networks"`
	Extra    map[string]any      `yaml:",inline"` // x-… extension fields only
}

type service struct {
	Image           string        `yaml:"image"`
	Build           *buildSpec    `yaml:"build"`
	Command         stringList    `yaml:"command"`
	Entrypoint      stringList    `yaml:"entrypoint"`
	Environment     environment   `yaml:"environment"`
	EnvFile         envFiles      `yaml:"env_file"`
	Volumes         []string      `yaml:"volumes"`
	Ports           []string      `yaml:"ports"`
	DependsOn       dependsOn     `yaml:"depends_on"`
	Healthcheck     *healthcheck  `yaml:"healthcheck"`
	Restart         string        `yaml:"restart"`
	StopGracePeriod string        `yaml:"stop_grace_period"`
	Logging         *loggingBlock `yaml:"logging"`
}

type buildSpec struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
	Target     string `yaml:"target"`
}

func (b *buildSpec) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		b.Context = n.Value
		return nil
	}
	type plain buildSpec
	return decodeStrict(n, (*plain)(b))
}

type healthcheck struct {
	Test        stringList `yaml:"test"`
	Interval    string     `yaml:"interval"`
	Timeout     string     `yaml:"timeout"`
	Retries     int        `yaml:"retries"`
	StartPeriod string     `yaml:"start_period"`
	Disable     bool       `yaml:"disable"`
}

type loggingBlock struct {
	Driver  string            `yaml:"driver"`
	Options map[string]string `yaml:"options"`
}

// stringList is a compose string-or-list (command, entrypoint, healthcheck.test).
type stringList []string

func (s *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*s = stringList{n.Value}
		return nil
	}
	var l []string
	err := n.Decode(&l)
	*s = l
	return err
}

// environment is a compose environment block, mapping or "KEY=VALUE" list.
type environment map[string]string

func (e *environment) UnmarshalYAML(n *yaml.Node) error {
	*e = environment{}
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			(*e)[n.Content[i].Value] = n.Content[i+1].Value
		}
		return nil
	case yaml.SequenceNode:
		for _, item := range n.Content {
			k, v, _ := strings.Cut(item.Value, "=")
			(*e)[k] = v
		}
		return nil
	}
	return fmt.Errorf("line %d: environment must be a mapping or a list", n.Line)
}

// envFiles is a compose env_file: a path, a list of paths, or a list of {path, required}.
type envFiles []string

func (f *envFiles) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		*f = envFiles{n.Value}
		return nil
	case yaml.SequenceNode:
		for _, item := range n.Content {
			if item.Kind == yaml.ScalarNode {
				*f = append(*f, item.Value)
				continue
			}
			var long struct {
				Path     string `yaml:"path"`
				Required *bool  `yaml:"required"`
				Format   string `yaml:"format"`
			}
			if err := decodeStrict(item, &long); err != nil {
				return err
			}
			*f = append(*f, long.Path)
		}
		return nil
	}
	return fmt.Errorf("line %d: env_file must be a path or a list", n.Line)
}

// dependsOn maps a dependency to its condition; the short (list) form means service_started.
type dependsOn map[string]string

func (d *dependsOn) UnmarshalYAML(n *yaml.Node) error {
	*d = dependsOn{}
	switch n.Kind {
	case yaml.SequenceNode:
		for _, item := range n.Content {
			(*d)[item.Value] = "service_started"
		}
		return nil
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			var long struct {
				Condition string `yaml:"condition"`
				Restart   bool   `yaml:"restart"`
				Required  *bool  `yaml:"required"`
			}
			if err := decodeStrict(n.Content[i+1], &long); err != nil {
				return err
			}
			if long.Condition == "" {
				long.Condition = "service_started"
			}
			(*d)[n.Content[i].Value] = long.Condition
		}
		return nil
	}
	return fmt.Errorf("line %d: depends_on must be a list or a mapping", n.Line)
}

// decodeStrict decodes a node rejecting unknown keys (Node.Decode has no KnownFields).
func decodeStrict(n *yaml.Node, v any) error {
	if n.Kind == yaml.MappingNode {
		fields := map[string]bool{}
		t := reflect.TypeOf(v).Elem()
		for i := 0; i < t.NumField(); i++ {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			fields[name] = true
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i]; !fields[k.Value] {
				return fmt.Errorf("line %d: unknown key %q", k.Line, k.Value)
			}
		}
	}
	return n.Decode(v)
}

func loadCompose(t *testing.T) *composeFile {
	t.Helper()
	data := readRepoFile(t, composePath)
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var c composeFile
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("%s does not parse: %v", composePath, err)
	}
	if len(c.Services) == 0 {
		t.Fatalf("%s has no services", composePath)
	}
	return &c
}

func readRepoFile(t *testing.T, rel string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatalf("read %s: %v", rel, err)
	}
	return data
}

// ---------------------------------------------------------------------------------------
// Interpolation as docker compose does it, with every variable unset: ${VAR:-default} and
// ${VAR-default} give the default, ${VAR:?message} (required) gives "required-VAR" (URL-
// safe, as in a DATABASE_URL), ${VAR} gives "", $$ is $.

var interpolation = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}`)

func resolve(s string) string {
	return interpolation.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		g := interpolation.FindStringSubmatch(m)
		switch {
		case strings.HasSuffix(g[2], "-"):
			return g[3]
		case strings.HasSuffix(g[2], "?"):
			return "required-" + g[1]
		}
		return ""
	})
}

func TestResolve(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres:${POSTGRES_VERSION:-16-alpine}", "postgres:16-alpine"},
		{"${A-x}${B}", "x"},
		{"pw=${PW:?set PW in .env (openssl rand -hex 24)}", "pw=required-PW"},
		{`nc -z "$$(hostname)" 7233`, `nc -z "$(hostname)" 7233`},
	} {
		if got := resolve(tc.in); got != tc.want {
			t.Errorf("resolve(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// ---------------------------------------------------------------------------------------
// Structure.

func TestComposeTopLevel(t *testing.T) {
	c := loadCompose(t)
	for k := range c.Extra {
		if !strings.HasPrefix(k, "x-") {
			t.Errorf("%s: unknown top-level key %q (only name, services, volumes, networks and x-… extensions)", composePath, k)
		}
	}
	for _, name := range append([]string{"postgresql", "temporal", setupService}, appServices...) {
		if c.Services[name] == nil {
			t.Errorf("%s: service %q is missing", composePath, name)
		}
	}
}

func TestServicesHaveImageOrBuild(t *testing.T) {
	c := loadCompose(t)
	for _, name := range sortedKeys(c.Services) {
		s := c.Services[name]
		if s.Image == "" && s.Build == nil {
			t.Errorf("service %s: neither image nor build", name)
			continue
		}
		if s.Image == "" {
			continue
		}
		// Pinned: an explicit tag (through ${VAR:-default} at most), never latest.
		if strings.Contains(s.Image, "${") && !strings.Contains(s.Image, ":-") {
			t.Errorf("service %s: image %q takes its tag from a variable without a default", name, s.Image)
		}
		img := resolve(s.Image)
		_, tag, _ := strings.Cut(img[strings.LastIndex(img, "/")+1:], ":")
		switch {
		case tag == "latest":
			t.Errorf("service %s: image %q uses the tag latest", name, s.Image)
		case tag == "" && s.Build == nil:
			t.Errorf("service %s: image %q is not pinned to a tag", name, s.Image)
		}
	}
}

// dockerfileStages returns the stage names of the Dockerfile ("FROM … AS name") with the
// text of each stage.
func dockerfileStages(t *testing.T) map[string]string {
	t.Helper()
	from := regexp.MustCompile(`(?i)^FROM\s+(?:--\S+\s+)*\S+(?:\s+AS\s+(\S+))?\s*$`)
	stages := map[string]string{}
	current := ""
	for _, line := range strings.Split(string(readRepoFile(t, dockerfile)), "\n") {
		if m := from.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			current = strings.ToLower(m[1])
			if current != "" {
				if _, dup := stages[current]; dup {
					t.Errorf("%s: stage %q defined twice", dockerfile, current)
				}
			}
		}
		if current != "" {
			stages[current] += line + "\n"
		}
	}
	return stages
}

func TestBuildTargetsExistInDockerfile(t *testing.T) {
	c := loadCompose(t)
	stages := dockerfileStages(t)
	for _, name := range sortedKeys(c.Services) {
		b := c.Services[name].Build
		if b == nil {
			continue
		}
		if ctx := filepath.Clean(b.Context); ctx != "." {
			t.Errorf("service %s: build context %q, want the repository root \".\"", name, b.Context)
		}
		if b.Dockerfile != "" && b.Dockerfile != dockerfile {
			t.Errorf("service %s: dockerfile %q, want %q", name, b.Dockerfile, dockerfile)
		}
		if b.Target == "" {
			t.Errorf("service %s: build has no target (the last stage of %s would be built)", name, dockerfile)
			continue
		}
		if _, ok := stages[strings.ToLower(b.Target)]; !ok {
			t.Errorf("service %s: build target %q is not a stage of %s (stages: %s)", name, b.Target, dockerfile, strings.Join(sortedKeys(stages), ", "))
		}
	}
	for _, app := range appServices {
		s := c.Services[app]
		if s == nil {
			continue
		}
		if s.Build == nil || s.Build.Target != app {
			t.Errorf("service %s: want build target %q", app, app)
		}
		user := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindStringSubmatch(stages[app])
		if user == nil || strings.HasPrefix(user[1], "root") || strings.HasPrefix(user[1], "0") {
			t.Errorf("%s stage %s: runs as root (want a non-root USER)", dockerfile, app)
		}
	}
	build := stages["build"]
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "--mount=type=cache,target=/go/pkg/mod", "--mount=type=cache,target=/root/.cache/go-build", "./worker", "./ingress/cmd/ingress"} {
		if !strings.Contains(build, want) {
			t.Errorf("%s build stage lacks %q", dockerfile, want)
		}
	}
}

func TestDependsOn(t *testing.T) {
	c := loadCompose(t)
	conditions := map[string]bool{"service_started": true, "service_healthy": true, "service_completed_successfully": true}
	for _, name := range sortedKeys(c.Services) {
		for _, dep := range sortedKeys(c.Services[name].DependsOn) {
			cond := c.Services[name].DependsOn[dep]
			target := c.Services[dep]
			switch {
			case target == nil:
				t.Errorf("service %s depends on %q, which is not a service", name, dep)
			case !conditions[cond]:
				t.Errorf("service %s depends on %s with unknown condition %q", name, dep, cond)
			case cond == "service_healthy" && (target.Healthcheck == nil || target.Healthcheck.Disable || len(target.Healthcheck.Test) == 0):
				t.Errorf("service %s waits for %s to be healthy, but %s has no health check", name, dep, dep)
			case cond == "service_completed_successfully" && target.Restart != "" && target.Restart != "no":
				t.Errorf("service %s waits for %s to complete, but %s restarts (%q): a one-shot needs restart \"no\"", name, dep, dep, target.Restart)
			}
		}
	}
	// No cycles.
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(string, []string)
	visit = func(n string, path []string) {
		switch state[n] {
		case 1:
			t.Errorf("depends_on cycle: %s", strings.Join(append(path, n), " → "))
			return
		case 2:
			return
		}
		state[n] = 1
		if s := c.Services[n]; s != nil {
			for _, dep := range sortedKeys(s.DependsOn) {
				visit(dep, append(path, n))
			}
		}
		state[n] = 2
	}
	for _, name := range sortedKeys(c.Services) {
		visit(name, nil)
	}
}

func TestStartOrder(t *testing.T) {
	c := loadCompose(t)
	for _, tc := range []struct{ service, dependency, condition, why string }{
		{"temporal", "postgresql", "service_healthy", "Temporal's store"},
		{setupService, "temporal", "service_healthy", "it talks to the frontend"},
		{"worker", "postgresql", "service_healthy", "it migrates at start"},
		{"worker", setupService, "service_completed_successfully", "it refuses to start without the search attributes"},
		{"ingress", "postgresql", "service_healthy", "it migrates at start"},
		{"ingress", setupService, "service_completed_successfully", "SignalWithStart sets the search attributes"},
	} {
		s := c.Services[tc.service]
		if s == nil {
			continue // reported by TestComposeTopLevel
		}
		if got := s.DependsOn[tc.dependency]; got != tc.condition {
			t.Errorf("service %s: depends_on %s has condition %q, want %q (%s)", tc.service, tc.dependency, got, tc.condition, tc.why)
		}
	}
}

func TestHealthchecks(t *testing.T) {
	c := loadCompose(t)
	stages := dockerfileStages(t)
	for _, name := range []string{"postgresql", "temporal", "ingress"} {
		s := c.Services[name]
		if s == nil {
			continue
		}
		hc := s.Healthcheck
		if hc == nil || hc.Disable || len(hc.Test) == 0 || hc.Test[0] == "NONE" {
			t.Errorf("service %s: no health check", name)
			continue
		}
		if hc.Test[0] == "CMD" && len(hc.Test) < 2 {
			t.Errorf("service %s: health check %q has no command", name, hc.Test)
		}
	}
	// The ingress probe must be a binary the image has.
	if s := c.Services["ingress"]; s != nil && s.Healthcheck != nil && len(s.Healthcheck.Test) > 1 && s.Healthcheck.Test[0] == "CMD" {
		if bin := s.Healthcheck.Test[1]; !strings.Contains(stages["ingress"], bin) {
			t.Errorf("service ingress: health check runs %s, which the %s stage ingress does not contain", bin, dockerfile)
		}
	}
	if st := stages["ingress"]; !strings.Contains(st, "HEALTHCHECK") || !strings.Contains(st, "EXPOSE 8080") {
		t.Errorf("%s stage ingress: want EXPOSE 8080 and a HEALTHCHECK", dockerfile)
	}
}

func TestRestartPolicies(t *testing.T) {
	c := loadCompose(t)
	oneShot := map[string]bool{}
	for _, s := range c.Services {
		for dep, cond := range s.DependsOn {
			if cond == "service_completed_successfully" {
				oneShot[dep] = true
			}
		}
	}
	for _, name := range sortedKeys(c.Services) {
		r := c.Services[name].Restart
		switch {
		case oneShot[name] && r != "no":
			t.Errorf("service %s is a one-shot: want restart \"no\", got %q", name, r)
		case !oneShot[name] && r != "unless-stopped" && r != "always" && !strings.HasPrefix(r, "on-failure"):
			t.Errorf("service %s runs for good: want a restart policy (unless-stopped), got %q", name, r)
		}
	}
}

func TestVolumesAndMounts(t *testing.T) {
	c := loadCompose(t)
	for _, name := range sortedKeys(c.Services) {
		for _, v := range c.Services[name].Volumes {
			parts := strings.Split(resolve(v), ":")
			if len(parts) < 2 {
				continue // anonymous volume
			}
			src := parts[0]
			if strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/") {
				if strings.HasPrefix(src, "/") {
					t.Errorf("service %s: bind mount %q uses an absolute host path", name, v)
					continue
				}
				if _, err := os.Stat(filepath.Join(repoRoot, src)); err != nil {
					t.Errorf("service %s: bind mount source %s does not exist in the repository", name, src)
				}
				continue
			}
			if _, ok := c.Volumes[src]; !ok {
				t.Errorf("service %s: named volume %q is not declared under top-level volumes", name, src)
			}
		}
	}
	found := false
	if pg := c.Services["postgresql"]; pg != nil {
		for _, v := range pg.Volumes {
			parts := strings.Split(v, ":")
			if len(parts) >= 2 && parts[1] == postgresData && !strings.HasPrefix(parts[0], ".") {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("service postgresql: want a named volume at %s", postgresData)
	}
}

// hostPath maps a path inside a service's container to the repository file mounted there.
func hostPath(s *service, containerPath string) (string, bool) {
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || !strings.HasPrefix(parts[0], ".") {
			continue
		}
		if containerPath == parts[1] || strings.HasPrefix(containerPath, parts[1]+"/") {
			return filepath.Join(parts[0], strings.TrimPrefix(containerPath, parts[1])), true
		}
	}
	return "", false
}

// scriptOf returns the repository path of the script a one-shot service runs.
func scriptOf(t *testing.T, name string, s *service) string {
	t.Helper()
	for _, arg := range append(append([]string{}, s.Entrypoint...), s.Command...) {
		if strings.HasSuffix(arg, ".sh") {
			p, ok := hostPath(s, arg)
			if !ok {
				t.Fatalf("service %s runs %s, which no bind mount provides", name, arg)
			}
			if _, err := os.Stat(filepath.Join(repoRoot, p)); err != nil {
				t.Fatalf("service %s runs %s = %s, which does not exist", name, arg, p)
			}
			return p
		}
	}
	t.Fatalf("service %s runs no script (entrypoint %q, command %q)", name, s.Entrypoint, s.Command)
	return ""
}

func TestOneShotScriptsExist(t *testing.T) {
	c := loadCompose(t)
	for _, name := range sortedKeys(c.Services) {
		s := c.Services[name]
		if s.Restart == "no" {
			scriptOf(t, name, s)
		}
	}
}

// ---------------------------------------------------------------------------------------
// Environment contract.

type configVar struct {
	Name, Default string
}

// configVars reflects over config.Config: every field must carry an envconfig tag.
func configVars(t *testing.T) map[string]configVar {
	t.Helper()
	vars := map[string]configVar{}
	typ := reflect.TypeOf(config.Config{})
	for i := 0; i < typ.NumField(); i++ {
		f := typ.Field(i)
		tag := f.Tag.Get("envconfig")
		if tag == "" {
			t.Errorf("config.Config.%s has no envconfig tag", f.Name)
			continue
		}
		vars[tag] = configVar{Name: tag, Default: f.Tag.Get("default")}
	}
	if len(vars) == 0 {
		t.Fatal("config.Config has no envconfig tags")
	}
	return vars
}

// envExampleKeys parses .env.example (KEY=VALUE lines, # comments).
func envExampleKeys(t *testing.T) map[string]string {
	t.Helper()
	keys := map[string]string{}
	for i, line := range strings.Split(string(readRepoFile(t, envExample)), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if !ok {
			t.Errorf("%s:%d: not KEY=VALUE: %q", envExample, i+1, line)
			continue
		}
		keys[strings.TrimSpace(k)] = v
	}
	return keys
}

// knownVar reports whether the processes read name: a config.Config tag, or one of
// envOutsideConfig read by the file it names.
func knownVar(t *testing.T, vars map[string]configVar, name string) bool {
	t.Helper()
	if _, ok := vars[name]; ok {
		return true
	}
	file, ok := envOutsideConfig[name]
	if !ok {
		return false
	}
	if !strings.Contains(string(readRepoFile(t, file)), fmt.Sprintf("os.Getenv(%q)", name)) {
		t.Errorf("%s is allowed outside config.Config because %s reads it, but %s does not read it any more", name, file, file)
	}
	return true
}

func TestAppEnvironmentIsInConfig(t *testing.T) {
	c := loadCompose(t)
	vars := configVars(t)
	example := envExampleKeys(t)
	for _, app := range appServices {
		s := c.Services[app]
		if s == nil {
			continue
		}
		t.Run(app, func(t *testing.T) {
			for _, k := range sortedKeys(s.Environment) {
				if !knownVar(t, vars, k) {
					t.Errorf("service %s: environment %s is not an envconfig tag of config.Config (typo, or a variable nothing reads)", app, k)
				}
			}
			if len(s.EnvFile) != 1 || s.EnvFile[0] != envFileForApp {
				t.Errorf("service %s: env_file %q, want [%q] (the operator's copy of %s)", app, s.EnvFile, envFileForApp, envExample)
			}
			// .env itself holds secrets and is not in the repository; .env.example is its template.
			for _, k := range sortedKeys(example) {
				if !knownVar(t, vars, k) {
					t.Errorf("%s (loaded by service %s through env_file %s): %s is not an envconfig tag of config.Config", envExample, app, envFileForApp, k)
				}
			}
		})
	}
}

func TestConfigIsDocumented(t *testing.T) {
	vars := configVars(t)
	example := envExampleKeys(t)
	doc := string(readRepoFile(t, readme))
	for _, name := range sortedKeys(vars) {
		if _, ok := example[name]; !ok {
			t.Errorf("envconfig tag %s is missing from %s", name, envExample)
		}
		if !strings.Contains(doc, "`"+name+"`") {
			t.Errorf("envconfig tag %s is not documented in %s (as `%s`)", name, readme, name)
		}
	}
}

// TestAddressesPointAtServices: host names in the addresses compose hands out are services
// of the same file.
func TestAddressesPointAtServices(t *testing.T) {
	c := loadCompose(t)
	for _, name := range sortedKeys(c.Services) {
		env := c.Services[name].Environment
		for _, k := range sortedKeys(env) {
			v := resolve(env[k])
			var host string
			switch {
			case k == "DATABASE_URL":
				u, err := url.Parse(v)
				if err != nil {
					t.Errorf("service %s: DATABASE_URL %q: %v", name, env[k], err)
					continue
				}
				host = u.Hostname()
				if db := strings.TrimPrefix(u.Path, "/"); db != "igdirect" {
					t.Errorf("service %s: DATABASE_URL names database %q, want igdirect (deploy/postgres/init-databases.sh)", name, db)
				}
			case strings.HasSuffix(k, "_ADDRESS"):
				h, _, err := net.SplitHostPort(v)
				if err != nil {
					t.Errorf("service %s: %s %q is not host:port: %v", name, k, v, err)
					continue
				}
				host = h
			case strings.HasSuffix(k, "_HOST") || strings.HasSuffix(k, "_SEEDS"):
				host = v
			default:
				continue
			}
			if c.Services[host] == nil {
				t.Errorf("service %s: %s points at host %q, which is not a service", name, k, host)
			}
		}
	}
}

func TestIngressPort(t *testing.T) {
	c := loadCompose(t)
	s := c.Services["ingress"]
	if s == nil {
		return
	}
	_, port, err := net.SplitHostPort(resolve(s.Environment["INGRESS_ADDR"]))
	if err != nil {
		t.Fatalf("service ingress: INGRESS_ADDR %q: %v (compose must fix the listen port)", s.Environment["INGRESS_ADDR"], err)
	}
	published := false
	for _, p := range s.Ports {
		r := resolve(p)
		if strings.HasSuffix(r, ":"+port) || strings.HasSuffix(r, ":"+port+"/tcp") {
			published = true
		}
	}
	if !published {
		t.Errorf("service ingress listens on %s but ports %q do not publish it", port, s.Ports)
	}
	if !strings.Contains(dockerfileStages(t)["ingress"], "EXPOSE "+port) {
		t.Errorf("service ingress listens on %s but the %s stage exposes another port", port, dockerfile)
	}
}

// ---------------------------------------------------------------------------------------
// Search attributes.

// composeSearchAttributes parses SEARCH_ATTRIBUTES ("Name=Type …") of the setup service.
func composeSearchAttributes(t *testing.T, c *composeFile) map[string]string {
	t.Helper()
	s := c.Services[setupService]
	if s == nil {
		t.Fatalf("no service %s", setupService)
	}
	raw, ok := s.Environment["SEARCH_ATTRIBUTES"]
	if !ok {
		t.Fatalf("service %s: no SEARCH_ATTRIBUTES", setupService)
	}
	got := map[string]string{}
	for _, f := range strings.Fields(raw) {
		name, typ, ok := strings.Cut(f, "=")
		if !ok || name == "" || typ == "" {
			t.Errorf("service %s: SEARCH_ATTRIBUTES entry %q is not Name=Type", setupService, f)
			continue
		}
		if _, dup := got[name]; dup {
			t.Errorf("service %s: search attribute %s listed twice", setupService, name)
		}
		got[name] = typ
	}
	return got
}

func TestSearchAttributesMatchWorkflows(t *testing.T) {
	c := loadCompose(t)
	got := composeSearchAttributes(t, c)
	want := map[string]string{}
	for name, typ := range workflows.SearchAttributeTypes {
		want[name] = typ.String() // "Keyword": the enum's String is the CLI's --type name
	}
	for _, name := range sortedKeys(want) {
		switch g, ok := got[name]; {
		case !ok:
			t.Errorf("search attribute %s (workflows.SearchAttributeTypes) is not created by service %s", name, setupService)
		case g != want[name]:
			t.Errorf("search attribute %s: created as %s, workflows.SearchAttributeTypes says %s", name, g, want[name])
		}
	}
	for _, name := range sortedKeys(got) {
		if _, ok := want[name]; !ok {
			t.Errorf("service %s creates search attribute %s, which is not in workflows.SearchAttributeTypes (it would burn a SQL visibility slot)", setupService, name)
		}
	}
	perType := map[string]int{}
	for _, typ := range got {
		perType[typ]++
	}
	for _, typ := range sortedKeys(perType) {
		limit, ok := sqlVisibilitySlots[typ]
		if !ok {
			t.Errorf("search attribute type %q is not a Temporal type (%s)", typ, strings.Join(sortedKeys(sqlVisibilitySlots), ", "))
		} else if perType[typ] > limit {
			t.Errorf("%d search attributes of type %s, SQL visibility has %d slots", perType[typ], typ, limit)
		}
	}
	script := string(readRepoFile(t, scriptOf(t, setupService, c.Services[setupService])))
	for _, want := range []string{"SEARCH_ATTRIBUTES", "operator search-attribute create", "operator cluster health"} {
		if !strings.Contains(script, want) {
			t.Errorf("the script of service %s does not contain %q", setupService, want)
		}
	}
}

func TestNamespaceFollowsConfig(t *testing.T) {
	c := loadCompose(t)
	vars := configVars(t)
	for _, name := range sortedKeys(c.Services) {
		raw, ok := c.Services[name].Environment["TEMPORAL_NAMESPACE"]
		if !ok {
			continue
		}
		if !strings.Contains(raw, "${TEMPORAL_NAMESPACE") {
			t.Errorf("service %s: TEMPORAL_NAMESPACE %q does not follow .env's TEMPORAL_NAMESPACE", name, raw)
		}
		if got, want := resolve(raw), vars["TEMPORAL_NAMESPACE"].Default; got != want {
			t.Errorf("service %s: TEMPORAL_NAMESPACE defaults to %q, config.Config to %q", name, got, want)
		}
	}
}

func TestNoDemoSearchAttributes(t *testing.T) {
	c := loadCompose(t)
	for _, name := range sortedKeys(c.Services) {
		s := c.Services[name]
		if strings.Contains(s.Image, "temporalio/auto-setup") && !strings.EqualFold(s.Environment["SKIP_ADD_CUSTOM_SEARCH_ATTRIBUTES"], "true") {
			t.Errorf("service %s runs auto-setup without SKIP_ADD_CUSTOM_SEARCH_ATTRIBUTES=true: its demo attributes take SQL visibility slots (2 of 3 Text)", name)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
