package httpapi

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/labstack/echo/v4"
)

// kinOpenAPI is request validation as kin-openapi offers it, which contract stands in for:
// gorillamux finds the route, and openapi3filter.ValidateRequest checks the request with the
// default options. Authentication accepts anyone, as openContract's does.
func kinOpenAPI(t testing.TB) echo.MiddlewareFunc {
	t.Helper()
	spec, err := LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	router, err := gorillamux.NewRouter(spec)
	if err != nil {
		t.Fatal(err)
	}
	options := &openapi3filter.Options{
		AuthenticationFunc: func(context.Context, *openapi3filter.AuthenticationInput) error { return nil },
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			route, pathParams, err := router.FindRoute(req)
			if err != nil {
				return err
			}
			input := &openapi3filter.RequestValidationInput{Request: req, PathParams: pathParams, Route: route, Options: options}
			if err := openapi3filter.ValidateRequest(req.Context(), input); err != nil {
				return err
			}
			return next(c)
		}
	}
}

// BenchmarkValidateReport validates an agent's 10-server report with the validation middleware
// and with plain kin-openapi, side by side, in front of the same handler: a changed report (the
// middleware's body memo is emptied before every request) and an unchanged one (the same body
// again, as an agent resends it). kin-openapi remembers nothing, so it does the same work for
// both.
func BenchmarkValidateReport(b *testing.B) {
	var got []byte
	body := reportBody(1)
	serve := func(b *testing.B, e *echo.Echo, before func()) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			before()
			req := httptest.NewRequest(http.MethodPost, "/mcp/report", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-API-Key", "mcp_sk_0123456789abcdef0123456789abcdef")
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	}
	contractEcho, v := contractEcho(b, true, &got)
	kinEcho := reportEcho(kinOpenAPI(b), &got)
	forget := func() {
		v.bodies.mu.Lock()
		clear(v.bodies.seen)
		v.bodies.mu.Unlock()
	}
	b.Run("changed/contract", func(b *testing.B) { serve(b, contractEcho, forget) })
	b.Run("changed/kin-openapi", func(b *testing.B) { serve(b, kinEcho, func() {}) })
	b.Run("unchanged/contract", func(b *testing.B) { serve(b, contractEcho, func() {}) })
	b.Run("unchanged/kin-openapi", func(b *testing.B) { serve(b, kinEcho, func() {}) })
}
