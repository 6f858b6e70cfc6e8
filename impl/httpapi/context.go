package httpapi

import (
	"context"

	"github.com/google/uuid"
)

type ctxKey int

const (
	requestIDKey ctxKey = iota
	principalKey
)

// Principal is who a request acts for: a user (through a JWT) or an agent (through its key).
// Tenant queries take OrgID from here, never from the request.
type Principal struct {
	OrgID   uuid.UUID
	UserID  uuid.UUID // zero for agents; for an API token, the admin who created it
	Role    string    // "admin", "member" or "viewer"; empty for agents and API tokens
	AgentID uuid.UUID // zero for users
	// TokenID is the API token the caller authenticated with (zero otherwise); Scopes are its
	// scopes, which the operation's x-scopes are checked against instead of x-roles.
	TokenID uuid.UUID
	Scopes  []string
}

// principalHolder is put in the request context before validation so that the authentication
// callback, which cannot return a context, can hand the principal to the roles check and the
// handler.
type principalHolder struct{ p *Principal }

func withPrincipalHolder(ctx context.Context) (context.Context, *principalHolder) {
	h := &principalHolder{}
	return context.WithValue(ctx, principalKey, h), h
}

// PrincipalFrom returns the authenticated principal. Operations that declare security only run
// after authentication succeeded, so a missing principal is a programming error.
func PrincipalFrom(ctx context.Context) Principal {
	if h, ok := ctx.Value(principalKey).(*principalHolder); ok && h.p != nil {
		return *h.p
	}
	panic("httpapi: no authenticated principal in context")
}

// RequestIDFrom returns the request's id (its X-Request-ID).
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}
