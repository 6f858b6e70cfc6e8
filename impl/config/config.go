// Package config declares every setting of the mcpwarden server in one place: its environment
// variable, its default and its validation. cmd/mcpwarden reads it once at start and passes the
// values down; tests start from Defaults.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"reflect"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/mcpwarden/mcpwarden/db/localpg"
	"github.com/mcpwarden/mcpwarden/impl/notify"
)

// Server is the server's configuration. README.md's Configuration table documents the variables.
type Server struct {
	Addr        string `env:"MCPWARDEN_ADDR" envDefault:":8000"`
	DatabaseURL string `env:"DATABASE_URL"`
	// DatabaseReadURL is a streaming standby of DatabaseURL's database that list, detail,
	// dashboard and export reads may use; empty sends every query to DatabaseURL.
	DatabaseReadURL string `env:"DATABASE_READ_URL"`
	// ReadReplicaMaxLag: a read replica further behind the primary than this serves no reads.
	ReadReplicaMaxLag time.Duration `env:"MCPWARDEN_READ_REPLICA_MAX_LAG" envDefault:"10s"`
	// ReadReplicaCheckInterval is how often each server measures the read replica's lag.
	ReadReplicaCheckInterval time.Duration `env:"MCPWARDEN_READ_REPLICA_CHECK_INTERVAL" envDefault:"1s"`
	// DataDir holds the built-in PostgreSQL and its generated JWT secret.
	DataDir string `env:"MCPWARDEN_DATA_DIR" envDefault:".mcpwarden"`
	// JWTSecret signs access tokens; required with DatabaseURL, generated with the built-in
	// database.
	JWTSecret   string     `env:"MCPWARDEN_JWT_SECRET"`
	LogLevel    slog.Level `env:"MCPWARDEN_LOG_LEVEL" envDefault:"info"`
	CORSOrigins []string   `env:"MCPWARDEN_CORS_ORIGINS" envSeparator:","`
	// TrustedProxyHops is how many X-Forwarded-For hops, counted from the right, were added by
	// our own proxies; 0 uses the connection's address.
	TrustedProxyHops int `env:"MCPWARDEN_TRUSTED_PROXY_HOPS" envDefault:"0"`
	DBMaxConns       int `env:"MCPWARDEN_DB_MAX_CONNS" envDefault:"20"`
	// PGSharedBuffersMB is the built-in PostgreSQL's shared_buffers; 0 means an eighth of the
	// machine's (or container's) memory, from 128 MB to 1 GB.
	PGSharedBuffersMB int `env:"MCPWARDEN_PG_SHARED_BUFFERS_MB" envDefault:"0"`
	// PGBin is the directory of PostgreSQL's server binaries for the built-in database.
	PGBin string `env:"MCPWARDEN_PG_BIN"`

	// Alerts.
	DormantAfter time.Duration `env:"MCPWARDEN_DORMANT_AFTER" envDefault:"168h"`
	// AgentOfflineAfter raises agent_offline for an agent silent this long: five of the agent's
	// 60-second heartbeat intervals by default; 0 turns the alert off.
	AgentOfflineAfter time.Duration `env:"MCPWARDEN_AGENT_OFFLINE_AFTER" envDefault:"5m"`
	// AuditRetention is how long audit events are kept; older ones are deleted hourly.
	AuditRetention      time.Duration `env:"MCPWARDEN_AUDIT_RETENTION" envDefault:"8760h"`
	SMTPURL             string        `env:"MCPWARDEN_SMTP_URL"`
	WebhookAllowPrivate bool          `env:"MCPWARDEN_WEBHOOK_ALLOW_PRIVATE" envDefault:"false"`

	// Failed sign-ins allowed in a 15-minute window, counted in PostgreSQL across replicas: for
	// one account from one client address, for one account from anywhere (a ceiling far above
	// what a person triggers, so a stranger cannot lock the owner out), and from one address to
	// any accounts. Past a limit every attempt it covers gets 429 until the window ends.
	LoginFailuresPerAccountAndClient int `env:"MCPWARDEN_LOGIN_FAILURES_PER_ACCOUNT_AND_CLIENT" envDefault:"10"`
	LoginFailuresPerAccount          int `env:"MCPWARDEN_LOGIN_FAILURES_PER_ACCOUNT" envDefault:"100"`
	LoginFailuresPerClient           int `env:"MCPWARDEN_LOGIN_FAILURES_PER_CLIENT" envDefault:"50"`
	// Registration is open (anyone who reaches the server can create an organization, as the
	// API reference has it) or closed (new organizations are refused; invitations still work).
	Registration string `env:"MCPWARDEN_REGISTRATION" envDefault:"open"`
	// EmailChangeRequiresPassword makes PATCH /auth/me refuse an email change without the
	// current password. Off by default: the API reference changes it with a name and email only.
	EmailChangeRequiresPassword bool `env:"MCPWARDEN_EMAIL_CHANGE_REQUIRES_PASSWORD" envDefault:"false"`

	// Each agent's reports, per replica: AgentReportRate a second, in bursts of up to
	// AgentReportBurst; past it a report gets 429 with Retry-After.
	AgentReportRate  float64 `env:"MCPWARDEN_AGENT_REPORT_RATE" envDefault:"2"`
	AgentReportBurst int     `env:"MCPWARDEN_AGENT_REPORT_BURST" envDefault:"60"`

	// MaxAgentsPerOrg caps the agents an organization may enrol.
	MaxAgentsPerOrg int `env:"MCPWARDEN_MAX_AGENTS_PER_ORG" envDefault:"100000"`

	// Request limits.
	MaxBodyBytes       int64 `env:"MCPWARDEN_MAX_BODY_BYTES" envDefault:"65536"`
	ReportMaxBodyBytes int64 `env:"MCPWARDEN_REPORT_MAX_BODY_BYTES" envDefault:"8388608"`

	// Background work.
	EmailDigestInterval    time.Duration `env:"MCPWARDEN_EMAIL_DIGEST_INTERVAL" envDefault:"30s"`
	WebhookPollInterval    time.Duration `env:"MCPWARDEN_WEBHOOK_POLL_INTERVAL" envDefault:"2s"`
	WebhookRetryBase       time.Duration `env:"MCPWARDEN_WEBHOOK_RETRY_BASE" envDefault:"30s"`
	RollupCompactInterval  time.Duration `env:"MCPWARDEN_ROLLUP_COMPACT_INTERVAL" envDefault:"30s"`
	DormantSweepInterval   time.Duration `env:"MCPWARDEN_DORMANT_SWEEP_INTERVAL" envDefault:"1m"`
	HeartbeatFlushInterval time.Duration `env:"MCPWARDEN_HEARTBEAT_FLUSH_INTERVAL" envDefault:"2s"`
	RevocationPollInterval time.Duration `env:"MCPWARDEN_REVOCATION_POLL_INTERVAL" envDefault:"2s"`
	TrendSnapshotInterval  time.Duration `env:"MCPWARDEN_TREND_SNAPSHOT_INTERVAL" envDefault:"1h"`

	// MetricsAddr is where Prometheus metrics are served (/metrics), on a listener of their own;
	// empty serves none.
	MetricsAddr string `env:"MCPWARDEN_METRICS_ADDR"`

	// Benchmark-only knobs (see cmd/mcpwarden-bench): request validation off, and Go's pprof
	// on a loopback address.
	DisableValidation bool   `env:"MCPWARDEN_DISABLE_VALIDATION" envDefault:"false"`
	PprofAddr         string `env:"MCPWARDEN_PPROF_ADDR"`

	// SMTP is SMTPURL parsed; nil without email.
	SMTP *notify.SMTPConfig `env:"-"`
}

