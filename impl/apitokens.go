package impl

import (
	"context"
	"errors"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/gen"
	"github.com/mcpwarden/mcpwarden/impl/httpapi"
	"github.com/mcpwarden/mcpwarden/impl/security"
)

func (s *Server) ListApiTokens(ctx context.Context, request gen.ListApiTokensRequestObject) (gen.ListApiTokensResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	page, size := pageOf(request.Params.Page, request.Params.PageSize)
	tokens, total, err := readTwo(ctx, s, func(st *db.Storage) ([]db.APIToken, int64, error) {
		return st.ListAPITokens(ctx, p.OrgID, int(size), int(page-1)*int(size))
	})
	if err != nil {
		return nil, err
	}
	items := make([]gen.ApiToken, len(tokens))
	for i, t := range tokens {
		items[i] = apiTokenView(t)
	}
	return gen.ListApiTokens200JSONResponse{Items: items, Total: total, Page: page, PageSize: size}, nil
}

func (s *Server) CreateApiToken(ctx context.Context, request gen.CreateApiTokenRequestObject) (gen.CreateApiTokenResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	in := request.Body
	if in.ExpiresAt != nil && !in.ExpiresAt.After(s.now()) {
		return gen.CreateApiToken400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: badRequest(ctx, []gen.FieldError{{Field: "expires_at", Message: "is not in the future"}})}, nil
	}
	scopes := make([]string, len(in.Scopes))
	for i, sc := range in.Scopes {
		scopes[i] = string(sc)
	}
	token, hash := security.NewAPIToken(p.OrgID)
	t, err := s.store.CreateAPIToken(ctx, p.OrgID, p.UserID, in.Name, hash, secretHint(security.APITokenPrefix, token), scopes, in.ExpiresAt)
	if err != nil {
		return nil, err
	}
	v := apiTokenView(t)
	return gen.CreateApiToken201JSONResponse{
		Id: v.Id, Name: v.Name, TokenPrefix: v.TokenPrefix, Scopes: v.Scopes, ExpiresAt: v.ExpiresAt, RevokedAt: v.RevokedAt,
		LastUsedAt: v.LastUsedAt, CreatedAt: v.CreatedAt, Token: token,
	}, nil
}

func (s *Server) RevokeApiToken(ctx context.Context, request gen.RevokeApiTokenRequestObject) (gen.RevokeApiTokenResponseObject, error) {
	err := s.store.RevokeAPIToken(ctx, httpapi.PrincipalFrom(ctx).OrgID, request.IntegrationId)
	if errors.Is(err, db.ErrNotFound) {
		return gen.RevokeApiToken404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: notFound(ctx)}, nil
	}
	if err != nil {
		return nil, err
	}
	return gen.RevokeApiToken204Response{}, nil
}

func apiTokenView(t db.APIToken) gen.ApiToken {
	scopes := make([]gen.ApiTokenScope, len(t.Scopes))
	for i, sc := range t.Scopes {
		scopes[i] = gen.ApiTokenScope(sc)
	}
	return gen.ApiToken{
		Id: t.ID, Name: t.Name, TokenPrefix: t.Prefix, Scopes: scopes, ExpiresAt: utc(t.ExpiresAt), RevokedAt: utc(t.RevokedAt),
		LastUsedAt: utc(t.LastUsedAt), CreatedAt: t.CreatedAt.UTC(),
	}
}
