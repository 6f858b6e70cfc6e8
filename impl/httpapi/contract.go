package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/google/uuid"

	"github.com/mcpwarden/mcpwarden/db"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/labstack/echo/v4"

	"github.com/mcpwarden/mcpwarden/gen"
	"github.com/mcpwarden/mcpwarden/impl/httpapi/jsondec"
)

// The spec's string formats are checked, not just documented: a malformed id is refused by the
// validator like any other bad input, before it reaches a handler or the database.
var defineFormats = sync.OnceFunc(func() {
	openapi3.DefineStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562))
	openapi3.DefineStringFormatValidator("email", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForEmail))
})

// LoadSpec returns the embedded openapi.yaml, validated, with its servers removed so that routes
// match whatever host the server is reached on.
func LoadSpec() (*openapi3.T, error) {
	defineFormats()
	spec, err := gen.GetSpec()
	if err != nil {
		return nil, fmt.Errorf("load embedded spec: %w", err)
	}
	spec.Servers = nil
	if err := spec.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("embedded spec is invalid: %w", err)
	}
	return spec, nil
}

// contract enforces openapi.yaml on every request before any handler runs: it finds the
// operation (accepting the path with or without its trailing slash), authenticates the caller
// through the spec's security requirements, refuses a user whose role the operation's x-roles
// does not list (see roles), and validates path, query, headers and body.
//
// The hot paths (agent heartbeats and reports) pay for this on every request, so some things are
// kept cheap without changing what is checked: routes without path parameters are looked up
// once and remembered (gorillamux tries every route's pattern in turn), and a request is first
// validated stopping at its first error; only a request that fails is validated again collecting
// every error, so the problem document still lists them all. Large bodies that already passed
// validation on the same operation are remembered by hash (see bodyMemo), so an agent's
// unchanged report is not decoded and schema-checked again every time. The body is read and
// hashed once, and the hash is also left in the request context (rawBodyHash) for the handler.
// The caller is authenticated once, first, without kin-openapi's copy of the body
// (authenticate), and a JSON body is checked from the bytes already read (jsonBody), so that
// kin-openapi, which checks the rest, neither copies nor decodes it again.
//
// Against plain kin-openapi (gorillamux's FindRoute, then openapi3filter.ValidateRequest with
// the default options), both through echo to the same handler, on an agent's 10-server report:
// a changed report takes 89,626 ns, 34,041 B and 257 allocations here and 127,773 ns, 54,650 B
// and 398 allocations there, 1.4 times the time (1.4 to 2.2 times over five runs on a noisy
// 2-core machine); an unchanged one takes 32,759 ns, 22,155 B and 51 allocations here and
// 94,286 ns, 54,650 B and 398 allocations there, 2.9 times the time (2.9 to 5.0 times).
// Medians of 10, from
//
//	go test -run '^$' -bench BenchmarkValidateReport -benchmem -count 10 ./impl/httpapi
type contract struct {
	router routers.Router
	// first stops at the first error; all collects every error (for the problem document);
	// knownBody skips the body, for a body already checked: identical to one that passed, or
	// accepted by jsonBody.
	first, all, knownBody *openapi3filter.Options
	bodies                bodyMemo
	roles                 roles
	json                  *jsondec.Decoder
	// unsecured maps each operation to a copy without security requirements, for
	// ValidateRequest once the middleware has authenticated the request.
	unsecured map[*openapi3.Operation]*openapi3.Operation

	routesMu sync.RWMutex
	routes   map[routeKey]cachedRoute // only routes without path parameters

	metrics *Metrics // nil: none
}

type routeKey struct{ method, path string }

type cachedRoute struct {
	route *routers.Route
	path  string // the spelling the route matched (trailing slash toggled or not)
}

// maxCachedRoutes bounds the route cache; the spec has far fewer parameterless routes, but
// unknown methods or paths are never cached, so this is only a safety net.
const maxCachedRoutes = 512

