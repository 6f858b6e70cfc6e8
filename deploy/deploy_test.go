// Package deploy holds the server's container image (Dockerfile) and a compose file with
// PostgreSQL. Docker cannot run where the tests do, so these tests read the files: every
// variable they, and the packages' systemd files, give the server is one it reads, with a
// value it accepts, and the image is built by the make target CI runs.
package deploy

import (
	"bufio"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mcpwarden/mcpwarden/impl/config"
)

// serverVariables are the environment variables impl/config reads, from its struct tags.
func serverVariables(t *testing.T) map[string]bool {
	t.Helper()
	vars := map[string]bool{}
	typ := reflect.TypeFor[config.Server]()
	for i := range typ.NumField() {
		if name := typ.Field(i).Tag.Get("env"); name != "" && name != "-" {
			vars[strings.Split(name, ",")[0]] = true
		}
	}
	if len(vars) < 20 || !vars["DATABASE_URL"] || !vars["MCPWARDEN_JWT_SECRET"] {
		t.Fatalf("read %d variables from config.Server's tags: %v", len(vars), vars)
	}
	return vars
}

// composeValue resolves compose's ${NAME:?message}, ${NAME:-default} and ${NAME} with a value an
// operator would give: 64 hex characters for every required one.
func composeValue(v string) string {
	return regexp.MustCompile(`\$\{([A-Z_]+)(:[-?]([^}]*))?\}`).ReplaceAllStringFunc(v, func(m string) string {
		if strings.Contains(m, ":?") || !strings.Contains(m, ":-") {
			return strings.Repeat("ab", 32)
		}
		return m[strings.Index(m, ":-")+2 : len(m)-1]
	})
}

func checkServerEnvironment(t *testing.T, where string, env map[string]string) {
	t.Helper()
	known := serverVariables(t)
	for name := range env {
		if !known[name] {
			t.Errorf("%s sets %s, which the server does not read (impl/config)", where, name)
		}
	}
	if _, err := config.FromMap(env); err != nil {
		t.Errorf("%s: the server refuses its environment: %v", where, err)
	}
}

func TestComposeGivesTheServerOnlyVariablesItReads(t *testing.T) {
	b, err := os.ReadFile("docker-compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Build struct {
				Context, Dockerfile string
			}
			Environment map[string]string
			Healthcheck *struct{ Test []string }
			DependsOn   map[string]struct{ Condition string } `yaml:"depends_on"`
			Volumes     []string
		}
		Volumes map[string]any
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatal(err)
	}
	server, ok := compose.Services["mcpwarden"]
	if !ok || server.Build.Dockerfile != "deploy/Dockerfile" || server.Build.Context != ".." {
		t.Fatalf("the mcpwarden service is not built from deploy/Dockerfile at the repository's root: %+v", server.Build)
	}
	env := map[string]string{}
	for name, v := range server.Environment {
		env[name] = composeValue(v)
	}
	if env["DATABASE_URL"] == "" {
		t.Error("the mcpwarden service has no DATABASE_URL: it would start a PostgreSQL of its own in the container")
	}
	checkServerEnvironment(t, "docker-compose.yaml's mcpwarden service", env)

	db, ok := compose.Services["db"]
	if !ok || db.Healthcheck == nil || !slices.Contains(db.Healthcheck.Test, "pg_isready -U mcpwarden -d mcpwarden") {
		t.Errorf("the db service has no pg_isready health check: %+v", db.Healthcheck)
	}
	if server.DependsOn["db"].Condition != "service_healthy" {
		t.Errorf("the server does not wait for a healthy database: %+v", server.DependsOn)
	}
	if len(db.Volumes) == 0 || !strings.HasSuffix(db.Volumes[0], ":/var/lib/postgresql/data") {
		t.Errorf("PostgreSQL's data directory is not on a volume: %v", db.Volumes)
	} else if _, named := compose.Volumes[strings.Split(db.Volumes[0], ":")[0]]; !named {
		t.Errorf("PostgreSQL's data is not on a named volume (%s): docker compose down would lose it", db.Volumes[0])
	}
}

