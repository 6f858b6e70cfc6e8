package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/gen"
	"github.com/mcpwarden/mcpwarden/impl"
	"github.com/mcpwarden/mcpwarden/impl/apikey"
	"github.com/mcpwarden/mcpwarden/impl/config"
	"github.com/mcpwarden/mcpwarden/impl/ingest"
	"github.com/mcpwarden/mcpwarden/impl/risk"
)

// seedTemplate is one server configuration drawn from the risk catalog, scored once: seeding a
// million rows must not run the engine a million times.
type seedTemplate struct {
	name, serverType string
	commands, scopes []string // per seedUsers entry
	envVars          []string
	configHash       []byte
	level            string
	score            int
	factors          string
}

// runSeed fills an organization with synthetic agents and servers for demos and benchmarks.
func runSeed(args []string) int {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	agents := fs.Int("agents", 100, "agents to create")
	perAgent := fs.Int("servers-per-agent", 10, "servers per agent")
	orgName := fs.String("org", "Demo", "organization to fill (created, with an admin, when absent)")
	workers := fs.Int("workers", 2, "parallel COPY connections")
	batch := fs.Int("batch", 1000, "agents per transaction")
	keysFile := fs.String("keys-file", "", "write the agents' keys to this file, one a line, for mcpwarden-loadgen --keys; "+
		"the agents then carry the details its heartbeats send, so that their first heartbeat writes nothing")
	keysAppend := fs.Bool("keys-append", false, "append to --keys-file instead of replacing it, numbering the new agents after the keys it holds")
	reportFile := fs.String("report", "", "give every agent the servers of this POST /mcp/report body (mcpwarden-loadgen --baseline-report "+
		"writes its own) instead of catalog ones, with its report hash, so that sending it again is an unchanged report")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *agents < 1 || *perAgent < 0 || *perAgent > 500 || *workers < 1 || *batch < 1 {
		fmt.Fprintln(os.Stderr, "mcpwarden seed: --agents must be >= 1, --servers-per-agent 0..500, --workers and --batch >= 1")
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "mcpwarden seed: unexpected arguments %q\n", fs.Args())
		return 2
	}
	cfg, ok := loadConfig()
	if !ok {
		return 2
	}
	log := newLogger(cfg.LogLevel, os.Stderr)
	ctx := context.Background()
	if cfg.DBMaxConns < *workers+1 {
		cfg.DBMaxConns = *workers + 1
	}
	store, stopDB, err := database(ctx, &cfg, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mcpwarden:", err)
		return 1
	}
	defer stopDB()
	defer store.Close()

	orgID, err := seedOrganization(ctx, store, *orgName)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mcpwarden seed:", err)
		return 1
	}
	opts := seedOptions{agents: *agents, perAgent: *perAgent, workers: *workers, batch: *batch, progress: os.Stdout}
	if *reportFile != "" {
		if opts.report, err = readSeedReport(*reportFile); err != nil {
			fmt.Fprintln(os.Stderr, "mcpwarden seed:", err)
			return 1
		}
		opts.perAgent = len(opts.report.servers)
	}
	if *keysFile != "" {
		opts.keys = make([]string, *agents)
		if *keysAppend {
			if opts.firstIndex, err = countLines(*keysFile); err != nil && !os.IsNotExist(err) {
				fmt.Fprintln(os.Stderr, "mcpwarden seed:", err)
				return 1
			}
		}
	}
	if opts.bypassTriggers, err = store.CanBypassTriggers(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "mcpwarden seed:", err)
		return 1
	}
	if opts.bypassTriggers {
		fmt.Println("loading with foreign key checks off (superuser); counters are written by the seed")
	} else {
		fmt.Println("the database role is not a superuser: loading with foreign key checks (slower); counters are written by the seed")
	}
	res, err := seedInventory(ctx, store, orgID, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mcpwarden seed:", err)
		return 1
	}
	// Fold the per-batch counter deltas, then vacuum: COPY leaves the visibility map unset, and
	// the server list's index-only scans would otherwise visit the heap for every entry.
	fmt.Printf("inserted in %v; compacting counters, vacuuming and analyzing\n", res.elapsed.Round(time.Millisecond))
	start := time.Now()
	if _, err := store.CompactRollups(ctx, 0); err != nil {
		log.Warn("compact counters", "error", err)
	}
	if _, err := store.DB().ExecContext(ctx, `VACUUM (ANALYZE) agents, agent_keys, mcp_servers, server_rollups, server_counts`); err != nil {
		log.Warn("vacuum analyze", "error", err)
	}
	tail := time.Since(start)
	fmt.Printf("compacted, vacuumed and analyzed in %v (%.0f servers/s including it)\n",
		tail.Round(time.Millisecond), float64(res.servers)/(res.elapsed+tail).Seconds())
	fmt.Printf("seeded %d agents and %d servers into %q (%s) in %v: %.0f servers/s\n",
		res.agents, res.servers, *orgName, orgID, res.elapsed.Round(time.Millisecond), float64(res.servers)/res.elapsed.Seconds())
	if *keysFile != "" {
		if err := writeSeedKeys(*keysFile, opts.keys, *keysAppend); err != nil {
			fmt.Fprintln(os.Stderr, "mcpwarden seed:", err)
			return 1
		}
		fmt.Printf("wrote %d agent keys to %s\n", len(opts.keys), *keysFile)
	}
	return 0
}

