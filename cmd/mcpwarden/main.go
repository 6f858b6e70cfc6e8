// Command mcpwarden is the mcpwarden server: `serve` runs the API, `migrate` applies database
// migrations, and `risk explain` shows the risk engine's judgement on a configuration file.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/db/localpg"
	"github.com/mcpwarden/mcpwarden/impl"
	"github.com/mcpwarden/mcpwarden/impl/notify"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.2.0"

const usage = `mcpwarden: inventory and risk-rate the MCP servers across your organization's machines.

Usage:
  mcpwarden serve              serve the API (default)
  mcpwarden migrate            apply database migrations and exit
  mcpwarden risk explain FILE  score the MCP servers in a client configuration file
  mcpwarden seed [--agents N] [--servers-per-agent M] [--org NAME] [--workers W] [--batch B]
                               fill an organization with synthetic inventory
  mcpwarden version            print the version

Configuration comes from the environment; see README.md.
`

func main() {
	args := os.Args[1:]
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	var code int
	switch cmd {
	case "serve":
		code = runServe(args)
	case "migrate":
		code = runMigrate(args)
	case "seed":
		code = runSeed(args)
	case "risk":
		code = runRiskExplain(args, os.Stdout, os.Stderr)
	case "version", "--version":
		fmt.Println(version)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "mcpwarden: unknown command %q\n\n%s", cmd, usage)
		code = 2
	}
	os.Exit(code)
}

// config is read once from the environment.
type config struct {
	addr        string
	databaseURL string
	dataDir     string
	jwtSecret   string
	logLevel    slog.Level
	corsOrigins []string
	proxyHops   int
	dbMaxConns  int
	pgBuffersMB int // shared_buffers of the built-in PostgreSQL
	// dormantAfter (MCPWARDEN_DORMANT_AFTER, default 7 days): silence after which an agent's
	// servers become dormant.
	dormantAfter time.Duration
	// Alert delivery: MCPWARDEN_SMTP_URL and MCPWARDEN_WEBHOOK_ALLOW_PRIVATE.
	smtpURL             string
	webhookAllowPrivate bool
	// Benchmark-only knobs (see cmd/mcpwarden-bench): request validation off, and a pprof
	// listener on a loopback address.
	disableValidation bool
	pprofAddr         string
}

func loadConfig() (config, error) {
	c := config{
		addr:        envOr("MCPWARDEN_ADDR", ":8000"),
		databaseURL: os.Getenv("DATABASE_URL"),
		dataDir:     envOr("MCPWARDEN_DATA_DIR", ".mcpwarden"),
		jwtSecret:   os.Getenv("MCPWARDEN_JWT_SECRET"),
	}
	if err := c.logLevel.UnmarshalText([]byte(envOr("MCPWARDEN_LOG_LEVEL", "info"))); err != nil {
		return c, fmt.Errorf("MCPWARDEN_LOG_LEVEL: %w", err)
	}
	for _, o := range strings.Split(os.Getenv("MCPWARDEN_CORS_ORIGINS"), ",") {
		if o = strings.TrimSpace(o); o != "" {
			c.corsOrigins = append(c.corsOrigins, o)
		}
	}
	var err error
	if c.proxyHops, err = envInt("MCPWARDEN_TRUSTED_PROXY_HOPS", 0); err != nil {
		return c, err
	}
	if c.dbMaxConns, err = envInt("MCPWARDEN_DB_MAX_CONNS", 20); err != nil {
		return c, err
	}
	if c.pgBuffersMB, err = envInt("MCPWARDEN_PG_SHARED_BUFFERS_MB", localpg.SharedBuffersFor(localpg.MemoryLimit())); err != nil {
		return c, err
	}
	c.dormantAfter = 7 * 24 * time.Hour
	if v := os.Getenv("MCPWARDEN_DORMANT_AFTER"); v != "" {
		if c.dormantAfter, err = time.ParseDuration(v); err != nil || c.dormantAfter < time.Minute {
			return c, fmt.Errorf("MCPWARDEN_DORMANT_AFTER must be a duration of at least 1m (such as 168h), not %q", v)
		}
	}
	if c.smtpURL = os.Getenv("MCPWARDEN_SMTP_URL"); c.smtpURL != "" {
		if _, err := notify.ParseSMTPURL(c.smtpURL); err != nil {
			return c, err
		}
	}
	switch v := strings.ToLower(os.Getenv("MCPWARDEN_WEBHOOK_ALLOW_PRIVATE")); v {
	case "", "0", "false", "no":
	case "1", "true", "yes":
		c.webhookAllowPrivate = true
	default:
		return c, fmt.Errorf("MCPWARDEN_WEBHOOK_ALLOW_PRIVATE must be true or false, not %q", v)
	}
	c.disableValidation = os.Getenv("MCPWARDEN_DISABLE_VALIDATION") == "1"
	if c.pprofAddr = os.Getenv("MCPWARDEN_PPROF_ADDR"); c.pprofAddr != "" {
		if host, _, err := net.SplitHostPort(c.pprofAddr); err != nil || !isLoopback(host) {
			return c, fmt.Errorf("MCPWARDEN_PPROF_ADDR must be a loopback host:port, not %q", c.pprofAddr)
		}
	}
	if c.databaseURL != "" && len(c.jwtSecret) < 32 {
		return c, errors.New("MCPWARDEN_JWT_SECRET must be set to at least 32 bytes when DATABASE_URL is set (generate one with `openssl rand -hex 32`)")
	}
	if c.jwtSecret != "" && len(c.jwtSecret) < 32 {
		return c, errors.New("MCPWARDEN_JWT_SECRET must be at least 32 bytes")
	}
	return c, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envInt(name string, def int) (int, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s must be a non-negative integer, not %q", name, v)
	}
	return n, nil
}