// dockerfileStages splits a Dockerfile into its stages' instructions, by stage name (the last
// one as "final").
func dockerfileStages(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stages := map[string][]string{}
	var name string
	var last []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if fields := strings.Fields(line); strings.EqualFold(fields[0], "FROM") {
			if name != "" {
				stages[name] = last
			}
			name, last = fields[1], nil
			if len(fields) == 4 && strings.EqualFold(fields[2], "AS") {
				name = fields[3]
			}
		}
		last = append(last, line)
	}
	stages[name] = last
	stages["final"] = last
	return stages
}

func TestDockerfileBuildsWithCIsTargetAndSetsOnlyServerVariables(t *testing.T) {
	stages := dockerfileStages(t)
	build, ok := stages["build"]
	if !ok {
		t.Fatalf("no stage named build: %v", stages)
	}
	var target string
	for _, line := range build {
		if m := regexp.MustCompile(`^RUN make (\w+)`).FindStringSubmatch(line); m != nil {
			target = m[1]
		}
	}
	ci, err := os.ReadFile("../.ci/run")
	if err != nil {
		t.Fatal(err)
	}
	if target == "" || !regexp.MustCompile(`(?m)^make `+target+`\b`).Match(ci) {
		t.Errorf("the build stage runs make %q, which .ci/run does not", target)
	}
	// The target must make a static binary, for the distroless static base.
	// -o web: the dashboard's build (npm) is not this question, and make runs recipes that call
	// $(MAKE) even under -n.
	out, err := exec.Command("make", "-C", "..", "-n", "-o", "web", target).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "go build") && !strings.Contains(line, "CGO_ENABLED=0") {
			t.Errorf("make %s builds without CGO_ENABLED=0, so not statically: %s", target, line)
		}
	}

	final := stages["final"]
	if !slices.ContainsFunc(final, func(l string) bool { return regexp.MustCompile(`^USER [1-9]`).MatchString(l) }) {
		t.Errorf("the final stage does not run as a non-root user: %v", final)
	}
	env := map[string]string{}
	for _, stage := range stages {
		for _, line := range stage {
			fields := strings.Fields(line)
			if !strings.EqualFold(fields[0], "ENV") {
				continue
			}
			for _, kv := range fields[1:] {
				name, value, _ := strings.Cut(kv, "=")
				env[name] = value
			}
		}
	}
	checkServerEnvironment(t, "Dockerfile", env)
}

// The server's .deb and .rpm give it server.env (every variable, even commented out, is one it
// reads; those set, valid) and the unit's Environment= lines.
func TestServerPackageGivesTheServerOnlyVariablesItReads(t *testing.T) {
	known := serverVariables(t)
	b, err := os.ReadFile("../packaging/linux/server.env")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		m := regexp.MustCompile(`^(#?)([A-Z][A-Z0-9_]*)=(.*)$`).FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if !known[m[2]] {
			t.Errorf("server.env names %s, which the server does not read", m[2])
		}
		if m[1] == "" {
			env[m[2]] = m[3]
		}
	}
	unit, err := os.ReadFile("../packaging/linux/mcpwarden.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?m)^Environment=([A-Z_]+)=(.*)$`).FindAllStringSubmatch(string(unit), -1) {
		if _, set := env[m[1]]; !set {
			env[m[1]] = m[2]
		}
	}
	if env["MCPWARDEN_DATA_DIR"] != "/var/lib/mcpwarden-server" {
		t.Errorf("MCPWARDEN_DATA_DIR = %q, want the package's state directory", env["MCPWARDEN_DATA_DIR"])
	}
	checkServerEnvironment(t, "packaging/linux/server.env and mcpwarden.service", env)
}