// seedReport is the inventory every agent gets with --report: the servers as ingestion stores
// them, and the report hash.
type seedReport struct {
	servers []db.ReportServer
	hash    []byte
}

func readSeedReport(path string) (*seedReport, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var body gen.ReportRequest
	if err := json.Unmarshal(b, &body); err != nil {
		return nil, fmt.Errorf("%s: not a report body: %w", path, err)
	}
	servers, hash, err := ingest.StoredReport(version, impl.ReportedServers(body.Servers))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(servers) > 500 {
		return nil, fmt.Errorf("%s: %d servers, at most 500", path, len(servers))
	}
	return &seedReport{servers: servers, hash: hash}, nil
}

// writeSeedKeys writes the keys in agent order (the load generator's agent i is line i).
func writeSeedKeys(path string, keys []string, appending bool) error {
	mode := os.O_TRUNC
	if appending {
		mode = os.O_APPEND
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|mode, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for _, k := range keys {
		w.WriteString(k)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func countLines(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return bytes.Count(b, []byte{'\n'}), nil
}

// The details of the load generator's agent i, as its heartbeats send them
// (cmd/mcpwarden-loadgen's heartbeatBody): seeded agents whose keys it uses carry them already.
func loadgenHostname(i int) string { return fmt.Sprintf("loadgen-%06d.local", i) }

const loadgenOS, loadgenUser, loadgenAgentVersion = "linux", "dev", "0.2.0"

type seedOptions struct {
	agents, perAgent int
	workers          int
	batch            int // agents per transaction
	// bypassTriggers loads with foreign key checks (internal triggers) off (see db.BulkLoadInventory).
	bypassTriggers bool
	// keys, when not nil (of length agents), receives each agent's key, and the agents carry the
	// load generator's details (see loadgenHostname).
	keys []string
	// firstIndex is the load generator's index of the first agent (the keys before it were
	// seeded earlier).
	firstIndex int
	// report, when not nil, is every agent's inventory instead of catalog servers.
	report   *seedReport
	progress io.Writer // once a second: rows done, rate, ETA; nil for none
}

type seedResult struct {
	agents, servers int64
	elapsed         time.Duration
}

// seedInventory inserts opts.agents agents with opts.perAgent servers each into the organization.
// Agents are split into batches; each batch is one transaction on one of opts.workers
// connections, so a failure leaves whole agents behind, never agents without their servers.
func seedInventory(ctx context.Context, store *db.Storage, orgID uuid.UUID, opts seedOptions) (seedResult, error) {
	templates := seedTemplates()
	start := time.Now()
	var doneAgents, doneServers atomic.Int64
	total := int64(opts.agents) * int64(opts.perAgent)
	stop := make(chan struct{})
	var reporter sync.WaitGroup
	if opts.progress != nil {
		reporter.Add(1)
		go func() {
			defer reporter.Done()
			t := time.NewTicker(time.Second)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					s, el := doneServers.Load(), time.Since(start)
					rate := float64(s) / el.Seconds()
					eta := "?"
					if rate > 0 {
						eta = (time.Duration(float64(total-s)/rate) * time.Second).Round(time.Second).String()
					}
					fmt.Fprintf(opts.progress, "  %d/%d agents, %d/%d servers, %.0f servers/s, ETA %s\n",
						doneAgents.Load(), opts.agents, s, total, rate, eta)
				}
			}
		}()
	}

	// One goroutine generates batches ahead of the workers, so a connection does not sit idle
	// while its next batch is made; batches are recycled through free.
	ready := make(chan *seedBatch, opts.workers)
	free := make(chan *seedBatch, 2*opts.workers)
	for range 2 * opts.workers {
		free <- new(seedBatch)
	}
	var failed atomic.Bool
	go func() {
		defer close(ready)
		for from := 0; from < opts.agents && !failed.Load(); from += opts.batch {
			b := <-free
			b.fill(from, min(opts.batch, opts.agents-from), opts, templates)
			ready <- b
		}
	}()
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	for range opts.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range ready {
				if !failed.Load() {
					if err := store.BulkLoadInventory(ctx, orgID, b.agents, b.servers, opts.bypassTriggers); err != nil {
						errOnce.Do(func() { firstErr = err })
						failed.Store(true)
					} else {
						doneAgents.Add(int64(len(b.agents)))
						doneServers.Add(int64(len(b.servers)))
					}
				}
				free <- b
			}
		}()
	}
	wg.Wait()
	close(stop)
	reporter.Wait()
	res := seedResult{agents: doneAgents.Load(), servers: doneServers.Load(), elapsed: time.Since(start)}
	return res, firstErr
}

