package config

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mcpwarden/mcpwarden/db/localpg"
)

// TestDefaultsAreTheDocumentedOnes compares the whole configuration of an empty environment with
// README.md's Configuration table.
func TestDefaultsAreTheDocumentedOnes(t *testing.T) {
	want := Server{
		Addr: ":8000", DataDir: ".mcpwarden", LogLevel: slog.LevelInfo, DBMaxConns: 20,
		PGSharedBuffersMB: localpg.SharedBuffersFor(localpg.MemoryLimit()),
		DormantAfter:      168 * time.Hour, AgentOfflineAfter: 5 * time.Minute, AuditRetention: 8760 * time.Hour,
		Registration: "open", LoginFailuresPerAccountAndClient: 10, LoginFailuresPerAccount: 100, LoginFailuresPerClient: 50,
		AgentReportRate: 2, AgentReportBurst: 60, MaxAgentsPerOrg: 100_000,
		MaxBodyBytes: 64 << 10, ReportMaxBodyBytes: 8 << 20,
		EmailDigestInterval: 30 * time.Second, WebhookPollInterval: 2 * time.Second, WebhookRetryBase: 30 * time.Second,
		RollupCompactInterval: 30 * time.Second, DormantSweepInterval: time.Minute,
		HeartbeatFlushInterval: 2 * time.Second, RevocationPollInterval: 2 * time.Second,
		TrendSnapshotInterval: time.Hour, ReadReplicaMaxLag: 10 * time.Second, ReadReplicaCheckInterval: time.Second,
	}
	if diff := cmp.Diff(want, Defaults()); diff != "" {
		t.Fatalf("defaults (-documented +actual):\n%s", diff)
	}
}

func TestEnvironmentIsReadAndParsed(t *testing.T) {
	c, err := FromMap(map[string]string{
		"MCPWARDEN_CORS_ORIGINS": "https://a.example,https://b.example", "MCPWARDEN_LOG_LEVEL": "debug",
		"MCPWARDEN_DORMANT_AFTER": "36h", "MCPWARDEN_WEBHOOK_ALLOW_PRIVATE": "true",
		"MCPWARDEN_SMTP_URL": "smtp://u:p@mail.example:587?from=alerts@example.com&tls=starttls",
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"https://a.example", "https://b.example"}, c.CORSOrigins); diff != "" {
		t.Errorf("CORS origins: %s", diff)
	}
	if c.LogLevel != slog.LevelDebug || c.DormantAfter != 36*time.Hour || !c.WebhookAllowPrivate {
		t.Errorf("parsed %v, %v, %v", c.LogLevel, c.DormantAfter, c.WebhookAllowPrivate)
	}
	if c.SMTP == nil || c.SMTP.Host != "mail.example" || c.SMTP.From != "alerts@example.com" {
		t.Errorf("SMTP URL parsed as %+v", c.SMTP)
	}
}

// TestInvalidSettingsAreRefusedByName: every invalid value stops the server with an error that
// names its variable.
func TestInvalidSettingsAreRefusedByName(t *testing.T) {
	for name, value := range map[string]string{
		"MCPWARDEN_LOG_LEVEL":                  "loud",
		"MCPWARDEN_DB_MAX_CONNS":               "0",
		"MCPWARDEN_TRUSTED_PROXY_HOPS":         "-1",
		"MCPWARDEN_DORMANT_AFTER":              "30s",
		"MCPWARDEN_WEBHOOK_ALLOW_PRIVATE":      "sometimes",
		"MCPWARDEN_LOGIN_FAILURES_PER_ACCOUNT": "0",
		"MCPWARDEN_MAX_BODY_BYTES":             "10",
		"MCPWARDEN_AGENT_REPORT_RATE":          "0",
		"MCPWARDEN_AGENT_REPORT_BURST":         "0",
		"MCPWARDEN_MAX_AGENTS_PER_ORG":         "0",
		"MCPWARDEN_WEBHOOK_POLL_INTERVAL":      "0s",
		"MCPWARDEN_PPROF_ADDR":                 "0.0.0.0:6060",
		"MCPWARDEN_JWT_SECRET":                 "short",
		"MCPWARDEN_SMTP_URL":                   "smtp://mail.example:587",
		"MCPWARDEN_READ_REPLICA_MAX_LAG":       "0s",
		"DATABASE_READ_URL":                    "postgres://standby.example/mcpwarden",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := FromMap(map[string]string{name: value})
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Fatalf("%s=%q: error %v, want one naming the variable", name, value, err)
			}
		})
	}
}

func TestRegistrationIsOpenToTheNetworkOnlyWhenOpenBeyondLoopback(t *testing.T) {
	for _, tt := range []struct {
		registration, addr string
		want               bool
	}{
		{"open", ":8000", true},
		{"open", "0.0.0.0:8000", true},
		{"open", "127.0.0.1:8000", false},
		{"open", "localhost:8000", false},
		{"open", "[::1]:8000", false},
		{"closed", ":8000", false},
	} {
		c := Defaults()
		c.Registration, c.Addr = tt.registration, tt.addr
		if got := c.OpenToTheNetwork(); got != tt.want {
			t.Errorf("registration %s on %s: open to the network %v, want %v", tt.registration, tt.addr, got, tt.want)
		}
	}
	c := Defaults()
	c.Registration = "invite-only"
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "MCPWARDEN_REGISTRATION must be open or closed") {
		t.Errorf("an unknown registration policy: %v", err)
	}
}
