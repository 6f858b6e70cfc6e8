package mcpwarden

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxProblemBytes bounds how much of an error answer is read for its problem document.
const maxProblemBytes = 1 << 20

// sender sends a request, sends it again while the server answers 429 or 503 and retrying is
// safe, and turns any answer outside 2xx into an *APIError.
type sender struct {
	doer       HttpRequestDoer
	maxRetries int
	maxWait    time.Duration
	backoff    time.Duration // first wait when the server gives no Retry-After; doubles
}

func (s *sender) Do(req *http.Request) (*http.Response, error) {
	for attempt := 0; ; attempt++ {
		resp, err := s.doer.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return resp, nil
		}
		apiErr := readAPIError(resp)
		// Retry-After: 0 says "now"; an absent or unreadable one leaves the wait to backoff.
		told := apiErr.RetryAfter > 0 || strings.TrimSpace(resp.Header.Get("Retry-After")) == "0"
		wait, ok := s.retryAfter(req, apiErr, told, attempt)
		if !ok {
			return nil, apiErr
		}
		next, err := rewind(req)
		if err != nil {
			return nil, apiErr
		}
		if err := sleep(req.Context(), wait); err != nil {
			return nil, err
		}
		req = next
	}
}

// retryAfter says whether to send req again after apiErr, and after how long. 429 means the
// server refused the request before doing anything, so any request is sent again; a 503 may
// come from a server that lost its database mid-request, so only requests that are safe to
// repeat are.
func (s *sender) retryAfter(req *http.Request, apiErr *APIError, told bool, attempt int) (time.Duration, bool) {
	if attempt >= s.maxRetries {
		return 0, false
	}
	switch apiErr.StatusCode {
	case http.StatusTooManyRequests:
	case http.StatusServiceUnavailable:
		if !idempotent(req) {
			return 0, false
		}
	default:
		return 0, false
	}
	wait := apiErr.RetryAfter
	if !told {
		// No Retry-After: exponential backoff with full jitter.
		wait = time.Duration(rand.Int64N(int64(s.backoff<<attempt) + 1))
	}
	if wait > s.maxWait {
		return 0, false
	}
	return wait, true
}

// idempotent reports whether sending req twice has the effect of sending it once: the
// idempotent methods, and the POSTs of this API that set a state rather than create something
// (dismissing alerts, an agent's heartbeat and report).
func idempotent(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	case http.MethodPost:
		p := strings.TrimSuffix(req.URL.Path, "/")
		return strings.HasSuffix(p, "/dismiss") || strings.HasSuffix(p, "/alerts/dismiss-all") ||
			strings.HasSuffix(p, "/agents/heartbeat") || strings.HasSuffix(p, "/mcp/report")
	}
	return false
}

// rewind returns a copy of req whose body can be sent again.
func rewind(req *http.Request) (*http.Request, error) {
	next := req.Clone(req.Context())
	if req.Body == nil || req.Body == http.NoBody {
		return next, nil
	}
	if req.GetBody == nil {
		return nil, errors.New("mcpwarden: request body cannot be sent again")
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, err
	}
	next.Body = body
	return next, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// readAPIError reads and closes an error answer.
func readAPIError(resp *http.Response) *APIError {
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxProblemBytes))
	apiErr, _ := CheckResponse(resp, body).(*APIError)
	return apiErr
}

// parseRetryAfter reads Retry-After, in seconds or as an HTTP date; 0 when absent or invalid.
func parseRetryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if secs, err := strconv.Atoi(strings.TrimSpace(h)); err == nil {
		if secs < 0 {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
