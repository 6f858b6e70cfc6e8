package httpapi

import (
	"context"

	"github.com/google/uuid"

	"github.com/mcpwarden/mcpwarden/db"
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
	// ChangedLSN is where the primary's WAL was after the user's last change: a read for them
	// may go to a read replica only once it has replayed this far (db.Storage.Read).
	ChangedLSN db.LSN
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

// requestInfo is what the request log learns of a request on its way in: its id, and the
// operation the contract matched (for the metrics; -1 until then).
type requestInfo struct {
	id string
	op int
}

// RequestIDFrom returns the request's id (its X-Request-ID).
func RequestIDFrom(ctx context.Context) string {
	if info, ok := ctx.Value(requestIDKey).(*requestInfo); ok {
		return info.id
	}
	return ""
}

func requestInfoFrom(ctx context.Context) *requestInfo {
	info, _ := ctx.Value(requestIDKey).(*requestInfo)
	return info
}
