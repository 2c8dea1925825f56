package deploy

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// compose is the part of a compose file these checks read.
type compose struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       any               `yaml:"build"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
		Healthcheck map[string]any    `yaml:"healthcheck"`
		Ports       []string          `yaml:"ports"`
	} `yaml:"services"`
}

func load(t *testing.T, file string) compose {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", file))
	require.NoError(t, err)
	var c compose
	require.NoError(t, yaml.Unmarshal(b, &c), file)
	require.NotEmpty(t, c.Services, file)
	return c
}

// pinned: a tag that names a version, not a moving one or a variable.
var pinned = regexp.MustCompile(`^[a-z0-9./-]+:[0-9][A-Za-z0-9._-]*$`)

// secretName is an environment variable that would carry a secret itself.
var secretName = regexp.MustCompile(`(?i)(PASSWORD|PWD|TOKEN|SECRET|API_KEY|CODEC_KEYS)$`)

// temporalVersion is the server version go.mod pins, without the v.
func temporalVersion(t *testing.T) string {
	b, err := os.ReadFile("../go.mod")
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^\s*go\.temporal\.io/server v(\S+)`).FindSubmatch(b)
	require.NotNil(t, m, "go.mod pins no go.temporal.io/server")
	return string(m[1])
}

func TestComposeFiles(t *testing.T) {
	for _, file := range []string{"docker-compose.yml", "docker-compose.dev.yml"} {
		t.Run(file, func(t *testing.T) {
			for name, s := range load(t, file).Services {
				switch {
				case s.Build != nil:
					// Built from this repository's Dockerfile, checked below.
					assert.True(t, strings.HasPrefix(s.Image, "stead:"), "%s: a built image is named stead:*, got %q", name, s.Image)
				default:
					assert.Regexp(t, pinned, s.Image, "%s: image is not pinned to a version", name)
					assert.NotContains(t, s.Image, "auto-setup", "%s: schemas are set up by admin-tools, never by auto-setup", name)
				}
				for k, v := range s.Environment {
					assert.False(t, secretName.MatchString(k), "%s: %s=%q puts a secret in the file; read it from a file", name, k, v)
				}
				for _, p := range s.Ports {
					assert.True(t, strings.HasPrefix(p, "127.0.0.1:"), "%s: port %s is published beyond loopback", name, p)
				}
			}
		})
	}
}

func TestProductionCompose(t *testing.T) {
	c := load(t, "docker-compose.yml")
	for _, name := range []string{"postgresql", "temporal-schema", "temporal", "temporal-ui", "codec-server", "namespace-setup", "worker-default", "worker-eu-west"} {
		require.Contains(t, c.Services, name)
	}
	v := temporalVersion(t)
	assert.Equal(t, "temporalio/server:"+v, c.Services["temporal"].Image, "the server is the version Stead is built and tested against")
	assert.Equal(t, "temporalio/admin-tools:"+v, c.Services["temporal-schema"].Image)
	for _, name := range []string{"postgresql", "temporal"} {
		assert.NotEmpty(t, c.Services[name].Healthcheck, "%s has no health check", name)
	}
	assert.Equal(t, []string{"namespace", "setup", "--namespace", "default"}, c.Services["namespace-setup"].Command)
	assert.Contains(t, c.Services["temporal-ui"].Environment["TEMPORAL_CODEC_ENDPOINT"], ":8081", "the UI decodes through the codec server")
	regions := map[string]bool{}
	for _, s := range c.Services {
		if len(s.Command) > 0 && s.Command[0] == "worker" {
			region := "default"
			if i := slices.Index(s.Command, "--region"); i >= 0 {
				region = s.Command[i+1]
			}
			regions[region] = true
		}
	}
	assert.Len(t, regions, 2, "workers for two regions: %v", regions)
}

// Every service the README's Production section lists exists.
func TestReadmeNamesComposeServices(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	_, section, found := strings.Cut(string(b), "\n## Production\n")
	require.True(t, found, "README.md has no Production section")
	section, _, _ = strings.Cut(section, "\n## ")
	c := load(t, "docker-compose.yml")
	row := regexp.MustCompile("^\\| `([a-z0-9-]+)` \\|")
	var named []string
	sc := bufio.NewScanner(strings.NewReader(section))
	for sc.Scan() {
		if m := row.FindStringSubmatch(sc.Text()); m != nil {
			named = append(named, m[1])
			assert.Contains(t, c.Services, m[1], "README names service %s", m[1])
		}
	}
	assert.Len(t, named, len(c.Services), "README lists %v; compose has every one of its services listed", named)
}

func TestDockerfilePinsItsBases(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	require.NoError(t, err)
	froms := regexp.MustCompile(`(?m)^FROM (\S+)`).FindAllSubmatch(b, -1)
	require.NotEmpty(t, froms)
	for _, m := range froms {
		if img := string(m[1]); img != "scratch" {
			assert.Regexp(t, pinned, img, "Dockerfile base %s is not pinned", img)
		}
	}
	assert.Regexp(t, `(?m)^USER 65532`, string(b), "the image runs as a non-root user")
	assert.Contains(t, string(b), "CGO_ENABLED=0", "a static binary")
}

// docker-compose (Debian's compose v1) parses both files, with stand-ins
// for the secret files an operator provides.
func TestComposeConfigParses(t *testing.T) {
	bin, err := exec.LookPath("docker-compose")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("docker-compose is not installed (.ci/run installs Debian's docker-compose)")
		}
		t.Skip("docker-compose is not installed (apt-get install docker-compose)")
	}
	dir := t.TempDir()
	for _, f := range []string{"docker-compose.yml", "docker-compose.dev.yml", "Dockerfile"} {
		b, err := os.ReadFile(filepath.Join("..", f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), b, 0o644))
	}
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "secrets"), 0o700))
	for _, f := range []string{"db.env", "codec.key"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "secrets", f), nil, 0o600))
	}
	for _, f := range []string{"docker-compose.yml", "docker-compose.dev.yml"} {
		cmd := exec.Command(bin, "-f", f, "config", "-q")
		cmd.Dir = dir
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		assert.NoError(t, cmd.Run(), "docker-compose -f %s config: %s", f, out.String())
	}
}
