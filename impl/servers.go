package impl

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/gen"
	"github.com/mcpwarden/mcpwarden/impl/httpapi"
	"github.com/mcpwarden/mcpwarden/impl/ingest"
)

func (s *Server) ListServers(ctx context.Context, request gen.ListServersRequestObject) (gen.ListServersResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	prm := request.Params
	page, size := pageOf(prm.Page, prm.PageSize)
	f := serverFilter(prm.RiskLevel, prm.Status, prm.AgentId, prm.Search, prm.Sort)
	f.Limit, f.Offset = int(size), int(page-1)*int(size)
	servers, total, err := readTwo(ctx, s, func(st *db.Storage) ([]db.Server, int64, error) { return st.ListServers(ctx, p.OrgID, f) })
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
	srv, err := readDetail(ctx, s, func(st *db.Storage) (db.Server, error) { return st.ServerByID(ctx, p.OrgID, request.ServerId) })
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

// serverCSVHeader is the CSV export's header, documented in openapi.yaml's exportServers.
var serverCSVHeader = []string{"id", "agent_id", "agent_hostname", "server_name", "server_type", "command", "scope",
	"transport", "url", "client", "config_path", "enabled", "env_vars", "risk_level", "risk_score", "status",
	"is_verified", "verified_at", "first_seen_at", "last_seen_at"}

// serverFilter is the database filter and order of the list's and the export's query parameters.
func serverFilter(level *gen.RiskLevel, status *gen.ServerStatus, agentID *uuid.UUID, search *string, sort *gen.ServerSort) db.ServerFilter {
	f := db.ServerFilter{AgentID: agentID, Search: search, ByName: sort != nil && *sort == gen.Name}
	if level != nil {
		f.RiskLevel = (*string)(level)
	}
	if status != nil {
		f.Status = (*string)(status)
	}
	return f
}

// ExportServers streams every server the list would show for the same filters.
func (s *Server) ExportServers(ctx context.Context, request gen.ExportServersRequestObject) (gen.ExportServersResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	prm := request.Params
	f := serverFilter(prm.RiskLevel, prm.Status, prm.AgentId, prm.Search, prm.Sort)
	if prm.Format == "ndjson" {
		return gen.ExportServers200ApplicationxNdjsonResponse{Body: s.readStream(ctx, func(st *db.Storage, w io.Writer) error {
			enc := json.NewEncoder(w)
			return st.EachServer(ctx, p.OrgID, f, func(srv db.Server) error {
				v, err := serverView(srv)
				if err != nil {
					return err
				}
				return enc.Encode(v)
			})
		})}, nil
	}
	return gen.ExportServers200TextcsvResponse{Body: s.readStream(ctx, func(st *db.Storage, w io.Writer) error {
		cw := csv.NewWriter(w)
		if err := cw.Write(serverCSVHeader); err != nil {
			return err
		}
		err := st.EachServer(ctx, p.OrgID, f, func(v db.Server) error {
			enabled := ""
			if v.Enabled != nil {
				enabled = strconv.FormatBool(*v.Enabled)
			}
			return csvRow(cw, v.ID.String(), v.AgentID.String(), csvString(v.AgentHostname), v.ServerName, v.ServerType,
				v.Command, v.Scope, csvString(v.Transport), csvString(v.URL), csvString(v.Client), csvString(v.ConfigPath),
				enabled, strings.Join(v.EnvVars, ";"), v.RiskLevel, strconv.Itoa(v.RiskScore), v.Status,
				strconv.FormatBool(v.IsVerified), csvTime(v.VerifiedAt), csvTime(&v.FirstSeenAt), csvTime(&v.LastSeenAt))
		})
		cw.Flush()
		if err == nil {
			err = cw.Error()
		}
		return err
	})}, nil
}
