package security

import (
	"strings"
	"sync"
	"time"
)

// Login throttling. Failed logins are counted per account (the email, whether or not it exists,
// so the throttle reveals nothing) and per client address, in fixed 15-minute windows; past the
// limit every attempt, right password or not, gets 429 with Retry-After until the window ends.
//
// The counters live in each replica's memory: with N replicas behind a load balancer a guesser
// gets at most N times the budget, which still caps online guessing at a few hundred tries per
// account per hour. A shared store (a PostgreSQL table or Redis) would make the limit exact; it
// is not worth a round trip on every login yet.
const (
	throttleWindow = 15 * time.Minute
	// registerLimit caps organizations created per client address per window: registration
	// hashes a password and creates rows without any credential.
	registerLimit = 20
	// throttleMaxKeys bounds memory under a spray of distinct emails; past it, expired windows
	// are swept and then arbitrary live ones dropped.
	throttleMaxKeys = 100_000
)

type window struct {
	start time.Time
	count int
}

// Throttle counts events per key in fixed windows. The zero value is ready.
type Throttle struct {
	mu   sync.Mutex
	keys map[string]*window
}

// Attempt is the key and limit of one counter an operation must stay under.
type Attempt struct {
	Key   string
	Limit int
}

// Begin counts one attempt against every counter, unless one of them is already at its limit:
// then nothing is counted and the wait until that window ends is returned. Counting before the
// password is checked (and refunding on success) keeps concurrent guesses within the limit.
func (t *Throttle) Begin(now time.Time, attempts ...Attempt) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.keys == nil {
		t.keys = make(map[string]*window)
	}
	var wait time.Duration
	for _, a := range attempts {
		w := t.keys[a.Key]
		if w != nil && now.Sub(w.start) < throttleWindow && w.count >= a.Limit {
			wait = max(wait, w.start.Add(throttleWindow).Sub(now))
		}
	}
	if wait > 0 {
		return wait
	}
	for _, a := range attempts {
		w := t.keys[a.Key]
		if w == nil || now.Sub(w.start) >= throttleWindow {
			t.makeRoom(now)
			w = &window{start: now}
			t.keys[a.Key] = w
		}
		w.count++
	}
	return 0
}

// Forget clears the key's counter (a successful login clears its account's failures).
func (t *Throttle) Forget(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.keys, key)
}

// Refund takes back one attempt counted by Begin (a successful login is not a failure).
func (t *Throttle) Refund(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if w := t.keys[key]; w != nil && w.count > 0 {
		w.count--
	}
}

func (t *Throttle) makeRoom(now time.Time) {
	if len(t.keys) < throttleMaxKeys {
		return
	}
	for k, w := range t.keys {
		if now.Sub(w.start) >= throttleWindow {
			delete(t.keys, k)
		}
	}
	for k := range t.keys {
		if len(t.keys) < throttleMaxKeys {
			break
		}
		delete(t.keys, k)
	}
}

func accountKey(email string) string { return "account:" + strings.ToLower(email) }
func loginIPKey(ip string) string    { return "login-ip:" + ip }
func registerIPKey(ip string) string { return "register-ip:" + ip }

// Guard is the per-replica state that protects credentials: the hashing slots and the login
// and registration counters.
type Guard struct {
	Hasher   Hasher
	Throttle Throttle
	// Failed logins allowed per account and per client address in a window.
	AccountLimit, ClientLimit int
}

// LoginAttempts are the counters a login from ip to the account of email must stay under.
func (g *Guard) LoginAttempts(email, ip string) (account, client Attempt) {
	return Attempt{accountKey(email), g.AccountLimit}, Attempt{loginIPKey(ip), g.ClientLimit}
}

// RegisterAttempt is the counter a registration from ip must stay under.
func RegisterAttempt(ip string) Attempt { return Attempt{registerIPKey(ip), registerLimit} }
