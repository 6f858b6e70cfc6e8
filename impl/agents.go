package impl

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/gen"
	"github.com/mcpwarden/mcpwarden/impl/apikey"
)

// agentOnlineWindow is three heartbeat intervals: an agent seen within it is online.
const agentOnlineWindow = 3 * time.Minute

func (s *Server) ListAgents(ctx context.Context, request gen.ListAgentsRequestObject) (gen.ListAgentsResponseObject, error) {
	p := principalFrom(ctx)
	page, size := pageOf(request.Params.Page, request.Params.PageSize)
	agents, total, err := s.store.ListAgents(ctx, p.OrgID, int(size), int(page-1)*int(size))
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
	p := principalFrom(ctx)
	if request.Body == nil {
		return gen.CreateAgent400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: gen.BadRequestApplicationProblemPlusJSONResponse(problem(ctx, http.StatusBadRequest, "A JSON body with the agent's name is required."))}, nil
	}
	if err := rejectNUL("name", request.Body.Name); err != nil {
		return nil, err
	}
	key := apikey.New()
	a, err := s.store.CreateAgent(ctx, p.OrgID, request.Body.Name, apikey.Hash(key), apikey.DisplayPrefix(key))
	if err != nil {
		return nil, err
	}
	return gen.CreateAgent201JSONResponse(agentWithKey(s.agentView(a), key)), nil
}

func (s *Server) DeleteAgent(ctx context.Context, request gen.DeleteAgentRequestObject) (gen.DeleteAgentResponseObject, error) {
	p := principalFrom(ctx)
	keyHash, err := s.store.DeleteAgent(ctx, p.OrgID, request.AgentId)
	if errors.Is(err, db.ErrNotFound) {
		return gen.DeleteAgent404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: inventoryNotFound(ctx)}, nil
	}
	if err != nil {
		return nil, err
	}
	s.keys.evict(keyHash, request.AgentId)
	return gen.DeleteAgent204Response{}, nil
}

func (s *Server) RotateAgentKey(ctx context.Context, request gen.RotateAgentKeyRequestObject) (gen.RotateAgentKeyResponseObject, error) {
	p := principalFrom(ctx)
	key := apikey.New()
	old, err := s.store.RotateAgentKey(ctx, p.OrgID, request.AgentId, apikey.Hash(key), apikey.DisplayPrefix(key))
	if errors.Is(err, db.ErrNotFound) {
		return gen.RotateAgentKey404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: inventoryNotFound(ctx)}, nil
	}
	if err != nil {
		return nil, err
	}
	s.keys.evict(old, request.AgentId)
	a, err := s.store.AgentByID(ctx, p.OrgID, request.AgentId)
	if err != nil {
		return nil, err // deleted meanwhile: the new key is useless anyway
	}
	return gen.RotateAgentKey200JSONResponse(agentWithKey(s.agentView(a), key)), nil
}

// AgentHeartbeat writes nothing in the steady state: the last-seen time goes to the buffer, and
// the machine's details are written only when they differ from what is stored.
func (s *Server) AgentHeartbeat(ctx context.Context, request gen.AgentHeartbeatRequestObject) (gen.AgentHeartbeatResponseObject, error) {
	p := principalFrom(ctx)
	if request.Body == nil {
		return gen.AgentHeartbeat400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: gen.BadRequestApplicationProblemPlusJSONResponse(problem(ctx, http.StatusBadRequest, "A JSON body is required."))}, nil
	}
	b := request.Body
	meta := db.AgentMeta{Hostname: &b.Hostname, Username: b.Username, AgentVersion: b.AgentVersion}
	if b.OsType != nil {
		os := string(*b.OsType)
		meta.OSType = &os
	}
	for field, v := range map[string]*string{"hostname": meta.Hostname, "username": meta.Username, "agent_version": meta.AgentVersion} {
		if v != nil {
			if err := rejectNUL(field, *v); err != nil {
				return nil, err
			}
		}
	}
	now := s.now()
	st := s.keys.agent(p.AgentID)
	if st == nil || !st.sameMeta(meta) {
		inv, err := s.store.UpdateAgentMeta(ctx, p.OrgID, p.AgentID, meta, now)
		if err != nil {
			return nil, err
		}
		if st != nil {
			st.setMeta(meta)
			s.keys.wrote(inv) // other replicas reload; this one holds the new details already
		}
	} else {
		s.seen.touch(p.OrgID, p.AgentID, now)
	}
	return gen.AgentHeartbeat200JSONResponse{Status: "ok", AgentId: p.AgentID}, nil
}

// authenticateAgent checks an agent key and returns the agent it belongs to.
func (s *Server) authenticateAgent(ctx context.Context, key string) (Principal, error) {
	st, err := s.keys.lookup(ctx, key)
	if err != nil {
		return Principal{}, err
	}
	return st.principal, nil
}

func (st *agentState) sameMeta(m db.AgentMeta) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	return sameString(st.meta.Hostname, m.Hostname) && sameString(st.meta.OSType, m.OSType) &&
		sameString(st.meta.Username, m.Username) && sameString(st.meta.AgentVersion, m.AgentVersion)
}

func (st *agentState) setMeta(m db.AgentMeta) {
	st.mu.Lock()
	st.meta = m
	st.mu.Unlock()
}

func sameString(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// agentView renders an agent, counting the last-seen time still in this replica's buffer.
func (s *Server) agentView(a db.Agent) gen.Agent {
	if t, ok := s.seen.seen(a.ID); ok && (a.LastSeenAt == nil || t.After(*a.LastSeenAt)) {
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

func inventoryNotFound(ctx context.Context) gen.NotFoundApplicationProblemPlusJSONResponse {
	return gen.NotFoundApplicationProblemPlusJSONResponse(problem(ctx, http.StatusNotFound, "Not found."))
}

// pageOf applies the spec's paging defaults to every list: page 1, 25 per page, at most 100.
func pageOf(page, size *int32) (int32, int32) {
	p, n := int32(1), int32(25)
	if page != nil && *page >= 1 {
		p = *page
	}
	if size != nil && *size >= 1 {
		n = min(*size, 100)
	}
	return p, n
}
