package impl

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/mcpwarden/mcpwarden/db"
	"github.com/mcpwarden/mcpwarden/gen"
	"github.com/mcpwarden/mcpwarden/impl/httpapi"
	"github.com/mcpwarden/mcpwarden/impl/notify"
)

func webhookNotFound(ctx context.Context) gen.NotFoundApplicationProblemPlusJSONResponse {
	return gen.NotFoundApplicationProblemPlusJSONResponse(httpapi.NewProblem(ctx, http.StatusNotFound, "No webhook with this id exists in your organization."))
}

func apiWebhook(w db.Webhook) gen.Webhook {
	f := gen.WebhookFormat(w.Format)
	return gen.Webhook{Id: w.ID, Url: w.URL, Description: w.Description, Format: &f, CreatedAt: w.CreatedAt}
}

func apiDelivery(d db.WebhookDelivery) gen.WebhookDelivery {
	out := gen.WebhookDelivery{
		Id:            d.ID,
		WebhookId:     d.WebhookID,
		AlertId:       d.AlertID,
		Event:         gen.WebhookDeliveryEvent(d.Event),
		Status:        gen.WebhookDeliveryStatus(d.Status),
		Attempts:      int32(min(d.Attempts, 1000)),
		NextAttemptAt: d.NextAttemptAt,
		LastError:     d.LastError,
		DeliveredAt:   d.DeliveredAt,
		CreatedAt:     d.CreatedAt,
	}
	if d.LastStatusCode != nil {
		c := int32(*d.LastStatusCode)
		out.LastStatusCode = &c
	}
	// A delivery that is done has no next attempt, even if a lease time is still recorded.
	if d.Status != "pending" {
		out.NextAttemptAt = nil
	}
	return out
}

func (s *Server) ListWebhooks(ctx context.Context, request gen.ListWebhooksRequestObject) (gen.ListWebhooksResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	hooks, err := readOne(ctx, s, func(st *db.Storage) ([]db.Webhook, error) { return st.ListWebhooks(ctx, p.OrgID) })
	if err != nil {
		return nil, err
	}
	items := make([]gen.Webhook, len(hooks))
	for i, w := range hooks {
		items[i] = apiWebhook(w)
	}
	return gen.ListWebhooks200JSONResponse{Items: items}, nil
}

func (s *Server) CreateWebhook(ctx context.Context, request gen.CreateWebhookRequestObject) (gen.CreateWebhookResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	in := request.Body
	bad := func(field, msg string) gen.CreateWebhookResponseObject {
		pr := httpapi.NewProblem(ctx, http.StatusBadRequest, "Invalid "+field+": "+msg)
		pr.Errors = &[]gen.FieldError{{Field: field, Message: msg}}
		return gen.CreateWebhook400ApplicationProblemPlusJSONResponse{BadRequestApplicationProblemPlusJSONResponse: gen.BadRequestApplicationProblemPlusJSONResponse(pr)}
	}
	rawURL := strings.TrimSpace(in.Url)
	if _, err := notify.ParseWebhookURL(rawURL); err != nil {
		return bad("url", err.Error()), nil
	}
	if !s.opts.WebhookAllowPrivate {
		checkCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := notify.CheckWebhookURL(checkCtx, nil, rawURL)
		cancel()
		if err != nil {
			msg := err.Error()
			if errors.Is(err, notify.ErrForbiddenAddress) {
				msg += "; set MCPWARDEN_WEBHOOK_ALLOW_PRIVATE on the server to allow it"
			}
			return bad("url", msg), nil
		}
	}
	desc := ""
	if in.Description != nil {
		desc = *in.Description
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	format := gen.Generic
	if in.Format != nil {
		format = *in.Format
	}
	w, err := s.store.CreateWebhook(ctx, p.OrgID, rawURL, desc, "whsec_"+hex.EncodeToString(secret), string(format))
	if errors.Is(err, db.ErrTooManyWebhooks) {
		return bad("url", "the organization already has the maximum of 100 webhooks; delete one first"), nil
	}
	if err != nil {
		return nil, err
	}
	return gen.CreateWebhook201JSONResponse{Id: w.ID, Url: w.URL, Description: w.Description, Format: &format, CreatedAt: w.CreatedAt, Secret: w.Secret}, nil
}

func (s *Server) DeleteWebhook(ctx context.Context, request gen.DeleteWebhookRequestObject) (gen.DeleteWebhookResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	err := s.store.DeleteWebhook(ctx, p.OrgID, request.WebhookId)
	if errors.Is(err, db.ErrNotFound) {
		return gen.DeleteWebhook404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: webhookNotFound(ctx)}, nil
	}
	if err != nil {
		return nil, err
	}
	return gen.DeleteWebhook204Response{}, nil
}

func (s *Server) TestWebhook(ctx context.Context, request gen.TestWebhookRequestObject) (gen.TestWebhookResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	payload, _ := json.Marshal(map[string]any{
		"webhook_id":   request.WebhookId,
		"requested_by": p.UserID,
		"message":      "This is a test delivery from mcpwarden. New alerts arrive with event alert.created and the alert in data.",
	})
	d, err := s.store.QueueTestDelivery(ctx, p.OrgID, request.WebhookId, payload)
	if errors.Is(err, db.ErrNotFound) {
		return gen.TestWebhook404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: webhookNotFound(ctx)}, nil
	}
	if err != nil {
		return nil, err
	}
	return gen.TestWebhook202JSONResponse(apiDelivery(d)), nil
}

func (s *Server) ListWebhookDeliveries(ctx context.Context, request gen.ListWebhookDeliveriesRequestObject) (gen.ListWebhookDeliveriesResponseObject, error) {
	p := httpapi.PrincipalFrom(ctx)
	page, size := pageOf(request.Params.Page, request.Params.PageSize)
	list, total, err := readTwo(ctx, s, func(st *db.Storage) ([]db.WebhookDelivery, int64, error) {
		return st.ListDeliveries(ctx, p.OrgID, request.WebhookId, int(size), int(page-1)*int(size))
	})
	if errors.Is(err, db.ErrNotFound) {
		return gen.ListWebhookDeliveries404ApplicationProblemPlusJSONResponse{NotFoundApplicationProblemPlusJSONResponse: webhookNotFound(ctx)}, nil
	}
	if err != nil {
		return nil, err
	}
	items := make([]gen.WebhookDelivery, len(list))
	for i, d := range list {
		items[i] = apiDelivery(d)
	}
	return gen.ListWebhookDeliveries200JSONResponse{Items: items, Total: total, Page: page, PageSize: size}, nil
}
