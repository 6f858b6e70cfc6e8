// Package impl holds mcpwarden's hand-written HTTP handlers. Server satisfies the strict server
// interface generated from openapi.yaml, so every handler returns a response the spec declares.
package impl

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/gen"
)

var _ gen.StrictServerInterface = (*Server)(nil)

// Config is everything the server needs, read once from the environment by cmd/mcpwarden.
type Config struct {
	Version     string
	JWTSecret   []byte
	CORSOrigins []string
	// TrustedProxyHops is how many X-Forwarded-For hops, counted from the right, to believe when
	// finding the client's address; 0 uses the connection's address.
	TrustedProxyHops int
	// DisableValidation turns request validation off (benchmarks only); authentication stays on.
	DisableValidation bool
	// MaxBodyBytes limits request bodies; agent reports get ReportMaxBodyBytes.
	MaxBodyBytes       int64
	ReportMaxBodyBytes int64
	Logger             *slog.Logger
	// SMTPURL (MCPWARDEN_SMTP_URL) turns on email digests of new alerts; see notify.ParseSMTPURL.
	SMTPURL string
	// WebhookAllowPrivate (MCPWARDEN_WEBHOOK_ALLOW_PRIVATE) lets webhooks reach loopback,
	// private, link-local and metadata addresses, which are refused by default (SSRF).
	WebhookAllowPrivate bool
	// Background work (defaults in impl/notifiers.go): how often email digests go out, how
	// often due webhook deliveries are polled, the first webhook retry delay (doubling up to an
	// hour, for 24 hours), and how often dashboard rollups are compacted.
	EmailDigestInterval   time.Duration
	WebhookPollInterval   time.Duration
	WebhookRetryBase      time.Duration
	RollupCompactInterval time.Duration
	// DormantAfter is how long an agent may stay silent before its servers become dormant;
	// DormantSweepInterval is how often that is checked.
	DormantAfter         time.Duration
	DormantSweepInterval time.Duration
	// HeartbeatFlushInterval is how often buffered agent last-seen times are written.
	HeartbeatFlushInterval time.Duration
}

func (c *Config) setDefaults() {
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 64 << 10
	}
	if c.ReportMaxBodyBytes == 0 {
		c.ReportMaxBodyBytes = 8 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.DormantAfter == 0 {
		c.DormantAfter = 7 * 24 * time.Hour
	}
	if c.DormantSweepInterval == 0 {
		c.DormantSweepInterval = time.Minute
	}
	if c.HeartbeatFlushInterval == 0 {
		c.HeartbeatFlushInterval = 2 * time.Second
	}
}

// Server implements gen.StrictServerInterface against PostgreSQL.
type Server struct {
	cfg   Config
	store *db.Storage
	log   *slog.Logger
	now   func() time.Time
	// accounts bounds password hashing and throttles logins (impl/passwords.go, throttle.go).
	accounts accountGuard
	// closers run at shutdown, in order (flush buffers, stop workers).
	closers []func()
	keys    *keyCache   // agent key -> agent, invalidated by polling (impl/keycache.go)
	seen    *seenBuffer // agents' last-seen times awaiting a flush
	// redactions remembers recent redactions of report texts (impl/redactcache.go).
	redactions redactCache
}

// New returns a server backed by store.
func New(cfg Config, store *db.Storage) *Server {
	cfg.setDefaults()
	s := &Server{cfg: cfg, store: store, log: cfg.Logger, now: time.Now}
	s.keys = newKeyCache(store, s.log, s.now)
	s.seen = newSeenBuffer(store, s.log, cfg.HeartbeatFlushInterval)
	// Stop the sweeper before the last flush, so the flush is the last write.
	s.closers = append(s.closers, s.keys.start(revocationPollInterval), s.startDormantSweeper(cfg.DormantSweepInterval), s.seen.close)
	s.closers = append(s.closers, s.startNotifiers())
	return s
}

