package db

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/google/uuid"
)

// The rows a batch sends are written by hand: they must decode to what encoding/json would have
// written for the same server, under the names applyReportsSQL reads.
func TestReportRowsDecodeAsTheirFields(t *testing.T) {
	str := func(s string) *string { return &s }
	yes, no := true, false
	factors := json.RawMessage(`[{"id":"MCPW-FS-ROOT","severity":"critical","title":"t","detail":"d <&> \"q\"","evidence":"/"}]`)
	sum := sha256.Sum256(factors)
	servers := []ReportServer{
		{ID: uuid.New(), ServerName: "fs", ServerType: "@modelcontextprotocol/server-filesystem", Command: "npx -y x /",
			Scope: "/", EnvVars: []string{"A_TOKEN", "B"}, Client: str("claude-desktop"), ConfigPath: str(`C:\Users\dev\"cfg".json`),
			Transport: str("stdio"), URL: nil, Enabled: &yes, ConfigHash: []byte{1, 2, 0xff}, RiskLevel: "critical", RiskScore: 100,
			RiskFactors: factors},
		{ID: uuid.New(), ServerName: "odd \u2028 <name> \x01 caf\u00e9 \xff", Command: "tab\there\nline", EnvVars: nil,
			Enabled: &no, ConfigHash: nil, RiskLevel: "low"},
		{ID: uuid.New(), ServerName: "remote", EnvVars: []string{}, URL: str("https://x.example/mcp?a=1&b=2"), RiskLevel: "medium", RiskScore: 40},
	}
	agent := uuid.New()
	for i := range servers {
		s := &servers[i]
		for k, stored := range [][]byte{nil, sum[:]} {
			known := k == 1
			var prev *PreviousServer
			if known {
				prev = &PreviousServer{RiskFactorsHash: stored, Status: "dormant", RiskLevel: "high", ServerType: "t \"x\""}
			}
			got := appendReportRow(nil, agent, s, prev)
			if !json.Valid(got) {
				t.Fatalf("server %d: not JSON: %s", i, got)
			}
			fs := s.RiskFactors
			if len(fs) == 0 {
				fs = json.RawMessage("[]")
			}
			h := sha256.Sum256(fs)
			want := map[string]any{
				"id": s.ID, "agent_id": agent, "known": known, "server_name": s.ServerName, "server_type": s.ServerType,
				"command": s.Command, "scope": s.Scope, "env_vars": s.EnvVars, "client": s.Client,
				"config_path": s.ConfigPath, "transport": s.Transport, "url": s.URL, "enabled": s.Enabled,
				"config_hash": hex.EncodeToString(s.ConfigHash), "risk_level": s.RiskLevel, "risk_score": s.RiskScore,
				"risk_factors_hash": hex.EncodeToString(h[:]),
			}
			if string(stored) != string(h[:]) {
				want["risk_factors"] = fs
			}
			if known {
				want["prev_status"], want["prev_level"], want["prev_type"] = prev.Status, prev.RiskLevel, prev.ServerType
			}
			wantJSON, err := json.Marshal(want)
			if err != nil {
				t.Fatal(err)
			}
			var gotV, wantV map[string]any
			if err := json.Unmarshal(got, &gotV); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(wantJSON, &wantV); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(gotV, wantV) {
				t.Errorf("server %d (stored hash %x):\n got %s\nwant %s", i, stored, got, wantJSON)
			}
		}
	}
}
