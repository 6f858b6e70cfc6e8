// Package impl holds mcpwarden's HTTP handlers, one file per tag of openapi.yaml. Server
// satisfies the strict server interface generated from the spec, so every handler returns a
// response the spec declares; the edge in front of it (impl/httpapi) has already authenticated
// the caller, checked their role and validated the request.
package impl

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/gen"
	"github.com/mcpwarden/mcpwarden/impl/config"
	"github.com/mcpwarden/mcpwarden/impl/httpapi"
	"github.com/mcpwarden/mcpwarden/impl/ingest"
	"github.com/mcpwarden/mcpwarden/impl/jobs"
	"github.com/mcpwarden/mcpwarden/impl/security"
)

var _ gen.StrictServerInterface = (*Server)(nil)

// Options are what the handlers need besides their storage.
type Options struct {
	Version   string
	JWTSecret []byte
	Logger    *slog.Logger
	// Edge configures the HTTP edge (limits, CORS, proxies, validation).
	Edge httpapi.Options
	// The failed sign-ins allowed in a throttle window for an account from one address, for an
	// account from anywhere, and from one address.
	LoginFailuresPerAccountAndClient, LoginFailuresPerAccount, LoginFailuresPerClient int
	// MaxAgentsPerOrg caps the agents an organization may enrol.
	MaxAgentsPerOrg int
	// EmailChangeRequiresPassword: changing one's email needs the current password.
	EmailChangeRequiresPassword bool
	// RegistrationClosed refuses new organizations (invitations still work).
	RegistrationClosed bool
	// WebhookAllowPrivate lets webhooks reach loopback, private, link-local and metadata
	// addresses, which are refused by default (SSRF).
	WebhookAllowPrivate bool
}

// Server implements gen.StrictServerInterface against PostgreSQL.
type Server struct {
	opts   Options
	store  *db.Storage
	ingest *ingest.Ingester
	log    *slog.Logger
	now    func() time.Time
	signer security.Signer
	guard  security.Guard
}

// New returns the handlers, backed by store and by in for the agents' hot path. It starts
// nothing: cmd/mcpwarden runs the Ingester and the background jobs.
func New(opts Options, store *db.Storage, in *ingest.Ingester) *Server {
	s := &Server{
		opts: opts, store: store, ingest: in, log: opts.Logger, now: time.Now,
		signer: security.Signer{Secret: opts.JWTSecret},
	}
	s.guard.Throttle = security.Throttle{
		Counters:              store,
		AccountAndClientLimit: opts.LoginFailuresPerAccountAndClient,
		AccountLimit:          opts.LoginFailuresPerAccount,
		ClientLimit:           opts.LoginFailuresPerClient,
	}
	return s
}

// Handler returns the HTTP handler: the edge (impl/httpapi) in front of the handlers.
func (s *Server) Handler() (http.Handler, error) {
	o := s.opts.Edge
	if o.Logger == nil {
		o.Logger = s.log
	}
	if s.store.HasReadReplica() {
		o.Changed = func(ctx context.Context, p httpapi.Principal) error {
			return s.store.MarkChanged(ctx, p.OrgID, p.UserID)
		}
	}
	return httpapi.New(o, authenticator{s}, s)
}

// HoldPasswordHashing takes every password-hashing slot, as a login flood would, until release
// is called: what the server answers then is the overload answer.
func (s *Server) HoldPasswordHashing() (release func()) {
	var releases []func()
	for range security.HashConcurrency() {
		r, err := s.guard.Hasher.Hold(context.Background())
		if err != nil {
			panic(err)
		}
		releases = append(releases, r)
	}
	return func() {
		for _, r := range releases {
			r()
		}
	}
}

// authenticator checks the spec's two credentials for the edge.
type authenticator struct{ s *Server }

// User verifies an access token and checks it against the user's current state, so that a
// removed user, a changed role, a password change, a logout or a detected refresh-token replay
// takes effect at once.
func (a authenticator) User(ctx context.Context, raw string) (httpapi.Principal, error) {
	if strings.HasPrefix(raw, security.APITokenPrefix) {
		return a.apiToken(ctx, raw)
	}
	t, err := a.s.signer.Verify(raw)
	if err != nil {
		return httpapi.Principal{}, httpapi.ErrUnauthenticated
	}
	u, err := a.s.store.UserAuthByID(ctx, t.OrgID, t.UserID, t.SessionID)
	if errors.Is(err, db.ErrNotFound) {
		return httpapi.Principal{}, httpapi.ErrUnauthenticated
	}
	if err != nil {
		return httpapi.Principal{}, err
	}
	if u.TokenVersion != t.Version || !u.Active || !u.SessionOpen {
		return httpapi.Principal{}, httpapi.ErrUnauthenticated
	}
	return httpapi.Principal{OrgID: t.OrgID, UserID: t.UserID, Role: u.Role, ChangedLSN: u.ChangedLSN}, nil
}