func newContract(spec *openapi3.T, auth openapi3filter.AuthenticationFunc) (*contract, error) {
	router, err := gorillamux.NewRouter(spec)
	if err != nil {
		return nil, err
	}
	roles, err := rolesOf(spec)
	if err != nil {
		return nil, err
	}
	unsecured := map[*openapi3.Operation]*openapi3.Operation{}
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			bare := *op
			bare.Security = &openapi3.SecurityRequirements{}
			unsecured[op] = &bare
		}
	}
	return &contract{
		router:    router,
		roles:     roles,
		unsecured: unsecured,
		// KeepValidatedValue leaves the decoded body on the request, and the generated strict
		// handlers bind it instead of decoding the body a second time.
		first:     &openapi3filter.Options{AuthenticationFunc: auth, KeepValidatedValue: true},
		all:       &openapi3filter.Options{AuthenticationFunc: auth, MultiError: true},
		knownBody: &openapi3filter.Options{AuthenticationFunc: auth, ExcludeRequestBody: true},
		bodies:    bodyMemo{seen: map[[sha256.Size]byte]struct{}{}, max: 250_000},
		json:      jsondec.New(requestBodyStrings(spec)),
		routes:    map[routeKey]cachedRoute{},
	}, nil
}

func (v *contract) middleware(enabled bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			if req.Method == http.MethodOptions {
				return next(c) // CORS preflight, answered by the CORS middleware
			}
			route, pathParams, err := v.findRoute(req)
			if err != nil {
				return err
			}
			if v.metrics != nil {
				if info := requestInfoFrom(req.Context()); info != nil {
					info.op = v.metrics.operation(route.Operation)
				}
			}
			ctx, caller := withPrincipalHolder(req.Context())
			var (
				body     []byte
				memoKey  [sha256.Size]byte
				memoable bool
			)
			if enabled {
				var readErr error
				body, readErr = readBody(req, route)
				if readErr != nil {
					return requestProblem(readErr)
				}
				if body != nil {
					raw := sumRawBody(body)
					ctx = withRawBodyHash(ctx, raw)
					memoKey, memoable = v.bodies.key(req, route, raw), len(body) >= memoMinBody
				}
			}
			req = req.WithContext(ctx)
			c.SetRequest(req)
			input := &openapi3filter.RequestValidationInput{Request: req, PathParams: pathParams, Route: route, Options: v.first}
			// Benchmarks measure the validator's cost by turning it off; authentication
			// still runs, since handlers depend on it.
			if err := checkSecurity(ctx, input); err != nil {
				return requestProblem(err)
			}
			if err := v.roles.allow(route.Operation, caller.p); err != nil {
				return err
			}
			// The changes this request makes are recorded in the audit log as the caller's. The
			// passes below read the body through req, so it is the request the handler gets.
			req = req.WithContext(db.WithActor(req.Context(), actorOf(caller.p, ClientIPFrom(ctx))))
			input.Request = req
			c.SetRequest(req)
			if !enabled {
				return next(c)
			}
			// Authenticated: the passes below check the rest of the contract.
			if op, ok := v.unsecured[route.Operation]; ok {
				bare := *route
				bare.Operation = op
				input.Route = &bare
			}
			if err := checkQuery(req, route); err != nil {
				return err
			}
			if memoable && v.bodies.has(memoKey) {
				input.Options = v.knownBody // its text was checked when it first passed
			} else {
				if err := checkBodyText(req, body); err != nil {
					return err
				}
				if value, ok := v.jsonBody(req, route, body); ok {
					req.Body = validatedBody{ReadCloser: req.Body, value: value}
					input.Options = v.knownBody
				} else if err := oneJSONValue(req, body); err != nil {
					return err // jsondec accepts exactly one value; kin-openapi's decoder does not check
				}
			}
			err = openapi3filter.ValidateRequest(ctx, input)
			if err == nil && memoable {
				v.bodies.add(memoKey)
			}
			if err != nil {
				// Collect every problem, not just the first. The body is unread, or was put
				// back by the first pass (kin-openapi restores it): the second sees it too.
				input.Options = v.all
				err = openapi3filter.ValidateRequest(ctx, input)
			}
			if err != nil {
				return requestProblem(err)
			}
			return next(c)
		}
	}
}

// bodyMemo remembers, by SHA-256 of operation and bytes, request bodies that passed validation.
// Whether a body matches its schema depends on nothing else, so an identical body need not be
// decoded and checked again: agents resend the same heartbeat every minute and the same report
// every 15 minutes, and checking the body is most of what such a request costs (hashing a few
// hundred bytes is far cheaper than decoding them and walking the schema). Tiny bodies are not
// worth it. The map is bounded (a fleet's worth of bodies, about 80 bytes each) by clearing it
// when full.
type bodyMemo struct {
	mu   sync.Mutex
	seen map[[sha256.Size]byte]struct{}
	max  int
}

