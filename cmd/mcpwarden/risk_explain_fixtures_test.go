package main

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
	"github.com/mcpwarden/mcpwarden/cmd/internal/agentreport"
	"github.com/mcpwarden/mcpwarden/impl/apitest"
	"github.com/mcpwarden/mcpwarden/impl/discovery"
	"github.com/mcpwarden/mcpwarden/impl/risk"
)

// fixtures are discovery's fixture homes: testdata/<os>/ and the rooted image testdata/root-linux/.
const fixtures = "../../impl/discovery/testdata"

// agentView is what mcpwarden-agent reports when the fixture file at p is the only
// configuration it finds: a scan of a copy of the file, alone, laid out as in its fixture home
// (project files, under src/, found through their project root; the rooted image's through
// --root and --all-users).
func agentView(t *testing.T, dir, p string) discovery.Result {
	t.Helper()
	rel, err := filepath.Rel(filepath.Join(fixtures, dir), p)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	if err := os.MkdirAll(filepath.Join(tmp, filepath.Dir(rel)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, rel), data, 0o644); err != nil {
		t.Fatal(err)
	}
	opts := discovery.Options{Home: tmp, OS: dir}
	switch parts := strings.Split(filepath.ToSlash(rel), "/"); {
	case dir == "root-linux":
		if err := os.MkdirAll(filepath.Join(tmp, "home"), 0o755); err != nil {
			t.Fatal(err)
		}
		opts = discovery.Options{Home: t.TempDir(), OS: "linux", Root: tmp, AllUsers: true}
	case parts[0] == "src" && len(parts) > 2:
		opts.ProjectRoots, opts.ProjectDepth = []string{filepath.Join(tmp, "src", parts[1])}, -1
	}
	r, err := discovery.Scan(opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// judgedServer is a server's judgement, as the inventory serves it and as explain prints it.
type judgedServer struct {
	Level   string
	Score   int
	Factors []risk.Factor
}

// For every file of discovery's fixture homes, `risk explain` judges each server as the server
// stores it once mcpwarden-agent has reported that file: the same servers, levels, scores and
// factors (ids, severities, titles, details and evidence).
func TestRiskExplainJudgesEveryFixtureFileAsTheServerStoresIt(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL")
	}
	ctx := context.Background()
	env := apitest.New(t)
	_, token := env.SeedUser(t, "admin")
	admin := env.User(token)
	files, servers, spaced := 0, 0, 0
	for _, dir := range []string{"linux", "darwin", "windows", "root-linux"} {
		err := filepath.WalkDir(filepath.Join(fixtures, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			files++
			view := agentView(t, dir, p)
			// A file the agent reads no server from (one with findings, or one like JetBrains'
			// 2025.3 settings whose entries only name servers defined elsewhere) is one explain
			// may refuse: it exits 1 saying why.
			got := explainFixture(t, p, len(view.Findings) > 0 || len(view.Servers) == 0)
			if len(view.Servers) == 0 {
				if len(got) > 0 {
					t.Errorf("%s: explain judges %d servers, the agent reports none", p, len(got))
				}
				return nil
			}

			// The agent's report of the file, from an agent of its own, read back.
			created, err := admin.CreateAgentWithResponse(ctx, mcpwarden.CreateAgentJSONRequestBody{Name: p})
			if err != nil || created.JSON201 == nil {
				t.Fatalf("create agent: %v %s", err, created.Body)
			}
			report, err := env.Agent(created.JSON201.ApiKey).ReportServersWithResponse(ctx, agentreport.Body(view.Servers))
			if err != nil || report.JSON200 == nil {
				t.Fatalf("%s: report: %v %s", p, err, report.Body)
			}
			size := mcpwarden.PageSize(100)
			list, err := admin.ListServersWithResponse(ctx, &mcpwarden.ListServersParams{AgentId: &created.JSON201.Id, PageSize: &size})
			if err != nil || list.JSON200 == nil {
				t.Fatalf("list servers: %v %s", err, list.Body)
			}
			stored := map[string]judgedServer{}
			for _, s := range list.JSON200.Items {
				detail, err := admin.GetServerWithResponse(ctx, s.Id)
				if err != nil || detail.JSON200 == nil {
					t.Fatalf("get server: %v %s", err, detail.Body)
				}
				j := judgedServer{Level: string(detail.JSON200.RiskLevel), Score: int(detail.JSON200.RiskScore), Factors: []risk.Factor{}}
				for _, f := range detail.JSON200.RiskFactors {
					j.Factors = append(j.Factors, risk.Factor{ID: f.Id, Severity: string(f.Severity), Title: f.Title, Detail: f.Detail, Evidence: f.Evidence})
				}
				stored[s.ServerName] = j
			}
			if diff := cmp.Diff(stored, got); diff != "" {
				t.Errorf("%s (-stored by the server +explained):\n%s", p, diff)
			}
			servers += len(got)
			for _, s := range view.Servers {
				if strings.ContainsFunc(strings.Join(s.Args, ""), func(r rune) bool { return r == ' ' }) {
					spaced++
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d fixture files, %d servers judged alike, %d of them with an argument that holds a space", files, servers, spaced)
	if files < 140 || servers < 200 || spaced < 4 {
		t.Errorf("%d files, %d servers, %d with spaced arguments: the fixture homes are not all here", files, servers, spaced)
	}
}

// explainFixture runs `risk explain --json` on a fixture file and returns its judgement of each
// server, by name. A file the agent could not read in full (broken) may fail to explain.
func explainFixture(t *testing.T, p string, broken bool) map[string]judgedServer {
	t.Helper()
	var out, errOut strings.Builder
	code := runRiskExplain([]string{"explain", "--json", p}, &out, &errOut)
	switch {
	case code == 1 && broken:
		return nil
	case code != 0:
		t.Fatalf("%s: exit %d: %s", p, code, errOut.String())
	}
	var files []explainedJSON
	if err := json.Unmarshal([]byte(out.String()), &files); err != nil || len(files) != 1 {
		t.Fatalf("%s: %v: %s", p, err, out.String())
	}
	got := map[string]judgedServer{}
	for _, s := range files[0].Servers {
		if _, dup := got[s.Name]; dup {
			t.Errorf("%s: explain names two servers %q", p, s.Name)
		}
		got[s.Name] = judgedServer{Level: s.Level, Score: s.Score, Factors: s.Factors}
	}
	return got
}
