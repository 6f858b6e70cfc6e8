package impl

import "context"

// HoldPasswordHashing takes every password-hashing slot of s, as a login flood would, until
// release is called. Tests use it to see the overload answer without running the flood.
func HoldPasswordHashing(s *Server) (release func()) {
	var releases []func()
	for range hashConcurrency() {
		r, err := s.accounts.hasher.acquire(context.Background())
		if err != nil {
			panic(err)
		}
		releases = append(releases, r)
	}
	return func() {
		for _, r := range releases {
			r()
		}
	}
}

// SetLoginLimits lowers the failed-login limits per account and per client address, so that
// throttling tests need not spend dozens of argon2id verifications. Call it before any request.
func SetLoginLimits(s *Server, perAccount, perClient int) {
	s.accounts.accountLimit, s.accounts.ipLimit = perAccount, perClient
}

// PollKeyRevocations runs one poll of the key revocations now, as the background poller does.
func PollKeyRevocations(s *Server) error { return s.keys.poll(context.Background()) }

// KeyLookups is how many keys s has read from the database (key cache misses).
func KeyLookups(s *Server) int64 { return s.keys.lookups.Load() }
