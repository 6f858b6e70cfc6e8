package httpapi

import (
	"context"
	"strings"

	"github.com/getkin/kin-openapi/openapi3filter"
)

// authenticate is the spec's AuthenticationFunc: it checks the credential each security scheme
// names and records the principal for the roles check and the handler.
func (e *edge) authenticate(ctx context.Context, in *openapi3filter.AuthenticationInput) error {
	req := in.RequestValidationInput.Request
	h, _ := req.Context().Value(principalKey).(*principalHolder)
	if h == nil {
		return ErrUnauthenticated
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
			return ErrUnauthenticated
		}
		p, err = e.auth.User(ctx, strings.TrimSpace(token))
	case "agentKey":
		key := req.Header.Get("X-API-Key")
		if key == "" {
			return ErrUnauthenticated
		}
		p, err = e.auth.Agent(ctx, key)
	default:
		return ErrUnauthenticated
	}
	if err != nil {
		return err
	}
	h.p = &p
	return nil
}