// Handler returns the HTTP handler: echo with the contract middleware in front of the generated
// strict handlers.
func (s *Server) Handler() (http.Handler, error) {
	spec, err := LoadSpec()
	if err != nil {
		return nil, err
	}
	contract, err := newContract(spec, s.authenticate)
	if err != nil {
		return nil, err
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	e.IPExtractor = s.clientIP
	e.Pre(
		s.requestLog,
		middleware.RecoverWithConfig(middleware.RecoverConfig{DisableStackAll: true, LogErrorFunc: s.logPanic}),
		securityHeaders,
	)
	if len(s.cfg.CORSOrigins) > 0 {
		e.Pre(middleware.CORSWithConfig(middleware.CORSConfig{
			AllowOrigins:  s.cfg.CORSOrigins,
			AllowHeaders:  []string{"Authorization", "Content-Type", "X-API-Key", "X-Request-ID"},
			ExposeHeaders: []string{"X-Request-ID", "Retry-After"},
			MaxAge:        600,
		}))
	}
	e.Pre(s.bodyLimit, withClientIP, contract.middleware(!s.cfg.DisableValidation))
	gen.RegisterHandlers(e, gen.NewStrictHandler(s, nil))
	return e, nil
}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// requestLog gives every request an id (the caller's X-Request-ID when it is sane) and logs one
// line per request with its status and duration.
func (s *Server) requestLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		req := c.Request()
		id := req.Header.Get("X-Request-ID")
		if !requestIDPattern.MatchString(id) {
			b := make([]byte, 12)
			rand.Read(b)
			id = hex.EncodeToString(b)
		}
		c.Response().Header().Set("X-Request-ID", id)
		c.SetRequest(req.WithContext(context.WithValue(req.Context(), requestIDKey, id)))
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		status := c.Response().Status
		level := slog.LevelInfo
		if status >= 500 && status != http.StatusNotImplemented {
			level = slog.LevelError
		}
		s.log.LogAttrs(req.Context(), level, "request",
			slog.String("request_id", id),
			slog.String("method", req.Method),
			slog.String("path", req.URL.Path),
			slog.Int("status", status),
			slog.Int64("bytes", c.Response().Size),
			slog.Duration("duration", time.Since(start)),
			slog.String("client_ip", c.RealIP()),
		)
		return nil
	}
}

func (s *Server) logPanic(c echo.Context, err error, stack []byte) error {
	s.log.Error("panic", slog.String("request_id", requestIDFrom(c.Request().Context())), slog.Any("error", err), slog.String("stack", string(stack)))
	return err
}

func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		return next(c)
	}
}

// bodyLimit caps request bodies before anything reads them; agent reports may be larger.
func (s *Server) bodyLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		limit := s.cfg.MaxBodyBytes
		if strings.HasPrefix(req.URL.Path, "/mcp/report") {
			limit = s.cfg.ReportMaxBodyBytes
		}
		if req.ContentLength > limit {
			return &Problem{Status: http.StatusRequestEntityTooLarge, Detail: "The request body is larger than " + itoa(int(limit)) + " bytes."}
		}
		if req.Body != nil {
			req.Body = http.MaxBytesReader(c.Response(), req.Body, limit)
		}
		return next(c)
	}
}

// clientIP is the connection's address unless TrustedProxyHops says how many X-Forwarded-For
// entries, counted from the right, were added by proxies we run.
func (s *Server) clientIP(req *http.Request) string {
	remote := echo.ExtractIPDirect()(req)
	if s.cfg.TrustedProxyHops <= 0 {
		return remote
	}
	var hops []string
	for _, h := range req.Header.Values("X-Forwarded-For") {
		for _, part := range strings.Split(h, ",") {
			if p := strings.TrimSpace(part); p != "" {
				hops = append(hops, p)
			}
		}
	}
	// The last TrustedProxyHops-1 entries are our own proxies; the one before them is the client.
	idx := len(hops) - s.cfg.TrustedProxyHops
	if idx < 0 || idx >= len(hops) {
		if len(hops) > 0 {
			return hops[0]
		}
		return remote
	}
	return hops[idx]
}

// authenticate is the spec's AuthenticationFunc: it checks the credential each security scheme
// names and records the principal for the handler.
func (s *Server) authenticate(ctx context.Context, in *openapi3filter.AuthenticationInput) error {
	req := in.RequestValidationInput.Request
	h, _ := req.Context().Value(principalKey).(*principalHolder)
	if h == nil {
		return errUnauthenticated
	}
	var (
		p   Principal
		err error
	)
	switch in.SecuritySchemeName {
	case "bearerAuth":
		token, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
		if !ok {
			token, ok = strings.CutPrefix(req.Header.Get("Authorization"), "bearer ")
		}
		if !ok || token == "" {
			return errUnauthenticated
		}
		p, err = s.authenticateUser(ctx, strings.TrimSpace(token))
	case "agentKey":
		key := req.Header.Get("X-API-Key")
		if key == "" {
			return errUnauthenticated
		}
		p, err = s.authenticateAgent(ctx, key)
	default:
		return errUnauthenticated
	}
	if err != nil {
		return err
	}
	h.p = &p
	return nil
}

// Close flushes buffered state (such as last-seen times) and stops background work. Call it
// after the HTTP server has drained.
func (s *Server) Close() {
	for _, fn := range s.closers {
		fn()
	}
}
