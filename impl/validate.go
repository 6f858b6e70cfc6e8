package impl

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/labstack/echo/v4"

	"github.com/mcpwarden/mcpwarden/gen"
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
	spec, err := gen.GetSwagger()
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
// through the spec's security requirements and validates path, query, headers and body.
type contract struct {
	router  routers.Router
	options *openapi3filter.Options
}

func newContract(spec *openapi3.T, auth openapi3filter.AuthenticationFunc) (*contract, error) {
	router, err := gorillamux.NewRouter(spec)
	if err != nil {
		return nil, err
	}
	return &contract{
		router: router,
		options: &openapi3filter.Options{
			AuthenticationFunc: auth,
			MultiError:         true,
		},
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
			ctx, holder := withPrincipalHolder(req.Context())
			req = req.WithContext(ctx)
			c.SetRequest(req)
			if !enabled {
				// Benchmarks measure the validator's cost by turning it off; authentication
				// still runs, since handlers depend on it.
				err = openapi3filter.ValidateSecurityRequirements(ctx, &openapi3filter.RequestValidationInput{
					Request: req, PathParams: pathParams, Route: route, Options: v.options,
				}, securityOf(route))
			} else {
				err = openapi3filter.ValidateRequest(ctx, &openapi3filter.RequestValidationInput{
					Request: req, PathParams: pathParams, Route: route, Options: v.options,
				})
			}
			if err != nil {
				return requestProblem(err)
			}
			_ = holder
			return next(c)
		}
	}
}

func securityOf(route *routers.Route) openapi3.SecurityRequirements {
	if route.Operation.Security != nil {
		return *route.Operation.Security
	}
	return route.Spec.Security
}

// findRoute looks the request up in the spec, retrying with the trailing slash toggled; on a
// match through the other spelling it rewrites the request path so echo's router agrees.
func (v *contract) findRoute(req *http.Request) (*routers.Route, map[string]string, error) {
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

// errUnauthenticated is what the authentication callback returns for bad credentials; any other
// error from it (a database outage) is not the caller's fault and is not reported as 401.
var errUnauthenticated = errors.New("could not validate credentials")

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
				if !errors.Is(inner, errUnauthenticated) && !errors.Is(inner, openapi3filter.ErrAuthenticationServiceMissing) {
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
