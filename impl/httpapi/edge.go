// Package httpapi is the HTTP edge in front of the handlers: it routes every request through
// openapi.yaml, authenticates the caller and enforces the roles the operation declares, validates
// the request against the contract, and writes problem documents, request logs and security
// headers. Handlers see only a checked request and the caller's Principal.
package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/mcpwarden/mcpwarden/gen"
)

// Options configure the edge. Zero values are not defaults: cmd/mcpwarden's configuration
// fills every field.
type Options struct {
	CORSOrigins []string
	// TrustedProxyHops is how many X-Forwarded-For hops, counted from the right, to believe when
	// finding the client's address; 0 uses the connection's address.
	TrustedProxyHops int
	// DisableValidation turns request validation off (benchmarks only); authentication and
	// roles stay on.
	DisableValidation bool
	// MaxBodyBytes limits request bodies; agent reports get ReportMaxBodyBytes.
	MaxBodyBytes       int64
	ReportMaxBodyBytes int64
	Logger             *slog.Logger
	// Metrics, when set, counts and times every request by operation.
	Metrics *Metrics
	// Changed, when set, is called before a user's successful change (any method but GET,
	// HEAD and OPTIONS, answered below 400) is acknowledged, so that their next reads see it
	// wherever they are served.
	Changed func(ctx context.Context, p Principal) error
}

// Authenticator checks the credentials the spec's security schemes name.
type Authenticator interface {
	// User verifies an access token (bearerAuth).
	User(ctx context.Context, token string) (Principal, error)
	// Agent verifies an agent key (agentKey).
	Agent(ctx context.Context, key string) (Principal, error)
}

// New returns the HTTP handler: echo with the edge middleware in front of the generated strict
// handlers of h.
func New(opts Options, auth Authenticator, h gen.StrictServerInterface) (http.Handler, error) {
	spec, err := LoadSpec()
	if err != nil {
		return nil, err
	}
	e := &edge{opts: opts, log: opts.Logger, auth: auth, metrics: opts.Metrics}
	contract, err := newContract(spec, e.authenticate)
	if err != nil {
		return nil, err
	}
	if opts.Metrics != nil {
		opts.Metrics.bind(spec)
		contract.metrics = opts.Metrics
	}
	ec := echo.New()
	ec.HideBanner, ec.HidePort = true, true
	ec.HTTPErrorHandler = e.errorHandler
	ec.IPExtractor = e.clientIP
	ec.Pre(
		e.requestLog,
		middleware.RecoverWithConfig(middleware.RecoverConfig{DisableStackAll: true, LogErrorFunc: e.logPanic}),
		e.securityHeaders,
	)
	if len(opts.CORSOrigins) > 0 {
		ec.Pre(middleware.CORSWithConfig(middleware.CORSConfig{
			AllowOrigins:  opts.CORSOrigins,
			AllowHeaders:  []string{"Authorization", "Content-Type", "X-API-Key", "X-Request-ID"},
			ExposeHeaders: []string{"X-Request-ID", "Retry-After"},
			MaxAge:        600,
		}))
	}
	ec.Pre(e.bodyLimit, withClientIP, streamDeadline, contract.middleware(!opts.DisableValidation), e.markChanges)
	gen.RegisterHandlers(ec, gen.NewStrictHandler(h, nil))
	return ec, nil
}

// edge holds what the middleware needs.
type edge struct {
	opts    Options
	log     *slog.Logger
	auth    Authenticator
	metrics *Metrics
}

var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// requestLog gives every request an id (the caller's X-Request-ID when it is sane), logs one
// line per request with its status and duration, and counts it in the metrics.
func (e *edge) requestLog(next echo.HandlerFunc) echo.HandlerFunc {
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
		info := &requestInfo{id: id, op: -1}
		c.SetRequest(req.WithContext(context.WithValue(req.Context(), requestIDKey, info)))
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		status := c.Response().Status
		took := time.Since(start)
		if e.metrics != nil {
			op := info.op
			if op < 0 {
				op = e.metrics.operation(nil)
			}
			e.metrics.observe(op, status, took)
		}
		level := slog.LevelInfo
		if status >= 500 && status != http.StatusNotImplemented {
			level = slog.LevelError
		}
		e.log.LogAttrs(req.Context(), level, "request",
			slog.String("request_id", id),
			slog.String("method", req.Method),
			slog.String("path", req.URL.Path),
			slog.Int("status", status),
			slog.Int64("bytes", c.Response().Size),
			slog.Duration("duration", took),
			slog.String("client_ip", c.RealIP()),
		)
		return nil
	}
}

// changeMarkTimeout bounds the wait for Options.Changed, which holds the answer back.
const changeMarkTimeout = 5 * time.Second

