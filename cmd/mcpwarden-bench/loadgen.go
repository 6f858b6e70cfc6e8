package main

import (
	"github.com/mcpwarden/mcpwarden/cmd/internal/loadresult"

	"bufio"
	"context"
	"encoding/json"
	"errors"
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
	noResults := slices.Contains(args, "--enrol-only") || slices.Contains(args, "--report-templates")
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

// wrkChanged is a wrk script sending mcpwarden-loadgen's "changed" reports: the keys file's
// agents (idx counts its keys as the load generator reads them) are shared out between the
// threads, each going round its own agents and sending each the next revision of its
// configuration. The bodies come from the file `mcpwarden-loadgen --report-templates` writes (the
// placeholder, the even-revision body, the odd-revision body); the profile suffix is the load
// generator's <nonce>-<idx>-<rev>, with a fresh nonce per run, so every report is a change
// whatever an earlier run left. Arguments: keys file, templates file, number of wrk threads.
// wrk calls request() once before the run to check it, so one agent skips a revision: still a
// change. A thread with fewer agents than connections could report twice for one agent at once.
const wrkChanged = `
-- nonce is a global: thread:set sets globals, which a chunk-level local of the same name in the
-- thread's copy of this script would hide.
local threads = {}
function setup(thread)
  if nonce == nil then
    math.randomseed(os.time() + tonumber(string.sub(tostring(threads), 8), 16))
    nonce = string.format("%04x%04x", math.random(0, 65535), math.random(0, 65535))
  end
  thread:set("id", #threads)
  thread:set("nonce", nonce)
  threads[#threads + 1] = thread
end
local function split(s, sep)
  local parts, from = {}, 1
  while true do
    local i, j = string.find(s, sep, from, true)
    if i == nil then break end
    parts[#parts + 1] = string.sub(s, from, i - 1)
    from = j + 1
  end
  parts[#parts + 1] = string.sub(s, from)
  return parts
end
function init(args)
  keys, idxs = threadKeys(args[1], tonumber(args[3]))
  revs = {}
  for i = 1, #keys do revs[i] = 0 end
  local f = assert(io.open(args[2]))
  local placeholder = f:read("*l")
  even, odd = split(f:read("*l"), placeholder), split(f:read("*l"), placeholder)
  f:close()
  nextAgent, unexpected, non200 = 0, 0, 0
end
function request()
  local i = nextAgent + 1
  nextAgent = i % #keys
  local rev = revs[i] + 1
  revs[i] = rev
  local parts = even
  if rev % 2 == 1 then parts = odd end
  local body = table.concat(parts, string.format("%s-%d-%d", nonce, idxs[i], rev))
  return wrk.format("POST", "/mcp/report", {["X-API-Key"] = keys[i], ["Content-Type"] = "application/json"}, body)
end
function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
  elseif string.find(body, '"unchanged"%s*:%s*true') or tonumber(string.match(body, '"servers_updated"%s*:%s*(%d+)') or "0") == 0 then
    unexpected = unexpected + 1
  end
end
` + wrkReportShared

// wrkUnchanged is a wrk script sending every agent's baseline (the fourth line of the templates
// file), which the load generator primed each agent with, so every answer must say unchanged
// (else it counts as unexpected). The agents of the keys file are shared out between the threads
// as in wrkChanged. Arguments: keys file, templates file, number of wrk threads.
const wrkUnchanged = `
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  threads[#threads + 1] = thread
end
function init(args)
  keys = threadKeys(args[1], tonumber(args[3]))
  local n = 0
  for line in io.lines(args[2]) do
    n = n + 1
    if n == 4 then body = line end
  end
  if body == nil then
    error("the templates file has no baseline (fourth line)")
  end
  nextAgent, unexpected, non200 = 0, 0, 0
end
function request()
  local i = nextAgent + 1
  nextAgent = i % #keys
  return wrk.format("POST", "/mcp/report", {["X-API-Key"] = keys[i], ["Content-Type"] = "application/json"}, body)
end
function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
  elseif not string.find(body, '"unchanged"%s*:%s*true') then
    unexpected = unexpected + 1
  end
end
` + wrkReportShared

// wrkReportShared is what the report scripts share: threadKeys(path, nthreads), this thread's
// share of the keys file's agents (their keys and their indexes in the file: every nthreads-th,
// from the thread's id; lines starting with # are skipped), and done(), which sums the threads'
// non-200 and unexpected answers into the WRKJSON summary line. A script using it keeps its
// threads in a chunk-level table named threads and sets each thread's id.
const wrkReportShared = `
function threadKeys(path, nthreads)
  if nthreads == nil or id >= nthreads then
    error("the third script argument must be the number of wrk threads (-t)")
  end
  local ks, is, idx = {}, {}, 0
  for line in io.lines(path) do
    local k = string.match(line, "^%s*(.-)%s*$")
    if #k > 0 and string.sub(k, 1, 1) ~= "#" then
      if idx % nthreads == id then
        ks[#ks + 1], is[#is + 1] = k, idx
      end
      idx = idx + 1
    end
  end
  if #ks == 0 then
    error("no agents for wrk thread " .. id)
  end
  return ks, is
end
function done(summary, latency, requests)
  local e, unexpected, non200 = summary.errors, 0, 0
  for _, t in ipairs(threads) do
    unexpected = unexpected + t:get("unexpected")
    non200 = non200 + t:get("non200")
  end
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"non2xx":%d,"non200":%d,"unexpected":%d,"socket_errors":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%f}\n',
    summary.requests, summary.duration, e.status, non200, unexpected, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, latency.mean))
end
`

// wrkThreads is wrk's -t: one per core of the 2-core machine the bench runs on.
const wrkThreads = 2

var wrkJSONRe = regexp.MustCompile(`WRKJSON (\{.*\})`)

// runWrkHeartbeats drives heartbeats with wrk.
func runWrkHeartbeats(ctx context.Context, wrk, tmp, url, keys string, conns int, d time.Duration) (*lgResults, string, error) {
	return runWrk(ctx, wrk, tmp, url, conns, d, "heartbeat", wrkHeartbeat, keys)
}

// runWrkChanged drives changed reports with wrk, from the bodies in templates.
func runWrkChanged(ctx context.Context, wrk, tmp, url, keys, templates string, conns int, d time.Duration) (*lgResults, string, error) {
	return runWrk(ctx, wrk, tmp, url, conns, d, "report_changed", wrkChanged, keys, templates, strconv.Itoa(wrkThreads))
}

// runWrkUnchanged drives unchanged reports with wrk: every agent's baseline, from templates.
func runWrkUnchanged(ctx context.Context, wrk, tmp, url, keys, templates string, conns int, d time.Duration) (*lgResults, string, error) {
	return runWrk(ctx, wrk, tmp, url, conns, d, "report_unchanged", wrkUnchanged, keys, templates, strconv.Itoa(wrkThreads))
}

// runWrk runs a wrk script with the given arguments and converts its summary to the load
// generator's shape, as the endpoint name.
func runWrk(ctx context.Context, wrk, tmp, url string, conns int, d time.Duration, name, lua string, scriptArgs ...string) (*lgResults, string, error) {
	script := filepath.Join(tmp, name+".lua")
	if err := os.WriteFile(script, []byte(lua), 0o644); err != nil {
		return nil, "", err
	}
	args := []string{"-t" + strconv.Itoa(wrkThreads), "-c" + strconv.Itoa(conns), "-d" + strconv.Itoa(int(d.Seconds())) + "s", "--timeout", "10s", "-s", script, url, "--"}
	args = append(args, scriptArgs...)
	line := "wrk " + strings.Join(args, " ")
	out, err := exec.CommandContext(ctx, wrk, args...).CombinedOutput()
	if err != nil {
		return nil, line, fmt.Errorf("%s: %w\n%s", line, err, out)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fmt.Println("    " + l)
	}
	r, err := parseWrk(out, name, conns)
	if err != nil {
		return nil, line, fmt.Errorf("%s: %w", line, err)
	}
	return r, line, nil
}

// parseWrk reads the WRKJSON summary line a script printed.
func parseWrk(out []byte, name string, conns int) (*lgResults, error) {
	m := wrkJSONRe.FindSubmatch(out)
	if m == nil {
		return nil, errors.New("no summary in output")
	}
	var raw map[string]float64
	if err := json.Unmarshal(m[1], &raw); err != nil {
		return nil, err
	}
	// A script that checks every status counts each non-200 answer; wrk itself counts only
	// those over 399.
	bad, ok := raw["non200"]
	if !ok {
		bad = raw["non2xx"]
	}
	secs := raw["duration_us"] / 1e6
	ep := lgEndpoint{
		Name: name, Requests: uint64(raw["requests"]), Errors: uint64(bad + raw["socket_errors"]), Unexpected: uint64(raw["unexpected"]),
		ElapsedS: secs, RPS: raw["requests"] / secs, MeanMs: raw["mean_us"] / 1000,
		P50Ms: raw["p50_us"] / 1000, P95Ms: raw["p95_us"] / 1000, P99Ms: raw["p99_us"] / 1000, MaxMs: raw["max_us"] / 1000,
	}
	return &lgResults{Concurrency: conns, ElapsedS: secs, Requests: ep.Requests, Errors: ep.Errors, RPS: ep.RPS, Endpoints: []lgEndpoint{ep}}, nil
}
