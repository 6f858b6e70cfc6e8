package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
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
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/impl"
	"github.com/mcpwarden/mcpwarden/impl/apikey"
	"github.com/mcpwarden/mcpwarden/impl/risk"
)

// seedTemplate is one server configuration drawn from the risk catalog, scored once: seeding a
// million rows must not run the engine a million times.
type seedTemplate struct {
	name, serverType, command, scope string
	envVars                          []string
	configHash                       []byte
	level                            string
	score                            int
	factors                          string
}

// runSeed fills an organization with synthetic agents and servers for demos and benchmarks.
func runSeed(args []string) int {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	agents := fs.Int("agents", 100, "agents to create")
	perAgent := fs.Int("servers-per-agent", 10, "servers per agent")
	orgName := fs.String("org", "Demo", "organization to fill (created, with an admin, when absent)")
	workers := fs.Int("workers", 4, "parallel COPY connections")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *agents < 1 || *perAgent < 0 || *perAgent > 500 || *workers < 1 {
		fmt.Fprintln(os.Stderr, "mcpwarden seed: --agents must be >= 1, --servers-per-agent 0..500, --workers >= 1")
		return 2
	}
	cfg, err := loadConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mcpwarden:", err)
		return 2
	}
	log := newLogger(cfg.logLevel, os.Stderr)
	ctx := context.Background()
	if cfg.dbMaxConns < *workers+1 {
		cfg.dbMaxConns = *workers + 1
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
	templates := seedTemplates()
	start := time.Now()
	var doneAgents, doneServers atomic.Int64
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				s := doneServers.Load()
				fmt.Printf("  %d/%d agents, %d servers, %.0f servers/s\n", doneAgents.Load(), *agents, s, float64(s)/time.Since(start).Seconds())
			}
		}
	}()

	// Agents are split into batches; each batch is one transaction on one connection, so a
	// failure leaves whole agents behind, never agents without their servers.
	const batch = 500
	batches := make(chan int)
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for from := range batches {
				n := min(batch, *agents-from)
				if err := seedBatch(ctx, store, orgID, from, n, *perAgent, templates); err != nil {
					errOnce.Do(func() { firstErr = err })
					continue
				}
				doneAgents.Add(int64(n))
				doneServers.Add(int64(n * *perAgent))
			}
		}()
	}
	for from := 0; from < *agents; from += batch {
		batches <- from
	}
	close(batches)
	wg.Wait()
	close(stop)
	if firstErr != nil {
		fmt.Fprintln(os.Stderr, "mcpwarden seed:", firstErr)
		return 1
	}
	elapsed := time.Since(start)
	// Fold the per-batch counter deltas, then vacuum: COPY leaves the visibility map unset, and
	// the server list's index-only scans would otherwise visit the heap for every entry.
	if _, err := store.CompactRollups(ctx, 0); err != nil {
		log.Warn("compact counters", "error", err)
	}
	fmt.Printf("inserted in %v; vacuuming and analyzing\n", elapsed.Round(time.Millisecond))
	if _, err := store.DB().ExecContext(ctx, `VACUUM (ANALYZE) agents, agent_keys, mcp_servers, server_rollups, server_counts`); err != nil {
		log.Warn("vacuum analyze", "error", err)
	}
	fmt.Printf("seeded %d agents and %d servers into %q (%s) in %v: %.0f servers/s\n",
		doneAgents.Load(), doneServers.Load(), *orgName, orgID, elapsed.Round(time.Millisecond), float64(doneServers.Load())/elapsed.Seconds())
	return 0
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
	srv := impl.New(impl.Config{JWTSecret: secret, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, store)
	defer srv.Close()
	h, err := srv.Handler()
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
				factors, _ := json.Marshal(a.Factors)
				h := sha256.Sum256([]byte(pkg + "\x00" + cmd + "\x00" + scope + "\x00" + strings.Join(env, ",")))
				variants = append(variants, seedTemplate{
					name: e.ID, serverType: pkg, command: cmd, scope: scope, envVars: env,
					configHash: h[:], level: a.Level, score: a.Score, factors: string(factors),
				})
			}
		}
		out = append(out, variants)
	}
	return out
}

var seedUsers = []string{"jane", "omar", "li", "sofia", "dev", "ci", "maria", "kenji"}
var seedOS = []string{"linux", "darwin", "windows"}

// seedBatch inserts agents [from, from+n) with their keys and servers in one transaction, by COPY.
func seedBatch(ctx context.Context, store *db.Storage, orgID uuid.UUID, from, n, perAgent int, templates [][]seedTemplate) error {
	tx, err := store.DB().BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	rng := mrand.New(mrand.NewPCG(uint64(from), 42))
	now := time.Now()
	ids := make([]uuid.UUID, n)
	users := make([]string, n)
	hashes := make([][]byte, n)

	agentStmt, err := tx.PrepareContext(ctx, pq.CopyIn("agents", "organization_id", "id", "name", "key_hash", "key_prefix",
		"hostname", "os_type", "username", "agent_version", "last_seen_at"))
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		ids[i], users[i] = uuid.New(), seedUsers[rng.IntN(len(seedUsers))]
		key := apikey.New()
		hashes[i] = apikey.Hash(key)
		host := fmt.Sprintf("host-%06d.corp.example", from+i)
		seen := now.Add(-time.Duration(rng.IntN(600)) * time.Second)
		if _, err := agentStmt.ExecContext(ctx, orgID, ids[i], host, hashes[i], apikey.DisplayPrefix(key),
			host, seedOS[rng.IntN(len(seedOS))], users[i], "0.1.2", seen); err != nil {
			return err
		}
	}
	if _, err := agentStmt.ExecContext(ctx); err != nil {
		return err
	}
	agentStmt.Close()

	keyStmt, err := tx.PrepareContext(ctx, pq.CopyIn("agent_keys", "key_hash", "organization_id", "agent_id"))
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		if _, err := keyStmt.ExecContext(ctx, hashes[i], orgID, ids[i]); err != nil {
			return err
		}
	}
	if _, err := keyStmt.ExecContext(ctx); err != nil {
		return err
	}
	keyStmt.Close()

	srvStmt, err := tx.PrepareContext(ctx, pq.CopyIn("mcp_servers", "organization_id", "id", "agent_id", "server_name",
		"server_type", "command", "scope", "env_vars", "transport", "config_hash", "risk_level", "risk_score",
		"risk_factors", "status", "first_seen_at", "last_seen_at"))
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		offset := rng.IntN(len(templates))
		for j := 0; j < perAgent; j++ {
			variants := templates[(offset+j)%len(templates)]
			t := variants[rng.IntN(len(variants))]
			name := t.name
			if j >= len(templates) {
				name = fmt.Sprintf("%s-%d", t.name, j/len(templates)+1)
			}
			user := users[i]
			status := "active"
			if rng.IntN(20) == 0 {
				status = "dormant"
			}
			first := now.Add(-time.Duration(rng.IntN(90*24)) * time.Hour)
			if _, err := srvStmt.ExecContext(ctx, orgID, uuid.New(), ids[i], name, t.serverType,
				strings.ReplaceAll(t.command, "{user}", user), strings.ReplaceAll(t.scope, "{user}", user),
				pq.Array(t.envVars), "stdio", t.configHash, t.level, t.score, t.factors, status, first, now); err != nil {
				return err
			}
		}
	}
	if _, err := srvStmt.ExecContext(ctx); err != nil {
		return err
	}
	srvStmt.Close()
	return tx.Commit()
}
