// Package apitest runs handler tests the way clients see the server: every request goes through
// the real router, middleware and request validation, and every response is checked against
// openapi.yaml (a status the spec does not declare for the operation fails the test). Tests talk
// to the server through the generated Go SDK, as integrators do.
package apitest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/prometheus/client_golang/prometheus"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/db/dbtest"
	"github.com/mcpwarden/mcpwarden/impl"
	"github.com/mcpwarden/mcpwarden/impl/config"
	"github.com/mcpwarden/mcpwarden/impl/httpapi"
	"github.com/mcpwarden/mcpwarden/impl/ingest"
	"github.com/mcpwarden/mcpwarden/impl/security"
)

// Env is one test's server, on its own fresh database.
type Env struct {
	t        testing.TB
	Server   *impl.Server
	Ingester *ingest.Ingester
	Store    *db.Storage
	Handler  http.Handler
	Config   config.Server
	// Metrics is the replica's Prometheus registry when Config.MetricsAddr is set.
	Metrics *prometheus.Registry
	router  routers.Router
}

// New starts a server on a fresh database, with the default configuration and a random JWT
// secret. Options adjust the configuration.
func New(t testing.TB, options ...func(*config.Server)) *Env {
	t.Helper()
	return NewOn(t, db.New(dbtest.New(t)), true, options...)
}

// NewOn starts a server on a storage the test set up itself (a private cluster, a read replica;
// see New). Without jobs, the replica runs its hot path's upkeep (the report queue, the last-seen
// buffer, the key cache's polls) but none of the background jobs, so that a test can read what
// its requests alone make the database do.
func NewOn(t testing.TB, store *db.Storage, jobs bool, options ...func(*config.Server)) *Env {
	t.Helper()
	secret := make([]byte, 32)
	rand.Read(secret)
	cfg := config.Defaults()
	cfg.JWTSecret = hex.EncodeToString(secret)
	for _, o := range options {
		o(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	spec, err := httpapi.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	router, err := gorillamux.NewRouter(spec)
	if err != nil {
		t.Fatal(err)
	}
	return start(t, cfg, store, router, jobs)
}

// start runs a replica of the server on store, with its background work (the jobs only when
// jobs is set), until the test ends.
func start(t testing.TB, cfg config.Server, store *db.Storage, router routers.Router, jobs bool) *Env {
	t.Helper()
	r := impl.NewReplica(cfg, "test", store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	handler, err := r.Server.Handler()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if jobs {
			r.Run(ctx, store)
		} else {
			r.Ingester.Run(ctx)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return &Env{t: t, Server: r.Server, Ingester: r.Ingester, Store: store, Handler: handler, Config: cfg, Metrics: r.Metrics, router: router}
}

// AccessToken signs an access token for u with the server's secret, as a login would.
func (e *Env) AccessToken(u db.UserAuth) (string, error) {
	return security.Signer{Secret: []byte(e.Config.JWTSecret)}.Issue(
		security.Access{UserID: u.ID, OrgID: u.OrganizationID, Role: u.Role, Version: u.TokenVersion}, time.Now())
}

// Do sends req through the server and checks the response against the spec.
func (e *Env) Do(req *http.Request) *http.Response {
	e.t.Helper()
	resp, err := e.roundTrip(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

func (e *Env) roundTrip(req *http.Request) (*http.Response, error) {
	// Keep what the route lookup needs before the server rewrites the path.
	lookup := req.Clone(context.Background())
	rec := httptest.NewRecorder()
	e.Handler.ServeHTTP(rec, req)
	resp := rec.Result()
	body, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(body))
	e.checkResponse(lookup, resp, body)
	return resp, nil
}

// checkResponse fails the test when the response does not match the operation's declared
// responses: status, content type and body schema.
func (e *Env) checkResponse(req *http.Request, resp *http.Response, body []byte) {
	e.t.Helper()
	route, params, err := e.router.FindRoute(req)
	if err != nil {
		alt := req.Clone(context.Background())
		if strings.HasSuffix(alt.URL.Path, "/") {
			alt.URL.Path = strings.TrimRight(alt.URL.Path, "/")
		} else {
			alt.URL.Path += "/"
		}
		route, params, err = e.router.FindRoute(alt)
	}
	if err != nil {
		// Unknown paths and methods are answered by the server itself; they must still be
		// problem documents.
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
			e.t.Errorf("%s %s: answered %d with Content-Type %q, want a problem document", req.Method, req.URL.Path, resp.StatusCode, ct)
		}
		return
	}
	if resp.Header.Get("X-Request-ID") == "" {
		e.t.Errorf("%s %s: response has no X-Request-ID", req.Method, req.URL.Path)
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	input.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		e.t.Errorf("%s %s: response %d breaks the contract: %v\nbody: %s", req.Method, req.URL.Path, resp.StatusCode, err, truncate(body))
	}
}

func truncate(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "..."
	}
	return string(b)
}

// doer runs SDK requests in-process and checks every response.
type doer struct {
	env     *Env
	headers map[string]string
}

func (d doer) Do(req *http.Request) (*http.Response, error) {
	for k, v := range d.headers {
		req.Header.Set(k, v)
	}
	return d.env.roundTrip(req)
}

func (e *Env) client(headers map[string]string) *mcpwarden.ClientWithResponses {
	c, err := mcpwarden.NewClientWithResponses("http://mcpwarden.test", mcpwarden.WithHTTPClient(doer{env: e, headers: headers}))
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// Anonymous returns an SDK client without credentials.
func (e *Env) Anonymous() *mcpwarden.ClientWithResponses { return e.client(nil) }

// User returns an SDK client that sends the access token.
func (e *Env) User(accessToken string) *mcpwarden.ClientWithResponses {
	return e.client(map[string]string{"Authorization": "Bearer " + accessToken})
}

// Agent returns an SDK client that sends the agent key.
func (e *Env) Agent(apiKey string) *mcpwarden.ClientWithResponses {
	return e.client(map[string]string{"X-API-Key": apiKey})
}

// Spec returns the spec the responses are checked against.
func Spec(t testing.TB) *openapi3.T {
	spec, err := httpapi.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// Replica starts another server on the same database and configuration, as a second replica
// behind a load balancer would be. Its responses are checked against the spec too.
func (e *Env) Replica(t testing.TB) *Env {
	t.Helper()
	return start(t, e.Config, e.Store, e.router, true)
}

// The response check decodes NDJSON as the spec declares it (a string), after checking that each
// line is one JSON value; kin-openapi knows text/csv but not NDJSON.
func init() {
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", func(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		b, err := io.ReadAll(body)
		if err != nil {
			return nil, err
		}
		for _, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
			if len(b) > 0 && !json.Valid(line) {
				return nil, fmt.Errorf("an NDJSON line is not one JSON value: %.200s", line)
			}
		}
		return string(b), nil
	})
}
