package impl

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/gen"
	"github.com/mcpwarden/mcpwarden/impl/httpapi"
	"github.com/mcpwarden/mcpwarden/impl/ingest"
)

// ReportServers ingests an agent's complete list of servers (see ingest.Ingester.Report).
func (s *Server) ReportServers(ctx context.Context, request gen.ReportServersRequestObject) (gen.ReportServersResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	if request.Body == nil {
		return gen.ReportServers400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: gen.BadRequestApplicationProblemPlusJSONResponse(httpapi.NewProblem(ctx, http.StatusBadRequest, "A JSON body with a servers array is required."))}, nil
	}
	// The validation middleware hashed the body as it read it; re-encoding the decoded body is
	// the fallback when validation is off.
	raw := httpapi.RawBodyHash(ctx)
	if raw == nil {
		b, err := json.Marshal(request.Body)
		if err != nil {
			return nil, err
		}
		raw = httpapi.RawBodyHashOf(b)
	}
	agent := ingest.Agent{OrgID: p.OrgID, AgentID: p.AgentID}
	if ok, wait := s.ingest.AllowReport(agent); !ok {
		return nil, httpapi.TooManyRequests(wait)
	}
	received := int64(len(request.Body.Servers))
	stored, err := s.ingest.Admit(ctx, agent, ingest.Identity{MachineID: request.Body.MachineId, Hostname: request.Body.Hostname})
	if err == nil && s.ingest.KnownUnchanged(agent, stored, raw, len(request.Body.Servers)) {
		return gen.ReportServers200JSONResponse{Status: "ok", ServersReceived: received, Unchanged: true}, nil
	}
	var res ingest.Result
	if err == nil {
		res, err = s.ingest.Report(ctx, agent, stored, raw, ReportedServers(request.Body.Servers))
	}
	var invalid *ingest.InvalidError
	switch {
	case errors.As(err, &invalid):
		return nil, invalidProblem(invalid)
	case errors.Is(err, ingest.ErrKeyShared):
		return gen.ReportServers409ApplicationProblemPlusJSONResponse{KeySharedByMachinesApplicationProblemPlusJSONResponse: keyShared(ctx)}, nil
	case errors.Is(err, db.ErrNotFound):
		// The agent was deleted after its key was cached.
		return gen.ReportServers401ApplicationProblemPlusJSONResponse{UnauthorizedApplicationProblemPlusJSONResponse: unauthorized(ctx, "Could not validate credentials.")}, nil
	case err != nil:
		return nil, err
	}
	return gen.ReportServers200JSONResponse{
		Status: "ok", ServersReceived: res.ServersReceived, Unchanged: res.Unchanged,
		ServersCreated: res.ServersCreated, ServersUpdated: res.ServersUpdated, ServersDormant: res.ServersDormant,
	}, nil
}

// invalidProblem is the 400 answer to input the hot path refuses.
func invalidProblem(e *ingest.InvalidError) *httpapi.Problem {
	if e.Field == "" {
		return &httpapi.Problem{Status: http.StatusBadRequest, Detail: e.Message}
	}
	return httpapi.FieldProblem(e.Field, e.Message)
}

// reportedServers hands the report's servers to the hot path, which knows nothing of HTTP.
// `mcpwarden risk explain` judges files through it too, so that it reads exactly what the server
// reads.
func ReportedServers(in []gen.ReportedServer) []ingest.ReportedServer {
	out := make([]ingest.ReportedServer, len(in))
	for i, r := range in {
		out[i] = ingest.ReportedServer{
			ServerName: r.ServerName, ServerType: r.ServerType, Command: r.Command, Scope: r.Scope,
			Client: r.Client, ConfigPath: r.ConfigPath, URL: r.Url, Args: r.Args, EnvVars: r.EnvVars, Enabled: r.Enabled,
		}
		if r.Transport != nil {
			t := string(*r.Transport)
			out[i].Transport = &t
		}
	}
	return out
}