// apiToken checks an API token: live, and created by someone who is still an admin.
func (a authenticator) apiToken(ctx context.Context, raw string) (httpapi.Principal, error) {
	orgID, hash, ok := security.ParseAPIToken(raw)
	if !ok {
		return httpapi.Principal{}, httpapi.ErrUnauthenticated
	}
	t, err := a.s.store.UseAPIToken(ctx, orgID, hash)
	if errors.Is(err, db.ErrNotFound) {
		return httpapi.Principal{}, httpapi.ErrUnauthenticated
	}
	if err != nil {
		return httpapi.Principal{}, err
	}
	creator, err := a.s.store.UserAuthByID(ctx, orgID, t.CreatedBy, uuid.Nil)
	if errors.Is(err, db.ErrNotFound) || err == nil && (creator.Role != string(gen.Admin) || !creator.Active) {
		return httpapi.Principal{}, httpapi.ErrUnauthenticated
	}
	if err != nil {
		return httpapi.Principal{}, err
	}
	return httpapi.Principal{OrgID: orgID, UserID: t.CreatedBy, TokenID: t.ID, Scopes: t.Scopes, ChangedLSN: creator.ChangedLSN}, nil
}

// Agent checks an agent key and returns the agent it belongs to.
func (a authenticator) Agent(ctx context.Context, key string) (httpapi.Principal, error) {
	agent, err := a.s.ingest.Authenticate(ctx, key)
	if errors.Is(err, ingest.ErrUnknownKey) {
		return httpapi.Principal{}, httpapi.ErrUnauthenticated
	}
	if err != nil {
		return httpapi.Principal{}, err
	}
	return httpapi.Principal{OrgID: agent.OrgID, AgentID: agent.AgentID}, nil
}

// Replica is one replica's pieces, built from its configuration: the handlers, the agents' hot
// path, and what the background jobs need. Building it starts nothing; the caller runs
// Ingester.Run and jobs.Run for as long as it serves.
type Replica struct {
	Server   *Server
	Ingester *ingest.Ingester
	Jobs     jobs.Config
	// Metrics holds the replica's Prometheus metrics when cfg.MetricsAddr is set; nil otherwise.
	Metrics *prometheus.Registry
}

// NewReplica builds a replica of the given version from cfg.
func NewReplica(cfg config.Server, version string, store *db.Storage, log *slog.Logger) Replica {
	in := ingest.New(store, ingest.Options{
		Version: version, Logger: log,
		HeartbeatFlushInterval: cfg.HeartbeatFlushInterval, RevocationPollInterval: cfg.RevocationPollInterval,
		ReportRate: cfg.AgentReportRate, ReportBurst: cfg.AgentReportBurst,
	})
	var (
		edge     *httpapi.Metrics
		registry *prometheus.Registry
	)
	if cfg.MetricsAddr != "" {
		edge = httpapi.NewMetrics()
		registry = prometheus.NewRegistry()
		registry.MustRegister(
			collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
			collectors.NewDBStatsCollector(store.DB().DB, "mcpwarden"),
			jobs.QueueCollector(store, log),
		)
		registry.MustRegister(edge.Collectors()...)
		registry.MustRegister(in.Collectors()...)
	}
	srv := New(Options{
		Version: version, JWTSecret: []byte(cfg.JWTSecret), Logger: log, WebhookAllowPrivate: cfg.WebhookAllowPrivate,
		LoginFailuresPerAccountAndClient: cfg.LoginFailuresPerAccountAndClient,
		LoginFailuresPerAccount:          cfg.LoginFailuresPerAccount, LoginFailuresPerClient: cfg.LoginFailuresPerClient,
		MaxAgentsPerOrg: cfg.MaxAgentsPerOrg, EmailChangeRequiresPassword: cfg.EmailChangeRequiresPassword,
		RegistrationClosed: cfg.Registration == "closed",
		Edge: httpapi.Options{
			CORSOrigins: cfg.CORSOrigins, TrustedProxyHops: cfg.TrustedProxyHops, DisableValidation: cfg.DisableValidation,
			MaxBodyBytes: cfg.MaxBodyBytes, ReportMaxBodyBytes: cfg.ReportMaxBodyBytes, Logger: log,
			Metrics: edge,
		},
	}, store, in)
	return Replica{Server: srv, Ingester: in, Metrics: registry, Jobs: jobs.Config{
		SMTP: cfg.SMTP, EmailDigestInterval: cfg.EmailDigestInterval,
		WebhookPollInterval: cfg.WebhookPollInterval, WebhookRetryBase: cfg.WebhookRetryBase, WebhookAllowPrivate: cfg.WebhookAllowPrivate,
		RollupCompactInterval: cfg.RollupCompactInterval,
		DormantAfter:          cfg.DormantAfter, DormantSweepInterval: cfg.DormantSweepInterval, AgentOfflineAfter: cfg.AgentOfflineAfter,
		TrendSnapshotInterval: cfg.TrendSnapshotInterval, AuditRetention: cfg.AuditRetention,
		Logger: log,
	}}
}

// Run runs the replica's hot-path upkeep, background jobs and read-replica checks until ctx
// ends. The jobs stop first, so that the hot path's last flush of buffered last-seen times is the
// last write.
func (r Replica) Run(ctx context.Context, store *db.Storage) {
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		store.WatchReadReplica(ctx)
	}()
	defer func() { <-watchDone }()
	jobsDone := make(chan struct{})
	go func() {
		defer close(jobsDone)
		jobs.Run(ctx, r.Jobs, store, r.Ingester)
	}()
	hot, stop := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		<-jobsDone
		stop()
	}()
	r.Ingester.Run(hot)
}
