package mcpwarden

import (
	"context"
	"iter"
)

// maxPageSize is the largest page_size the server accepts; the iterators ask for it unless the
// caller's parameters set one.
const maxPageSize PageSize = 100

// All yields every item of a page/page_size list, asking fetch for page after page (from 1) for
// its items and the list's total, until that many items were yielded or a page comes back
// empty. An error is yielded once, and ends the iteration; stopping the loop early fetches
// nothing more.
//
// The iterators below (Servers, Agents, ...) cover the API's lists; All serves any other:
//
//	all := mcpwarden.All(ctx, func(ctx context.Context, page int32) ([]mcpwarden.Thing, int64, error) {
//		resp, err := c.ListThingsWithResponse(ctx, &mcpwarden.ListThingsParams{Page: &page})
//		if err != nil {
//			return nil, 0, err
//		}
//		return resp.JSON200.Items, resp.JSON200.Total, nil
//	})
//	for item, err := range all { ... }
func All[T any](ctx context.Context, fetch func(ctx context.Context, page int32) (items []T, total int64, err error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var seen int64
		for page := int32(1); ; page++ {
			items, total, err := fetch(ctx, page)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, item := range items {
				if !yield(item, nil) {
					return
				}
			}
			seen += int64(len(items))
			if len(items) == 0 || seen >= total {
				return
			}
		}
	}
}

// paged iterates a list whose parameters take page and page_size: fetch gets both to set.
// The caller's page size is kept (the largest by default); its page is ignored, since
// iteration starts at the first.
func paged[T any](ctx context.Context, size *PageSize, fetch func(ctx context.Context, page, size *int32) ([]T, int64, error)) iter.Seq2[T, error] {
	if size == nil {
		size = new(maxPageSize)
	}
	return All(ctx, func(ctx context.Context, page int32) ([]T, int64, error) { return fetch(ctx, &page, size) })
}

// orZero is *p, or the zero value for nil parameters.
func orZero[P any](p *P) (v P) {
	if p != nil {
		v = *p
	}
	return v
}

// Servers yields every MCP server matching params (nil: all), across pages.
func (a *API) Servers(ctx context.Context, params *ListServersParams) iter.Seq2[McpServer, error] {
	q := orZero(params)
	return paged(ctx, q.PageSize, func(ctx context.Context, page, size *int32) ([]McpServer, int64, error) {
		q.Page, q.PageSize = page, size
		resp, err := a.ListServersWithResponse(ctx, &q)
		if err != nil {
			return nil, 0, err
		}
		return resp.JSON200.Items, resp.JSON200.Total, nil
	})
}

// Agents yields every agent, across pages.
func (a *API) Agents(ctx context.Context, params *ListAgentsParams) iter.Seq2[Agent, error] {
	q := orZero(params)
	return paged(ctx, q.PageSize, func(ctx context.Context, page, size *int32) ([]Agent, int64, error) {
		q.Page, q.PageSize = page, size
		resp, err := a.ListAgentsWithResponse(ctx, &q)
		if err != nil {
			return nil, 0, err
		}
		return resp.JSON200.Items, resp.JSON200.Total, nil
	})
}

// Alerts yields every alert matching params (nil: all), across pages.
func (a *API) Alerts(ctx context.Context, params *ListAlertsParams) iter.Seq2[Alert, error] {
	q := orZero(params)
	return paged(ctx, q.PageSize, func(ctx context.Context, page, size *int32) ([]Alert, int64, error) {
		q.Page, q.PageSize = page, size
		resp, err := a.ListAlertsWithResponse(ctx, &q)
		if err != nil {
			return nil, 0, err
		}
		return resp.JSON200.Items, resp.JSON200.Total, nil
	})
}

// Members yields every member of the caller's organization, across pages.
func (a *API) Members(ctx context.Context, params *ListMembersParams) iter.Seq2[User, error] {
	q := orZero(params)
	return paged(ctx, q.PageSize, func(ctx context.Context, page, size *int32) ([]User, int64, error) {
		q.Page, q.PageSize = page, size
		resp, err := a.ListMembersWithResponse(ctx, &q)
		if err != nil {
			return nil, 0, err
		}
		return resp.JSON200.Items, resp.JSON200.Total, nil
	})
}

// EnrollmentSecrets yields every enrolment secret, across pages.
func (a *API) EnrollmentSecrets(ctx context.Context, params *ListEnrollmentSecretsParams) iter.Seq2[EnrollmentSecret, error] {
	q := orZero(params)
	return paged(ctx, q.PageSize, func(ctx context.Context, page, size *int32) ([]EnrollmentSecret, int64, error) {
		q.Page, q.PageSize = page, size
		resp, err := a.ListEnrollmentSecretsWithResponse(ctx, &q)
		if err != nil {
			return nil, 0, err
		}
		return resp.JSON200.Items, resp.JSON200.Total, nil
	})
}

// WebhookDeliveries yields every delivery of a webhook, newest first, across pages.
func (a *API) WebhookDeliveries(ctx context.Context, webhook WebhookId, params *ListWebhookDeliveriesParams) iter.Seq2[WebhookDelivery, error] {
	q := orZero(params)
	return paged(ctx, q.PageSize, func(ctx context.Context, page, size *int32) ([]WebhookDelivery, int64, error) {
		q.Page, q.PageSize = page, size
		resp, err := a.ListWebhookDeliveriesWithResponse(ctx, webhook, &q)
		if err != nil {
			return nil, 0, err
		}
		return resp.JSON200.Items, resp.JSON200.Total, nil
	})
}
