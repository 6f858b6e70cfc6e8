package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRiskExplainScoresASampleConfiguration(t *testing.T) {
	var out, errOut bytes.Buffer
	code := runRiskExplain([]string{"explain", "testdata/claude_desktop_config.json"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	text := out.String()
	for _, want := range []string{"desktop-commander", "MCPW-CAP-EXEC", "filesystem", "MCPW-FS-HOME", "github", "time"} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "ghp_aaaa") {
		t.Errorf("output leaks the planted token:\n%s", text)
	}
}

func TestRiskExplainFailOn(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := runRiskExplain([]string{"--fail-on", "critical", "testdata/claude_desktop_config.json"}, &out, &errOut); code != 3 {
		t.Fatalf("exit %d, want 3 (desktop-commander is critical)", code)
	}
}

func TestRiskExplainReadsTOMLWithTheAgentParser(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := runRiskExplain([]string{"explain", "testdata/codex-config.toml"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{"shell", "github", "MCPW-CRED-WRITE"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "ghp_bbbb") {
		t.Errorf("output leaks the planted token")
	}
}