// seedOrganization returns the organization named name, registering it with an admin through
// the API (so the password is hashed exactly as sign-ups are) when it does not exist.
func seedOrganization(ctx context.Context, store *db.Storage, name string) (uuid.UUID, error) {
	var id uuid.UUID
	err := store.DB().GetContext(ctx, &id, `SELECT id FROM organizations WHERE name = $1 ORDER BY created_at LIMIT 1`, name)
	if err == nil {
		fmt.Printf("filling the existing organization %q (%s)\n", name, id)
		return id, nil
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	cfg := config.Defaults()
	cfg.JWTSecret = hex.EncodeToString(secret)
	h, err := impl.NewReplica(cfg, version, store, slog.New(slog.NewTextHandler(io.Discard, nil))).Server.Handler()
	if err != nil {
		return id, err
	}
	email := "admin@" + strings.Trim(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(name)), "-") + ".example"
	password := randomBase62(20)
	body, _ := json.Marshal(map[string]string{"email": email, "password": password, "full_name": "Seed Admin", "organization_name": name})
	req := httptest.NewRequest(http.MethodPost, "/auth/register", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusCreated {
		return id, fmt.Errorf("register the organization's admin: %d %s", rec.Code, rec.Body)
	}
	var u struct {
		OrganizationID uuid.UUID `json:"organization_id"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &u); err != nil {
		return id, err
	}
	fmt.Printf("created organization %q (%s)\n  admin: %s\n  password: %s\n", name, u.OrganizationID, email, password)
	return u.OrganizationID, nil
}

func randomBase62(n int) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	out := make([]byte, n)
	for i := range out {
		k, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		out[i] = alphabet[k.Int64()]
	}
	return string(out)
}

// seedTemplates draws configurations from the catalog in several scopes and environments.
func seedTemplates() [][]seedTemplate {
	scopes := []string{"", "/home/{user}/projects/app", "/home/{user}", "/"}
	envs := [][]string{{}, {"PATH", "HOME"}, {"API_KEY"}, {"GITHUB_TOKEN", "LOG_LEVEL"}}
	var out [][]seedTemplate
	for _, e := range risk.Catalog() {
		if len(e.Packages) == 0 {
			continue
		}
		pkg := e.Packages[0]
		command := "npx -y " + pkg
		switch {
		case strings.Contains(pkg, "/") && !strings.HasPrefix(pkg, "@"):
			command = "docker run -i --rm " + pkg
		case strings.HasPrefix(pkg, "mcp-server-") || strings.Contains(pkg, "_"):
			command = "uvx " + pkg
		}
		var variants []seedTemplate
		for _, scope := range scopes {
			for _, env := range envs {
				cmd := command
				if scope != "" {
					cmd += " " + scope
				}
				in := risk.Input{ServerName: e.ID, ServerType: pkg, Command: cmd, Scope: scope, EnvVars: env, Transport: "stdio"}
				a := risk.Assess(in)
				factors := ingest.StoredFactors(a.Factors)
				h := sha256.Sum256([]byte(pkg + "\x00" + cmd + "\x00" + scope + "\x00" + strings.Join(env, ",")))
				t := seedTemplate{
					name: e.ID, serverType: pkg, envVars: env,
					configHash: h[:], level: a.Level, score: a.Score, factors: string(factors),
				}
				for _, user := range seedUsers {
					t.commands = append(t.commands, strings.ReplaceAll(cmd, "{user}", user))
					t.scopes = append(t.scopes, strings.ReplaceAll(scope, "{user}", user))
				}
				variants = append(variants, t)
			}
		}
		out = append(out, variants)
	}
	return out
}

var seedUsers = []string{"jane", "omar", "li", "sofia", "dev", "ci", "maria", "kenji"}
var seedOS = []string{"linux", "darwin", "windows"}

// seedBatch is one transaction's synthetic agents and servers; its slices are reused from batch
// to batch.
type seedBatch struct {
	agents  []db.BulkAgent
	servers []db.BulkServer
}

// fill generates agents [from, from+n) and their servers. Ids are UUIDv7, increasing in time, so
// inserts land at the right edge of the primary keys, of the (organization_id, agent_id,
// server_name) key and of each (status, level, score, name) group of the list indexes, instead of
// on random pages of indexes much larger than shared_buffers.
func (b *seedBatch) fill(from, n int, opts seedOptions, templates [][]seedTemplate) {
	perAgent := opts.perAgent
	rng := mrand.New(mrand.NewPCG(uint64(from), 42))
	now := time.Now()
	b.agents, b.servers = b.agents[:0], b.servers[:0]
	for i := 0; i < n; i++ {
		key := apikey.New()
		host := fmt.Sprintf("host-%06d.corp.example", from+i)
		user := rng.IntN(len(seedUsers))
		a := db.BulkAgent{
			ID: mustV7(), Name: host, KeyHash: apikey.Hash(key), KeyPrefix: apikey.DisplayPrefix(key),
			Hostname: host, OSType: seedOS[rng.IntN(len(seedOS))], Username: seedUsers[user], AgentVersion: "0.1.2",
			LastSeenAt: now.Add(-time.Duration(rng.IntN(600)) * time.Second),
		}
		if opts.keys != nil {
			opts.keys[from+i] = key
			a.Hostname, a.OSType, a.Username, a.AgentVersion = loadgenHostname(opts.firstIndex+from+i), loadgenOS, loadgenUser, loadgenAgentVersion
			a.LastSeenAt = now
		}
		if opts.report != nil {
			a.ReportHash = opts.report.hash
			b.agents = append(b.agents, a)
			for _, sv := range opts.report.servers {
				b.servers = append(b.servers, db.BulkServer{
					ID: mustV7(), AgentID: a.ID, ServerName: sv.ServerName, ServerType: sv.ServerType,
					Command: sv.Command, Scope: sv.Scope, EnvVars: sv.EnvVars, Transport: textOr(sv.Transport, ""),
					ConfigHash: sv.ConfigHash, RiskLevel: sv.RiskLevel, RiskScore: sv.RiskScore, RiskFactors: string(sv.RiskFactors),
					Status: "active", FirstSeenAt: now, LastSeenAt: now,
				})
			}
			continue
		}
		b.agents = append(b.agents, a)
		offset := rng.IntN(len(templates))
		for j := 0; j < perAgent; j++ {
			variants := templates[(offset+j)%len(templates)]
			t := &variants[rng.IntN(len(variants))]
			name := t.name
			if k := j / len(templates); k > 0 {
				name = t.name + "-" + strconv.Itoa(k+1)
			}
			status := "active"
			if rng.IntN(20) == 0 {
				status = "dormant"
			}
			b.servers = append(b.servers, db.BulkServer{
				ID: mustV7(), AgentID: a.ID, ServerName: name, ServerType: t.serverType,
				Command: t.commands[user], Scope: t.scopes[user], EnvVars: t.envVars, Transport: "stdio",
				ConfigHash: t.configHash, RiskLevel: t.level, RiskScore: t.score, RiskFactors: t.factors,
				Status: status, FirstSeenAt: now.Add(-time.Duration(rng.IntN(90*24)) * time.Hour), LastSeenAt: now,
			})
		}
	}
	// In the order of mcp_servers_list (the widest index): consecutive inserts then land on the
	// same leaf pages. The ids all follow the existing ones, so the keys stay at the right edge.
	slices.SortFunc(b.servers, func(x, y db.BulkServer) int {
		return cmp.Or(cmp.Compare(x.Status, y.Status), cmp.Compare(x.RiskLevel, y.RiskLevel),
			cmp.Compare(y.RiskScore, x.RiskScore), cmp.Compare(x.ServerName, y.ServerName), bytes.Compare(x.ID[:], y.ID[:]))
	})
}

func textOr(s *string, def string) string {
	if s == nil {
		return def
	}
	return *s
}

// mustV7 returns a UUIDv7; uuid.NewV7 fails only when the system's random source does.
func mustV7() uuid.UUID {
	return uuid.Must(uuid.NewV7())
}
