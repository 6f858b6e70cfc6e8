package mcpwarden

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// refreshMargin is how long before its expiry an access token is replaced: a request sent with
// a token that expires on the way would be refused.
const refreshMargin = time.Minute

// session is a login's token pair. Refreshing is serialized by lock (a channel, so that a
// caller waiting for another's refresh still honours its context): a refresh token works once,
// and two concurrent refreshes with the same one would make the server revoke the whole login.
type session struct {
	api  *API
	lock chan struct{}

	access, refresh string
	expires         time.Time // zero when the server did not say
}

func (s *session) acquire(ctx context.Context) error {
	select {
	case s.lock <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *session) release() { <-s.lock }

func (s *session) set(p TokenPair, now time.Time) {
	s.access, s.refresh, s.expires = p.AccessToken, p.RefreshToken, time.Time{}
	if p.ExpiresIn != nil {
		s.expires = now.Add(time.Duration(*p.ExpiresIn) * time.Second)
	}
}

// authorize sends the current access token, refreshed first when it is about to expire.
func (s *session) authorize(ctx context.Context, req *http.Request) (string, error) {
	if err := s.acquire(ctx); err != nil {
		return "", err
	}
	defer s.release()
	if !s.expires.IsZero() && time.Until(s.expires) < refreshMargin {
		if err := s.exchange(ctx); err != nil {
			return "", err
		}
	}
	req.Header.Set("Authorization", "Bearer "+s.access)
	return s.access, nil
}

// refreshAfter replaces the access token the server refused (stale), unless another request
// already did.
func (s *session) refreshAfter(ctx context.Context, stale string) error {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	if s.access != stale {
		return nil
	}
	return s.exchange(ctx)
}

// exchange trades the refresh token for a new pair; the caller holds the lock.
func (s *session) exchange(ctx context.Context) error {
	now := time.Now()
	resp, err := s.api.anonymous().RefreshTokensWithResponse(ctx, RefreshTokensJSONRequestBody{RefreshToken: s.refresh})
	if err != nil {
		return err
	}
	if resp.JSON200 == nil {
		return errors.New("mcpwarden: refresh answered without a token pair")
	}
	s.set(*resp.JSON200, now)
	return nil
}