// database opens DATABASE_URL, or starts the built-in PostgreSQL when it is unset. The returned
// stop function shuts the built-in cluster down.
func database(ctx context.Context, cfg *config, log *slog.Logger) (*db.Storage, func(), error) {
	url := cfg.databaseURL
	stop := func() {}
	if url == "" {
		log.Info("DATABASE_URL is not set; starting the built-in PostgreSQL", "data_dir", cfg.dataDir)
		// 0711: under root the cluster runs as the postgres user, which must pass through.
		if err := os.MkdirAll(cfg.dataDir, 0o711); err != nil {
			return nil, stop, err
		}
		cluster, err := localpg.Start(ctx, localpg.Options{Dir: filepath.Join(cfg.dataDir, "postgres"), SharedBuffersMB: cfg.pgBuffersMB})
		if errors.Is(err, localpg.ErrNoBinaries) {
			return nil, stop, fmt.Errorf("%w\n\n%s", err, localpg.InstallHint)
		}
		if err != nil {
			return nil, stop, err
		}
		stop = func() {
			if err := cluster.Stop(); err != nil {
				log.Error("stop the built-in PostgreSQL", "error", err)
			}
		}
		if err := cluster.CreateDatabase(ctx, "mcpwarden"); err != nil {
			stop()
			return nil, func() {}, err
		}
		url = cluster.URL("mcpwarden")
	}
	store, err := db.Open(ctx, url, cfg.dbMaxConns)
	if err != nil {
		stop()
		return nil, func() {}, err
	}
	if err := db.Migrate(ctx, store.DB().DB); err != nil {
		store.Close()
		stop()
		return nil, func() {}, err
	}
	return store, stop, nil
}

// builtinSecret returns the JWT secret kept in the data directory, creating it on first use.
func builtinSecret(dataDir string, log *slog.Logger) (string, error) {
	path := filepath.Join(dataDir, "jwt-secret")
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 32 {
		return strings.TrimSpace(string(b)), nil
	}
	b := make([]byte, 32)
	rand.Read(b)
	secret := hex.EncodeToString(b)
	// 0711: the built-in PostgreSQL, running as its own user under root, must pass through.
	if err := os.MkdirAll(dataDir, 0o711); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", err
	}
	log.Warn("generated a JWT signing secret for the built-in database; set MCPWARDEN_JWT_SECRET in production", "path", path)
	return secret, nil
}

func newLogger(level slog.Level, w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

func runServe(args []string) int {
	cfg, err := loadConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mcpwarden:", err)
		return 2
	}
	log := newLogger(cfg.logLevel, os.Stderr)
	slog.SetDefault(log)
	// Ingestion allocates a lot of short-lived memory (decoded reports, their JSON on the way
	// to PostgreSQL): collecting half as often saves about a tenth of the server's CPU under
	// report load, for a heap a few tens of MB larger. GOGC, when set, decides.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()

	if cfg.jwtSecret == "" {
		if cfg.jwtSecret, err = builtinSecret(cfg.dataDir, log); err != nil {
			log.Error("JWT secret", "error", err)
			return 1
		}
	}
	store, stopDB, err := database(ctx, &cfg, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mcpwarden:", err)
		return 1
	}
	defer stopDB()
	defer store.Close()

	srv := impl.New(impl.Config{
		Version:             version,
		JWTSecret:           []byte(cfg.jwtSecret),
		CORSOrigins:         cfg.corsOrigins,
		TrustedProxyHops:    cfg.proxyHops,
		DisableValidation:   cfg.disableValidation,
		SMTPURL:             cfg.smtpURL,
		WebhookAllowPrivate: cfg.webhookAllowPrivate,
		DormantAfter:        cfg.dormantAfter,
		Logger:              log,
	}, store)
	if cfg.disableValidation {
		log.Warn("request validation is off (MCPWARDEN_DISABLE_VALIDATION=1); for benchmarks only")
	}
	if cfg.pprofAddr != "" {
		servePprof(cfg.pprofAddr, log)
	}
	handler, err := srv.Handler()
	if err != nil {
		log.Error("build handler", "error", err)
		return 1
	}
	httpServer := &http.Server{
		Addr:              cfg.addr,
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	errc := make(chan error, 1)
	go func() { errc <- httpServer.ListenAndServe() }()
	log.Info("mcpwarden is serving", "addr", cfg.addr, "version", version)

	select {
	case err := <-errc:
		log.Error("server stopped", "error", err)
		return 1
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing in-flight requests")
	shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelShutdown()
	if err := httpServer.Shutdown(shutdownCtx); err != nil {
		log.Error("shutdown", "error", err)
	}
	srv.Close()
	return 0
}

func runMigrate(args []string) int {
	cfg, err := loadConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mcpwarden:", err)
		return 2
	}
	log := newLogger(cfg.logLevel, os.Stderr)
	store, stopDB, err := database(context.Background(), &cfg, log)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mcpwarden:", err)
		return 1
	}
	store.Close()
	stopDB()
	fmt.Println("migrations applied")
	return 0
}
