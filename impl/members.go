package impl

import (
	"context"

	"github.com/mcpwarden/mcpwarden/gen"
)

func (s *Server) AcceptInvitation(ctx context.Context, request gen.AcceptInvitationRequestObject) (gen.AcceptInvitationResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) ListMembers(ctx context.Context, request gen.ListMembersRequestObject) (gen.ListMembersResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) CreateMember(ctx context.Context, request gen.CreateMemberRequestObject) (gen.CreateMemberResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) UpdateMember(ctx context.Context, request gen.UpdateMemberRequestObject) (gen.UpdateMemberResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) DeleteMember(ctx context.Context, request gen.DeleteMemberRequestObject) (gen.DeleteMemberResponseObject, error) {
	return nil, errNotImplemented
}
