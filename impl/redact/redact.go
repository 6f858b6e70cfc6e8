// Package redact removes secrets from command lines, URLs and configuration
// values before they are shown or leave the machine. The agent and the
// server share it, so a value is judged the same way at both ends.
//
// The secret formats are regular expressions, but an argument is searched only with those
// whose literals it contains (the prefilter, prefilter.go). On the commands of a changed
// report and three that carry secrets (benchCommands in redact_test.go), redaction takes
// 11,328 ns, 1,517 B and 18 allocations with the prefilter, and 317,256 ns, about 112,300 B
// and 6,354 allocations running every pattern's replacement on every argument (each copies
// the argument even where it finds nothing): 28 times the time (24 to 31 times over five runs
// on a noisy 2-core machine). Medians of 10, from
//
//	go test -run '^$' -bench BenchmarkCommandPrefilter -benchmem -count 10 ./impl/redact
//
// Beyond those patterns, every format of gitleaks' default rules (and mcpwarden's additions) is
// recognised from the rule files themselves (formats.go, rules/README.md): a rule's expression
// runs on an argument only when the argument holds one of the rule's keywords, found for all
// rules in one pass. On the same commands they take redaction from 13.1 µs to 27.3 µs (medians
// of 9 runs of the prefilter and without_rule_files cases of the benchmark above, on the shared
// 2-core machine, 2.1 times), for some 220 formats more; the allocations stay at 18. Running
// the rule files through gitleaks itself is not an option: its config package brings viper and
// its detector scans files, not arguments.
package redact

import (
	"math/bits"
	"net/url"
	"path"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Mask replaces every secret.
const Mask = "[REDACTED]"

// Value redacts an env or header value. Whatever its name, a configured value
// may be a credential, so only its presence is kept.
func Value(name, value string) string {
	if value == "" {
		return ""
	}
	return Mask
}

// secretSuffixes end a word that names a secret ("clientsecret", "accesstoken").
var secretSuffixes = []string{
	"token", "tokens", "secret", "secrets", "password", "passwords", "passwd",
	"apikey", "apikeys", "accesskey", "privatekey", "secretkey", "credential",
	"credentials", "passphrase", "bearer", "cookie", "signature", "authorization",
	"connectionstring", "connstr",
}

// secretWords name a secret only as a whole word: "key" yes, "keyboard" no.
var secretWords = map[string]bool{
	"pass": true, "pwd": true, "pw": true, "key": true, "keys": true, "auth": true,
	"pat": true, "sig": true, "dsn": true, "jwt": true, "creds": true, "otp": true,
}

// harmlessLast are final words that turn a secret-sounding name into the name
// of something else: a file holding the token, the URL to fetch it from.
var harmlessLast = map[string]bool{
	"file": true, "path": true, "dir": true, "directory": true, "url": true,
	"uri": true, "endpoint": true, "host": true, "port": true, "type": true,
	"name": true, "mode": true, "env": true, "var": true, "length": true,
	"ttl": true, "expiry": true, "timeout": true, "count": true, "enabled": true,
	"method": true, "location": true, "required": true, "scopes": true, "scope": true,
}

// harmlessFirst start names of switches that take no secret ("--no-auth").
var harmlessFirst = map[string]bool{"no": true, "disable": true, "skip": true, "without": true}

// LooksSecretName reports whether an env variable, flag, header or query
// parameter name suggests its value is a credential.
func LooksSecretName(name string) bool {
	var buf [64]byte
	var ends [32]int
	if joined, wordEnds, ok := asciiWords(name, buf[:0], ends[:0]); ok {
		return looksSecretASCII(joined, wordEnds)
	}
	return looksSecret(splitWords(name))
}

// looksSecret is LooksSecretName on the words of a name.
func looksSecret(words []string) bool {
	if len(words) == 0 || harmlessLast[words[len(words)-1]] || harmlessFirst[words[0]] {
		return false
	}
	// Compound names split across words: CONNECTION_STRING, PASS_PHRASE.
	for _, w := range append(words, strings.Join(words, "")) {
		if secretWords[w] {
			return true
		}
		for _, s := range secretSuffixes {
			if strings.HasSuffix(w, s) {
				return true
			}
		}
	}
	return false
}

// splitWords lowercases name and splits it at punctuation and camelCase
// boundaries, keeping acronyms whole: "OpenAIKey" → open, ai, key.
func splitWords(name string) []string {
	var words []string
	var cur []rune
	rs := []rune(name)
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	for i, r := range rs {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			flush()
			continue
		}
		if unicode.IsUpper(r) && i > 0 {
			prev := rs[i-1]
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
				flush()
			}
		}
		cur = append(cur, r)
	}
	flush()
	return words
}