// Load reads the configuration from the process environment and validates it.
func Load() (Server, error) { return parse(env.Options{}) }

// FromMap reads the configuration from the given variables only (the process environment is
// ignored) and validates it.
func FromMap(vars map[string]string) (Server, error) {
	return parse(env.Options{Environment: vars})
}

// Defaults is the configuration of an empty environment.
func Defaults() Server {
	c, err := FromMap(map[string]string{})
	if err != nil {
		panic("config: the defaults are invalid: " + err.Error())
	}
	return c
}

func parse(opts env.Options) (Server, error) {
	var c Server
	if err := env.ParseWithOptions(&c, opts); err != nil {
		return c, namedErrors(err)
	}
	if c.PGSharedBuffersMB == 0 {
		c.PGSharedBuffersMB = localpg.SharedBuffersFor(localpg.MemoryLimit())
	}
	return c, c.Validate()
}

// Validate checks what the types alone do not, and parses SMTPURL into SMTP. Load and FromMap
// call it; a caller that changes the configuration afterwards calls it again.
func (c *Server) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.DatabaseURL != "" && len(c.JWTSecret) < 32 {
		bad("MCPWARDEN_JWT_SECRET must be set to at least 32 bytes when DATABASE_URL is set (generate one with `openssl rand -hex 32`)")
	} else if c.JWTSecret != "" && len(c.JWTSecret) < 32 {
		bad("MCPWARDEN_JWT_SECRET must be at least 32 bytes")
	}
	if c.DatabaseReadURL != "" && c.DatabaseURL == "" {
		bad("DATABASE_READ_URL needs DATABASE_URL: the read replica is a standby of the primary DATABASE_URL points at")
	}
	if c.Registration != "open" && c.Registration != "closed" {
		bad("MCPWARDEN_REGISTRATION must be open or closed, not %q", c.Registration)
	}
	for name, n := range map[string]int{"MCPWARDEN_TRUSTED_PROXY_HOPS": c.TrustedProxyHops, "MCPWARDEN_PG_SHARED_BUFFERS_MB": c.PGSharedBuffersMB} {
		if n < 0 {
			bad("%s must be a non-negative integer, not %d", name, n)
		}
	}
	for name, n := range map[string]int{
		"MCPWARDEN_LOGIN_FAILURES_PER_ACCOUNT_AND_CLIENT": c.LoginFailuresPerAccountAndClient,
		"MCPWARDEN_LOGIN_FAILURES_PER_ACCOUNT":            c.LoginFailuresPerAccount,
		"MCPWARDEN_LOGIN_FAILURES_PER_CLIENT":             c.LoginFailuresPerClient,
	} {
		if n < 1 {
			bad("%s must be at least 1, not %d", name, n)
		}
	}
	if c.AgentReportRate <= 0 {
		bad("MCPWARDEN_AGENT_REPORT_RATE must be a positive number of reports a second, not %v", c.AgentReportRate)
	}
	if c.AgentReportBurst < 1 {
		bad("MCPWARDEN_AGENT_REPORT_BURST must be at least 1, not %d", c.AgentReportBurst)
	}
	if c.MaxAgentsPerOrg < 1 {
		bad("MCPWARDEN_MAX_AGENTS_PER_ORG must be at least 1, not %d", c.MaxAgentsPerOrg)
	}
	if c.DBMaxConns < 1 {
		bad("MCPWARDEN_DB_MAX_CONNS must be at least 1, not %d", c.DBMaxConns)
	}
	if c.AgentOfflineAfter != 0 && c.AgentOfflineAfter < 2*time.Minute {
		bad("MCPWARDEN_AGENT_OFFLINE_AFTER must be 0 (off) or at least 2m (two of the agent's 60 s heartbeat intervals), not %s", c.AgentOfflineAfter)
	}
	if c.AuditRetention < 24*time.Hour {
		bad("MCPWARDEN_AUDIT_RETENTION must be at least 24h, not %s", c.AuditRetention)
	}
	if c.DormantAfter < time.Minute {
		bad("MCPWARDEN_DORMANT_AFTER must be a duration of at least 1m (such as 168h), not %s", c.DormantAfter)
	}
	for name, n := range map[string]int64{"MCPWARDEN_MAX_BODY_BYTES": c.MaxBodyBytes, "MCPWARDEN_REPORT_MAX_BODY_BYTES": c.ReportMaxBodyBytes} {
		if n < 1024 {
			bad("%s must be at least 1024, not %d", name, n)
		}
	}
	for name, d := range map[string]time.Duration{
		"MCPWARDEN_EMAIL_DIGEST_INTERVAL": c.EmailDigestInterval, "MCPWARDEN_WEBHOOK_POLL_INTERVAL": c.WebhookPollInterval,
		"MCPWARDEN_WEBHOOK_RETRY_BASE": c.WebhookRetryBase, "MCPWARDEN_ROLLUP_COMPACT_INTERVAL": c.RollupCompactInterval,
		"MCPWARDEN_DORMANT_SWEEP_INTERVAL": c.DormantSweepInterval, "MCPWARDEN_HEARTBEAT_FLUSH_INTERVAL": c.HeartbeatFlushInterval,
		"MCPWARDEN_REVOCATION_POLL_INTERVAL": c.RevocationPollInterval, "MCPWARDEN_TREND_SNAPSHOT_INTERVAL": c.TrendSnapshotInterval,
		"MCPWARDEN_READ_REPLICA_MAX_LAG": c.ReadReplicaMaxLag, "MCPWARDEN_READ_REPLICA_CHECK_INTERVAL": c.ReadReplicaCheckInterval,
	} {
		if d < time.Millisecond {
			bad("%s must be a positive duration, not %s", name, d)
		}
	}
	c.SMTP = nil
	if c.SMTPURL != "" {
		smtp, err := notify.ParseSMTPURL(c.SMTPURL)
		if err != nil {
			errs = append(errs, err)
		} else {
			c.SMTP = &smtp
		}
	}
	if c.MetricsAddr != "" {
		if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil || port == "" {
			bad("MCPWARDEN_METRICS_ADDR must be a host:port (\":9090\", \"127.0.0.1:9090\"), not %q", c.MetricsAddr)
		}
	}
	if c.PprofAddr != "" {
		if host, _, err := net.SplitHostPort(c.PprofAddr); err != nil || !isLoopback(host) {
			bad("MCPWARDEN_PPROF_ADDR must be a loopback host:port, not %q", c.PprofAddr)
		}
	}
	return errors.Join(errs...)
}

// OpenToTheNetwork reports whether anyone on the network may create organizations: registration
// is open and the server listens beyond the loopback interface.
func (c *Server) OpenToTheNetwork() bool {
	if c.Registration != "open" {
		return false
	}
	host, _, err := net.SplitHostPort(c.Addr)
	return err != nil || !isLoopback(host)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// namedErrors names each variable the environment parser could not read, where its own errors
// name the struct field.
func namedErrors(err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	t := reflect.TypeFor[Server]()
	out := make([]error, len(agg.Errors))
	for i, e := range agg.Errors {
		out[i] = e
		var pe env.ParseError
		if errors.As(e, &pe) {
			if f, ok := t.FieldByName(pe.Name); ok {
				out[i] = fmt.Errorf("%s: %w", f.Tag.Get("env"), pe.Err)
			}
		}
	}
	return errors.Join(out...)
}
