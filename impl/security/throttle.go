package security

import (
	"context"
	"crypto/sha256"
	"strings"
	"time"
)

// Sign-in throttling. Failed sign-ins are counted, in fixed windows, per (account, client
// address), per account and per client address; past a limit every attempt, right password or
// not, gets 429 with Retry-After until its window ends.
//
// The limits are chosen so that a stranger cannot lock an owner out: the tight limit is per
// account *and* address, so guessing from elsewhere never stops the owner's own sign-in; the
// per-account ceiling, which stops a guesser spread over many addresses, is far above what a
// person triggers (NIST SP 800-63B allows up to 100 consecutive failures). The counters live in
// PostgreSQL (Counters), so N replicas do not grant N times the budget.
const (
	// ThrottleWindow is how long failures are remembered; expired counters are swept by a job.
	ThrottleWindow = 15 * time.Minute
	// registerLimit caps organizations created per client address per window: registration
	// hashes a password and creates rows without any credential.
	registerLimit = 20
	// enrollFailureLimit caps failed enrolments (unknown, revoked or expired secrets) per client
	// address per window; successful ones are not counted, so a whole office behind one
	// address can enrol at once.
	enrollFailureLimit = 20
)

// Counters keep the throttles' counts where every replica sees them (db.Storage).
type Counters interface {
	// CountAttempts counts one attempt against each key unless one has reached its limit; then
	// it counts nothing and returns the wait until that key's window ends.
	CountAttempts(ctx context.Context, now time.Time, window time.Duration, keys [][]byte, limits []int) (time.Duration, error)
	// UncountAttempts takes one attempt back from each key.
	UncountAttempts(ctx context.Context, keys [][]byte) error
	// ClearAttempts forgets the keys' counts.
	ClearAttempts(ctx context.Context, keys [][]byte) error
}

// Attempt is one counter an operation must stay under.
type Attempt struct {
	key   []byte
	limit int
}

func attempt(limit int, parts ...string) Attempt {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return Attempt{key: sum[:], limit: limit}
}

func keys(attempts []Attempt) [][]byte {
	out := make([][]byte, len(attempts))
	for i, a := range attempts {
		out[i] = a.key
	}
	return out
}

// Throttle counts attempts in Counters.
type Throttle struct {
	Counters Counters
	// Failed sign-ins allowed in a window: for one account from one address, for one account
	// from anywhere (the ceiling), and from one address to any accounts.
	AccountAndClientLimit, AccountLimit, ClientLimit int
}

// Begin counts an attempt against every counter, unless one is already at its limit: then
// nothing is counted and the wait until that window ends is returned. Counting before the
// password is checked (and taking it back on success) keeps concurrent guesses within limits.
func (t *Throttle) Begin(ctx context.Context, now time.Time, attempts ...Attempt) (time.Duration, error) {
	limits := make([]int, len(attempts))
	for i, a := range attempts {
		limits[i] = a.limit
	}
	return t.Counters.CountAttempts(ctx, now, ThrottleWindow, keys(attempts), limits)
}

// Refund takes back an attempt counted by Begin: it was not a failure.
func (t *Throttle) Refund(ctx context.Context, attempts ...Attempt) error {
	return t.Counters.UncountAttempts(ctx, keys(attempts))
}

// Forget clears the counters (a successful sign-in ends its account's run of failures).
func (t *Throttle) Forget(ctx context.Context, attempts ...Attempt) error {
	return t.Counters.ClearAttempts(ctx, keys(attempts))
}

// SignIn are the counters a sign-in (or a password check) must stay under.
type SignIn struct {
	// Pair counts failures for the account from this address, Account for the account from
	// anywhere, Client for this address to any account.
	Pair, Account, Client Attempt
}

// All is every counter of the sign-in.
func (s SignIn) All() []Attempt { return []Attempt{s.Pair, s.Account, s.Client} }

// SignIn returns the counters of a sign-in from ip to the account of email (whether or not it
// exists, so that the throttle reveals nothing).
func (t *Throttle) SignIn(email, ip string) SignIn {
	email = strings.ToLower(email)
	return SignIn{
		Pair:    attempt(t.AccountAndClientLimit, "sign-in account and client", email, ip),
		Account: attempt(t.AccountLimit, "sign-in account", email),
		Client:  attempt(t.ClientLimit, "sign-in client", ip),
	}
}

// Register returns the counter a registration from ip must stay under.
func (t *Throttle) Register(ip string) Attempt {
	return attempt(registerLimit, "registration client", ip)
}

// Enroll returns the counter an enrolment from ip must stay under.
func (t *Throttle) Enroll(ip string) Attempt {
	return attempt(enrollFailureLimit, "enrolment client", ip)
}

// Guard protects credentials: the hashing slots and the sign-in and registration throttles.
type Guard struct {
	Hasher   Hasher
	Throttle Throttle
}