// asciiWords is splitWords for an ASCII name, appending to buf and ends (no allocation while
// they have room): the lowercased letters and digits of name, and where each word ends among
// them. ok is false when name is not ASCII.
func asciiWords(name string, buf []byte, ends []int) (joined []byte, wordEnds []int, ok bool) {
	word := 0 // where the current word starts in buf
	flush := func() {
		if len(buf) > word {
			ends = append(ends, len(buf))
			word = len(buf)
		}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= utf8.RuneSelf:
			return nil, nil, false
		case isLower(c) || isDigit(c):
		case isUpper(c):
			if i > 0 {
				prev := name[i-1]
				nextLower := i+1 < len(name) && isLower(name[i+1])
				if isLower(prev) || isDigit(prev) || isUpper(prev) && nextLower {
					flush()
				}
			}
			c += 'a' - 'A'
		default:
			flush()
			continue
		}
		buf = append(buf, c)
	}
	flush()
	return buf, ends, true
}

// looksSecretASCII is LooksSecretName on the words asciiWords found.
func looksSecretASCII(joined []byte, ends []int) bool {
	if len(ends) == 0 {
		return false
	}
	secret := len(ends) > 1 && secretWord(joined) // compound names: CONNECTION_STRING
	for i, start := 0, 0; !secret && i < len(ends); i++ {
		secret, start = secretWord(joined[start:ends[i]]), ends[i]
	}
	if !secret {
		return false
	}
	first, last := joined[:ends[0]], joined[:ends[0]]
	if n := len(ends); n > 1 {
		last = joined[ends[n-2]:]
	}
	return !harmlessLast[string(last)] && !harmlessFirst[string(first)]
}

// secretWord reports whether w (not empty) is one of secretWords or ends with one of
// secretSuffixes.
func secretWord(w []byte) bool {
	for _, e := range secretEndings[w[len(w)-1]] {
		if e.whole && string(w) == e.text || !e.whole && len(w) >= len(e.text) && string(w[len(w)-len(e.text):]) == e.text {
			return true
		}
	}
	return false
}

// secretEndings are secretWords and secretSuffixes by their last byte, so that a word is
// compared with the few that could end it.
var secretEndings = func() (byLast [256][]secretEnding) {
	for w, ok := range secretWords {
		if ok {
			byLast[w[len(w)-1]] = append(byLast[w[len(w)-1]], secretEnding{text: w, whole: true})
		}
	}
	for _, s := range secretSuffixes {
		byLast[s[len(s)-1]] = append(byLast[s[len(s)-1]], secretEnding{text: s})
	}
	return byLast
}()

type secretEnding struct {
	text  string
	whole bool // a word that is text, not one that ends with it
}

func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }

