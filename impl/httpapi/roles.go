package httpapi

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"
)

// rolesExtension is the operation-level extension of openapi.yaml that lists the user roles
// allowed to call an operation secured by bearerAuth, e.g. `x-roles: [admin]`; scopesExtension
// lists the API-token scopes that allow it, e.g. `x-scopes: [read]` (empty: people only).
const (
	rolesExtension  = "x-roles"
	scopesExtension = "x-scopes"
)

// roles are the user roles and API-token scopes each bearerAuth operation allows, read from the
// spec. They are enforced here, right after authentication and before the request is validated,
// so that no handler checks a role and a caller without the role learns nothing more about the
// operation.
type roles map[*openapi3.Operation]access

type access struct {
	roles, scopes []string
}

// enumOf returns the string values of a schema's enum.
func enumOf(spec *openapi3.T, schema string) []string {
	var out []string
	if s := spec.Components.Schemas[schema]; s != nil && s.Value != nil {
		for _, v := range s.Value.Enum {
			if r, ok := v.(string); ok {
				out = append(out, r)
			}
		}
	}
	return out
}

// listOf reads an extension's list of strings, each one of known.
func listOf(op *openapi3.Operation, ext, where string, known []string) ([]string, bool, error) {
	raw, declared := op.Extensions[ext]
	if !declared {
		return nil, false, nil
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, true, fmt.Errorf("openapi.yaml: %s: %s is not a list", where, ext)
	}
	out := []string{}
	for _, v := range list {
		r, ok := v.(string)
		if !ok || !slices.Contains(known, r) {
			return nil, true, fmt.Errorf("openapi.yaml: %s: %s lists %v, not one of %v", where, ext, v, known)
		}
		out = append(out, r)
	}
	return out, true, nil
}

// rolesOf reads every operation's x-roles and refuses a spec that leaves one open to doubt: an
// operation secured by bearerAuth must list its roles, each one a value of the Role schema; an
// operation that users cannot call must not list any; and an operation that refuses a role must
// declare its 403 answer.
func rolesOf(spec *openapi3.T) (roles, error) {
	known := enumOf(spec, "Role")
	if len(known) == 0 {
		return nil, fmt.Errorf("openapi.yaml: the Role schema lists no roles")
	}
	knownScopes := enumOf(spec, "ApiTokenScope")
	out := roles{}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			security := spec.Security
			if op.Security != nil {
				security = *op.Security
			}
			users := false
			for _, req := range security {
				if _, ok := req["bearerAuth"]; ok {
					users = true
				}
			}
			allowed, declared, err := listOf(op, rolesExtension, where, known)
			if err != nil {
				return nil, err
			}
			scopes, scoped, err := listOf(op, scopesExtension, where, knownScopes)
			if err != nil {
				return nil, err
			}
			if !users {
				if declared || scoped {
					return nil, fmt.Errorf("openapi.yaml: %s declares %s or %s but users cannot call it", where, rolesExtension, scopesExtension)
				}
				continue
			}
			if !declared || !scoped {
				return nil, fmt.Errorf("openapi.yaml: %s is secured by bearerAuth but does not declare both %s and %s", where, rolesExtension, scopesExtension)
			}
			if len(allowed) == 0 {
				return nil, fmt.Errorf("openapi.yaml: %s: %s is empty", where, rolesExtension)
			}
			// Some API token is always refused (no operation allows every scope alone).
			if op.Responses.Status(http.StatusForbidden) == nil {
				return nil, fmt.Errorf("openapi.yaml: %s refuses some roles or tokens but declares no 403 response", where)
			}
			out[op] = access{roles: allowed, scopes: scopes}
		}
	}
	return out, nil
}

// allow refuses a user whose role the operation does not list, and an API token without a
// scope it lists. Agents, and callers of operations without security, have no role to check.
func (r roles) allow(op *openapi3.Operation, p *Principal) error {
	a, ok := r[op]
	if !ok || p == nil || p.AgentID != uuid.Nil {
		return nil
	}
	if p.TokenID != uuid.Nil {
		if len(a.scopes) == 0 {
			return &Problem{Status: http.StatusForbidden, Detail: "API tokens cannot call this operation; sign in as a person."}
		}
		for _, s := range p.Scopes {
			if slices.Contains(a.scopes, s) {
				return nil
			}
		}
		return &Problem{Status: http.StatusForbidden, Detail: "This operation needs an API token with the " + strings.Join(a.scopes, " or ") + " scope."}
	}
	if slices.Contains(a.roles, p.Role) {
		return nil
	}
	detail := "This operation requires the " + a.roles[0] + " role."
	if len(a.roles) > 1 {
		detail = "This operation requires one of the roles " + strings.Join(a.roles, ", ") + "."
	}
	return &Problem{Status: http.StatusForbidden, Detail: detail}
}
