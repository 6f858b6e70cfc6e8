package impl

import (
	"context"
	"errors"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/gen"
	"github.com/mcpwarden/mcpwarden/impl/httpapi"
	"github.com/mcpwarden/mcpwarden/impl/ingest"
)

func (s *Server) ListServers(ctx context.Context, request gen.ListServersRequestObject) (gen.ListServersResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	prm := request.Params
	page, size := pageOf(prm.Page, prm.PageSize)
	f := db.ServerFilter{AgentID: prm.AgentId, Search: prm.Search, Limit: int(size), Offset: int(page-1) * int(size)}
	if prm.RiskLevel != nil {
		v := string(*prm.RiskLevel)
		f.RiskLevel = &v
	}
	if prm.Status != nil {
		v := string(*prm.Status)
		f.Status = &v
	}
	servers, total, err := s.store.ListServers(ctx, p.OrgID, f)
	if err != nil {
		return nil, err
	}
	items := make([]gen.McpServer, len(servers))
	for i, srv := range servers {
		if items[i], err = serverView(srv); err != nil {
			return nil, err
		}
	}
	return gen.ListServers200JSONResponse{Items: items, Total: total, Page: page, PageSize: size}, nil
}

func (s *Server) GetServer(ctx context.Context, request gen.GetServerRequestObject) (gen.GetServerResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	srv, err := s.store.ServerByID(ctx, p.OrgID, request.ServerId)
	if errors.Is(err, db.ErrNotFound) {
		return gen.GetServer404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: notFound(ctx)}, nil
	}
	if err != nil {
		return nil, err
	}
	v, err := serverView(srv)
	if err != nil {
		return nil, err
	}
	return gen.GetServer200JSONResponse(v), nil
}

// UpdateServer verifies (or un-verifies) a server. Verification is recorded against the server's
// current configuration hash, so a later configuration change clears it.
func (s *Server) UpdateServer(ctx context.Context, request gen.UpdateServerRequestObject) (gen.UpdateServerResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	if request.Body == nil {
		return gen.UpdateServer400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: gen.BadRequestApplicationProblemPlusJSONResponse(httpapi.NewProblem(ctx, 400, "A JSON body with is_verified is required."))}, nil
	}
	err := s.store.SetServerVerified(ctx, p.OrgID, request.ServerId, request.Body.IsVerified, p.UserID, request.Body.Reason)
	if errors.Is(err, db.ErrNotFound) {
		return gen.UpdateServer404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: notFound(ctx)}, nil
	}
	if err != nil {
		return nil, err
	}
	srv, err := s.store.ServerByID(ctx, p.OrgID, request.ServerId)
	if errors.Is(err, db.ErrNotFound) {
		return gen.UpdateServer404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: notFound(ctx)}, nil
	}
	if err != nil {
		return nil, err
	}
	v, err := serverView(srv)
	if err != nil {
		return nil, err
	}
	return gen.UpdateServer200JSONResponse(v), nil
}

func serverView(s db.Server) (gen.McpServer, error) {
	stored, err := ingest.ExpandFactors(s.RiskFactors)
	if err != nil {
		return gen.McpServer{}, err
	}
	factors := make([]gen.RiskFactor, len(stored))
	for i, f := range stored {
		factors[i] = gen.RiskFactor{Id: f.ID, Severity: gen.RiskLevel(f.Severity), Title: f.Title, Detail: f.Detail, Evidence: f.Evidence}
	}
	env := []string(s.EnvVars)
	if env == nil {
		env = []string{}
	}
	v := gen.McpServer{
		Id: s.ID, AgentId: s.AgentID, AgentHostname: s.AgentHostname,
		ServerName: s.ServerName, ServerType: s.ServerType, Command: s.Command, Scope: s.Scope, EnvVars: env,
		Client: s.Client, ConfigPath: s.ConfigPath, Url: s.URL, Enabled: s.Enabled,
		RiskLevel: gen.RiskLevel(s.RiskLevel), RiskScore: int32(s.RiskScore), RiskFactors: factors,
		Status: gen.ServerStatus(s.Status), IsVerified: s.IsVerified, VerifiedAt: s.VerifiedAt, VerifiedBy: s.VerifiedBy,
		FirstSeenAt: s.FirstSeenAt, LastSeenAt: s.LastSeenAt,
	}
	if s.Transport != nil {
		t := gen.NullableTransport(*s.Transport)
		v.Transport = &t
	}
	return v, nil
}
