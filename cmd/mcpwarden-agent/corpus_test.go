package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcpwarden/mcpwarden/impl/redact"
)

// TestScanPrintsNoSampleOfAnySecretFormat writes a client configuration holding a sample of every
// secret format in every place a configuration holds one (an env value, a header, each argument
// placement of redact.SamplePlacements, a remote URL's userinfo and query), runs `scan` and `scan
// --json` on it, and looks for each secret in what they print.
func TestScanPrintsNoSampleOfAnySecretFormat(t *testing.T) {
	samples, missing := redact.FormatSamples()
	if len(missing) > 0 || len(samples) < 200 {
		t.Fatalf("%d samples, missing %v", len(samples), missing)
	}
	home := t.TempDir()
	servers := map[string]any{}
	placements := 0
	for i, s := range samples {
		for j, p := range redact.SamplePlacements(s) {
			servers[fmt.Sprintf("s%d-%d", i, j)] = map[string]any{
				"command": p.Args[0], "args": p.Args[1:],
				"env": map[string]string{"VALUE": s.Text, "OTHER": s.Secret},
			}
			placements++
		}
		// A format recognised only by the words around it goes in the query with them.
		query := "q=" + url.QueryEscape(s.Secret)
		if !s.Standalone {
			query = "q=1"
			if !strings.ContainsAny(s.Text, " \t\r\n&#?\"'") {
				query = s.Text
			}
		}
		servers[fmt.Sprintf("r%d", i)] = map[string]any{
			"type":    "http",
			"url":     "https://user:" + url.PathEscape(s.Secret) + "@mcp.example.com/mcp?" + query,
			"headers": map[string]string{"Authorization": "Bearer " + s.Secret, "X-Value": s.Text},
		}
		placements += 3
	}
	cfg, err := json.Marshal(map[string]any{"mcpServers": servers})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(home, ".config", "Claude")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "claude_desktop_config.json"), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	var printed bytes.Buffer
	for _, args := range [][]string{{"scan", "--home", home, "--os", "linux"}, {"scan", "--json", "--home", home, "--os", "linux"}} {
		var stdout, stderr bytes.Buffer
		if code := cli(context.Background(), args, &stdout, &stderr); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr.String())
		}
		printed.Write(stdout.Bytes())
	}
	if n := strings.Count(printed.String(), "mcp.example.com"); n < len(samples) {
		t.Fatalf("the scan printed %d remote servers of %d", n, len(samples))
	}
	leaks := 0
	for _, s := range samples {
		for _, form := range []string{s.Secret, url.QueryEscape(s.Secret), url.PathEscape(s.Secret)} {
			if strings.Contains(printed.String(), form) {
				leaks++
				t.Errorf("%s: secret %q is printed", s.Rule, form)
				break
			}
		}
	}
	t.Logf("%d formats in %d placements: %d leaks", len(samples), placements, leaks)
}
