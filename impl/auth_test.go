package impl_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"golang.org/x/crypto/argon2"

	"github.com/oapi-codegen/nullable"

	mcpwarden "github.com/mcpwarden/mcpwarden/clients/go"
	"github.com/mcpwarden/mcpwarden/impl/apitest"
	"github.com/mcpwarden/mcpwarden/impl/config"
)

// A password that passes the policy and is used throughout.
const goodPassword = "violet-anchor-drifts-42"

// actx is the context of the SDK calls in the account tests.
var actx = context.Background()

func uniqueEmail(name string) string { return name + "." + uuid.NewString()[:8] + "@example.com" }

func register(t *testing.T, env *apitest.Env, email, password, org string) *mcpwarden.RegisterUserResponse {
	t.Helper()
	resp, err := env.Anonymous().RegisterUserWithResponse(actx, mcpwarden.RegisterUserJSONRequestBody{
		Email: mcpwarden.Email(email), Password: password, FullName: "Jane Doe", OrganizationName: org,
	})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func login(t *testing.T, env *apitest.Env, email, password string) *mcpwarden.LoginResponse {
	t.Helper()
	resp, err := env.Anonymous().LoginWithFormdataBodyWithResponse(actx, mcpwarden.LoginFormdataRequestBody{Username: email, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func refresh(t *testing.T, env *apitest.Env, token string) *mcpwarden.RefreshTokensResponse {
	t.Helper()
	resp, err := env.Anonymous().RefreshTokensWithResponse(actx, mcpwarden.RefreshTokensJSONRequestBody{RefreshToken: token})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func me(t *testing.T, env *apitest.Env, access string) *mcpwarden.GetCurrentUserResponse {
	t.Helper()
	resp, err := env.User(access).GetCurrentUserWithResponse(actx)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// loginFrom sends a raw form login from the given connection address and X-Forwarded-For.
func loginFrom(env *apitest.Env, remoteAddr, forwardedFor, email, password string) *http.Response {
	form := url.Values{"username": {email}, "password": {password}}
	req := httptest.NewRequest(http.MethodPost, "/auth/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = remoteAddr
	if forwardedFor != "" {
		req.Header.Set("X-Forwarded-For", forwardedFor)
	}
	return env.Do(req)
}

func TestRegisterCreatesTheOrganizationAndItsAdmin(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	email := uniqueEmail("jane")
	resp := register(t, env, email, goodPassword, "Acme Corp")
	if resp.StatusCode() != http.StatusCreated || resp.JSON201 == nil {
		t.Fatalf("register: %d %s", resp.StatusCode(), resp.Body)
	}
	u := resp.JSON201
	if u.Role != mcpwarden.Admin || !u.IsActive || string(u.Email) != email || u.FullName != "Jane Doe" {
		t.Fatalf("user %+v", u)
	}
	access, _ := env.Login(t, email, goodPassword)
	org, err := env.User(access).GetOrganizationWithResponse(actx)
	if err != nil || org.JSON200 == nil {
		t.Fatalf("organization: %v %s", err, org.Body)
	}
	if org.JSON200.Id != u.OrganizationId || org.JSON200.Name != "Acme Corp" || org.JSON200.AlertEmail != nil {
		t.Fatalf("organization %+v", org.JSON200)
	}
}

func TestRegisterRefusesAnEmailTakenInAnyCase(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	email := uniqueEmail("dup")
	if r := register(t, env, email, goodPassword, "First Org"); r.StatusCode() != http.StatusCreated {
		t.Fatalf("first: %d %s", r.StatusCode(), r.Body)
	}
	r := register(t, env, strings.ToUpper(email[:1])+email[1:], goodPassword, "Second Org")
	if r.StatusCode() != http.StatusConflict || r.ApplicationproblemJSON409 == nil {
		t.Fatalf("duplicate: %d %s", r.StatusCode(), r.Body)
	}
	var orgs int
	env.Store.DB().Get(&orgs, `SELECT count(*) FROM organizations`)
	if orgs != 1 {
		t.Fatalf("%d organizations after a refused registration, want 1", orgs)
	}
}

func TestRegisterAppliesThePasswordPolicy(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	cases := []struct {
		name, email, password, want string
	}{
		{"eleven characters", "short@example.com", "abcdefghijk", "password"},
		{"257 characters", "long@example.com", strings.Repeat("x", 257), "password"},
		{"a common password", "common@example.com", "qwertyuiop123", "too common"},
		{"a common password in capitals", "caps@example.com", "PASSWORD1234", "too common"},
		{"a listed word padded with digits and symbols", "padded@example.com", "sunshine2024!!", "too common"},
		{"the email's local part", "margaret.hamilton@example.com", "xx-margaret.hamilton-xx", "before the @"},
		{"the organization's name", "org@example.com", "my acme corp vault 77", "organization's name"},
		{"the organization's name without spaces", "org2@example.com", "zz-acmecorp-vault-77", "organization's name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := register(t, env, c.email, c.password, "Acme Corp")
			if r.StatusCode() != http.StatusBadRequest || r.ApplicationproblemJSON400 == nil {
				t.Fatalf("%d %s", r.StatusCode(), r.Body)
			}
			p := r.ApplicationproblemJSON400
			if p.Errors == nil || (*p.Errors)[0].Field != "password" {
				t.Fatalf("the problem does not name the password: %s", r.Body)
			}
			if !strings.Contains(p.Detail+fmt.Sprint(*p.Errors), c.want) {
				t.Fatalf("the problem does not say why (%q): %s", c.want, r.Body)
			}
		})
	}
	for name, pw := range map[string]string{
		"any Unicode":                 "пароль-ключ-дом-море",
		"twelve emoji-and-kana runes": "🔑🌊かぎうみ🔑🌊かぎうみ",
		"spaces and no composition":   "correct staple violet horse",
		"exactly 256 characters":      strings.Repeat("q7-", 85) + "z",
	} {
		t.Run("accepts "+name, func(t *testing.T) {
			if r := register(t, env, uniqueEmail("ok"), pw, "Zeta Org"); r.StatusCode() != http.StatusCreated {
				t.Fatalf("%d %s", r.StatusCode(), r.Body)
			}
		})
	}
}

func TestLoginIssuesAPinnedJWTAndAnOpaqueRefreshToken(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	email := uniqueEmail("tok")
	user := register(t, env, email, goodPassword, "Tokens Inc").JSON201
	r := login(t, env, email, goodPassword)
	if r.StatusCode() != http.StatusOK || r.JSON200 == nil {
		t.Fatalf("login: %d %s", r.StatusCode(), r.Body)
	}
	pair := r.JSON200
	if pair.TokenType != "bearer" || pair.ExpiresIn == nil || *pair.ExpiresIn != 1800 {
		t.Fatalf("pair %+v", pair)
	}
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(pair.AccessToken, claims, func(*jwt.Token) (any, error) { return []byte(env.Config.JWTSecret), nil })
	if err != nil {
		t.Fatal(err)
	}
	if tok.Method.Alg() != "HS256" {
		t.Fatalf("alg %s", tok.Method.Alg())
	}
	exp, _ := claims.GetExpirationTime()
	iat, _ := claims.GetIssuedAt()
	if exp == nil || iat == nil || exp.Sub(iat.Time) != 30*time.Minute {
		t.Fatalf("exp %v iat %v, want 30 minutes apart", exp, iat)
	}
	want := map[string]any{"iss": "mcpwarden", "sub": user.Id.String(), "org": user.OrganizationId.String(), "role": "admin", "typ": "access"}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("claim %s = %v, want %v", k, claims[k], v)
		}
	}
	if aud, _ := claims.GetAudience(); len(aud) != 1 || aud[0] != "mcpwarden-api" {
		t.Errorf("aud %v", aud)
	}
	if strings.Count(pair.RefreshToken, ".") != 0 || !strings.HasPrefix(pair.RefreshToken, "mcp_rt_") {
		t.Errorf("refresh token %q is not opaque", pair.RefreshToken)
	}
	// Stored as a SHA-256 only, with a 7-day life.
	var stored []struct {
		Hash    []byte    `db:"token_hash"`
		Expires time.Time `db:"expires_at"`
	}
	env.Store.DB().Select(&stored, `SELECT token_hash, expires_at FROM refresh_tokens`)
	if len(stored) != 1 || len(stored[0].Hash) != 32 || strings.Contains(string(stored[0].Hash), pair.RefreshToken) {
		t.Fatalf("stored refresh tokens: %+v", stored)
	}
	if life := time.Until(stored[0].Expires); life < 7*24*time.Hour-time.Minute || life > 7*24*time.Hour+time.Minute {
		t.Errorf("refresh token lives %v, want 7 days", life)
	}
	if got := me(t, env, pair.AccessToken); got.JSON200 == nil || got.JSON200.Id != user.Id {
		t.Fatalf("me: %d %s", got.StatusCode(), got.Body)
	}
}

// withoutRequestID drops the fields that differ between any two responses.
func withoutRequestID(t *testing.T, body []byte) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	delete(m, "request_id")
	out, _ := json.Marshal(m)
	return string(out)
}

func TestLoginAnswersAnUnknownEmailAndAWrongPasswordAlike(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	email := uniqueEmail("alike")
	register(t, env, email, goodPassword, "Alike Org")
	start := time.Now()
	wrong := login(t, env, email, "not-the-password-at-all")
	wrongTook := time.Since(start)
	start = time.Now()
	unknown := login(t, env, uniqueEmail("nobody"), "not-the-password-at-all")
	unknownTook := time.Since(start)
	if wrong.StatusCode() != http.StatusUnauthorized || unknown.StatusCode() != http.StatusUnauthorized {
		t.Fatalf("wrong password %d, unknown email %d; want 401 for both", wrong.StatusCode(), unknown.StatusCode())
	}
	if a, b := withoutRequestID(t, wrong.Body), withoutRequestID(t, unknown.Body); a != b {
		t.Fatalf("bodies differ:\n%s\n%s", a, b)
	}
	// Both verify an argon2id hash (the unknown email against a dummy one); logged, not asserted.
	t.Logf("wrong password took %v, unknown email %v", wrongTook, unknownTook)
}

func TestPasswordsAreStoredAsArgon2idPHC(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	email := uniqueEmail("phc")
	register(t, env, email, goodPassword, "Hash Org")
	var hash string
	env.Store.DB().Get(&hash, `SELECT password_hash FROM users`)
	if !regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`).MatchString(hash) {
		t.Fatalf("stored hash %q is not argon2id PHC at m=19456,t=2,p=1", hash)
	}
}

func TestLoginRehashesAHashMadeWithOlderParameters(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	email := uniqueEmail("old")
	register(t, env, email, goodPassword, "Legacy Org")
	salt := make([]byte, 16)
	rand.Read(salt)
	b64 := base64.RawStdEncoding
	weak := fmt.Sprintf("$argon2id$v=19$m=8192,t=1,p=1$%s$%s", b64.EncodeToString(salt),
		b64.EncodeToString(argon2.IDKey([]byte(goodPassword), salt, 1, 8192, 1, 32)))
	env.Store.DB().MustExec(`UPDATE users SET password_hash = $1`, weak)

	env.Login(t, email, goodPassword)
	var hash string
	env.Store.DB().Get(&hash, `SELECT password_hash FROM users`)
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash after login %q, want the current parameters", hash)
	}
	env.Login(t, email, goodPassword) // the new hash verifies
}

func TestPasswordHashingOverloadAnswers503WithRetryAfter(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	email := uniqueEmail("busy")
	register(t, env, email, goodPassword, "Busy Org")
	release := env.Server.HoldPasswordHashing()
	r := login(t, env, email, goodPassword)
	release()
	if r.StatusCode() != http.StatusServiceUnavailable || r.HTTPResponse.Header.Get("Retry-After") == "" {
		t.Fatalf("login while hashing is saturated: %d (Retry-After %q) %s", r.StatusCode(), r.HTTPResponse.Header.Get("Retry-After"), r.Body)
	}
	env.Login(t, email, goodPassword) // an overload answer is not a failed attempt
}

// TestAStrangerCannotLockTheOwnerOut: failures for an account from one address throttle that
// address for that account, and nobody else: the owner signs in from their own address.
func TestAStrangerCannotLockTheOwnerOut(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	victim := uniqueEmail("victim")
	register(t, env, victim, goodPassword, "Victim Org")
	for i := range 10 {
		if resp := loginFrom(env, "198.51.100.7:4000", "", victim, "wrong-password-guess"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, resp.StatusCode)
		}
	}
	if resp := loginFrom(env, "198.51.100.7:4000", "", victim, goodPassword); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("the guesser's 11th attempt: %d (Retry-After %q), want 429", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp := loginFrom(env, "203.0.113.50:4000", "", victim, goodPassword); resp.StatusCode != http.StatusOK {
		t.Fatalf("the owner, from their own address, after a stranger's 10 failures: %d, want 200", resp.StatusCode)
	}
}

// TestLoginIsThrottledPerAccount: a guesser spread over many addresses meets the account's
// ceiling (lowered from 100 to 12 here, to spend few argon2id verifications).
func TestLoginIsThrottledPerAccount(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(c *config.Server) { c.LoginFailuresPerAccount = 12 })
	victim, other := uniqueEmail("victim"), uniqueEmail("other")
	register(t, env, victim, goodPassword, "Victim Org")
	register(t, env, other, goodPassword, "Other Org")
	for i := range 12 {
		if resp := loginFrom(env, fmt.Sprintf("198.51.100.%d:4000", i), "", victim, "wrong-password-guess"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, resp.StatusCode)
		}
	}
	resp := loginFrom(env, "198.51.100.200:4000", "", victim, goodPassword)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("right password after the ceiling's 12 failures: %d (Retry-After %q) %s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if resp := loginFrom(env, "198.51.100.200:4000", "", other, goodPassword); resp.StatusCode != http.StatusOK {
		t.Fatalf("another account: %d", resp.StatusCode)
	}
}

// TestReplicasShareTheLoginThrottle: two replicas over one database count into the same
// budget, so a guesser alternating between them gets no more tries than from one.
func TestReplicasShareTheLoginThrottle(t *testing.T) {
	t.Parallel()
	one := apitest.New(t, func(c *config.Server) { c.LoginFailuresPerAccountAndClient = 4 })
	two := one.Replica(t)
	victim := uniqueEmail("victim")
	register(t, one, victim, goodPassword, "Victim Org")
	for i := range 4 {
		env := []*apitest.Env{one, two}[i%2]
		if resp := loginFrom(env, "198.51.100.9:4000", "", victim, "wrong-password-guess"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, resp.StatusCode)
		}
	}
	for i, env := range []*apitest.Env{one, two} {
		if resp := loginFrom(env, "198.51.100.9:4000", "", victim, goodPassword); resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("replica %d after 4 failures split between two replicas: %d, want 429", i+1, resp.StatusCode)
		}
	}
}

// TestConcurrentGuessesStayWithinTheLimit: guesses sent at once are counted one after the other,
// so no more of them are judged than the limit allows.
func TestConcurrentGuessesStayWithinTheLimit(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(c *config.Server) { c.LoginFailuresPerAccountAndClient = 3 })
	victim := uniqueEmail("victim")
	register(t, env, victim, goodPassword, "Victim Org")
	codes := make(chan int, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { codes <- loginFrom(env, "198.51.100.11:4000", "", victim, "wrong-password-guess").StatusCode })
	}
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	// A guess met by saturated password hashing gets 503 and is not counted; every other one is
	// judged (401) or refused (429), and no more than the limit are judged.
	judged, refused, busy := count[http.StatusUnauthorized], count[http.StatusTooManyRequests], count[http.StatusServiceUnavailable]
	if judged > 3 || judged+refused+busy != 8 || refused < 8-3-busy {
		t.Fatalf("8 concurrent guesses with a limit of 3: %v, want at most 3 judged (401), the others refused (429) or, under overload, 503", count)
	}
}

func TestLoginIsThrottledPerClientAddress(t *testing.T) {
	t.Parallel()
	// The limit is lowered from 50 to 5 so the test spends few argon2id verifications.
	spray := func(t *testing.T, env *apitest.Env, remote, forwarded string) {
		for i := range 5 {
			if resp := loginFrom(env, remote, forwarded, uniqueEmail("spray"), "wrong-password-guess"); resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("guess %d: %d", i, resp.StatusCode)
			}
		}
	}
	t.Run("the connection's address", func(t *testing.T) {
		t.Parallel()
		env := apitest.New(t, func(c *config.Server) { c.LoginFailuresPerClient = 5 })
		email := uniqueEmail("user")
		register(t, env, email, goodPassword, "Spray Org")
		// A forged X-Forwarded-For changes nothing when no proxy is trusted.
		spray(t, env, "203.0.113.9:5000", "10.9.9.9")
		if resp := loginFrom(env, "203.0.113.9:5000", "10.1.1.1", uniqueEmail("next"), "wrong-password-guess"); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("after 5 failures from one address: %d", resp.StatusCode)
		}
		if resp := loginFrom(env, "203.0.113.10:5000", "", email, goodPassword); resp.StatusCode != http.StatusOK {
			t.Fatalf("from another address: %d", resp.StatusCode)
		}
	})
	t.Run("behind a trusted proxy", func(t *testing.T) {
		t.Parallel()
		env := apitest.New(t, func(c *config.Server) {
			c.TrustedProxyHops = 1
			c.LoginFailuresPerClient = 5
		})
		email := uniqueEmail("user")
		register(t, env, email, goodPassword, "Proxy Org")
		const proxy = "10.0.0.2:443"
		spray(t, env, proxy, "203.0.113.50")
		if resp := loginFrom(env, proxy, "203.0.113.50", uniqueEmail("next"), "wrong-password-guess"); resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("after 5 failures from one client: %d", resp.StatusCode)
		}
		if resp := loginFrom(env, proxy, "203.0.113.51", email, goodPassword); resp.StatusCode != http.StatusOK {
			t.Fatalf("another client behind the same proxy: %d", resp.StatusCode)
		}
	})
}

func TestRefreshTokensRotateAndReuseRevokesTheLogin(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	email := uniqueEmail("rot")
	_, first := env.RegisterAndLogin(t, email, goodPassword, "Rotation Org")
	_, otherLogin := env.Login(t, email, goodPassword)

	r := refresh(t, env, first)
	if r.StatusCode() != http.StatusOK || r.JSON200 == nil {
		t.Fatalf("first refresh: %d %s", r.StatusCode(), r.Body)
	}
	second := r.JSON200.RefreshToken
	if second == first {
		t.Fatal("the refresh token did not rotate")
	}
	if got := me(t, env, r.JSON200.AccessToken); got.StatusCode() != http.StatusOK {
		t.Fatalf("the refreshed access token: %d", got.StatusCode())
	}
	// Replaying the spent token answers 401 and revokes its descendants...
	if r := refresh(t, env, first); r.StatusCode() != http.StatusUnauthorized {
		t.Fatalf("replayed token: %d %s", r.StatusCode(), r.Body)
	}
	if r := refresh(t, env, second); r.StatusCode() != http.StatusUnauthorized {
		t.Fatalf("descendant of a replayed token: %d %s", r.StatusCode(), r.Body)
	}
	// ...and ends the access tokens of the login at once...
	if got := me(t, env, r.JSON200.AccessToken); got.StatusCode() != http.StatusUnauthorized {
		t.Fatalf("an access token of the revoked login: %d, want 401", got.StatusCode())
	}
	// ...but not the tokens of another login.
	other := refresh(t, env, otherLogin)
	if other.StatusCode() != http.StatusOK {
		t.Fatalf("another login's token: %d %s", other.StatusCode(), other.Body)
	}
	if got := me(t, env, other.JSON200.AccessToken); got.StatusCode() != http.StatusOK {
		t.Fatalf("another login's access token: %d", got.StatusCode())
	}
}

func TestConcurrentRefreshesOfOneTokenYieldExactlyOneSuccess(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	_, token := env.RegisterAndLogin(t, uniqueEmail("race"), goodPassword, "Race Org")
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses = map[int]int{}
	)
	for range 20 {
		wg.Go(func() {
			r, err := env.Anonymous().RefreshTokensWithResponse(actx, mcpwarden.RefreshTokensJSONRequestBody{RefreshToken: token})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			statuses[r.StatusCode()]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if statuses[http.StatusOK] != 1 || statuses[http.StatusUnauthorized] != 19 {
		t.Fatalf("statuses %v, want one 200 and nineteen 401", statuses)
	}
}

func TestRefreshRefusesExpiredUnknownAndMalformedTokens(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	access, token := env.RegisterAndLogin(t, uniqueEmail("exp"), goodPassword, "Expiry Org")
	env.Store.DB().MustExec(`UPDATE refresh_tokens SET expires_at = now() - interval '1 second'`)
	cases := map[string]string{
		"expired":                     token,
		"unknown":                     "mcp_rt_" + base64.RawURLEncoding.EncodeToString(make([]byte, 48)),
		"malformed":                   "mcp_rt_???",
		"an access token":             access,
		"a token with another prefix": "mcp_st_" + strings.TrimPrefix(token, "mcp_rt_"),
	}
	for name, tok := range cases {
		if r := refresh(t, env, tok); r.StatusCode() != http.StatusUnauthorized {
			t.Errorf("%s: %d %s", name, r.StatusCode(), r.Body)
		}
	}
}

func TestLogoutRevokesTheLogin(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	email := uniqueEmail("bye")
	access, token := env.RegisterAndLogin(t, email, goodPassword, "Logout Org")
	otherAccess, _ := env.Login(t, email, goodPassword)
	r := refresh(t, env, token)
	if r.StatusCode() != http.StatusOK {
		t.Fatalf("refresh: %d", r.StatusCode())
	}
	// Logging out with the spent ancestor still ends the whole login.
	for _, tok := range []string{token, "mcp_rt_unknown", "anything"} {
		resp, err := env.Anonymous().LogoutWithResponse(actx, mcpwarden.LogoutJSONRequestBody{RefreshToken: tok})
		if err != nil || resp.StatusCode() != http.StatusNoContent {
			t.Fatalf("logout %q: %v %d", tok, err, resp.StatusCode())
		}
	}
	if r := refresh(t, env, r.JSON200.RefreshToken); r.StatusCode() != http.StatusUnauthorized {
		t.Fatalf("refresh after logout: %d", r.StatusCode())
	}
	// The login's access tokens end with it, the one issued at login and the refreshed one.
	for name, tok := range map[string]string{"the login's": access, "the refreshed": r.JSON200.AccessToken} {
		if got := me(t, env, tok); got.StatusCode() != http.StatusUnauthorized {
			t.Errorf("%s access token after logout: %d, want 401", name, got.StatusCode())
		}
	}
	if got := me(t, env, otherAccess); got.StatusCode() != http.StatusOK {
		t.Errorf("another login's access token after logout: %d, want 200", got.StatusCode())
	}
}

// TestEmailChangeChecksTheCurrentPassword: a current_password sent with a profile change is
// checked; with MCPWARDEN_EMAIL_CHANGE_REQUIRES_PASSWORD the email changes only with it, while
// by default the reference's request (name and email alone) keeps working.
func TestEmailChangeChecksTheCurrentPassword(t *testing.T) {
	t.Parallel()
	update := func(env *apitest.Env, access string, body mcpwarden.UpdateCurrentUserJSONRequestBody) *mcpwarden.UpdateCurrentUserResponse {
		t.Helper()
		resp, err := env.User(access).UpdateCurrentUserWithResponse(actx, body)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	wantField := func(what string, resp *mcpwarden.UpdateCurrentUserResponse, message string) {
		t.Helper()
		if resp.StatusCode() != http.StatusBadRequest || !strings.Contains(string(resp.Body), `"current_password"`) || !strings.Contains(string(resp.Body), message) {
			t.Errorf("%s: %d %s, want 400 naming current_password (%s)", what, resp.StatusCode(), resp.Body, message)
		}
	}
	wrong, right := "wrong-password-guess", goodPassword
	newEmail := func(name string) *mcpwarden.Email { e := mcpwarden.Email(uniqueEmail(name)); return &e }
	name := "Renamed"

	t.Run("by default", func(t *testing.T) {
		t.Parallel()
		env := apitest.New(t)
		access, _ := env.RegisterAndLogin(t, uniqueEmail("dflt"), goodPassword, "Default Org")
		if resp := update(env, access, mcpwarden.UpdateCurrentUserJSONRequestBody{FullName: &name, Email: newEmail("ref")}); resp.StatusCode() != http.StatusOK {
			t.Errorf("the reference's request, name and email: %d %s", resp.StatusCode(), resp.Body)
		}
		wantField("a wrong current password", update(env, access, mcpwarden.UpdateCurrentUserJSONRequestBody{Email: newEmail("x"), CurrentPassword: &wrong}), "is not your current password")
		if resp := update(env, access, mcpwarden.UpdateCurrentUserJSONRequestBody{Email: newEmail("y"), CurrentPassword: &right}); resp.StatusCode() != http.StatusOK {
			t.Errorf("with the right current password: %d %s", resp.StatusCode(), resp.Body)
		}
	})
	t.Run("required", func(t *testing.T) {
		t.Parallel()
		env := apitest.New(t, func(c *config.Server) { c.EmailChangeRequiresPassword = true })
		email := uniqueEmail("req")
		access, _ := env.RegisterAndLogin(t, email, goodPassword, "Strict Org")
		wantField("an email change without the password", update(env, access, mcpwarden.UpdateCurrentUserJSONRequestBody{Email: newEmail("x")}), "is required")
		wantField("with a wrong password", update(env, access, mcpwarden.UpdateCurrentUserJSONRequestBody{Email: newEmail("x"), CurrentPassword: &wrong}), "is not your current password")
		same := mcpwarden.Email(email)
		// In this order: once the email has changed, the first one is no longer "the same".
		for _, c := range []struct {
			what string
			body mcpwarden.UpdateCurrentUserJSONRequestBody
		}{
			{"a name change alone", mcpwarden.UpdateCurrentUserJSONRequestBody{FullName: &name}},
			{"the same email", mcpwarden.UpdateCurrentUserJSONRequestBody{Email: &same}},
			{"an email change with the password", mcpwarden.UpdateCurrentUserJSONRequestBody{Email: newEmail("z"), CurrentPassword: &right}},
		} {
			if resp := update(env, access, c.body); resp.StatusCode() != http.StatusOK {
				t.Errorf("%s: %d %s", c.what, resp.StatusCode(), resp.Body)
			}
		}
	})
}

func TestProfileCanBeReadAndUpdated(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	email := uniqueEmail("prof")
	access, _ := env.RegisterAndLogin(t, email, goodPassword, "Profile Org")
	newName, newEmail := "Jane Smith", mcpwarden.Email(uniqueEmail("renamed"))
	resp, err := env.User(access).UpdateCurrentUserWithResponse(actx, mcpwarden.UpdateCurrentUserJSONRequestBody{FullName: &newName, Email: &newEmail})
	if err != nil || resp.JSON200 == nil {
		t.Fatalf("update: %v %s", err, resp.Body)
	}
	if resp.JSON200.FullName != newName || resp.JSON200.Email != newEmail {
		t.Fatalf("updated user %+v", resp.JSON200)
	}
	if got := me(t, env, access); got.JSON200 == nil || got.JSON200.FullName != newName {
		t.Fatalf("me after update: %s", got.Body)
	}
	if r := login(t, env, email, goodPassword); r.StatusCode() != http.StatusUnauthorized {
		t.Fatalf("login with the old email: %d", r.StatusCode())
	}
	env.Login(t, strings.ToUpper(string(newEmail)), goodPassword)
	// The old email is free again.
	if r := register(t, env, email, goodPassword, "Another Org"); r.StatusCode() != http.StatusCreated {
		t.Fatalf("registering the released email: %d %s", r.StatusCode(), r.Body)
	}
}

func TestProfileUpdateRefusesFieldsOtherThanNameAndEmail(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	access, _ := env.RegisterAndLogin(t, uniqueEmail("esc"), goodPassword, "Escalation Org")
	other := uuid.NewString()
	for _, body := range []string{
		`{"role":"admin","full_name":"Mallory"}`,
		`{"organization_id":"` + other + `"}`,
		`{"is_active":false}`,
		`{"password_hash":"x"}`,
		`{}`,
	} {
		resp, err := env.User(access).UpdateCurrentUserWithBodyWithResponse(actx, "application/json", strings.NewReader(body))
		if err != nil || resp.StatusCode() != http.StatusBadRequest {
			t.Fatalf("%s: %v %d %s", body, err, resp.StatusCode(), resp.Body)
		}
	}
	got := me(t, env, access).JSON200
	if got.FullName != "Test Admin" || got.Role != mcpwarden.Admin || got.OrganizationId.String() == other {
		t.Fatalf("user changed: %+v", got)
	}
}

func TestProfileEmailIsUniqueAcrossOrganizations(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	taken := uniqueEmail("taken")
	register(t, env, taken, goodPassword, "Taken Org")
	mine := uniqueEmail("mine")
	access, _ := env.RegisterAndLogin(t, mine, goodPassword, "Mine Org")
	upper := mcpwarden.Email(strings.ToUpper(taken))
	resp, _ := env.User(access).UpdateCurrentUserWithResponse(actx, mcpwarden.UpdateCurrentUserJSONRequestBody{Email: &upper})
	if resp.StatusCode() != http.StatusConflict {
		t.Fatalf("taking another account's email: %d %s", resp.StatusCode(), resp.Body)
	}
	// Changing the case of one's own email is not a conflict.
	own := mcpwarden.Email(strings.ToUpper(mine[:1]) + mine[1:])
	resp, _ = env.User(access).UpdateCurrentUserWithResponse(actx, mcpwarden.UpdateCurrentUserJSONRequestBody{Email: &own})
	if resp.StatusCode() != http.StatusOK || resp.JSON200.Email != own {
		t.Fatalf("recasing one's own email: %d %s", resp.StatusCode(), resp.Body)
	}
}

func TestPasswordChangeEndsEverySessionIssuedBefore(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	email := uniqueEmail("chg")
	access, refreshToken := env.RegisterAndLogin(t, email, goodPassword, "Change Org")
	change := func(current, next string) *mcpwarden.ChangePasswordResponse {
		r, err := env.User(access).ChangePasswordWithResponse(actx, mcpwarden.ChangePasswordJSONRequestBody{CurrentPassword: current, NewPassword: next})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := change("not-my-password-1", "brand-new-passphrase-9"); r.StatusCode() != http.StatusBadRequest || !strings.Contains(string(r.Body), "current_password") {
		t.Fatalf("wrong current password: %d %s", r.StatusCode(), r.Body)
	}
	if r := change(goodPassword, "password12345"); r.StatusCode() != http.StatusBadRequest || !strings.Contains(string(r.Body), "new_password") {
		t.Fatalf("common new password: %d %s", r.StatusCode(), r.Body)
	}
	if r := change(goodPassword, "brand-new-passphrase-9"); r.StatusCode() != http.StatusNoContent {
		t.Fatalf("change: %d %s", r.StatusCode(), r.Body)
	}
	if r := me(t, env, access); r.StatusCode() != http.StatusUnauthorized {
		t.Fatalf("access token issued before the change: %d", r.StatusCode())
	}
	if r := refresh(t, env, refreshToken); r.StatusCode() != http.StatusUnauthorized {
		t.Fatalf("refresh token issued before the change: %d", r.StatusCode())
	}
	if r := login(t, env, email, goodPassword); r.StatusCode() != http.StatusUnauthorized {
		t.Fatalf("old password: %d", r.StatusCode())
	}
	fresh, _ := env.Login(t, email, "brand-new-passphrase-9")
	if r := me(t, env, fresh); r.StatusCode() != http.StatusOK {
		t.Fatalf("token after the change: %d", r.StatusCode())
	}
}

func TestOrganizationSettingsAreAdminOnly(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	access, _ := env.RegisterAndLogin(t, uniqueEmail("orgadm"), goodPassword, "Settings Org")
	admin := env.User(access)
	name, alert := "Settings Org Renamed", "security@example.com"
	r, err := admin.UpdateOrganizationWithResponse(actx, mcpwarden.UpdateOrganizationJSONRequestBody{Name: &name, AlertEmail: nullable.NewNullableWithValue(alert)})
	if err != nil || r.JSON200 == nil || r.JSON200.Name != name || r.JSON200.AlertEmail == nil || string(*r.JSON200.AlertEmail) != alert {
		t.Fatalf("update: %v %s", err, r.Body)
	}
	// Renaming alone keeps the alert email; an explicit null clears it.
	other := "Settings Org Again"
	r, _ = admin.UpdateOrganizationWithResponse(actx, mcpwarden.UpdateOrganizationJSONRequestBody{Name: &other})
	if r.JSON200 == nil || r.JSON200.AlertEmail == nil {
		t.Fatalf("rename: %s", r.Body)
	}
	r, _ = admin.UpdateOrganizationWithBodyWithResponse(actx, "application/json", strings.NewReader(`{"alert_email":null}`))
	if r.JSON200 == nil || r.JSON200.AlertEmail != nil || r.JSON200.Name != other {
		t.Fatalf("clear alert email: %d %s", r.StatusCode(), r.Body)
	}
	// A rename with an explicit null clears it too (null is not the same as leaving it out).
	admin.UpdateOrganizationWithResponse(actx, mcpwarden.UpdateOrganizationJSONRequestBody{AlertEmail: nullable.NewNullableWithValue(alert)})
	third := "Settings Org Third"
	r, _ = admin.UpdateOrganizationWithResponse(actx, mcpwarden.UpdateOrganizationJSONRequestBody{Name: &third, AlertEmail: nullable.NewNullNullable[string]()})
	if r.JSON200 == nil || r.JSON200.AlertEmail != nil || r.JSON200.Name != third {
		t.Fatalf("rename and clear: %d %s", r.StatusCode(), r.Body)
	}
	for _, body := range []string{`{}`, `{"name":""}`, `{"alert_email":"nope"}`, `{"id":"` + uuid.NewString() + `"}`} {
		if r, _ := admin.UpdateOrganizationWithBodyWithResponse(actx, "application/json", strings.NewReader(body)); r.StatusCode() != http.StatusBadRequest {
			t.Errorf("%s: %d", body, r.StatusCode())
		}
	}
}

// TestForgedAndMisusedTokensAreRefused pins RFC 8725: only HS256 access tokens signed with the
// server's secret, unexpired, for this issuer and audience, of a user that still exists.
func TestForgedAndMisusedTokensAreRefused(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	email := uniqueEmail("jwt")
	access, refreshToken := env.RegisterAndLogin(t, email, goodPassword, "JWT Org")
	valid := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(access, valid); err != nil {
		t.Fatal(err)
	}
	secret := []byte(env.Config.JWTSecret)
	with := func(change func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{}
		for k, v := range valid {
			c[k] = v
		}
		change(c)
		return c
	}
	hs256 := func(c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, valid).SignedString(jwt.UnsafeAllowNoneSignatureType)
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, valid).SignedString(secret)
	rs256, _ := jwt.NewWithClaims(jwt.SigningMethodRS256, valid).SignedString(rsaKey)
	otherSecret, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, valid).SignedString([]byte(strings.Repeat("x", 32)))
	// The header says RS256 but the signature is the HMAC with the server's secret (key confusion).
	header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))
	parts := strings.Split(access, ".")
	confused := header + "." + parts[1] + "." + parts[2]
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(mustDecode(t, parts[1]), `"role":"admin"`, `"role":"admin" `, 1))) + "." + parts[2]
	now := time.Now()

	cases := map[string]string{
		"alg none":           none,
		"alg none, unsigned": strings.TrimSuffix(none, "."),
		"HS512":              hs512,
		"RS256":              rs256,
		"RS256 header, HMAC": confused,
		"bad signature":      otherSecret,
		"tampered payload":   tampered,
		"missing exp":        hs256(with(func(c jwt.MapClaims) { delete(c, "exp") })),
		"expired": hs256(with(func(c jwt.MapClaims) {
			c["exp"] = now.Add(-time.Minute).Unix()
			c["iat"] = now.Add(-31 * time.Minute).Unix()
		})),
		"issued in the future": hs256(with(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Hour).Unix() })),
		"wrong iss":            hs256(with(func(c jwt.MapClaims) { c["iss"] = "someone-else" })),
		"wrong aud":            hs256(with(func(c jwt.MapClaims) { c["aud"] = "another-api" })),
		"no token type":        hs256(with(func(c jwt.MapClaims) { delete(c, "typ") })),
		"refresh token type":   hs256(with(func(c jwt.MapClaims) { c["typ"] = "refresh" })),
		"stale token version":  hs256(with(func(c jwt.MapClaims) { c["ver"] = 99 })),
		"deleted user":         hs256(with(func(c jwt.MapClaims) { c["sub"] = uuid.NewString() })),
		"another organization": hs256(with(func(c jwt.MapClaims) { c["org"] = uuid.NewString() })),
		"refresh token":        refreshToken,
		"garbage":              "not.a.jwt",
		"exp as a string":      hs256(with(func(c jwt.MapClaims) { c["exp"] = strconv.FormatInt(now.Add(10*time.Minute).Unix(), 10) })),
		"iat as a string":      hs256(with(func(c jwt.MapClaims) { c["iat"] = strconv.FormatInt(now.Unix(), 10) })),
		"nbf as a string":      hs256(with(func(c jwt.MapClaims) { c["nbf"] = strconv.FormatInt(now.Unix(), 10) })),
	}
	for name, token := range cases {
		t.Run(name, func(t *testing.T) {
			if r := me(t, env, token); r.StatusCode() != http.StatusUnauthorized {
				t.Fatalf("%d %s", r.StatusCode(), r.Body)
			}
		})
	}
	t.Run("the genuine token still works", func(t *testing.T) {
		if r := me(t, env, hs256(valid)); r.StatusCode() != http.StatusOK {
			t.Fatalf("%d %s", r.StatusCode(), r.Body)
		}
	})
	t.Run("an access token at /auth/refresh", func(t *testing.T) {
		if r := refresh(t, env, access); r.StatusCode() != http.StatusUnauthorized {
			t.Fatalf("%d %s", r.StatusCode(), r.Body)
		}
	})
}

func mustDecode(t *testing.T, s string) string {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestNoResponseCarriesAHash walks through every account operation and checks that no response
// body contains a password hash or a refresh or setup token hash, in any encoding.
func TestNoResponseCarriesAHash(t *testing.T) {
	t.Parallel()
	env := apitest.New(t)
	var bodies []string
	keep := func(b []byte) { bodies = append(bodies, string(b)) }

	email := uniqueEmail("leak")
	keep(register(t, env, email, goodPassword, "Leak Org").Body)
	lr := login(t, env, email, goodPassword)
	keep(lr.Body)
	rr := refresh(t, env, lr.JSON200.RefreshToken)
	keep(rr.Body)
	admin := env.User(rr.JSON200.AccessToken)
	meResp, _ := admin.GetCurrentUserWithResponse(actx)
	keep(meResp.Body)
	name := "Leaky Jane"
	up, _ := admin.UpdateCurrentUserWithResponse(actx, mcpwarden.UpdateCurrentUserJSONRequestBody{FullName: &name})
	keep(up.Body)
	org, _ := admin.GetOrganizationWithResponse(actx)
	keep(org.Body)
	memberEmail := uniqueEmail("member")
	cm, _ := admin.CreateMemberWithResponse(actx, mcpwarden.CreateMemberJSONRequestBody{Email: mcpwarden.Email(memberEmail), FullName: "Member"})
	keep(cm.Body)
	acc, _ := env.Anonymous().AcceptInvitationWithResponse(actx, mcpwarden.AcceptInvitationJSONRequestBody{SetupToken: cm.JSON201.SetupToken, Password: goodPassword})
	keep(acc.Body)
	list, _ := admin.ListMembersWithResponse(actx, nil)
	keep(list.Body)
	um, _ := admin.UpdateMemberWithResponse(actx, cm.JSON201.User.Id, mcpwarden.UpdateMemberJSONRequestBody{Role: mcpwarden.Admin})
	keep(um.Body)
	keep(login(t, env, email, "wrong-password-here").Body)

	var secrets []string
	var hashes []string
	env.Store.DB().Select(&hashes, `SELECT password_hash FROM users WHERE password_hash IS NOT NULL`)
	secrets = append(secrets, hashes...)
	var raw [][]byte
	env.Store.DB().Select(&raw, `SELECT token_hash FROM refresh_tokens UNION ALL SELECT setup_token_hash FROM users WHERE setup_token_hash IS NOT NULL`)
	for _, h := range raw {
		secrets = append(secrets, hex.EncodeToString(h), base64.StdEncoding.EncodeToString(h), base64.RawURLEncoding.EncodeToString(h))
	}
	if len(hashes) != 2 || len(raw) < 2 {
		t.Fatalf("expected hashes to look for: %d password, %d token", len(hashes), len(raw))
	}
	for _, b := range bodies {
		for _, s := range secrets {
			if strings.Contains(b, s) {
				t.Errorf("response carries a stored hash: %s", b)
			}
		}
		for _, word := range []string{"argon2", "password_hash", "token_hash", "token_version"} {
			if strings.Contains(b, word) {
				t.Errorf("response mentions %s: %s", word, b)
			}
		}
	}
}

// TestClosedRegistrationRefusesNewOrganizationsButNotInvitations: MCPWARDEN_REGISTRATION=closed
// answers 403 to registration, while an existing organization's invitations keep working.
func TestClosedRegistrationRefusesNewOrganizationsButNotInvitations(t *testing.T) {
	t.Parallel()
	env := apitest.New(t, func(c *config.Server) { c.Registration = "closed" })
	if resp := register(t, env, uniqueEmail("stranger"), goodPassword, "Stranger Org"); resp.StatusCode() != http.StatusForbidden || !strings.Contains(string(resp.Body), "MCPWARDEN_REGISTRATION=closed") {
		t.Fatalf("registration while closed: %d %s, want 403 saying why", resp.StatusCode(), resp.Body)
	}
	_, adminAccess := env.SeedUser(t, "admin")
	email := uniqueEmail("invited")
	inv := invite(t, env, adminAccess, email, nil)
	if r := accept(t, env, inv.SetupToken, goodPassword); r.StatusCode() != http.StatusOK {
		t.Fatalf("accepting an invitation while registration is closed: %d %s", r.StatusCode(), r.Body)
	}
	env.Login(t, email, goodPassword)
}
