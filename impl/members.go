package impl

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/gen"
	"github.com/mcpwarden/mcpwarden/impl/httpapi"
	"github.com/mcpwarden/mcpwarden/impl/security"
)

// Members join through a one-time setup token: an admin creates the user without a password
// and hands them the token (shown once, stored as a SHA-256 only, valid security.SetupTokenTTL),
// which they redeem at POST /auth/invitations/accept to choose a password. No email is sent, so
// the server needs no mail relay to onboard a team.

func lastAdminConflict(ctx context.Context) gen.ConflictApplicationProblemPlusJSONResponse {
	return gen.ConflictApplicationProblemPlusJSONResponse(httpapi.NewProblem(ctx, http.StatusConflict,
		"The organization must keep at least one admin; promote another member first."))
}

func memberNotFound(ctx context.Context) gen.NotFoundApplicationProblemPlusJSONResponse {
	return gen.NotFoundApplicationProblemPlusJSONResponse(httpapi.NewProblem(ctx, http.StatusNotFound, "No member with this id in your organization."))
}

func (s *Server) AcceptInvitation(ctx context.Context, request gen.AcceptInvitationRequestObject) (gen.AcceptInvitationResponseObject, error) {
	in := request.Body
	unauthorized := gen.AcceptInvitation401ApplicationProblemPlusJSONResponse{UnauthorizedApplicationProblemPlusJSONResponse: gen.UnauthorizedApplicationProblemPlusJSONResponse(
		httpapi.NewProblem(ctx, http.StatusUnauthorized, "The setup token is invalid, expired or already used; ask an admin for a new one."))}
	orgID, hash, ok := security.ParseOrgToken(security.SetupTokenPrefix, in.SetupToken)
	if !ok {
		return unauthorized, nil
	}
	u, err := s.store.InvitedUser(ctx, orgID, hash)
	if errors.Is(err, db.ErrNotFound) {
		return unauthorized, nil
	}
	if err != nil {
		return nil, err
	}
	org, err := s.store.OrganizationByID(ctx, orgID)
	if err != nil {
		return nil, err
	}
	if errs := passwordProblems("password", in.Password, u.Email, org.Name); len(errs) > 0 {
		return gen.AcceptInvitation400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: badRequest(ctx, errs)}, nil
	}
	pw, err := s.guard.Hasher.Hash(ctx, in.Password)
	if err != nil {
		return nil, err
	}
	// The update re-checks the token, so of two concurrent redemptions only one sets a password.
	u, err = s.store.AcceptInvitation(ctx, orgID, hash, pw)
	if errors.Is(err, db.ErrNotFound) {
		return unauthorized, nil
	}
	if err != nil {
		return nil, err
	}
	s.markChanged(ctx, orgID, u.ID)
	return gen.AcceptInvitation200JSONResponse(apiUser(u)), nil
}

func (s *Server) ListMembers(ctx context.Context, request gen.ListMembersRequestObject) (gen.ListMembersResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	page, size := pageOf(request.Params.Page, request.Params.PageSize)
	users, total, err := readTwo(ctx, s, func(st *db.Storage) ([]db.User, int64, error) {
		return st.ListMembers(ctx, p.OrgID, int(size), int(page-1)*int(size))
	})
	if err != nil {
		return nil, err
	}
	items := make([]gen.User, 0, len(users))
	for _, u := range users {
		items = append(items, apiUser(u))
	}
	return gen.ListMembers200JSONResponse{Items: items, Total: total, Page: page, PageSize: size}, nil
}

func (s *Server) CreateMember(ctx context.Context, request gen.CreateMemberRequestObject) (gen.CreateMemberResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	in := request.Body
	role := gen.Member
	if in.Role != nil {
		role = *in.Role
	}
	token, hash := security.NewOrgToken(security.SetupTokenPrefix, p.OrgID)
	expires := s.now().Add(security.SetupTokenTTL).UTC().Truncate(time.Second)
	u, err := s.store.CreateMember(ctx, p.OrgID, db.NewUser{
		ID: uuid.New(), Email: string(in.Email), FullName: in.FullName, Role: string(role),
		SetupTokenHash: hash, SetupTokenExpiresAt: expires,
	})
	if errors.Is(err, db.ErrEmailTaken) {
		return gen.CreateMember409ApplicationProblemPlusJSONResponse{ConflictApplicationProblemPlusJSONResponse: gen.ConflictApplicationProblemPlusJSONResponse(
			httpapi.NewProblem(ctx, http.StatusConflict, "An account with this email already exists."))}, nil
	}
	if err != nil {
		return nil, err
	}
	return gen.CreateMember201JSONResponse{User: apiUser(u), SetupToken: token, SetupTokenExpiresAt: expires}, nil
}

func (s *Server) UpdateMember(ctx context.Context, request gen.UpdateMemberRequestObject) (gen.UpdateMemberResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	u, err := s.store.UpdateMemberRole(ctx, p.OrgID, request.UserId, string(request.Body.Role))
	switch {
	case errors.Is(err, db.ErrLastAdmin):
		return gen.UpdateMember409ApplicationProblemPlusJSONResponse{ConflictApplicationProblemPlusJSONResponse: lastAdminConflict(ctx)}, nil
	case errors.Is(err, db.ErrNotFound):
		return gen.UpdateMember404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: memberNotFound(ctx)}, nil
	case err != nil:
		return nil, err
	}
	return gen.UpdateMember200JSONResponse(apiUser(u)), nil
}

func (s *Server) DeleteMember(ctx context.Context, request gen.DeleteMemberRequestObject) (gen.DeleteMemberResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	err := s.store.DeleteMember(ctx, p.OrgID, request.UserId)
	switch {
	case errors.Is(err, db.ErrLastAdmin):
		return gen.DeleteMember409ApplicationProblemPlusJSONResponse{ConflictApplicationProblemPlusJSONResponse: lastAdminConflict(ctx)}, nil
	case errors.Is(err, db.ErrNotFound):
		return gen.DeleteMember404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: memberNotFound(ctx)}, nil
	case err != nil:
		return nil, err
	}
	return gen.DeleteMember204Response{}, nil
}
