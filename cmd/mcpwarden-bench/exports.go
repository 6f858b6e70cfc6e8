package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
)

// exportRSSTargetMB is the most resident memory the server may reach while streaming an export
// of every seeded server.
const exportRSSTargetMB = 100

// exportRun is one export of the seeded organization's whole inventory.
type exportRun struct {
	Format  string
	Lines   int64
	Bytes   int64
	Seconds float64
	// BeforeMB is the server's resident memory when the export started; PeakMB its peak (VmHWM,
	// reset just before the request) while it ran.
	BeforeMB, PeakMB float64
	Err              string
}

// exportToken signs in as the seeded organization's admin and creates a read API token for the
// exports, on a server run of its own: the exports are then made as an integrator's pipeline
// makes them, and on a server that has hashed no password. A sign-in's argon2id takes 19 MiB,
// which the Go runtime keeps for minutes: the server's RSS went from 38 to 75 MB after one,
// and the export's peak would carry it.
func (b *bench) exportToken(ctx context.Context, email, password string) (string, error) {
	if err := b.startServer(ctx, "API token for the exports"); err != nil {
		return "", err
	}
	defer b.stopServer("API token for the exports")
	c := mcpwarden.New(b.srv.url)
	if err := c.Login(ctx, email, password); err != nil {
		return "", fmt.Errorf("sign-in: %w", err)
	}
	resp, err := c.CreateApiTokenWithResponse(ctx, mcpwarden.CreateApiTokenJSONRequestBody{Name: "bench export", Scopes: []mcpwarden.ApiTokenScope{mcpwarden.ScopeRead}})
	if err != nil {
		return "", fmt.Errorf("create an API token: %w", err)
	}
	if resp.JSON201 == nil {
		return "", fmt.Errorf("create an API token: %d %s", resp.StatusCode(), resp.Body)
	}
	return resp.JSON201.Token, nil
}

// exportPhase streams GET /mcp/servers/export of every seeded server, once per format, with a
// read API token, and records the server's peak resident memory during each: exports must run
// in constant memory. The kernel's high-water mark is reset (clear_refs) before each request,
// so the peak is the export's and not what start-up or the earlier phases left behind.
func (b *bench) exportPhase(ctx context.Context, token string) {
	c := mcpwarden.New(b.srv.url, mcpwarden.WithHTTPDoer(&http.Client{}), mcpwarden.WithToken(token))
	for _, format := range []mcpwarden.ExportServersParamsFormat{mcpwarden.ExportServersParamsFormatCsv, mcpwarden.ExportServersParamsFormatNdjson} {
		step("export of %d servers as %s", b.r.SeedServers, format)
		run := b.export(ctx, c, format)
		if run.Err != "" {
			b.r.note(fmt.Sprintf("export as %s: %s", format, run.Err))
		}
		b.r.Exports = append(b.r.Exports, run)
	}
}

func (b *bench) export(ctx context.Context, c *mcpwarden.API, format mcpwarden.ExportServersParamsFormat) exportRun {
	run := exportRun{Format: string(format)}
	pid := b.srv.pid()
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		run.Err = "resetting the peak RSS: " + err.Error()
		return run
	}
	if st, err := procStatus(pid); err == nil {
		run.BeforeMB = float64(st["VmRSS"]) * 1024 / 1e6
	}
	t0 := time.Now()
	resp, err := c.ExportServers(ctx, &mcpwarden.ExportServersParams{Format: format})
	if err != nil {
		run.Err = err.Error()
		return run
	}
	defer resp.Body.Close()
	lines, n, err := countLines(resp.Body)
	run.Seconds, run.Lines, run.Bytes = time.Since(t0).Seconds(), lines, n
	if err != nil {
		run.Err = fmt.Sprintf("after %d bytes: %v", n, err)
	}
	st, err := procStatus(pid)
	if err != nil {
		run.Err = "reading the peak RSS: " + err.Error()
		return run
	}
	run.PeakMB = float64(st["VmHWM"]) * 1024 / 1e6
	return run
}

// countLines reads r to its end and counts its lines and bytes.
func countLines(r io.Reader) (lines, n int64, err error) {
	buf := make([]byte, 256<<10)
	for {
		k, err := r.Read(buf)
		n += int64(k)
		for _, c := range buf[:k] {
			if c == '\n' {
				lines++
			}
		}
		if err == io.EOF {
			return lines, n, nil
		}
		if err != nil {
			return lines, n, err
		}
	}
}
