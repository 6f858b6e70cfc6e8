package impl

import (
	"context"
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/mcpwarden/mcpwarden/db"
)

// Access tokens follow RFC 8725: HS256 only (the parser refuses every other alg, `none`
// included), with exp, iat, iss, aud and sub required, and an explicit token type so that no
// other kind of token is ever accepted as an access token.
const (
	tokenIssuer     = "mcpwarden"
	tokenAudience   = "mcpwarden-api"
	accessTokenType = "access"
	AccessTokenTTL  = 30 * time.Minute
)

type accessClaims struct {
	jwt.RegisteredClaims
	OrgID   string `json:"org"`
	Role    string `json:"role"`
	Type    string `json:"typ"`
	Version int    `json:"ver"` // the user's token_version when issued
}

// IssueAccessToken signs a 30-minute access token for the user.
func (s *Server) IssueAccessToken(u db.UserAuth) (string, error) {
	now := s.now()
	claims := accessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    tokenIssuer,
			Audience:  jwt.ClaimStrings{tokenAudience},
			Subject:   u.ID.String(),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(AccessTokenTTL)),
			ID:        uuid.NewString(),
		},
		OrgID:   u.OrganizationID.String(),
		Role:    u.Role,
		Type:    accessTokenType,
		Version: u.TokenVersion,
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.cfg.JWTSecret)
}

// authenticateUser verifies an access token and checks it against the user's current state, so
// that a deleted user, a changed role or a password change takes effect at once.
func (s *Server) authenticateUser(ctx context.Context, raw string) (Principal, error) {
	var claims accessClaims
	_, err := jwt.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return s.cfg.JWTSecret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(tokenIssuer),
		jwt.WithAudience(tokenAudience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(5*time.Second),
	)
	if err != nil || claims.Type != accessTokenType || claims.IssuedAt == nil {
		return Principal{}, errUnauthenticated
	}
	userID, err1 := uuid.Parse(claims.Subject)
	orgID, err2 := uuid.Parse(claims.OrgID)
	if err1 != nil || err2 != nil {
		return Principal{}, errUnauthenticated
	}
	u, err := s.store.UserAuthByID(ctx, orgID, userID)
	if errors.Is(err, db.ErrNotFound) {
		return Principal{}, errUnauthenticated
	}
	if err != nil {
		return Principal{}, err
	}
	if u.TokenVersion != claims.Version || !u.Active {
		return Principal{}, errUnauthenticated
	}
	return Principal{OrgID: orgID, UserID: userID, Role: u.Role}, nil
}
