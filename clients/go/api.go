package mcpwarden

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"
)

// API is the mcpwarden client most programs want: every operation of the generated
// ClientWithResponses (embedded, so c.ListServersWithResponse and the rest are there), with
//
//   - authentication by Login (access tokens refreshed automatically), an API token
//     (WithToken) or an agent key (WithAgentKey);
//   - every answer outside 2xx returned as an error, an *APIError carrying the problem document,
//     so err == nil means the server said yes;
//   - requests refused with 429 or 503 sent again after the server's Retry-After (see
//     WithRetries), when sending them again is safe;
//   - iterators over every page of a list (Servers, Agents, Alerts, Members, ... and All).
//
// An API is safe for concurrent use.
type API struct {
	*ClientWithResponses

	server string
	send   *sender // retries and typed errors, no credentials: login and refresh

	authMu sync.Mutex // Login and Logout change auth while requests read it
	auth   credential
}

// Option configures an API.
type Option func(*API)

// WithToken authenticates every request with a bearer token: an API token, or an access token
// obtained elsewhere (it is not refreshed).
func WithToken(token string) Option {
	return func(a *API) { a.auth = staticHeader{"Authorization", "Bearer " + token} }
}

// WithAgentKey authenticates every request with an agent's mcp_sk_ key (heartbeats and reports).
func WithAgentKey(key string) Option {
	return func(a *API) { a.auth = staticHeader{"X-API-Key", key} }
}

// WithHTTPDoer sends requests through d instead of an *http.Client with a 30-second timeout.
func WithHTTPDoer(d HttpRequestDoer) Option {
	return func(a *API) { a.send.doer = d }
}

// WithRetries sets how often a request refused with 429 or 503 is sent again (3 by default; 0
// never) and the longest the client waits before one retry (1 minute by default): a Retry-After
// longer than that is returned as the *APIError instead of waited out.
func WithRetries(max int, maxWait time.Duration) Option {
	return func(a *API) { a.send.maxRetries, a.send.maxWait = max, maxWait }
}

// New returns a client of the server at baseURL (for example "https://mcpwarden.example.com").
// Without WithToken or WithAgentKey it sends no credential until Login.
func New(baseURL string, opts ...Option) *API {
	server := strings.TrimRight(baseURL, "/")
	a := &API{
		server: server,
		send: &sender{
			doer:       &http.Client{Timeout: 30 * time.Second},
			maxRetries: 3,
			maxWait:    time.Minute,
			backoff:    500 * time.Millisecond,
		},
	}
	for _, o := range opts {
		o(a)
	}
	a.ClientWithResponses = a.client(authDoer{a})
	return a
}

// client is a generated client of the API's server that sends requests through d.
func (a *API) client(d HttpRequestDoer) *ClientWithResponses {
	// NewClient fails only when an option does, and WithHTTPClient never does.
	c, _ := NewClientWithResponses(a.server, WithHTTPClient(d))
	return c
}

// Login signs in as a person. From then on the client sends the access token and, before it
// expires or when the server refuses it, exchanges the refresh token for a new pair (refresh
// tokens rotate: each works once, and the client serializes refreshes so that concurrent
// requests never present the same one twice).
func (a *API) Login(ctx context.Context, email, password string) error {
	resp, err := a.anonymous().LoginWithFormdataBodyWithResponse(ctx, LoginFormdataRequestBody{Username: email, Password: password})
	if err != nil {
		return err
	}
	if resp.JSON200 == nil {
		return errors.New("mcpwarden: login answered without a token pair")
	}
	s := &session{api: a, lock: make(chan struct{}, 1)}
	s.set(*resp.JSON200, time.Now())
	a.setCredential(s)
	return nil
}

// Logout revokes the login's refresh token and every token of the login; the client sends no
// credential afterwards. Without a login it does nothing.
func (a *API) Logout(ctx context.Context) error {
	s, ok := a.credential().(*session)
	if !ok {
		return nil
	}
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	if _, err := a.anonymous().LogoutWithResponse(ctx, LogoutJSONRequestBody{RefreshToken: s.refresh}); err != nil {
		return err
	}
	a.setCredential(nil)
	return nil
}

func (a *API) credential() credential {
	a.authMu.Lock()
	defer a.authMu.Unlock()
	return a.auth
}

func (a *API) setCredential(c credential) {
	a.authMu.Lock()
	a.auth = c
	a.authMu.Unlock()
}

// anonymous is a client of the same server that sends no credential and does not refresh:
// for login and refresh themselves.
func (a *API) anonymous() *ClientWithResponses { return a.client(a.send) }

// credential puts a caller's credential on a request.
type credential interface {
	// authorize sets the credential and returns what was sent, for refreshOnce.
	authorize(ctx context.Context, req *http.Request) (sent string, err error)
}

type staticHeader struct{ name, value string }

func (h staticHeader) authorize(_ context.Context, req *http.Request) (string, error) {
	req.Header.Set(h.name, h.value)
	return h.value, nil
}

// authDoer adds the API's credential to each request and, for a login whose access token the
// server refused, refreshes it and sends the request once more.
type authDoer struct{ a *API }

func (d authDoer) Do(req *http.Request) (*http.Response, error) {
	auth := d.a.credential()
	if auth == nil {
		return d.a.send.Do(req)
	}
	sent, err := auth.authorize(req.Context(), req)
	if err != nil {
		return nil, err
	}
	resp, err := d.a.send.Do(req)
	s, isSession := auth.(*session)
	var apiErr *APIError
	if !isSession || !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	retry, rerr := rewind(req)
	if rerr != nil {
		return nil, err
	}
	if err := s.refreshAfter(req.Context(), sent); err != nil {
		return nil, err
	}
	if _, err := s.authorize(req.Context(), retry); err != nil {
		return nil, err
	}
	return d.a.send.Do(retry)
}
