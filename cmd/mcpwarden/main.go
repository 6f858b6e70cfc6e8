// Command mcpwarden is the mcpwarden server: `serve` runs the API and the dashboard, `migrate` applies database
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
	"strings"
	"syscall"
	"time"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/db/localpg"
	"github.com/mcpwarden/mcpwarden/impl"
	"github.com/mcpwarden/mcpwarden/impl/config"
	"github.com/mcpwarden/mcpwarden/impl/webui"
	"github.com/mcpwarden/mcpwarden/web"
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

// noArguments refuses arguments a command does not take, rather than ignoring them.
func noArguments(cmd string, args []string) bool {
	if len(args) == 0 {
		return true
	}
	fmt.Fprintf(os.Stderr, "mcpwarden %s: takes no arguments (configuration comes from the environment; see README.md), got %q\n", cmd, args)
	return false
}

// loadConfig reads the configuration, or says on stderr why it cannot.
func loadConfig() (config.Server, bool) {
	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintln(os.Stderr, "mcpwarden:", err)
		return cfg, false
	}
	return cfg, true
}

// database opens DATABASE_URL, or starts the built-in PostgreSQL when it is unset. The returned
// stop function shuts the built-in cluster down.
func database(ctx context.Context, cfg *config.Server, log *slog.Logger) (*db.Storage, func(), error) {
	url := cfg.DatabaseURL
	stop := func() {}
	if url == "" {
		log.Info("DATABASE_URL is not set; starting the built-in PostgreSQL", "data_dir", cfg.DataDir)
		// 0711: under root the cluster runs as the postgres user, which must pass through.
		if err := os.MkdirAll(cfg.DataDir, 0o711); err != nil {
			return nil, stop, err
		}
		cluster, err := localpg.Start(ctx, localpg.Options{Dir: filepath.Join(cfg.DataDir, "postgres"), SharedBuffersMB: cfg.PGSharedBuffersMB, BinDir: cfg.PGBin})
		if errors.Is(err, localpg.ErrNoBinaries) {
			return nil, stop, fmt.Errorf("%w\n\n%s", err, localpg.InstallHint)
		}
		if err != nil {
			return nil, stop, err
		}
		if why := cluster.Relocated(); why != nil {
			log.Warn("the built-in PostgreSQL lives outside the data directory, where its user can reach it", "postgres_dir", cluster.Dir(), "reason", why.Error())
		}
		log.Info("the built-in PostgreSQL is up", "postgres_dir", cluster.Dir())
		stop = func() {
			stopped, err := cluster.Release()
			switch {
			case err != nil:
				log.Error("stop the built-in PostgreSQL", "error", err)
			case !stopped:
				log.Info("the built-in PostgreSQL keeps running: another process uses it", "postgres_dir", cluster.Dir())
			}
		}
		if err := cluster.CreateDatabase(ctx, "mcpwarden"); err != nil {
			stop()
			return nil, func() {}, err
		}
		url = cluster.URL("mcpwarden")
	}
	store, err := db.Open(ctx, url, cfg.DBMaxConns)
	if err != nil {
		stop()
		return nil, func() {}, err
	}
	if err := db.Migrate(ctx, store.DB().DB); err != nil {
		store.Close()
		stop()
		return nil, func() {}, err
	}
	if cfg.DatabaseReadURL != "" {
		err := store.UseReadReplica(db.ReadReplicaOptions{
			URL: cfg.DatabaseReadURL, MaxConns: cfg.DBMaxConns, MaxLag: cfg.ReadReplicaMaxLag, CheckInterval: cfg.ReadReplicaCheckInterval,
			StateChanged: func(st db.ReplicaStatus) {
				if st.InUse {
					log.Info("read replica in use", "state", st.State, "lag", st.Lag.String())
				} else {
					log.Warn("read replica not in use: reads go to the primary", "state", st.State, "error", fmt.Sprint(st.Err))
				}
			},
		})
		if err != nil {
			store.Close()
			stop()
			return nil, func() {}, err
		}
		log.Info("list, detail, dashboard and export reads go to the read replica while it is within its maximum lag", "max_lag", cfg.ReadReplicaMaxLag.String())
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
	if !noArguments("serve", args) {
		return 2
	}
	cfg, ok := loadConfig()
	if !ok {
		return 2
	}
	log := newLogger(cfg.LogLevel, os.Stderr)
	slog.SetDefault(log)
	// Ingestion allocates a lot of short-lived memory (decoded reports, their JSON on the way
	// to PostgreSQL): collecting half as often saves about a tenth of the server's CPU under
	// report load, for a heap a few tens of MB larger. GOGC, when set, decides.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()

	if cfg.JWTSecret == "" {
		var err error
		if cfg.JWTSecret, err = builtinSecret(cfg.DataDir, log); err != nil {
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

	replica := impl.NewReplica(cfg, version, store, log)
	if cfg.DisableValidation {
		log.Warn("request validation is off (MCPWARDEN_DISABLE_VALIDATION=1); for benchmarks only")
	}
	if cfg.PprofAddr != "" {
		servePprof(cfg.PprofAddr, log)
	}
	if replica.Metrics != nil {
		serveMetrics(cfg.MetricsAddr, replica.Metrics, log)
	}
	api, err := replica.Server.Handler()
	if err != nil {
		log.Error("build handler", "error", err)
		return 1
	}
	// The dashboard, embedded in the binary, under /ui/; every other path is the API's.
	handler := webui.Handler(web.App(), api)
	background, stopBackground := context.WithCancel(context.Background())
	backgroundDone := make(chan struct{})
	go func() {
		defer close(backgroundDone)
		replica.Run(background, store)
	}()
	httpServer := &http.Server{
		Addr:              cfg.Addr,
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
	log.Info("mcpwarden is serving", "addr", cfg.Addr, "version", version)
	if cfg.OpenToTheNetwork() {
		log.Warn("registration is open: anyone who reaches this server can create an organization; set MCPWARDEN_REGISTRATION=closed once yours exists", "addr", cfg.Addr)
	}

	code := 0
	select {
	case err := <-errc:
		log.Error("server stopped", "error", err)
		code = 1
	case <-ctx.Done():
		log.Info("shutting down: finishing in-flight requests")
		shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancelShutdown()
		if err := httpServer.Shutdown(shutdownCtx); err != nil {
			log.Error("shutdown", "error", err)
		}
	}
	// Background work stops after the last request: its final flush writes what they buffered.
	stopBackground()
	<-backgroundDone
	return code
}

func runMigrate(args []string) int {
	if !noArguments("migrate", args) {
		return 2
	}
	cfg, ok := loadConfig()
	if !ok {
		return 2
	}
	log := newLogger(cfg.LogLevel, os.Stderr)
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
