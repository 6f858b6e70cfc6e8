package security

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
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

// Opaque tokens carry their organization so that every lookup filters on it (the schema is
// distributed by organization_id); the prefixes let secret scanners recognise leaked ones.
const (
	RefreshTokenPrefix = "mcp_rt_"
	SetupTokenPrefix   = "mcp_st_"
	// EnrollmentSecretPrefix starts organization enrolment secrets (POST /agents/enroll).
	EnrollmentSecretPrefix = "mcp_es_"
	// APITokenPrefix starts API tokens for integrations.
	APITokenPrefix  = "mcp_at_"
	RefreshTokenTTL = 7 * 24 * time.Hour
	SetupTokenTTL   = 72 * time.Hour
)

// ErrBadToken is any access token that is not one this server signed and that is still valid.
var ErrBadToken = errors.New("invalid access token")

// Access is what an access token says about its user.
type Access struct {
	UserID, OrgID uuid.UUID
	Role          string
	// Version is the user's token_version when the token was issued: a password change or a
	// removal bumps it, which ends every token issued before.
	Version int
	// SessionID is the login the token belongs to (its refresh-token family): logging out or a
	// detected refresh-token replay ends the login, and with it its access tokens. Zero in
	// tokens issued without a login (none are, but a token from before sessions had none).
	SessionID uuid.UUID
}

type accessClaims struct {
	jwt.RegisteredClaims
	OrgID   string `json:"org"`
	Role    string `json:"role"`
	Type    string `json:"typ"`
	Version int    `json:"ver"`
	Session string `json:"sid,omitempty"`
}

// Signer issues and verifies access tokens with one HMAC key.
type Signer struct {
	Secret []byte
}

// Issue signs an access token valid for AccessTokenTTL from now.
func (s Signer) Issue(a Access, now time.Time) (string, error) {
	claims := accessClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    tokenIssuer,
			Audience:  jwt.ClaimStrings{tokenAudience},
			Subject:   a.UserID.String(),
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(AccessTokenTTL)),
			ID:        uuid.NewString(),
		},
		OrgID:   a.OrgID.String(),
		Role:    a.Role,
		Type:    accessTokenType,
		Version: a.Version,
	}
	if a.SessionID != uuid.Nil {
		claims.Session = a.SessionID.String()
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(s.Secret)
}

// Verify checks an access token's signature, claims and expiry, and returns what it says. The
// caller still checks it against the user's current state (Version, removal).
func (s Signer) Verify(raw string) (Access, error) {
	var claims accessClaims
	_, err := jwt.ParseWithClaims(raw, &claims, func(*jwt.Token) (any, error) { return s.Secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(tokenIssuer),
		jwt.WithAudience(tokenAudience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(5*time.Second),
	)
	if err != nil || claims.Type != accessTokenType || claims.IssuedAt == nil || !numericDates(raw) {
		return Access{}, ErrBadToken
	}
	userID, err1 := uuid.Parse(claims.Subject)
	orgID, err2 := uuid.Parse(claims.OrgID)
	if err1 != nil || err2 != nil {
		return Access{}, ErrBadToken
	}
	a := Access{UserID: userID, OrgID: orgID, Role: claims.Role, Version: claims.Version}
	if claims.Session != "" {
		if a.SessionID, err = uuid.Parse(claims.Session); err != nil || a.SessionID == uuid.Nil {
			return Access{}, ErrBadToken
		}
	}
	return a, nil
}

// NewOrgToken returns prefix + base64url(org id || 32 random bytes) and its SHA-256, the only
// form stored.
func NewOrgToken(prefix string, orgID uuid.UUID) (string, []byte) {
	raw := make([]byte, 16+32)
	copy(raw, orgID[:])
	rand.Read(raw[16:])
	token := prefix + base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(token))
	return token, sum[:]
}

// ParseOrgToken returns the organization and hash of a token made by NewOrgToken; ok is false
// for anything else (a JWT, a token of the other kind, garbage).
func ParseOrgToken(prefix, token string) (orgID uuid.UUID, hash []byte, ok bool) {
	body, found := strings.CutPrefix(token, prefix)
	if !found {
		return uuid.Nil, nil, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || len(raw) != 16+32 {
		return uuid.Nil, nil, false
	}
	copy(orgID[:], raw[:16])
	sum := sha256.Sum256([]byte(token))
	return orgID, sum[:], true
}

// NewAPIToken returns an API token and its SHA-256, the only form stored: an organization token
// (NewOrgToken) followed by "_" and eight hex digits of CRC-32 over everything before them, so
// that a mistyped token is refused without a query and secret scanners recognise a leaked one.
func NewAPIToken(orgID uuid.UUID) (string, []byte) {
	body, _ := NewOrgToken(APITokenPrefix, orgID)
	token := body + "_" + fmt.Sprintf("%08x", crc32.ChecksumIEEE([]byte(body)))
	sum := sha256.Sum256([]byte(token))
	return token, sum[:]
}

// ParseAPIToken returns the organization and hash of a token made by NewAPIToken; ok is false
// for anything else, a token with a wrong checksum included.
func ParseAPIToken(token string) (orgID uuid.UUID, hash []byte, ok bool) {
	if len(token) < len(APITokenPrefix)+9 || token[len(token)-9] != '_' {
		return uuid.Nil, nil, false
	}
	body := token[:len(token)-9]
	if fmt.Sprintf("%08x", crc32.ChecksumIEEE([]byte(body))) != token[len(token)-8:] {
		return uuid.Nil, nil, false
	}
	if orgID, _, ok = ParseOrgToken(APITokenPrefix, body); !ok {
		return uuid.Nil, nil, false
	}
	sum := sha256.Sum256([]byte(token))
	return orgID, sum[:], true
}

// numericDates reports whether the token's exp, iat and nbf, where present, are JSON numbers, as
// RFC 7519 requires: the JWT library also reads a string holding a number.
func numericDates(token string) bool {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return false
	}
	var claims map[string]json.RawMessage
	if json.Unmarshal(payload, &claims) != nil {
		return false
	}
	for _, name := range [...]string{"exp", "iat", "nbf"} {
		if v, ok := claims[name]; ok && (len(v) == 0 || v[0] != '-' && (v[0] < '0' || v[0] > '9')) {
			return false
		}
	}
	return true
}
