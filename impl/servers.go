package impl

import (
	"context"

	"github.com/mcpwarden/mcpwarden/gen"
)

func (s *Server) ReportServers(ctx context.Context, request gen.ReportServersRequestObject) (gen.ReportServersResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) ListServers(ctx context.Context, request gen.ListServersRequestObject) (gen.ListServersResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) GetServer(ctx context.Context, request gen.GetServerRequestObject) (gen.GetServerResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) UpdateServer(ctx context.Context, request gen.UpdateServerRequestObject) (gen.UpdateServerResponseObject, error) {
	return nil, errNotImplemented
}
