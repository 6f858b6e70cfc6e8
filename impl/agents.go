package impl

import (
	"context"

	"github.com/mcpwarden/mcpwarden/gen"
)

func (s *Server) ListAgents(ctx context.Context, request gen.ListAgentsRequestObject) (gen.ListAgentsResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) CreateAgent(ctx context.Context, request gen.CreateAgentRequestObject) (gen.CreateAgentResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) AgentHeartbeat(ctx context.Context, request gen.AgentHeartbeatRequestObject) (gen.AgentHeartbeatResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) DeleteAgent(ctx context.Context, request gen.DeleteAgentRequestObject) (gen.DeleteAgentResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) RotateAgentKey(ctx context.Context, request gen.RotateAgentKeyRequestObject) (gen.RotateAgentKeyResponseObject, error) {
	return nil, errNotImplemented
}

// authenticateAgent checks an agent key and returns the agent it belongs to.
func (s *Server) authenticateAgent(ctx context.Context, key string) (Principal, error) {
	return Principal{}, errUnauthenticated
}