const memoMinBody = 64

// key identifies a body by operation, content type and raw body hash (see sumRawBody), so the
// body's bytes are hashed once for both.
func (m *bodyMemo) key(req *http.Request, route *routers.Route, raw [sha256.Size]byte) [sha256.Size]byte {
	h := sha256.New()
	io.WriteString(h, route.Operation.OperationID+"\x00"+req.Header.Get("Content-Type")+"\x00")
	h.Write(raw[:])
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// readBody reads the body of a request whose operation takes one and puts it back, for the
// validator and the handler to read again. It returns nil when there is no body to read.
func readBody(req *http.Request, route *routers.Route) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody || route.Operation.RequestBody == nil {
		return nil, nil
	}
	body, err := readAll(req.Body, req.ContentLength)
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return body, nil
}

// readAllTrust is the most readAll allocates on a request's declared length alone.
const readAllTrust = 64 << 10

// readAll is io.ReadAll starting from the declared length, so a body is read into one
// allocation instead of a doubling series. The declared length is the caller's word, read
// before authentication: up to readAllTrust bytes are allocated on it, and a body beyond that
// grows as its bytes actually arrive.
func readAll(r io.Reader, declared int64) ([]byte, error) {
	if declared <= 0 {
		declared = 512
	}
	declared = min(declared, readAllTrust)
	b := make([]byte, 0, declared+1) // +1: reaching EOF needs no further allocation
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

func (m *bodyMemo) has(k [sha256.Size]byte) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.seen[k]
	return ok
}

func (m *bodyMemo) add(k [sha256.Size]byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.seen) >= m.max {
		clear(m.seen)
	}
	m.seen[k] = struct{}{}
}

// checkSecurity checks the operation's security requirements, as ValidateRequest would first.
// The body is hidden from it: kin-openapi otherwise copies the body for the
// AuthenticationFunc, which reads headers only.
func checkSecurity(ctx context.Context, input *openapi3filter.RequestValidationInput) error {
	security := input.Route.Spec.Security
	if s := input.Route.Operation.Security; s != nil {
		security = *s
	}
	req := input.Request
	body := req.Body
	req.Body = http.NoBody
	defer func() { req.Body = body }()
	return openapi3filter.ValidateSecurityRequirements(ctx, input, security)
}

// findRoute looks the request up in the spec, retrying with the trailing slash toggled; on a
// match through the other spelling it rewrites the request path so echo's router agrees.
func (v *contract) findRoute(req *http.Request) (*routers.Route, map[string]string, error) {
	key := routeKey{req.Method, req.URL.Path}
	v.routesMu.RLock()
	cached, ok := v.routes[key]
	v.routesMu.RUnlock()
	if ok {
		if cached.path != req.URL.Path {
			req.URL.Path, req.URL.RawPath = cached.path, ""
		}
		return cached.route, nil, nil
	}
	route, params, err := v.lookupRoute(req)
	if err == nil && len(params) == 0 {
		v.routesMu.Lock()
		if len(v.routes) < maxCachedRoutes {
			v.routes[key] = cachedRoute{route: route, path: req.URL.Path}
		}
		v.routesMu.Unlock()
	}
	return route, params, err
}

func (v *contract) lookupRoute(req *http.Request) (*routers.Route, map[string]string, error) {
	route, params, err := v.router.FindRoute(req)
	if errors.Is(err, routers.ErrPathNotFound) {
		alt := toggleSlash(req.URL.Path)
		if alt != "" {
			orig := req.URL.Path
			req.URL.Path, req.URL.RawPath = alt, ""
			route, params, err = v.router.FindRoute(req)
			if err != nil {
				req.URL.Path = orig
			}
		}
	}
	switch {
	case err == nil:
		return route, params, nil
	case errors.Is(err, routers.ErrPathNotFound):
		return nil, nil, &Problem{Status: http.StatusNotFound, Detail: "No such endpoint: " + req.URL.Path}
	case errors.Is(err, routers.ErrMethodNotAllowed):
		return nil, nil, &Problem{Status: http.StatusMethodNotAllowed, Detail: "Method " + req.Method + " is not allowed on " + req.URL.Path}
	default:
		return nil, nil, &Problem{Status: http.StatusNotFound, Detail: "No such endpoint: " + req.URL.Path}
	}
}

