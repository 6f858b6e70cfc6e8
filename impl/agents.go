package impl

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/gen"
	"github.com/mcpwarden/mcpwarden/impl/apikey"
	"github.com/mcpwarden/mcpwarden/impl/httpapi"
	"github.com/mcpwarden/mcpwarden/impl/ingest"
)

// agentOnlineWindow is three heartbeat intervals: an agent seen within it is online.
const agentOnlineWindow = 3 * time.Minute

func (s *Server) ListAgents(ctx context.Context, request gen.ListAgentsRequestObject) (gen.ListAgentsResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	page, size := pageOf(request.Params.Page, request.Params.PageSize)
	agents, total, err := readTwo(ctx, s, func(st *db.Storage) ([]db.Agent, int64, error) {
		return st.ListAgents(ctx, p.OrgID, (*string)(request.Params.Status), int(size), int(page-1)*int(size))
	})
	if err != nil {
		return nil, err
	}
	items := make([]gen.Agent, len(agents))
	for i, a := range agents {
		items[i] = s.agentView(a)
	}
	return gen.ListAgents200JSONResponse{Items: items, Total: total, Page: page, PageSize: size}, nil
}

func (s *Server) CreateAgent(ctx context.Context, request gen.CreateAgentRequestObject) (gen.CreateAgentResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	if request.Body == nil {
		return gen.CreateAgent400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: gen.BadRequestApplicationProblemPlusJSONResponse(httpapi.NewProblem(ctx, http.StatusBadRequest, "A JSON body with the agent's name is required."))}, nil
	}
	key := apikey.New()
	a, err := s.store.CreateAgent(ctx, p.OrgID, request.Body.Name, apikey.Hash(key), apikey.DisplayPrefix(key), s.opts.MaxAgentsPerOrg)
	if errors.Is(err, db.ErrAgentLimit) {
		return gen.CreateAgent409ApplicationProblemPlusJSONResponse{ConflictApplicationProblemPlusJSONResponse: gen.ConflictApplicationProblemPlusJSONResponse(
			httpapi.NewProblem(ctx, http.StatusConflict, fmt.Sprintf("The organization has %d agents, as many as this server allows (MCPWARDEN_MAX_AGENTS_PER_ORG); delete one first.", s.opts.MaxAgentsPerOrg)))}, nil
	}
	if err != nil {
		return nil, err
	}
	return gen.CreateAgent201JSONResponse(agentWithKey(s.agentView(a), key)), nil
}

func (s *Server) DeleteAgent(ctx context.Context, request gen.DeleteAgentRequestObject) (gen.DeleteAgentResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	keyHash, err := s.store.DeleteAgent(ctx, p.OrgID, request.AgentId)
	if errors.Is(err, db.ErrNotFound) {
		return gen.DeleteAgent404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: notFound(ctx)}, nil
	}
	if err != nil {
		return nil, err
	}
	s.ingest.KeyReplaced(keyHash, request.AgentId)
	return gen.DeleteAgent204Response{}, nil
}

func (s *Server) RotateAgentKey(ctx context.Context, request gen.RotateAgentKeyRequestObject) (gen.RotateAgentKeyResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	key := apikey.New()
	old, err := s.store.RotateAgentKey(ctx, p.OrgID, request.AgentId, apikey.Hash(key), apikey.DisplayPrefix(key))
	if errors.Is(err, db.ErrNotFound) {
		return gen.RotateAgentKey404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: notFound(ctx)}, nil
	}
	if err != nil {
		return nil, err
	}
	s.ingest.KeyReplaced(old, request.AgentId)
	a, err := s.store.AgentByID(ctx, p.OrgID, request.AgentId)
	if err != nil {
		return nil, err // deleted meanwhile: the new key is useless anyway
	}
	return gen.RotateAgentKey200JSONResponse(agentWithKey(s.agentView(a), key)), nil
}

// AgentHeartbeat records that the calling agent is alive, with its machine's details.
func (s *Server) AgentHeartbeat(ctx context.Context, request gen.AgentHeartbeatRequestObject) (gen.AgentHeartbeatResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	if request.Body == nil {
		return gen.AgentHeartbeat400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: gen.BadRequestApplicationProblemPlusJSONResponse(httpapi.NewProblem(ctx, http.StatusBadRequest, "A JSON body is required."))}, nil
	}
	b := request.Body
	meta := db.AgentMeta{Hostname: &b.Hostname, Username: b.Username, AgentVersion: b.AgentVersion}
	if b.OsType != nil {
		os := string(*b.OsType)
		meta.OSType = &os
	}
	err := s.ingest.Heartbeat(ctx, ingest.Agent{OrgID: p.OrgID, AgentID: p.AgentID}, meta, b.MachineId)
	var invalid *ingest.InvalidError
	switch {
	case errors.As(err, &invalid):
		return nil, invalidProblem(invalid)
	case errors.Is(err, ingest.ErrKeyShared):
		return gen.AgentHeartbeat409ApplicationProblemPlusJSONResponse{KeySharedByMachinesApplicationProblemPlusJSONResponse: keyShared(ctx)}, nil
	case errors.Is(err, db.ErrNotFound):
		// The agent was deleted after its key was cached.
		return gen.AgentHeartbeat401ApplicationProblemPlusJSONResponse{UnauthorizedApplicationProblemPlusJSONResponse: unauthorized(ctx, "Could not validate credentials.")}, nil
	case err != nil:
		return nil, err
	}
	return gen.AgentHeartbeat200JSONResponse{Status: "ok", AgentId: p.AgentID}, nil
}

// agentView renders an agent, counting the last-seen time still in this replica's buffer.
func (s *Server) agentView(a db.Agent) gen.Agent {
	if t, ok := s.ingest.LastSeen(a.ID); ok && (a.LastSeenAt == nil || t.After(*a.LastSeenAt)) {
		a.LastSeenAt = &t
	}
	status := gen.AgentStatus("offline")
	if a.LastSeenAt != nil && s.now().Sub(*a.LastSeenAt) <= agentOnlineWindow {
		status = "online"
	}
	active := a.ActiveServerCount
	v := gen.Agent{
		Id: a.ID, Name: a.Name, Hostname: a.Hostname, Username: a.Username, AgentVersion: a.AgentVersion,
		KeyPrefix: a.KeyPrefix, Status: status, LastSeenAt: a.LastSeenAt, CreatedAt: a.CreatedAt,
		ServerCount: a.ServerCount, ActiveServerCount: &active,
	}
	if a.OSType != nil {
		os := gen.NullableOsType(*a.OSType)
		v.OsType = &os
	}
	return v
}

func agentWithKey(a gen.Agent, key string) gen.AgentWithKey {
	return gen.AgentWithKey{
		Id: a.Id, Name: a.Name, Hostname: a.Hostname, OsType: a.OsType, Username: a.Username, AgentVersion: a.AgentVersion,
		KeyPrefix: a.KeyPrefix, Status: a.Status, LastSeenAt: a.LastSeenAt, CreatedAt: a.CreatedAt,
		ServerCount: a.ServerCount, ActiveServerCount: a.ActiveServerCount, ApiKey: key,
	}
}

// keyShared is the answer to a second machine using an active agent's key.
func keyShared(ctx context.Context) gen.KeySharedByMachinesApplicationProblemPlusJSONResponse {
	return gen.KeySharedByMachinesApplicationProblemPlusJSONResponse(httpapi.NewProblem(ctx, http.StatusConflict,
		"This agent key is in use by another machine that is still active, so this machine's request was not applied. "+
			"Enrol this machine with its own key: mcpwarden-agent enroll --server URL --secret ENROLMENT_SECRET."))
}