// keyPatterns match credentials by their published formats, wherever they
// appear. Prefixes are specific enough that the false-positive rate is low.
var keyPatterns = []*regexp.Regexp{
	regexp.MustCompile(`\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}\b`),
	regexp.MustCompile(`\bgh[pousr]_[A-Za-z0-9]{30,255}\b`),
	regexp.MustCompile(`\bgithub_pat_[A-Za-z0-9_]{22,255}\b`),
	regexp.MustCompile(`\bgl(?:pat|dt|rt|ptt|soat|cbt)-[A-Za-z0-9_-]{20,}`),
	regexp.MustCompile(`\bxox[abposre]-[A-Za-z0-9-]{10,}`),
	regexp.MustCompile(`\bxapp-[0-9]-[A-Za-z0-9-]{10,}`),
	regexp.MustCompile(`hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_-]+`),
	regexp.MustCompile(`\b[rsp]k_(?:live|test)_[A-Za-z0-9]{10,}\b`),
	regexp.MustCompile(`\bwhsec_[A-Za-z0-9]{20,}\b`),
	regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}`),
	regexp.MustCompile(`\bya29\.[0-9A-Za-z_-]{20,}`),
	regexp.MustCompile(`\bGOCSPX-[0-9A-Za-z_-]{20,}`),
	regexp.MustCompile(`\bmcp_sk_[A-Za-z0-9_-]{8,}`),
	regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`),
	regexp.MustCompile(`\bhf_[A-Za-z0-9]{30,}\b`),
	regexp.MustCompile(`\bnpm_[A-Za-z0-9]{36}\b`),
	regexp.MustCompile(`\bpypi-[A-Za-z0-9_-]{50,}`),
	regexp.MustCompile(`\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}`),
	regexp.MustCompile(`\blin_(?:api|oauth)_[A-Za-z0-9]{32,}\b`),
	regexp.MustCompile(`\bntn_[A-Za-z0-9]{40,}\b`),
	regexp.MustCompile(`\bsecret_[A-Za-z0-9]{43}\b`),
	regexp.MustCompile(`\bgsk_[A-Za-z0-9]{40,}\b`),
	regexp.MustCompile(`\bxai-[A-Za-z0-9]{40,}\b`),
	regexp.MustCompile(`\bpplx-[A-Za-z0-9]{40,}\b`),
	regexp.MustCompile(`\btvly-[A-Za-z0-9_-]{20,}`),
	regexp.MustCompile(`\bdop_v1_[a-f0-9]{64}\b`),
	regexp.MustCompile(`\bshp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b`),
	regexp.MustCompile(`\bsbp_[a-f0-9]{40}\b`),
	regexp.MustCompile(`\bATATT3[A-Za-z0-9_=-]{50,}`),
	regexp.MustCompile(`\bPMAK-[a-f0-9]{24}-[a-f0-9]{34}\b`),
	regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----[^-]*(?:-----END [A-Z ]*PRIVATE KEY-----)?`),
}

var openAIKey = regexp.MustCompile(`\bsk-(?:ant-|proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}`)

var (
	// The password is everything between the user and the last "@" of the
	// authority; unencoded passwords cannot contain "/", "?" or "#".
	urlPassword = regexp.MustCompile(`(?i)\b([a-z][a-z0-9+.-]*://[^\s/?#@:]*):([^\s/?#]+)@`)
	queryParam  = regexp.MustCompile(`([?&;])([^=&#\s?;]+)=([^&#\s"';]*)`)
	authScheme  = regexp.MustCompile(`(?i)\b(bearer|basic|token)(\s+|%20|\+)([^\s"',;]+)`)
	envAssign   = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_.-]*)=(.*)$`)
	headerPair  = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9_-]*):\s*(.*)$`)
	placeholder = regexp.MustCompile(`^(?:\$\{[A-Za-z_][A-Za-z0-9_:.-]*\}|\$[A-Za-z_][A-Za-z0-9_]*|%[A-Za-z_][A-Za-z0-9_]*%|\{env:[A-Za-z_][A-Za-z0-9_]*\})$`)
)

// passwordPrograms take a password through -p (mysql's attached -pSECRET
// too) or -a (redis-cli). Elsewhere -p is a port, a package or a path.
var passwordPrograms = map[string]string{
	"mysql": "p", "mysqldump": "p", "mysqladmin": "p", "mariadb": "p",
	"mariadb-dump": "p", "mysqlsh": "p", "sshpass": "p", "mongo": "p",
	"mongosh": "p", "mongodump": "p", "redis-cli": "a", "valkey-cli": "a",
}

// Command redacts the secrets in a command line or URL, keeping its shape
// so the result still says what runs.
func Command(s string) string {
	var (
		r       = argRedactor{formats: !skipFormats}
		b       strings.Builder
		written int // s[:written] is in b, once an argument changed
	)
	args := argSplitter{s: s}
	for {
		start, end := args.next()
		if start == end {
			break
		}
		a := s[start:end]
		out := r.redact(a)
		if out == a {
			continue
		}
		if written == 0 {
			b.Grow(len(s))
		}
		b.WriteString(s[written:start])
		b.WriteString(out)
		written = end
	}
	out := s // the common case: no secret, nothing to rebuild
	if written > 0 {
		b.WriteString(s[written:])
		out = b.String()
	}
	if skipFormats {
		return out
	}
	// A few formats span arguments (curl -u 'user:pass', a private key): they read the whole line.
	return redactLineFormats(out)
}

