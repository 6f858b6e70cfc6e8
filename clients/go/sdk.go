package mcpwarden

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// NewWithToken returns a client that authenticates as a user with an access token from
// POST /auth/login (people, scripts and integrations).
func NewWithToken(baseURL, accessToken string, opts ...ClientOption) (*ClientWithResponses, error) {
	return newAuthenticated(baseURL, "Authorization", "Bearer "+accessToken, opts)
}

// NewWithAgentKey returns a client that authenticates as an agent with its mcp_sk_ key (the
// agent endpoints: heartbeat and report).
func NewWithAgentKey(baseURL, apiKey string, opts ...ClientOption) (*ClientWithResponses, error) {
	return newAuthenticated(baseURL, "X-API-Key", apiKey, opts)
}

func newAuthenticated(baseURL, header, value string, opts []ClientOption) (*ClientWithResponses, error) {
	defaults := []ClientOption{
		WithHTTPClient(&http.Client{Timeout: 30 * time.Second}),
		WithRequestEditorFn(func(_ context.Context, req *http.Request) error {
			req.Header.Set(header, value)
			return nil
		}),
	}
	return NewClientWithResponses(strings.TrimRight(baseURL, "/"), append(defaults, opts...)...)
}

// APIError is an answer outside 2xx. Problem holds the server's RFC 9457 problem document when
// it sent one: its Detail says what went wrong and its Errors list the invalid fields. The API
// client returns every such answer as an *APIError; use errors.As to read it:
//
//	var apiErr *mcpwarden.APIError
//	if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound { ... }
type APIError struct {
	StatusCode int
	Problem    *Problem
	// RequestID is the request's id (X-Request-ID), to quote to the server's operators.
	RequestID string
	// RetryAfter is how long the server asked to wait before trying again (429 and 503); 0
	// when it did not say.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	var msg string
	if e.Problem != nil && e.Problem.Detail != "" {
		msg = fmt.Sprintf("mcpwarden: %d %s: %s", e.StatusCode, e.Problem.Title, e.Problem.Detail)
		if e.Problem.Errors != nil {
			for _, f := range *e.Problem.Errors {
				msg += fmt.Sprintf("; %s: %s", f.Field, f.Message)
			}
		}
	} else {
		msg = fmt.Sprintf("mcpwarden: %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	}
	if e.RequestID != "" {
		msg += " (request " + e.RequestID + ")"
	}
	return msg
}

// CheckResponse returns nil for a 2xx response and an *APIError otherwise. The API client does
// this for every request; pass the HTTPResponse and Body of a *WithResponse result of a
// ClientWithResponses:
//
//	resp, err := c.ListServersWithResponse(ctx, nil)
//	if err == nil {
//		err = mcpwarden.CheckResponse(resp.HTTPResponse, resp.Body)
//	}
func CheckResponse(resp *http.Response, body []byte) error {
	if resp == nil {
		return &APIError{}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	apiErr := &APIError{
		StatusCode: resp.StatusCode,
		RequestID:  resp.Header.Get("X-Request-ID"),
		RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
	}
	var p Problem
	if json.Unmarshal(body, &p) == nil && p.Status != 0 {
		apiErr.Problem = &p
		if apiErr.RequestID == "" && p.RequestId != nil {
			apiErr.RequestID = *p.RequestId
		}
	}
	return apiErr
}