func toggleSlash(path string) string {
	if path == "/" || path == "" {
		return ""
	}
	if strings.HasSuffix(path, "/") {
		return strings.TrimRight(path, "/")
	}
	return path + "/"
}

// requestProblem turns kin-openapi's validation errors into one problem response: 401 when
// authentication failed, otherwise 400 (or 413) listing every offending field.
func requestProblem(err error) error {
	errs := flatten(err)
	for _, e := range errs {
		var sec *openapi3filter.SecurityRequirementsError
		if errors.As(e, &sec) {
			for _, inner := range sec.Errors {
				var p *Problem
				if errors.As(inner, &p) {
					return p
				}
				if !errors.Is(inner, ErrUnauthenticated) && !errors.Is(inner, openapi3filter.ErrAuthenticationServiceMissing) {
					return inner // an outage: the error handler answers 500/503
				}
			}
			return &Problem{Status: http.StatusUnauthorized, Detail: "Could not validate credentials."}
		}
	}
	var fields []gen.FieldError
	for _, e := range errs {
		var tooLarge *http.MaxBytesError
		if errors.As(e, &tooLarge) {
			return &Problem{Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("The request body is larger than %d bytes.", tooLarge.Limit)}
		}
		fields = append(fields, fieldErrors(e)...)
	}
	if len(fields) == 0 {
		return &Problem{Status: http.StatusBadRequest, Detail: "The request does not match the API contract."}
	}
	sort.SliceStable(fields, func(i, j int) bool { return fields[i].Field < fields[j].Field })
	detail := "Invalid " + fields[0].Field + ": " + fields[0].Message
	if len(fields) > 1 {
		detail += fmt.Sprintf(" (and %d more problems, listed in errors)", len(fields)-1)
	}
	if len(fields) > 100 {
		fields = fields[:100]
	}
	return &Problem{Status: http.StatusBadRequest, Detail: detail, Errors: fields}
}

// flatten splits a MultiError (only at the top: a RequestError wrapping one stays whole, so the
// field it names is kept).
func flatten(err error) []error {
	if multi, ok := err.(openapi3.MultiError); ok {
		var out []error
		for _, e := range multi {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// fieldErrors names the parameter or body field an error is about.
func fieldErrors(err error) []gen.FieldError {
	var reqErr *openapi3filter.RequestError
	if !errors.As(err, &reqErr) {
		return []gen.FieldError{{Field: "request", Message: err.Error()}}
	}
	var field string
	switch {
	case reqErr.Parameter != nil:
		field = reqErr.Parameter.Name
	case reqErr.RequestBody != nil:
		field = "body"
	default:
		field = "request"
	}
	var schemaErrs []error
	if reqErr.Err != nil {
		schemaErrs = flatten(reqErr.Err)
	}
	var out []gen.FieldError
	for _, e := range schemaErrs {
		var se *openapi3.SchemaError
		if errors.As(e, &se) {
			name := field
			if ptr := se.JSONPointer(); len(ptr) > 0 && reqErr.Parameter == nil {
				name = strings.Join(ptr, ".")
			}
			out = append(out, gen.FieldError{Field: name, Message: se.Reason})
			continue
		}
		var tooLarge *http.MaxBytesError
		if errors.As(e, &tooLarge) {
			return []gen.FieldError{{Field: "body", Message: tooLarge.Error()}}
		}
		msg := e.Error()
		if reqErr.Reason != "" {
			msg = reqErr.Reason + ": " + msg
		}
		out = append(out, gen.FieldError{Field: field, Message: msg})
	}
	if len(out) == 0 {
		msg := reqErr.Reason
		if msg == "" {
			msg = reqErr.Error()
		}
		out = append(out, gen.FieldError{Field: field, Message: msg})
	}
	return out
}

// actorOf is who the audit log records for a request: the authenticated caller, or (for the
// operations that establish who the caller is, such as signing in) no one yet, from its address.
func actorOf(p *Principal, ip string) db.Actor {
	switch {
	case p == nil:
		return db.Actor{Type: "system", IP: ip}
	case p.AgentID != uuid.Nil:
		return db.Actor{Type: "agent", ID: p.AgentID, IP: ip}
	case p.TokenID != uuid.Nil:
		return db.Actor{Type: "token", ID: p.TokenID, UserID: p.UserID, IP: ip}
	}
	return db.Actor{Type: "user", ID: p.UserID, UserID: p.UserID, IP: ip}
}
