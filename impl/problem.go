package impl

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/gen"
)

// problem builds an RFC 9457 problem document for the request in ctx.
func problem(ctx context.Context, status int, detail string) gen.Problem {
	p := gen.Problem{
		Type:   "about:blank",
		Title:  http.StatusText(status),
		Status: int32(status),
		Detail: detail,
	}
	if id := requestIDFrom(ctx); id != "" {
		p.RequestId = &id
	}
	return p
}

// Problem is an error that carries its own HTTP status and detail. Handlers and middleware
// return it when the status is not one the typed responses can express; the error handler
// writes it as problem+json.
type Problem struct {
	Status     int
	Detail     string
	Errors     []gen.FieldError
	RetryAfter int // seconds; sets Retry-After when > 0
}

func (p *Problem) Error() string { return p.Detail }

// statusOf maps mcpwarden's domain errors to HTTP statuses in one place.
func statusOf(err error) (int, string) {
	var p *Problem
	switch {
	case errors.As(err, &p):
		return p.Status, p.Detail
	case errors.Is(err, db.ErrNotFound):
		return http.StatusNotFound, "Not found."
	case errors.Is(err, db.ErrConflict):
		return http.StatusConflict, "The request conflicts with existing data."
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "The server took too long to answer; try again."
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		detail := http.StatusText(he.Code)
		if msg, ok := he.Message.(string); ok && msg != "" {
			detail = msg
		}
		return he.Code, detail
	}
	return http.StatusInternalServerError, "An unexpected error occurred; quote the request id when reporting it."
}

// errorHandler writes every error that reaches echo as a problem response. Anything not mapped to
// a status is a 500 that carries the request id and nothing from the error itself.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	ctx := c.Request().Context()
	status, detail := statusOf(err)
	if status >= 500 && status != http.StatusNotImplemented && status != http.StatusServiceUnavailable {
		s.log.ErrorContext(ctx, "request failed", slog.String("request_id", requestIDFrom(ctx)), slog.Any("error", err))
	}
	body := problem(ctx, status, detail)
	var p *Problem
	if errors.As(err, &p) {
		if len(p.Errors) > 0 {
			body.Errors = &p.Errors
		}
		if p.RetryAfter > 0 {
			c.Response().Header().Set("Retry-After", itoa(p.RetryAfter))
		}
	}
	instance := c.Request().URL.Path
	body.Instance = &instance
	writeProblem(c, status, body)
}

func writeProblem(c echo.Context, status int, body gen.Problem) {
	if c.Request().Method == http.MethodHead {
		c.NoContent(status)
		return
	}
	c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
	c.Response().WriteHeader(status)
	enc := jsonEncoder(c.Response())
	enc.Encode(body)
}
