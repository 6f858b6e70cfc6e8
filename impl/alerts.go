package impl

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"strconv"

	"github.com/google/uuid"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/gen"
	"github.com/mcpwarden/mcpwarden/impl/httpapi"
)

func (s *Server) ListAlerts(ctx context.Context, request gen.ListAlertsRequestObject) (gen.ListAlertsResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	params := request.Params
	page, size := pageOf(params.Page, params.PageSize)
	f := db.AlertFilter{Dismissed: params.Dismissed, Limit: int(size), Offset: int(page-1) * int(size)}
	if params.Severity != nil {
		sev := string(*params.Severity)
		f.Severity = &sev
	}
	alerts, total, err := readTwo(ctx, s, func(st *db.Storage) ([]db.Alert, int64, error) { return st.ListAlerts(ctx, p.OrgID, f) })
	if err != nil {
		return nil, err
	}
	items := make([]gen.Alert, len(alerts))
	for i, a := range alerts {
		items[i] = apiAlert(a)
	}
	return gen.ListAlerts200JSONResponse{Items: items, Total: total, Page: page, PageSize: size}, nil
}

func (s *Server) DismissAlert(ctx context.Context, request gen.DismissAlertRequestObject) (gen.DismissAlertResponseObject, error) {
	a, err := s.dismiss(ctx, request.AlertId, nil)
	if err == db.ErrNotFound {
		return gen.DismissAlert404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: noSuchAlert(ctx)}, nil
	}
	if err != nil {
		return nil, err
	}
	return gen.DismissAlert200JSONResponse(apiAlert(a)), nil
}

// UpdateAlert dismisses an alert with a reason for the audit log.
func (s *Server) UpdateAlert(ctx context.Context, request gen.UpdateAlertRequestObject) (gen.UpdateAlertResponseObject, error) {
	a, err := s.dismiss(ctx, request.AlertId, request.Body.Reason)
	if err == db.ErrNotFound {
		return gen.UpdateAlert404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: noSuchAlert(ctx)}, nil
	}
	if err != nil {
		return nil, err
	}
	return gen.UpdateAlert200JSONResponse(apiAlert(a)), nil
}

func (s *Server) dismiss(ctx context.Context, id uuid.UUID, reason *string) (db.Alert, error) {
	p := httpapi.PrincipalFrom(ctx)
	return s.store.DismissAlert(ctx, p.OrgID, id, p.UserID, reason)
}

func noSuchAlert(ctx context.Context) gen.NotFoundApplicationProblemPlusJSONResponse {
	return gen.NotFoundApplicationProblemPlusJSONResponse(httpapi.NewProblem(ctx, http.StatusNotFound, "No alert with this id exists in your organization."))
}

func (s *Server) DismissAllAlerts(ctx context.Context, request gen.DismissAllAlertsRequestObject) (gen.DismissAllAlertsResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	var sev *string
	if request.Params.Severity != nil {
		v := string(*request.Params.Severity)
		sev = &v
	}
	n, err := s.store.DismissAllAlerts(ctx, p.OrgID, p.UserID, sev, request.Params.Reason)
	if err != nil {
		return nil, err
	}
	return gen.DismissAllAlerts200JSONResponse{Dismissed: n}, nil
}

func apiAlert(a db.Alert) gen.Alert {
	return gen.Alert{
		Id:            a.ID,
		Type:          gen.AlertType(a.Type),
		Severity:      gen.RiskLevel(a.Severity),
		Title:         a.Title,
		Message:       a.Message,
		ServerId:      a.ServerID,
		ServerName:    a.ServerName,
		AgentId:       a.AgentID,
		AgentHostname: a.AgentHostname,
		CreatedAt:     a.CreatedAt,
		Dismissed:     a.Dismissed,
		DismissedAt:   a.DismissedAt,
		DismissedBy:   a.DismissedBy,
	}
}

// ExportAlerts streams every alert the list would show for the same filters, newest first.
func (s *Server) ExportAlerts(ctx context.Context, request gen.ExportAlertsRequestObject) (gen.ExportAlertsResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	params := request.Params
	f := db.AlertFilter{Dismissed: params.Dismissed}
	if params.Severity != nil {
		sev := string(*params.Severity)
		f.Severity = &sev
	}
	if params.Format == "ndjson" {
		return gen.ExportAlerts200ApplicationxNdjsonResponse{Body: s.readStream(ctx, func(st *db.Storage, w io.Writer) error {
			enc := json.NewEncoder(w)
			return st.EachAlert(ctx, p.OrgID, f, func(a db.Alert) error { return enc.Encode(apiAlert(a)) })
		})}, nil
	}
	return gen.ExportAlerts200TextcsvResponse{Body: s.readStream(ctx, func(st *db.Storage, w io.Writer) error {
		cw := csv.NewWriter(w)
		if err := cw.Write([]string{"id", "type", "severity", "title", "message", "server_id", "server_name", "agent_id",
			"agent_hostname", "created_at", "dismissed", "dismissed_at", "dismissed_by"}); err != nil {
			return err
		}
		err := st.EachAlert(ctx, p.OrgID, f, func(a db.Alert) error {
			return csvRow(cw, a.ID.String(), a.Type, a.Severity, a.Title, a.Message, csvUUID(a.ServerID), csvString(a.ServerName),
				csvUUID(a.AgentID), csvString(a.AgentHostname), csvTime(&a.CreatedAt), strconv.FormatBool(a.Dismissed),
				csvTime(a.DismissedAt), csvUUID(a.DismissedBy))
		})
		cw.Flush()
		if err == nil {
			err = cw.Error()
		}
		return err
	})}, nil
}
