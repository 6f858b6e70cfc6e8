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
// allowed to call an operation secured by bearerAuth, e.g. `x-roles: [admin]`.
const rolesExtension = "x-roles"

// roles are the user roles each bearerAuth operation allows, read from the spec. They are
// enforced here, right after authentication and before the request is validated, so that no
// handler checks a role and a caller without the role learns nothing more about the operation.
type roles map[*openapi3.Operation][]string

// rolesOf reads every operation's x-roles and refuses a spec that leaves one open to doubt: an
// operation secured by bearerAuth must list its roles, each one a value of the Role schema; an
// operation that users cannot call must not list any; and an operation that refuses a role must
// declare its 403 answer.
func rolesOf(spec *openapi3.T) (roles, error) {
	var known []string
	if s := spec.Components.Schemas["Role"]; s != nil && s.Value != nil {
		for _, v := range s.Value.Enum {
			if r, ok := v.(string); ok {
				known = append(known, r)
			}
		}
	}
	if len(known) == 0 {
		return nil, fmt.Errorf("openapi.yaml: the Role schema lists no roles")
	}
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
			raw, declared := op.Extensions[rolesExtension]
			if !declared {
				if users {
					return nil, fmt.Errorf("openapi.yaml: %s is secured by bearerAuth but declares no %s", where, rolesExtension)
				}
				continue
			}
			if !users {
				return nil, fmt.Errorf("openapi.yaml: %s declares %s but users cannot call it", where, rolesExtension)
			}
			list, _ := raw.([]any)
			var allowed []string
			for _, v := range list {
				r, ok := v.(string)
				if !ok || !slices.Contains(known, r) {
					return nil, fmt.Errorf("openapi.yaml: %s: %s lists %v, not one of %v", where, rolesExtension, v, known)
				}
				allowed = append(allowed, r)
			}
			if len(allowed) == 0 {
				return nil, fmt.Errorf("openapi.yaml: %s: %s is empty", where, rolesExtension)
			}
			if len(allowed) < len(known) && op.Responses.Status(http.StatusForbidden) == nil {
				return nil, fmt.Errorf("openapi.yaml: %s refuses some roles but declares no 403 response", where)
			}
			out[op] = allowed
		}
	}
	return out, nil
}

// allow refuses a user whose role the operation does not list. Agents, and callers of
// operations without security, have no role to check.
func (r roles) allow(op *openapi3.Operation, p *Principal) error {
	allowed, ok := r[op]
	if !ok || p == nil || p.AgentID != uuid.Nil || slices.Contains(allowed, p.Role) {
		return nil
	}
	detail := "This operation requires the " + allowed[0] + " role."
	if len(allowed) > 1 {
		detail = "This operation requires one of the roles " + strings.Join(allowed, ", ") + "."
	}
	return &Problem{Status: http.StatusForbidden, Detail: detail}
}
