package impl

import (
	"cmp"
	"context"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
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
	throttleWindow      = 15 * time.Minute
	accountFailureLimit = 10
	ipFailureLimit      = 50
	// registerLimit caps organizations created per client address per window: registration
	// hashes a password and creates rows without any credential.
	registerLimit = 20
	// throttleMaxKeys bounds memory under a spray of distinct emails; past it, expired windows
	// are swept and then arbitrary live ones dropped.
	throttleMaxKeys = 100_000
)

type throttleWindowState struct {
	start time.Time
	count int
}

// throttle counts events per key in fixed windows. The zero value is ready.
type throttle struct {
	mu   sync.Mutex
	keys map[string]*throttleWindowState
}

// attempt is the key and limit of one counter an operation must stay under.
type attempt struct {
	key   string
	limit int
}

// begin counts one attempt against every counter, unless one of them is already at its limit:
// then nothing is counted and the wait until that window ends is returned. Counting before the
// password is checked (and refunding on success) keeps concurrent guesses within the limit.
func (t *throttle) begin(now time.Time, attempts ...attempt) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.keys == nil {
		t.keys = make(map[string]*throttleWindowState)
	}
	var wait time.Duration
	for _, a := range attempts {
		w := t.keys[a.key]
		if w != nil && now.Sub(w.start) < throttleWindow && w.count >= a.limit {
			wait = max(wait, w.start.Add(throttleWindow).Sub(now))
		}
	}
	if wait > 0 {
		return wait
	}
	for _, a := range attempts {
		w := t.keys[a.key]
		if w == nil || now.Sub(w.start) >= throttleWindow {
			t.makeRoom(now)
			w = &throttleWindowState{start: now}
			t.keys[a.key] = w
		}
		w.count++
	}
	return 0
}

// forget clears the key's counter (a successful login clears its account's failures).
func (t *throttle) forget(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.keys, key)
}

// refund takes back one attempt counted by begin (a successful login is not a failure).
func (t *throttle) refund(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if w := t.keys[key]; w != nil && w.count > 0 {
		w.count--
	}
}

func (t *throttle) makeRoom(now time.Time) {
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

// tooManyRequests is the 429 problem for a throttled caller.
func tooManyRequests(wait time.Duration) *Problem {
	return &Problem{
		Status:     http.StatusTooManyRequests,
		Detail:     "Too many attempts; retry after the number of seconds in Retry-After.",
		RetryAfter: int(math.Ceil(wait.Seconds())),
	}
}

type clientIPKey struct{}

// withClientIP puts the client's address (echo's RealIP, which honours TrustedProxyHops) in the
// request context: the strict handlers see only the context, not echo's.
func withClientIP(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		c.SetRequest(req.WithContext(context.WithValue(req.Context(), clientIPKey{}, c.RealIP())))
		return next(c)
	}
}

func clientIPFrom(ctx context.Context) string {
	ip, _ := ctx.Value(clientIPKey{}).(string)
	return ip
}

// accountGuard is the per-replica state that protects credentials: the hashing slots and the
// login and registration counters. The zero value is ready.
type accountGuard struct {
	hasher   passwordHasher
	throttle throttle
	// Zero means accountFailureLimit and ipFailureLimit; tests lower them to stay fast.
	accountLimit, ipLimit int
}

func (g *accountGuard) loginAttempts(email, ip string) (account, client attempt) {
	account = attempt{accountKey(email), cmp.Or(g.accountLimit, accountFailureLimit)}
	client = attempt{loginIPKey(ip), cmp.Or(g.ipLimit, ipFailureLimit)}
	return account, client
}
