package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/impl/discovery"
)

// HeartbeatBody is what POST /agents/heartbeat carries.
type HeartbeatBody struct {
	Hostname     string `json:"hostname"`
	OSType       string `json:"os_type"`
	Username     string `json:"username"`
	AgentVersion string `json:"agent_version"`
	// MachineID is the machine's identity (see machineID); empty when it cannot be read.
	MachineID string `json:"machine_id,omitempty"`
}

// reporter sends to the server; the SDK implements it, tests fake it.
type reporter interface {
	Heartbeat(ctx context.Context, hb HeartbeatBody) error
	Report(ctx context.Context, servers []discovery.Server) error
}

// fileConfig is the optional agent configuration file, for installs where
// flags and the environment are awkward (MDM, scheduled tasks).
type fileConfig struct {
	URL    string `json:"url"`
	APIKey string `json:"api_key"`
	// EnrollmentSecret enrols the machine when it has no key yet; KeyFile is where the key it
	// receives is kept (see defaultKeyFile).
	EnrollmentSecret string   `json:"enrollment_secret"`
	KeyFile          string   `json:"key_file"`
	ProjectRoots     []string `json:"project_roots"`
	AllUsers         bool     `json:"all_users"`
}

// defaultConfigPaths are tried in order when --config is not given.
func defaultConfigPaths() []string {
	var paths []string
	if home, err := os.UserHomeDir(); err == nil {
		paths = append(paths, filepath.Join(home, ".config", "mcpwarden", "agent.json"))
	}
	switch runtime.GOOS {
	case "darwin":
		paths = append(paths, "/Library/Application Support/mcpwarden/agent.json")
	case "windows":
		pd := os.Getenv("ProgramData")
		if pd == "" {
			pd = `C:\ProgramData`
		}
		paths = append(paths, filepath.Join(pd, "mcpwarden", "agent.json"))
	default:
		paths = append(paths, "/etc/mcpwarden/agent.json")
	}
	return paths
}

// loadConfig reads the explicit file, or the first default one present.
func loadConfig(explicit string, logger *slog.Logger) (fileConfig, error) {
	var cfg fileConfig
	paths := defaultConfigPaths()
	if explicit != "" {
		paths = []string{explicit}
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) && explicit == "" {
			continue
		}
		if err != nil {
			return cfg, fmt.Errorf("reading config: %w", err)
		}
		if err := json.Unmarshal(b, &cfg); err != nil {
			return cfg, fmt.Errorf("config %s: %w", p, err)
		}
		// The file holds the agent key; anyone who can read it can report as this machine.
		if st, err := os.Stat(p); err == nil && runtime.GOOS != "windows" && st.Mode().Perm()&0o004 != 0 && cfg.APIKey != "" {
			logger.Warn("config file holding the API key is world-readable", "path", p, "mode", st.Mode().Perm().String())
		}
		return cfg, nil
	}
	return cfg, nil
}