// argSplitter cuts a command line into arguments at white space, keeping
// quoted spans whole so a quoted "Bearer xyz" stays one argument. An
// unbalanced quote anywhere falls back to plain white space splitting.
type argSplitter struct {
	s      string
	i      int
	quotes int8 // 1: quoted spans are kept whole, -1: they are not, 0: no quote seen yet
}

// next returns where the next argument is in s; start == end after the last.
func (sp *argSplitter) next() (start, end int) {
	s, i := sp.s, sp.i
	for i < len(s) {
		space, n := spaceAt(s, i)
		if !space {
			break
		}
		i += n
	}
	start = i
arg:
	for i < len(s) {
		switch c := s[i]; argBytes[c] {
		case plainByte:
			i++
		case spaceByte:
			break arg
		case multiByte:
			r, n := utf8.DecodeRuneInString(s[i:])
			if unicode.IsSpace(r) {
				break arg
			}
			i += n
		case quoteByte:
			i++
			if !sp.keepQuotes() {
				continue
			}
			if j := strings.IndexByte(s[i:], c); j >= 0 { // the argument goes on past the closing quote
				i += j + 1
			} else {
				i = len(s)
			}
		}
	}
	sp.i = i
	return start, i
}

// spaceAt reports whether s has a unicode.IsSpace rune at i, and the rune's length.
func spaceAt(s string, i int) (bool, int) {
	switch argBytes[s[i]] {
	case spaceByte:
		return true, 1
	case multiByte:
		r, n := utf8.DecodeRuneInString(s[i:])
		return unicode.IsSpace(r), n
	}
	return false, 1
}

// argBytes tells what each byte is to argSplitter.
var argBytes = func() (class [256]byte) {
	for c := utf8.RuneSelf; c < len(class); c++ {
		class[c] = multiByte
	}
	for _, c := range "\t\n\v\f\r " { // unicode.IsSpace in ASCII
		class[c] = spaceByte
	}
	class['"'], class['\''] = quoteByte, quoteByte
	return class
}()

const (
	plainByte = iota // an ASCII byte of an argument
	spaceByte        // ASCII white space
	quoteByte        // " or '
	multiByte        // a byte of a multi-byte rune, or an invalid one
)

func (sp *argSplitter) keepQuotes() bool {
	if sp.quotes == 0 {
		sp.quotes = -1
		if quotesBalanced(sp.s) {
			sp.quotes = 1
		}
	}
	return sp.quotes > 0
}

// quotesBalanced reports whether every quote in s is closed; a quote inside
// the other kind is not one.
func quotesBalanced(s string) bool {
	var quote byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		}
	}
	return quote == 0
}

// Args redacts a command's argument vector, where a flag's value may be the
// next argument and an argument may contain spaces.
func Args(args []string) []string {
	out := make([]string, len(args))
	r := argRedactor{formats: !skipFormats}
	for i, a := range args {
		out[i] = r.redact(a)
	}
	return out
}

// argRedactor redacts the arguments of one command in order, carrying what an
// argument says about the next.
type argRedactor struct {
	shortFlag string // set when the program takes a password by a short flag
	maskNext  bool   // the previous argument announced a secret value
	formats   bool   // each argument is also searched for the rule files' formats
	// afterScheme: the previous argument was an authorization scheme (Bearer), whose token follows.
	afterScheme bool
}

func (r *argRedactor) redact(a string) string {
	if r.maskNext {
		// "Authorization:" "Bearer" "xyz": the scheme is not the secret.
		if c := strings.Trim(a, `"'`); strings.EqualFold(c, "bearer") || strings.EqualFold(c, "basic") {
			r.afterScheme = true
			return a
		}
		r.maskNext = false
		// A database URL without a password after --connection-string is none; after Bearer it is
		// whatever the token is.
		if a != "" && !strings.HasPrefix(a, "-") && (r.afterScheme || !PasswordlessURL(strings.Trim(a, `"'`))) {
			return maskToken(a)
		}
	}
	if p, ok := isPasswordProgram(a); ok {
		r.shortFlag = p
	}
	out, next := redactArg(a, r.shortFlag, r.formats)
	r.maskNext = next
	c := strings.Trim(a, `"'`)
	r.afterScheme = strings.EqualFold(c, "bearer") || strings.EqualFold(c, "basic") || strings.HasSuffix(strings.ToLower(c), " bearer")
	return out
}

