package impl

import (
	"context"

	"github.com/mcpwarden/mcpwarden/gen"
)

func (s *Server) ListAlerts(ctx context.Context, request gen.ListAlertsRequestObject) (gen.ListAlertsResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) DismissAlert(ctx context.Context, request gen.DismissAlertRequestObject) (gen.DismissAlertResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) DismissAllAlerts(ctx context.Context, request gen.DismissAllAlertsRequestObject) (gen.DismissAllAlertsResponseObject, error) {
	return nil, errNotImplemented
}