func runCmd(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf scanFlags
	sf.register(fs)
	serverURL := fs.String("server", "", "mcpwarden server `URL` (or MCPWARDEN_URL, or url in the config file)")
	key := fs.String("key", "", "agent API `key`, mcp_sk_... (or MCPWARDEN_API_KEY, or api_key in the config file)")
	configPath := fs.String("config", "", "JSON config `file` with url, api_key, project_roots, all_users")
	once := fs.Bool("once", false, "heartbeat and report once, then exit (for cron and MDM)")
	heartbeat := fs.Duration("heartbeat", 60*time.Second, "heartbeat interval")
	reportEvery := fs.Duration("report", 15*time.Minute, "report interval")
	poll := fs.Duration("poll", 30*time.Second, "how often watched config files are checked for changes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger := newLogger(stderr)
	cfg, err := loadConfig(*configPath, logger)
	if err != nil {
		return err
	}
	url := firstNonEmpty(*serverURL, os.Getenv("MCPWARDEN_URL"), cfg.URL)
	if url == "" {
		return fmt.Errorf("run needs the server: --server URL, MCPWARDEN_URL, or url in the config file (%s): %w", strings.Join(defaultConfigPaths(), " or "), errUsage)
	}
	if err := checkServerURL(url); err != nil {
		return err
	}
	apiKey := firstNonEmpty(*key, os.Getenv("MCPWARDEN_API_KEY"), cfg.APIKey)
	keyPath := firstNonEmpty(os.Getenv("MCPWARDEN_KEY_FILE"), cfg.KeyFile, defaultKeyFile())
	if apiKey == "" {
		if apiKey, err = readKeyFile(keyPath); err != nil {
			return err
		}
	}
	if secret := firstNonEmpty(os.Getenv("MCPWARDEN_ENROLLMENT_SECRET"), cfg.EnrollmentSecret); apiKey == "" && secret != "" {
		id, k, err := enroll(ctx, url, secret, "")
		if err != nil {
			return fmt.Errorf("enrolling with %s: %w", url, err)
		}
		if err := writeKeyFile(keyPath, k); err != nil {
			return err
		}
		logger.Info("enrolled this machine", "agent_id", id, "key_file", keyPath)
		apiKey = k
	}
	if apiKey == "" {
		return fmt.Errorf("run needs an agent key: enrol this machine (mcpwarden-agent enroll --server %s --secret SECRET, or enrollment_secret in the config file), "+
			"or give a key (--key, MCPWARDEN_API_KEY, or api_key in the config file); no key is stored in %s: %w", url, keyPath, errUsage)
	}
	if len(sf.projectRoots) == 0 {
		sf.projectRoots = cfg.ProjectRoots
	}
	sf.allUsers = sf.allUsers || cfg.AllUsers
	opts, err := sf.options()
	if err != nil {
		return err
	}
	hb := heartbeatBody()
	if hb.MachineID, err = machineID(); err != nil {
		logger.Warn("this machine's identity cannot be read; the server tells machines apart by hostname", "error", err)
	}
	rep, err := newReporter(url, apiKey, hb)
	if err != nil {
		return err
	}
	r := &runner{
		rep:            rep,
		scan:           func() (discovery.Result, error) { return discovery.Scan(opts) },
		hb:             hb,
		heartbeatEvery: *heartbeat,
		reportEvery:    *reportEvery,
		pollEvery:      *poll,
		log:            logger,
	}
	logger.Info("starting", "version", version, "server", url, "once", *once)
	if *once {
		return r.once(ctx)
	}
	return r.loop(ctx)
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

func heartbeatBody() HeartbeatBody {
	host, _ := os.Hostname()
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil {
		name = u.Username
	} else if name == "" {
		name = os.Getenv("USERNAME")
	}
	// Windows reports DOMAIN\user; the server wants the user.
	if i := strings.LastIndex(name, `\`); i >= 0 {
		name = name[i+1:]
	}
	return HeartbeatBody{Hostname: host, OSType: runtime.GOOS, Username: name, AgentVersion: version}
}

// runner schedules heartbeats and reports.
type runner struct {
	rep            reporter
	scan           func() (discovery.Result, error)
	hb             HeartbeatBody
	heartbeatEvery time.Duration
	reportEvery    time.Duration
	pollEvery      time.Duration
	log            *slog.Logger
	// backoffBase is the first retry delay after a failure; 0 means 5 s.
	backoffBase time.Duration
}

// maxServers is the report body's limit (openapi.yaml ReportRequest).
const maxServers = 500

func (r *runner) once(ctx context.Context) error {
	hbErr := r.heartbeat(ctx)
	_, repErr := r.report(ctx)
	return errors.Join(hbErr, repErr)
}

func (r *runner) heartbeat(ctx context.Context) error {
	if err := r.rep.Heartbeat(ctx, r.hb); err != nil {
		return fmt.Errorf("heartbeat: %w", err)
	}
	return nil
}

// report scans and sends; it returns what to watch for the next change.
func (r *runner) report(ctx context.Context) ([]string, error) {
	res, err := r.scan()
	if err != nil {
		return nil, fmt.Errorf("scan: %w", err)
	}
	for _, f := range res.Findings {
		r.log.Warn("config file could not be read", "client", f.Client, "path", f.Path, "error", f.Error)
	}
	servers := res.Servers
	if len(servers) > maxServers {
		r.log.Warn("more servers than one report carries; sending the first", "found", len(servers), "sent", maxServers)
		servers = servers[:maxServers]
	}
	if err := r.rep.Report(ctx, servers); err != nil {
		return res.Watch, fmt.Errorf("report: %w", err)
	}
	r.log.Info("reported", "servers", len(servers), "files", len(res.Files), "findings", len(res.Findings))
	return res.Watch, nil
}

// loop heartbeats every heartbeatEvery (±10%), reports every reportEvery
// and as soon as a watched file changes, and backs off exponentially while
// the server cannot be reached. It returns when ctx ends.
func (r *runner) loop(ctx context.Context) error {
	now := time.Now()
	nextHB, nextReport, nextPoll := now, now, now.Add(r.pollEvery)
	var hbFails, repFails int
	var watch []string
	var reported map[string]string // watched files' state at the last good report
	for {
		wait := time.Until(earliest(nextHB, nextReport, nextPoll))
		timer := time.NewTimer(max(wait, 0))
		select {
		case <-ctx.Done():
			timer.Stop()
			r.log.Info("stopping")
			return nil
		case <-timer.C:
		}
		now = time.Now()
		if !now.Before(nextPoll) {
			if reported != nil && !sameState(reported, fileState(watch)) && nextReport.After(now) {
				r.log.Info("a watched config file changed")
				nextReport = now
			}
			nextPoll = now.Add(r.pollEvery)
		}
		if !now.Before(nextHB) {
			if err := r.heartbeat(ctx); err != nil {
				hbFails++
				nextHB = now.Add(r.backoff(hbFails))
				r.log.Error("heartbeat failed", "error", err, "retry_in", time.Until(nextHB).Round(time.Second))
			} else {
				hbFails = 0
				nextHB = now.Add(jitter(r.heartbeatEvery, 0.1))
			}
		}
		if !now.Before(nextReport) {
			// Fingerprints taken before the scan: a file that changes while the report is
			// being sent then differs from what is recorded, and is reported at the next poll.
			// (A file the scan finds for the first time is fingerprinted after it.)
			before := fileState(watch)
			w, err := r.report(ctx)
			if w != nil {
				watch = w
			}
			state := fileState(watch)
			for p, v := range before {
				if _, ok := state[p]; ok {
					state[p] = v
				}
			}
			if err != nil {
				repFails++
				nextReport = now.Add(r.backoff(repFails))
				r.log.Error("report failed", "error", err, "retry_in", time.Until(nextReport).Round(time.Second))
			} else {
				repFails = 0
				reported = state
				nextReport = now.Add(jitter(r.reportEvery, 0.05))
			}
		}
	}
}

// backoff is 5 s, 10 s, 20 s... capped at the report interval, with jitter
// so a fleet that lost its server does not return in step.
func (r *runner) backoff(fails int) time.Duration {
	base := r.backoffBase
	if base == 0 {
		base = 5 * time.Second
	}
	d := base << min(fails-1, 20)
	if limit := max(r.reportEvery, base); d > limit || d <= 0 {
		d = limit
	}
	return jitter(d, 0.2)
}

func jitter(d time.Duration, frac float64) time.Duration {
	return time.Duration(float64(d) * (1 + frac*(2*rand.Float64()-1)))
}

func earliest(ts ...time.Time) time.Time {
	e := ts[0]
	for _, t := range ts[1:] {
		if t.Before(e) {
			e = t
		}
	}
	return e
}

// fileState fingerprints the watched paths: absent ones count too, so a
// newly created configuration triggers a report.
func fileState(paths []string) map[string]string {
	st := make(map[string]string, len(paths))
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			st[p] = fmt.Sprintf("%d/%d", fi.ModTime().UnixNano(), fi.Size())
		} else {
			st[p] = "-"
		}
	}
	return st
}

func sameState(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