// isPasswordProgram is passwordPrograms[programName(a)] without allocating for the usual
// ASCII argument.
func isPasswordProgram(a string) (string, bool) {
	base := a
	for len(base) > 0 && (base[len(base)-1] == '/' || base[len(base)-1] == '\\') {
		base = base[:len(base)-1]
	}
	for i := len(base) - 1; i >= 0; i-- {
		if base[i] == '/' || base[i] == '\\' {
			base = base[i+1:]
			break
		}
	}
	var buf [16]byte // longer than any name in passwordPrograms, with ".exe"
	if len(base) == 0 || len(base) > len(buf) {
		return "", false
	}
	for i := 0; i < len(base); i++ {
		c := base[i]
		if c >= utf8.RuneSelf {
			p, ok := passwordPrograms[programName(a)] // non-ASCII case folding
			return p, ok
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	name := buf[:len(base)]
	if n := len(name) - len(".exe"); n >= 0 && string(name[n:]) == ".exe" {
		name = name[:n]
	}
	if len(name) == 0 || programShapes[name[0]]&(1<<len(name)) == 0 {
		return "", false
	}
	p, ok := passwordPrograms[string(name)]
	return p, ok
}

// programShapes has bit n of programShapes[c] set when a name in passwordPrograms starts with c
// and is n bytes long, which rules most arguments out without a map lookup.
var programShapes = func() (shapes [256]uint32) {
	for name := range passwordPrograms {
		shapes[name[0]] |= 1 << len(name)
	}
	return shapes
}()

func programName(a string) string {
	base := path.Base(strings.ReplaceAll(a, `\`, "/"))
	return strings.TrimSuffix(strings.ToLower(base), ".exe")
}

// maskToken masks a whole argument but keeps the quotes around it.
func maskToken(a string) string {
	core := strings.Trim(a, `"'`)
	if core == "" || placeholder.MatchString(core) || core == Mask {
		return a
	}
	lead := a[:strings.Index(a, core)]
	trail := a[len(lead)+len(core):]
	return lead + Mask + trail
}

// redactArg redacts one argument and reports whether the next argument is
// the value of a secret flag.
func redactArg(a, shortFlag string, formats bool) (string, bool) {
	lead, core, trail := unquote(a)
	orig := core
	next := false

	switch {
	case strings.HasPrefix(core, "--") || (strings.HasPrefix(core, "-") && len(core) > 2 && core[1] != '-' && !isShortPassword(core, shortFlag)):
		name, val, hasVal := strings.Cut(strings.TrimLeft(core, "-"), "=")
		if LooksSecretName(name) {
			if hasVal {
				core = core[:len(core)-len(val)] + maskSecretValue(val)
			} else {
				next = true
			}
		}
	case shortFlag != "" && core == "-"+shortFlag:
		next = true
	case isShortPassword(core, shortFlag):
		core = core[:2] + maskValue(core[2:])
	default:
		if name, val, ok := cutEnvAssign(core); ok && LooksSecretName(name) {
			core = name + "=" + maskSecretValue(val)
		} else if name, val, ok := cutHeaderPair(core); ok && LooksSecretName(name) {
			if val == "" {
				next = true
			} else if !authSchemeFilter.mayMatchString(val) || !authScheme.MatchString(val) {
				core = core[:len(core)-len(val)] + maskValue(val)
			}
		}
		if strings.EqualFold(core, "bearer") || strings.EqualFold(core, "basic") {
			next = true
		}
	}
	out := a
	if sc := scrub(core); sc != orig {
		out = lead + sc + trail
	}
	if formats && out != Mask {
		// The whole argument: a format may take the quotes around a secret.
		out = redactFormats(out)
	}
	return out, next
}

// cutEnvAssign is envAssign.FindStringSubmatch without the regexp: NAME=value, the value on
// one line.
func cutEnvAssign(s string) (name, val string, ok bool) {
	i := strings.IndexByte(s, '=')
	if i <= 0 || !isNameStart(s[0]) || strings.IndexByte(s[i+1:], '\n') >= 0 {
		return "", "", false
	}
	for j := 1; j < i; j++ {
		if c := s[j]; !isNameStart(c) && !isDigit(c) && c != '.' && c != '-' {
			return "", "", false
		}
	}
	return s[:i], s[i+1:], true
}

// cutHeaderPair is headerPair.FindStringSubmatch without the regexp: Name: value, the value
// after the leading white space, on one line.
func cutHeaderPair(s string) (name, val string, ok bool) {
	i := strings.IndexByte(s, ':')
	if i <= 0 || !isLetter(s[0]) {
		return "", "", false
	}
	for j := 1; j < i; j++ {
		if c := s[j]; !isLetter(c) && !isDigit(c) && c != '_' && c != '-' {
			return "", "", false
		}
	}
	val = strings.TrimLeft(s[i+1:], "\t\n\f\r ") // \s in Go's regexp syntax
	if strings.IndexByte(val, '\n') >= 0 {
		return "", "", false
	}
	return s[:i], val, true
}

// unquote cuts a into its leading quotes, strings.Trim(a, `"'`) and its trailing quotes; when
// a is all quotes, they are all trailing.
func unquote(a string) (lead, core, trail string) {
	i := 0
	for i < len(a) && (a[i] == '"' || a[i] == '\'') {
		i++
	}
	if i == len(a) {
		return "", "", a
	}
	j := len(a)
	for a[j-1] == '"' || a[j-1] == '\'' {
		j--
	}
	return a[:i], a[i:j], a[j:]
}

func isLetter(c byte) bool    { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool     { return '0' <= c && c <= '9' }
func isNameStart(c byte) bool { return isLetter(c) || c == '_' }

// isShortPassword matches mysql's attached form, -pSECRET.
func isShortPassword(core, shortFlag string) bool {
	return shortFlag != "" && len(core) > 2 && core[0] == '-' && core[1:2] == shortFlag
}

// maskSecretValue is maskValue for the value of a name that says secret, which a connection
// string without a password is not: its other secrets are left to scrub.
func maskSecretValue(v string) string {
	if PasswordlessURL(strings.Trim(v, `"'`)) {
		return v
	}
	return maskValue(v)
}

// NoPasswordSuffix follows, in a report, the name of an environment variable that holds a
// connection string without a password ("DATABASE_URL (no password)"): the agent sees the value
// and sends only the name, so the name says that it is no credential.
const NoPasswordSuffix = " (no password)"

// PasswordlessURL reports whether v is a database connection string that holds no password: a
// database scheme, no password in its userinfo and no query parameter whose name says secret. A
// DATABASE_URL or --connection-string of that kind is no credential. Other URLs may carry a
// secret in their path (webhooks), so they are not judged here.
func PasswordlessURL(v string) bool {
	scheme, _, ok := strings.Cut(v, "://")
	if !ok || !databaseSchemes[strings.ToLower(scheme)] || strings.ContainsAny(v, " \t\n") {
		return false
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		return false
	}
	if _, has := u.User.Password(); has {
		return false
	}
	for name := range u.Query() {
		if LooksSecretName(name) {
			return false
		}
	}
	return true
}

var databaseSchemes = map[string]bool{
	"postgres": true, "postgresql": true, "mysql": true, "mariadb": true, "mongodb": true, "mongodb+srv": true,
	"redis": true, "rediss": true, "valkey": true, "amqp": true, "amqps": true, "sqlserver": true, "mssql": true,
	"clickhouse": true, "neo4j": true, "neo4j+s": true, "bolt": true, "cockroachdb": true, "couchbase": true,
	"couchbases": true, "cassandra": true, "elasticsearch": true, "nats": true, "kafka": true,
}

func maskValue(v string) string {
	if v == "" || placeholder.MatchString(strings.Trim(v, `"'`)) {
		return v
	}
	return Mask
}

// scrub redacts the secrets that can sit anywhere inside an argument. A pattern runs only when
// its prefilter (impl/redact/prefilter.go) finds literals its matches contain: scrubScanner tells
// in one pass over s which ones may, and most arguments need nothing more.
func scrub(s string) string {
	if s == "" || s == Mask {
		return s
	}
	return scrubPatterns(s)
}

// scrubPatterns is scrub with the hand-written patterns alone.
func scrubPatterns(s string) string {
	if scrubEveryPattern {
		for _, rule := range scrubRules {
			s = rule.replace(s)
		}
		return s
	}
	may := scrubScanner.scan(s)
	for may != 0 {
		i := bits.TrailingZeros64(may)
		may &^= 1 << i
		rule := scrubRules[i]
		if !rule.filter.othersIn(s, func() string { return strings.ToLower(s) }) {
			continue
		}
		if out := rule.replace(s); out != s {
			s = out
			may = scrubScanner.scan(s) &^ (1<<(i+1) - 1) // the later rules, on what is left
		}
	}
	return s
}

// skipFormats leaves the rule files' formats out of scrub, so that a benchmark can measure what
// they add. Nothing else sets it.
var skipFormats bool

// scrubEveryPattern makes scrub run every pattern on every argument, without the prefilters:
// the plain way they stand in for, which benchmarks set to measure them against. Nothing else
// sets it.
var scrubEveryPattern bool

// scrubRule is one replacement scrub makes, with the prefilter of its pattern.
type scrubRule struct {
	filter  prefilter
	replace func(string) string
}

// scrubRules are the patterns in the order scrub runs them.
var scrubRules = func() []scrubRule {
	rules := []scrubRule{
		{urlPasswordFilter, func(s string) string {
			return replaceSubmatches(urlPassword, s, func(sub []string) string {
				return sub[1] + ":" + maskValue(sub[2]) + "@"
			})
		}},
		{queryParamFilter, func(s string) string {
			return replaceSubmatches(queryParam, s, func(sub []string) string {
				if !LooksSecretName(sub[2]) {
					return sub[0]
				}
				return sub[1] + sub[2] + "=" + maskValue(sub[3])
			})
		}},
		{authSchemeFilter, func(s string) string {
			return replaceSubmatches(authScheme, s, func(sub []string) string {
				// "token" is an ordinary word; only a long value after it is a credential.
				if strings.EqualFold(sub[1], "token") && len(sub[3]) < 16 {
					return sub[0]
				}
				return sub[1] + sub[2] + maskValue(sub[3])
			})
		}},
	}
	for i, re := range keyPatterns {
		rules = append(rules, scrubRule{keyFilters[i], func(s string) string { return re.ReplaceAllString(s, Mask) }})
	}
	// OpenAI-style keys share "sk-" with ordinary hyphenated words; real keys
	// are long and random, so they contain digits.
	return append(rules, scrubRule{openAIKeyFilter, func(s string) string {
		return openAIKey.ReplaceAllStringFunc(s, func(m string) string {
			if strings.ContainsAny(m, "0123456789") {
				return Mask
			}
			return m
		})
	}})
}()

// replaceSubmatches is re.ReplaceAllStringFunc(s, f) with f given each match's submatches as
// found in s, from the one search over s. Searching a match again on its own is not the same
// when the match starts with a non-ASCII letter the pattern's (?i) takes (ſ, K): \b holds before
// it inside s but not at the start of the match alone, so that search finds nothing or a later
// match.
func replaceSubmatches(re *regexp.Regexp, s string, f func(sub []string) string) string {
	matches := re.FindAllStringSubmatchIndex(s, -1)
	if matches == nil {
		return s
	}
	var b strings.Builder
	last := 0
	for _, m := range matches {
		b.WriteString(s[last:m[0]])
		sub := make([]string, len(m)/2)
		for i := range sub {
			if m[2*i] >= 0 {
				sub[i] = s[m[2*i]:m[2*i+1]]
			}
		}
		b.WriteString(f(sub))
		last = m[1]
	}
	b.WriteString(s[last:])
	return b.String()
}

var scrubScanner = func() *scanner {
	filters := make([]prefilter, len(scrubRules))
	for i, r := range scrubRules {
		filters[i] = r.filter
	}
	return newScanner(filters)
}()

// Prefilters of the patterns scrub runs, derived once from the patterns themselves.
var (
	keyFilters        = prefiltersOf(keyPatterns)
	openAIKeyFilter   = prefilterOf(openAIKey)
	urlPasswordFilter = prefilterOf(urlPassword)
	queryParamFilter  = prefilterOf(queryParam)
	authSchemeFilter  = prefilterOf(authScheme)
)

func prefiltersOf(res []*regexp.Regexp) []prefilter {
	out := make([]prefilter, len(res))
	for i, re := range res {
		out[i] = prefilterOf(re)
	}
	return out
}
