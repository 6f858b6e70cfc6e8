package mcpwarden_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
)

func problem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Request-ID", "req-1")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"type":"about:blank","title":%q,"status":%d,"detail":%q,"errors":[{"field":"name","message":"too long"}]}`, http.StatusText(status), status, detail)
}

func TestEveryNon2xxIsAnAPIError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		problem(w, http.StatusNotFound, "No such agent.")
	}))
	defer srv.Close()
	c := mcpwarden.New(srv.URL, mcpwarden.WithToken("tok"))

	resp, err := c.GetCurrentUserWithResponse(t.Context())
	var apiErr *mcpwarden.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %v, resp = %v; want an *APIError", err, resp)
	}
	if apiErr.StatusCode != 404 || apiErr.RequestID != "req-1" || apiErr.Problem == nil || apiErr.Problem.Detail != "No such agent." ||
		apiErr.Problem.Errors == nil || (*apiErr.Problem.Errors)[0].Field != "name" {
		t.Errorf("APIError = %+v, problem %+v", apiErr, apiErr.Problem)
	}
	// The raw client's methods too: no *http.Response with a 4xx to forget to check.
	if _, err := c.GetCurrentUser(t.Context()); !errors.As(err, &apiErr) {
		t.Errorf("raw call: err = %v", err)
	}
}

// flaky answers status with Retry-After for the first failures requests, then 204.
func flaky(t *testing.T, status, failures int, retryAfter string) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method == http.MethodPost && string(body) != `{"name":"laptop"}` {
			t.Errorf("attempt %d sent body %q", calls.Load()+1, body)
		}
		if int(calls.Add(1)) <= failures {
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			problem(w, status, "Slow down.")
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func TestRetries(t *testing.T) {
	for _, tc := range []struct {
		name       string
		status     int
		failures   int
		retryAfter string
		post       bool // POST /agents/, which creates something: not safe to repeat
		wantCalls  int32
		wantStatus int // 0: success
	}{
		{"429 is retried after Retry-After", 429, 2, "0", false, 3, 0},
		{"429 on a POST is retried: the server did not apply it", 429, 1, "0", true, 2, 0},
		{"503 on a GET is retried", 503, 1, "0", false, 2, 0},
		{"503 without Retry-After is retried with backoff", 503, 1, "", false, 2, 0},
		{"503 on a creating POST is not retried", 503, 1, "0", true, 1, 503},
		{"retries stop after the limit", 429, 10, "0", false, 4, 429},
		{"a Retry-After beyond the longest wait is returned, not waited out", 429, 1, "3600", false, 1, 429},
		{"400 is not retried", 400, 1, "0", false, 1, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, calls := flaky(t, tc.status, tc.failures, tc.retryAfter)
			c := mcpwarden.New(srv.URL, mcpwarden.WithToken("tok"))
			var err error
			if tc.post {
				_, err = c.CreateAgentWithResponse(t.Context(), mcpwarden.CreateAgentRequest{Name: "laptop"})
			} else {
				_, err = c.GetCurrentUserWithResponse(t.Context())
			}
			if got := calls.Load(); got != tc.wantCalls {
				t.Errorf("server saw %d requests, want %d", got, tc.wantCalls)
			}
			var apiErr *mcpwarden.APIError
			switch {
			case tc.wantStatus == 0 && err != nil:
				t.Errorf("err = %v", err)
			case tc.wantStatus != 0 && (!errors.As(err, &apiErr) || apiErr.StatusCode != tc.wantStatus):
				t.Errorf("err = %v, want a %d APIError", err, tc.wantStatus)
			}
			if tc.retryAfter == "3600" && apiErr != nil && apiErr.RetryAfter != time.Hour {
				t.Errorf("RetryAfter = %v, want 1h", apiErr.RetryAfter)
			}
		})
	}
}

func TestWaitingForARetryHonoursTheContext(t *testing.T) {
	srv, calls := flaky(t, 429, 1, "30")
	c := mcpwarden.New(srv.URL)
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		for calls.Load() == 0 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	if _, err := c.GetHealthWithResponse(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

// tokenServer issues token pairs as mcpwarden does: a refresh token works once, and presenting
// a used one revokes the login. Access tokens it has rotated away are refused with 401.
type tokenServer struct {
	mu        sync.Mutex
	n         int
	access    string
	refresh   string
	revoked   bool
	refreshes int
}

func (s *tokenServer) issue() map[string]any {
	s.n++
	s.access, s.refresh = fmt.Sprintf("access-%d", s.n), fmt.Sprintf("refresh-%d", s.n)
	return map[string]any{"access_token": s.access, "refresh_token": s.refresh, "token_type": "bearer", "expires_in": 1800}
}

func (s *tokenServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.URL.Path {
	case "/auth/login":
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s.issue())
	case "/auth/refresh":
		var body struct {
			RefreshToken string `json:"refresh_token"`
		}
		json.NewDecoder(r.Body).Decode(&body)
		if body.RefreshToken != s.refresh || s.revoked {
			s.revoked = true
			problem(w, 401, "Refresh token reused.")
			return
		}
		s.refreshes++
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s.issue())
	default:
		if s.revoked || r.Header.Get("Authorization") != "Bearer "+s.access {
			problem(w, 401, "Could not validate credentials.")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"00000000-0000-0000-0000-000000000001","email":"a@b.c","full_name":"A","role":"admin","organization_id":"00000000-0000-0000-0000-000000000002","is_active":true,"created_at":"2026-01-01T00:00:00Z"}`)
	}
}

// expire makes the server refuse the current access token, as it does once 30 minutes passed.
func (s *tokenServer) expire() {
	s.mu.Lock()
	s.access = "expired"
	s.mu.Unlock()
}

func TestConcurrentRequestsRefreshARefusedTokenOnce(t *testing.T) {
	ts := &tokenServer{}
	srv := httptest.NewServer(ts)
	defer srv.Close()
	c := mcpwarden.New(srv.URL)
	if err := c.Login(t.Context(), "a@b.c", "pw"); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		ts.expire()
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if _, err := c.GetCurrentUserWithResponse(t.Context()); err != nil {
					t.Errorf("round %d: %v", round, err)
				}
			})
		}
		wg.Wait()
	}
	if ts.revoked || ts.refreshes != 3 {
		t.Errorf("refreshes = %d, revoked = %v; want 3 refreshes (one a round) and no reuse", ts.refreshes, ts.revoked)
	}
}

func TestBearerTokenAndAgentKeyAreSent(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	if _, err := mcpwarden.New(srv.URL, mcpwarden.WithToken("mcpw_tok")).DismissAlert(t.Context(), [16]byte{1}); err != nil {
		t.Fatal(err)
	}
	if got.Get("Authorization") != "Bearer mcpw_tok" {
		t.Errorf("Authorization = %q", got.Get("Authorization"))
	}
	if _, err := mcpwarden.New(srv.URL+"/", mcpwarden.WithAgentKey("mcp_sk_x")).AgentHeartbeat(t.Context(), mcpwarden.HeartbeatRequest{Hostname: "h"}); err != nil {
		t.Fatal(err)
	}
	if got.Get("X-API-Key") != "mcp_sk_x" || got.Get("Authorization") != "" {
		t.Errorf("agent headers = %v", got)
	}
}
