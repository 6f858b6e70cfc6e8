// Package security holds the credential primitives: argon2id password hashing and the password
// policy, signed access tokens and opaque organization tokens, and the login throttles.
package security

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// argonParams are argon2id's cost parameters, recorded in every PHC string so that a hash made
// under older parameters still verifies and is upgraded at the next login.
type argonParams struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
	KeyLen  uint32
	SaltLen uint32
}

// currentArgon is OWASP's recommended argon2id configuration (m=19 MiB, t=2, p=1).
var currentArgon = argonParams{Memory: 19 * 1024, Time: 2, Threads: 1, KeyLen: 32, SaltLen: 16}

const (
	minPasswordRunes = 12
	maxPasswordRunes = 256
	// hashQueueWait is how long a request waits for a hashing slot before it is told to retry.
	hashQueueWait = 2 * time.Second
)

// ErrHashingBusy is returned to requests that found every hashing slot taken for hashQueueWait;
// the caller should retry in a moment.
var ErrHashingBusy = errors.New("every password-hashing slot is busy")

// normalizePassword applies NFKC (NIST SP 800-63B 5.1.1.2) so that the same password typed on
// different keyboards or platforms hashes the same.
func normalizePassword(p string) string { return norm.NFKC.String(p) }

func hashPHC(p argonParams, password string) (string, error) {
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

var errBadPHC = errors.New("not an argon2id PHC string")

func parsePHC(encoded string) (argonParams, []byte, []byte, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return argonParams{}, nil, nil, errBadPHC
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return argonParams{}, nil, nil, errBadPHC
	}
	var p argonParams
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return argonParams{}, nil, nil, errBadPHC
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	key, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	// Bounds keep a corrupted or hostile row from making verification allocate without limit.
	if err1 != nil || err2 != nil || len(salt) < 8 || len(key) < 16 || len(key) > 128 ||
		p.Memory < 8 || p.Memory > 1<<20 || p.Time < 1 || p.Time > 16 || p.Threads < 1 {
		return argonParams{}, nil, nil, errBadPHC
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}

// verifyPHC reports whether password matches the encoded hash, and whether the hash should be
// replaced because it was made under other parameters than currentArgon.
func verifyPHC(encoded, password string) (ok, rehash bool) {
	p, salt, key, err := parsePHC(encoded)
	if err != nil {
		return false, false
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	ok = subtle.ConstantTimeCompare(got, key) == 1
	return ok, ok && p != currentArgon
}

// dummyHash is verified against when the account does not exist (or has no password yet), so
// that an unknown email costs the same as a wrong password.
var dummyHash = sync.OnceValue(func() string {
	random := make([]byte, 32)
	rand.Read(random)
	h, err := hashPHC(currentArgon, base64.RawStdEncoding.EncodeToString(random))
	if err != nil {
		panic(err)
	}
	return h
})

// Hasher bounds concurrent argon2id work: every hash holds 19 MiB for tens of
// milliseconds, so an unbounded login flood would exhaust memory and CPU. The zero value is ready.
type Hasher struct {
	once sync.Once
	sem  chan struct{}
}

// HashConcurrency allows one hash per CPU, between 2 and 8, so at most 152 MiB goes to hashing.
func HashConcurrency() int { return min(max(runtime.GOMAXPROCS(0), 2), 8) }

// Hold takes one hashing slot, waiting at most hashQueueWait for it, until release is called.
func (h *Hasher) Hold(ctx context.Context) (release func(), err error) {
	h.once.Do(func() { h.sem = make(chan struct{}, HashConcurrency()) })
	release = func() { <-h.sem }
	select {
	case h.sem <- struct{}{}:
		return release, nil
	default:
	}
	timer := time.NewTimer(hashQueueWait)
	defer timer.Stop()
	select {
	case h.sem <- struct{}{}:
		return release, nil
	case <-timer.C:
		return nil, ErrHashingBusy
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Hash returns the PHC string of the (normalized) password.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	release, err := h.Hold(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return hashPHC(currentArgon, normalizePassword(password))
}

// Verify checks password against encoded; an empty encoded (no such account, or no password
// set yet) is verified against dummyHash and never matches.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (ok, rehash bool, err error) {
	dummy := dummyHash() // outside the slot: the first call computes it
	release, err := h.Hold(ctx)
	if err != nil {
		return false, false, err
	}
	defer release()
	if encoded == "" {
		verifyPHC(dummy, normalizePassword(password))
		return false, false, nil
	}
	ok, rehash = verifyPHC(encoded, normalizePassword(password))
	return ok, rehash, nil
}

//go:embed passwords_common.txt
var commonPasswordsFile string

var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, 6000)
	sc := bufio.NewScanner(strings.NewReader(commonPasswordsFile))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			set[strings.ToLower(line)] = struct{}{}
		}
	}
	return set
})

// isCommonPassword reports whether the password, ignoring case, is on the shipped list, or is a
// listed word followed only by digits and symbols ("sunshine2024!!"), the most common way to
// stretch a listed password past a length rule.
func isCommonPassword(password string) bool {
	set := commonPasswords()
	lower := strings.ToLower(password)
	if _, ok := set[lower]; ok {
		return true
	}
	base := strings.TrimRightFunc(lower, func(r rune) bool {
		return unicode.IsDigit(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) || unicode.IsSpace(r)
	})
	if utf8.RuneCountInString(base) >= 4 && base != lower {
		if _, ok := set[base]; ok {
			return true
		}
	}
	return false
}

// PasswordProblems applies the NIST SP 800-63B policy: 12 to 256 characters of any kind, no
// composition rules, not a common password and not built from the account's own context (the
// email's local part, the organization's name). Each refusal says why.
func PasswordProblems(password, email, orgName string) []string {
	password = normalizePassword(password)
	var out []string
	add := func(msg string) { out = append(out, msg) }
	switch n := utf8.RuneCountInString(password); {
	case n < minPasswordRunes:
		add(fmt.Sprintf("must be at least %d characters long", minPasswordRunes))
	case n > maxPasswordRunes:
		add(fmt.Sprintf("must be at most %d characters long", maxPasswordRunes))
	}
	if isCommonPassword(password) {
		add("is too common: it appears in lists of frequently used passwords; choose a longer, unusual passphrase")
	}
	lower := strings.ToLower(password)
	squashed := strings.Join(strings.Fields(lower), "")
	local, _, _ := strings.Cut(strings.ToLower(email), "@")
	// Names shorter than 3 characters are skipped: refusing every password that contains "jo"
	// would refuse good passwords without making any of them stronger.
	if utf8.RuneCountInString(local) >= 3 && strings.Contains(lower, local) {
		add("must not contain the part of your email address before the @")
	}
	org := strings.ToLower(normalizePassword(strings.TrimSpace(orgName)))
	orgSquashed := strings.Join(strings.Fields(org), "")
	if utf8.RuneCountInString(org) >= 3 && (strings.Contains(lower, org) || strings.Contains(squashed, orgSquashed)) {
		add("must not contain the organization's name")
	}
	return out
}
