package main

import (
	"github.com/mcpwarden/mcpwarden/cmd/internal/loadresult"

	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// lgEndpoint and lgResults are mcpwarden-loadgen's --json output.
type (
	lgEndpoint = loadresult.Endpoint
	lgResults  = loadresult.Results
)

// runLoadgen runs bin/mcpwarden-loadgen with args, echoing its output indented, and returns its
// JSON results together with the command line that reproduces it.
func runLoadgen(ctx context.Context, bin, tmp, name string, args ...string) (*lgResults, string, error) {
	line := "mcpwarden-loadgen " + strings.Join(args, " ")
	jsonPath := filepath.Join(tmp, name+".json")
	noResults := slices.Contains(args, "--enrol-only")
	if !noResults {
		args = append(args, "--json", jsonPath)
	}
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "mcpwarden-loadgen"), args...)
	if err := streamCmd(cmd); err != nil {
		return nil, line, fmt.Errorf("%s: %w", line, err)
	}
	if noResults {
		return &lgResults{}, line, nil
	}
	var r lgResults
	b, err := os.ReadFile(jsonPath)
	if err == nil {
		err = json.Unmarshal(b, &r)
	}
	return &r, line, err
}

func streamCmd(cmd *exec.Cmd) error {
	_, err := streamCmdOutput(cmd)
	return err
}

// streamCmdOutput runs cmd, echoing its output indented, and returns the output.
func streamCmdOutput(cmd *exec.Cmd) (string, error) {
	var all strings.Builder
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			fmt.Println("    " + sc.Text())
			all.WriteString(sc.Text() + "\n")
		}
		close(done)
	}()
	err := cmd.Wait()
	pw.Close()
	<-done
	return all.String(), err
}

// wrkHeartbeat is a wrk script sending heartbeats with a random saved key each, with the same
// per-agent hostname the load generator uses, and printing its summary as JSON.
const wrkHeartbeat = `
local keys = {}
local bodies = {}
function init(args)
  local i = 0
  for line in io.lines(args[1]) do
    if #line > 0 then
      keys[#keys + 1] = line
      bodies[#bodies + 1] = string.format('{"agent_version":"0.2.0","hostname":"loadgen-%06d.local","os_type":"linux","username":"dev"}', i)
      i = i + 1
    end
  end
  math.randomseed(os.time() + tonumber(string.sub(tostring(keys), 8), 16))
end
function request()
  local i = math.random(#keys)
  return wrk.format("POST", "/agents/heartbeat", {["X-API-Key"] = keys[i], ["Content-Type"] = "application/json"}, bodies[i])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"non2xx":%d,"socket_errors":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%f}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, latency.mean))
end
`

var wrkJSONRe = regexp.MustCompile(`WRKJSON (\{.*\})`)

// runWrk drives heartbeats with wrk and converts its summary to the load generator's shape.
func runWrk(ctx context.Context, wrk, tmp, url, keys string, conns int, d time.Duration) (*lgResults, string, error) {
	script := filepath.Join(tmp, "heartbeat.lua")
	if err := os.WriteFile(script, []byte(wrkHeartbeat), 0o644); err != nil {
		return nil, "", err
	}
	args := []string{"-t2", "-c" + strconv.Itoa(conns), "-d" + strconv.Itoa(int(d.Seconds())) + "s", "--timeout", "10s", "-s", script, url, "--", keys}
	line := "wrk " + strings.Join(args, " ")
	out, err := exec.CommandContext(ctx, wrk, args...).CombinedOutput()
	if err != nil {
		return nil, line, fmt.Errorf("%s: %w\n%s", line, err, out)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fmt.Println("    " + l)
	}
	m := wrkJSONRe.FindSubmatch(out)
	if m == nil {
		return nil, line, fmt.Errorf("%s: no summary in output", line)
	}
	var raw map[string]float64
	if err := json.Unmarshal(m[1], &raw); err != nil {
		return nil, line, err
	}
	secs := raw["duration_us"] / 1e6
	ep := lgEndpoint{
		Name: "heartbeat", Requests: uint64(raw["requests"]), Errors: uint64(raw["non2xx"] + raw["socket_errors"]),
		ElapsedS: secs, RPS: raw["requests"] / secs, MeanMs: raw["mean_us"] / 1000,
		P50Ms: raw["p50_us"] / 1000, P95Ms: raw["p95_us"] / 1000, P99Ms: raw["p99_us"] / 1000, MaxMs: raw["max_us"] / 1000,
	}
	return &lgResults{Concurrency: conns, ElapsedS: secs, Requests: ep.Requests, Errors: ep.Errors, RPS: ep.RPS, Endpoints: []lgEndpoint{ep}}, line, nil
}
