package impl

import (
	"context"

	"github.com/mcpwarden/mcpwarden/gen"
)

func (s *Server) RegisterUser(ctx context.Context, request gen.RegisterUserRequestObject) (gen.RegisterUserResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) Login(ctx context.Context, request gen.LoginRequestObject) (gen.LoginResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) RefreshTokens(ctx context.Context, request gen.RefreshTokensRequestObject) (gen.RefreshTokensResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) Logout(ctx context.Context, request gen.LogoutRequestObject) (gen.LogoutResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) GetCurrentUser(ctx context.Context, request gen.GetCurrentUserRequestObject) (gen.GetCurrentUserResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) UpdateCurrentUser(ctx context.Context, request gen.UpdateCurrentUserRequestObject) (gen.UpdateCurrentUserResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) ChangePassword(ctx context.Context, request gen.ChangePasswordRequestObject) (gen.ChangePasswordResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) GetOrganization(ctx context.Context, request gen.GetOrganizationRequestObject) (gen.GetOrganizationResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) UpdateOrganization(ctx context.Context, request gen.UpdateOrganizationRequestObject) (gen.UpdateOrganizationResponseObject, error) {
	return nil, errNotImplemented
}