// markChanges calls Options.Changed for a user's successful change just before its answer is
// written, when the change is committed and the caller not yet told.
func (e *edge) markChanges(next echo.HandlerFunc) echo.HandlerFunc {
	if e.opts.Changed == nil {
		return next
	}
	return func(c echo.Context) error {
		req := c.Request()
		switch req.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		h, _ := req.Context().Value(principalKey).(*principalHolder)
		if h == nil || h.p == nil || h.p.UserID == uuid.Nil {
			return next(c)
		}
		p, ctx := *h.p, req.Context()
		c.Response().Before(func() {
			if c.Response().Status >= 400 {
				return
			}
			markCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), changeMarkTimeout)
			defer cancel()
			if err := e.opts.Changed(markCtx, p); err != nil {
				e.log.WarnContext(ctx, "a change may not be visible at once to its author on the read replica", "request_id", RequestIDFrom(ctx), "error", err)
			}
		})
		return next(c)
	}
}

func (e *edge) logPanic(c echo.Context, err error, stack []byte) error {
	e.log.Error("panic", slog.String("request_id", RequestIDFrom(c.Request().Context())), slog.Any("error", err), slog.String("stack", string(stack)))
	return err
}

// securityHeaders are sent with every answer. Strict-Transport-Security is sent only over HTTPS:
// the connection is TLS, or a proxy we trust (TrustedProxyHops > 0) says with X-Forwarded-Proto
// that the client's was.
func (e *edge) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		req := c.Request()
		if req.TLS != nil || e.opts.TrustedProxyHops > 0 && strings.EqualFold(req.Header.Get("X-Forwarded-Proto"), "https") {
			h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		return next(c)
	}
}

// bodyLimit caps request bodies before anything reads them; agent reports may be larger.
func (e *edge) bodyLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		limit := e.opts.MaxBodyBytes
		if strings.HasPrefix(req.URL.Path, "/mcp/report") {
			limit = e.opts.ReportMaxBodyBytes
		}
		if req.ContentLength > limit {
			return &Problem{Status: http.StatusRequestEntityTooLarge, Detail: "The request body is larger than " + strconv.FormatInt(limit, 10) + " bytes."}
		}
		if req.Body != nil {
			req.Body = http.MaxBytesReader(c.Response(), req.Body, limit)
		}
		return next(c)
	}
}

// clientIP is the connection's address unless TrustedProxyHops says how many X-Forwarded-For
// entries, counted from the right, were added by proxies we run.
func (e *edge) clientIP(req *http.Request) string {
	remote := echo.ExtractIPDirect()(req)
	if e.opts.TrustedProxyHops <= 0 {
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
	idx := len(hops) - e.opts.TrustedProxyHops
	if idx < 0 || idx >= len(hops) {
		if len(hops) > 0 {
			return hops[0]
		}
		return remote
	}
	return hops[idx]
}

type clientIPKey struct{}

// withClientIP puts the client's address (echo's RealIP, which honours TrustedProxyHops) in the
// request context: the strict handlers see only the context, not echo's.
func withClientIP(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		c.SetRequest(req.WithContext(context.WithValue(req.Context(), clientIPKey{}, c.RealIP())))
		return next(c)
	}
}

// ClientIPFrom returns the client's address, as TrustedProxyHops decides it.
func ClientIPFrom(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPKey{}).(string)
	return ip
}

// ErrUnauthenticated is what an Authenticator returns for bad credentials; any other error
// from it (a database outage) is not the caller's fault and is not answered with 401.
var ErrUnauthenticated = errors.New("could not validate credentials")

// exportIdleTimeout is how long a streamed export may go without writing before the server gives
// up on the client.
const exportIdleTimeout = 60 * time.Second

// streamDeadline lets an export (a path ending in /export) outlive the server's WriteTimeout,
// which bounds a whole response: each write pushes the connection's write deadline on by
// exportIdleTimeout, so a 1,000,000-row export runs to its end while a client that stops
// reading is still dropped.
func streamDeadline(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().Method == http.MethodGet && strings.HasSuffix(c.Request().URL.Path, "/export") {
			res := c.Response()
			res.Writer = &deadlineWriter{ResponseWriter: res.Writer, rc: http.NewResponseController(res.Writer)}
		}
		return next(c)
	}
}

type deadlineWriter struct {
	http.ResponseWriter
	rc *http.ResponseController
}

func (w *deadlineWriter) Write(b []byte) (int, error) {
	// A writer without deadlines (httptest's recorder) has nothing to extend.
	_ = w.rc.SetWriteDeadline(time.Now().Add(exportIdleTimeout))
	return w.ResponseWriter.Write(b)
}

func (w *deadlineWriter) Flush() { _ = w.rc.Flush() }

func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
