package impl

import (
	"context"

	"github.com/mcpwarden/mcpwarden/gen"
)

func (s *Server) ListWebhooks(ctx context.Context, request gen.ListWebhooksRequestObject) (gen.ListWebhooksResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) CreateWebhook(ctx context.Context, request gen.CreateWebhookRequestObject) (gen.CreateWebhookResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) DeleteWebhook(ctx context.Context, request gen.DeleteWebhookRequestObject) (gen.DeleteWebhookResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) TestWebhook(ctx context.Context, request gen.TestWebhookRequestObject) (gen.TestWebhookResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) ListWebhookDeliveries(ctx context.Context, request gen.ListWebhookDeliveriesRequestObject) (gen.ListWebhookDeliveriesResponseObject, error) {
	return nil, errNotImplemented
}
