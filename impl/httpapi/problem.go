package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/gen"
	"github.com/mcpwarden/mcpwarden/impl/security"
)

// NewProblem builds an RFC 9457 problem document for the request in ctx.
func NewProblem(ctx context.Context, status int, detail string) gen.Problem {
	p := gen.Problem{
		Type:   "about:blank",
		Title:  http.StatusText(status),
		Status: int32(status),
		Detail: detail,
	}
	if id := RequestIDFrom(ctx); id != "" {
		p.RequestId = &id
	}
	return p
}

// FieldsProblem is the 400 problem document listing errs, the first of them in its detail.
func FieldsProblem(ctx context.Context, errs []gen.FieldError) gen.Problem {
	p := NewProblem(ctx, http.StatusBadRequest, "Invalid "+errs[0].Field+": "+errs[0].Message)
	if len(errs) > 1 {
		p.Detail += fmt.Sprintf(" (and %d more problems, listed in errors)", len(errs)-1)
	}
	p.Errors = &errs
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

// FieldProblem is the 400 problem for one invalid field.
func FieldProblem(field, msg string) *Problem {
	return &Problem{Status: http.StatusBadRequest, Detail: "Invalid " + field + ": " + msg, Errors: []gen.FieldError{{Field: field, Message: msg}}}
}

// TooManyRequests is the 429 problem for a throttled caller.
func TooManyRequests(wait time.Duration) *Problem {
	return &Problem{
		Status:     http.StatusTooManyRequests,
		Detail:     "Too many attempts; retry after the number of seconds in Retry-After.",
		RetryAfter: int(math.Ceil(wait.Seconds())),
	}
}

// hashingBusy answers requests that found every password-hashing slot taken.
var hashingBusy = &Problem{
	Status:     http.StatusServiceUnavailable,
	Detail:     "The server is busy checking other passwords; retry in a moment.",
	RetryAfter: 1,
}

// databaseUnavailable answers requests that found PostgreSQL unreachable: an outage, not a
// failure of the request, so a client retries it.
var databaseUnavailable = &Problem{
	Status:     http.StatusServiceUnavailable,
	Detail:     "The database is unavailable; retry in a few seconds.",
	RetryAfter: 5,
}

// problemOf maps mcpwarden's domain errors to problems in one place.
func problemOf(err error) *Problem {
	var p *Problem
	switch {
	case errors.As(err, &p):
		return p
	case errors.Is(err, security.ErrHashingBusy):
		return hashingBusy
	case errors.Is(err, db.ErrNotFound):
		return &Problem{Status: http.StatusNotFound, Detail: "Not found."}
	case errors.Is(err, db.ErrConflict):
		return &Problem{Status: http.StatusConflict, Detail: "The request conflicts with existing data."}
	case db.Unavailable(err):
		return databaseUnavailable
	case errors.Is(err, context.DeadlineExceeded):
		return &Problem{Status: http.StatusServiceUnavailable, Detail: "The server took too long to answer; try again."}
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		detail := http.StatusText(he.Code)
		if msg, ok := he.Message.(string); ok && msg != "" {
			detail = msg
		}
		return &Problem{Status: he.Code, Detail: detail}
	}
	return &Problem{Status: http.StatusInternalServerError, Detail: "An unexpected error occurred; quote the request id when reporting it."}
}

// errorHandler writes every error that reaches echo as a problem response. Anything not mapped to
// a status is a 500 that carries the request id and nothing from the error itself.
func (e *edge) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	ctx := c.Request().Context()
	p := problemOf(err)
	switch {
	case p == databaseUnavailable:
		e.log.WarnContext(ctx, "database unavailable", slog.String("request_id", RequestIDFrom(ctx)), slog.Any("error", err))
	case p.Status >= 500 && p.Status != http.StatusNotImplemented && p.Status != http.StatusServiceUnavailable:
		e.log.ErrorContext(ctx, "request failed", slog.String("request_id", RequestIDFrom(ctx)), slog.Any("error", err))
	}
	body := NewProblem(ctx, p.Status, p.Detail)
	if len(p.Errors) > 0 {
		body.Errors = &p.Errors
	}
	if p.RetryAfter > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(p.RetryAfter))
	}
	instance := c.Request().URL.Path
	body.Instance = &instance
	writeProblem(c, p.Status, body)
}

func writeProblem(c echo.Context, status int, body gen.Problem) {
	if c.Request().Method == http.MethodHead {
		c.NoContent(status)
		return
	}
	c.Response().Header().Set(echo.HeaderContentType, "application/problem+json")
	c.Response().WriteHeader(status)
	json.NewEncoder(c.Response()).Encode(body)
}
