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

// APIError is a non-2xx answer from the server. Problem holds the server's RFC 9457 problem
// document when it sent one; its Detail says what went wrong.
type APIError struct {
	StatusCode int
	Problem    *Problem
}

func (e *APIError) Error() string {
	if e.Problem != nil && e.Problem.Detail != "" {
		msg := fmt.Sprintf("mcpwarden: %d %s: %s", e.StatusCode, e.Problem.Title, e.Problem.Detail)
		if e.Problem.Errors != nil {
			for _, f := range *e.Problem.Errors {
				msg += fmt.Sprintf("; %s: %s", f.Field, f.Message)
			}
		}
		return msg
	}
	return fmt.Sprintf("mcpwarden: %d %s", e.StatusCode, http.StatusText(e.StatusCode))
}

// CheckResponse returns nil for a 2xx response and an *APIError otherwise. Pass the HTTPResponse
// and Body of any *WithResponse result:
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
	apiErr := &APIError{StatusCode: resp.StatusCode}
	var p Problem
	if json.Unmarshal(body, &p) == nil && p.Status != 0 {
		apiErr.Problem = &p
	}
	return apiErr
}
