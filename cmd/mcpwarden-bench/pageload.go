package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// pageLoadTarget is the most a dashboard view may take to show its data, in ms from the start of
// its navigation.
const pageLoadTarget = 1500

// pageLoad is one dashboard view's time to data in headless Chromium (web/e2e/pageload.mjs).
type pageLoad struct {
	View     string  `json:"view"`
	Path     string  `json:"path"`
	Runs     int     `json:"runs"`
	MedianMs float64 `json:"median_ms"`
	MaxMs    float64 `json:"max_ms"`
}

// pageLoadPhase opens the dashboard's views in Debian's Chromium against the server running on
// the seeded organization and records how long each takes to show its data. It needs Node, the
// workspace's packages (npm ci), a dashboard built into the binary and Chromium; without them it
// says why in the report.
func (b *bench) pageLoadPhase(ctx context.Context) {
	script := filepath.Join("web", "e2e", "pageload.mjs")
	chromium := os.Getenv("MCPWARDEN_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	switch {
	case !fileExists(script) || !fileExists(filepath.Join("node_modules", "playwright-core")):
		b.r.PageLoadsSkipped = "skipped: web/e2e/pageload.mjs or node_modules/playwright-core is missing (run `npm ci` at the repository's root)."
		return
	case !fileExists(filepath.Join("web", "dist", "app", "index.html")):
		b.r.PageLoadsSkipped = "skipped: the dashboard is not built (`make web`), so the server has none to serve."
		return
	case !fileExists(chromium):
		b.r.PageLoadsSkipped = "skipped: Chromium is not installed (`.ci/ensure-chromium`)."
		return
	}
	step("dashboard page loads in headless Chromium")
	args := []string{script, "--url", b.srv.url, "--email", b.seedEmail, "--password", b.seedPassword, "--search", b.o.searchTerm, "--runs", "5"}
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		b.r.note(fmt.Sprintf("page loads: node %s: %v", script, err))
		return
	}
	var res struct {
		Results []pageLoad `json:"results"`
		Errors  []string   `json:"errors"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		b.r.note(fmt.Sprintf("page loads: %v in %q", err, out))
		return
	}
	b.r.PageLoads, b.r.PageLoadErrors = res.Results, res.Errors
	b.r.PageLoadsCmd = "node " + strings.Join(args, " ")
	b.r.PageLoadsCmd = strings.Replace(b.r.PageLoadsCmd, b.seedPassword, "<printed by seed>", 1)
	b.r.PageLoadsCmd = strings.Replace(b.r.PageLoadsCmd, b.srv.url, "http://127.0.0.1:<port>", 1)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
