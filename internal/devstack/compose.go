package devstack

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// compose is the part of docker-compose.yml the native cluster reads, so that it runs what
// compose runs: each service's environment (after compose's ${VAR:-default}
// interpolation), command, entrypoint and bind mounts. Nothing else of compose is
// emulated; the cluster maps service names to 127.0.0.1 and container paths to the
// checkout's files.
type compose struct {
	dir      string
	Services map[string]*composeService `yaml:"services"`
}

type composeService struct {
	Command     []string   `yaml:"command"`
	Entrypoint  []string   `yaml:"entrypoint"`
	Environment composeEnv `yaml:"environment"`
	Volumes     []string   `yaml:"volumes"`
}

// composeEnv accepts both forms compose allows: a map, or a list of KEY=VALUE.
type composeEnv map[string]string

func (e *composeEnv) UnmarshalYAML(n *yaml.Node) error {
	*e = composeEnv{}
	switch n.Kind {
	case yaml.MappingNode:
		var m map[string]string
		if err := n.Decode(&m); err != nil {
			return err
		}
		for k, v := range m {
			(*e)[k] = v
		}
	case yaml.SequenceNode:
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		for _, kv := range l {
			k, v, _ := strings.Cut(kv, "=")
			(*e)[k] = v
		}
	default:
		return fmt.Errorf("line %d: environment is neither a map nor a list", n.Line)
	}
	return nil
}

func loadCompose(path string) (*compose, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c := &compose{dir: filepath.Dir(path)}
	if err := yaml.Unmarshal(b, c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func (c *compose) service(name string) (*composeService, error) {
	s := c.Services[name]
	if s == nil {
		return nil, fmt.Errorf("docker-compose.yml has no service %q", name)
	}
	return s, nil
}

// env is a service's environment with ${…} interpolated from vars (compose reads them from
// .env and the shell); a ${VAR:?message} whose variable is unset is an error, as in compose.
func (s *composeService) env(vars map[string]string) (map[string]string, error) {
	out := map[string]string{}
	keys := make([]string, 0, len(s.Environment))
	for k := range s.Environment {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, err := interpolate(s.Environment[k], vars)
		if err != nil {
			return nil, fmt.Errorf("environment %s: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}

// hostPath maps a path inside a service's container to the checkout through the service's
// bind mounts ("./deploy/temporal:/deploy/temporal:ro"); ok is false when no mount covers it.
func (c *compose) hostPath(s *composeService, containerPath string) (string, bool) {
	best, bestLen := "", -1
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || !(strings.HasPrefix(parts[0], ".") || strings.HasPrefix(parts[0], "/")) {
			continue // a named volume
		}
		src, dst := parts[0], strings.TrimRight(parts[1], "/")
		if containerPath != dst && !strings.HasPrefix(containerPath, dst+"/") {
			continue
		}
		if len(dst) > bestLen {
			if !filepath.IsAbs(src) {
				src = filepath.Join(c.dir, src)
			}
			best, bestLen = filepath.Join(src, strings.TrimPrefix(containerPath, dst)), len(dst)
		}
	}
	return best, bestLen >= 0
}

var varRef = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// interpolate applies compose's variable substitution: $$, $VAR, ${VAR}, ${VAR:-default},
// ${VAR-default}, ${VAR:?error}, ${VAR?error}.
func interpolate(s string, vars map[string]string) (string, error) {
	var err error
	out := varRef.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		g := varRef.FindStringSubmatch(m)
		name, op, arg := g[1], g[2], g[3]
		if name == "" {
			name = g[4]
		}
		v, set := vars[name]
		switch op {
		case ":-":
			if v == "" {
				return arg
			}
		case "-":
			if !set {
				return arg
			}
		case ":?":
			if v == "" {
				err = fmt.Errorf("%s: %s", name, arg)
			}
		case "?":
			if !set {
				err = fmt.Errorf("%s: %s", name, arg)
			}
		}
		return v
	})
	return out, err
}
