// Package redact removes secrets from command lines, URLs and configuration
// values before they are shown or leave the machine. The agent and the
// server share it, so a value is judged the same way at both ends.
package redact

import (
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
	words := splitWords(name)
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
	if s == "" {
		return s
	}
	pieces := splitShell(s)
	args := make([]string, 0, len(pieces)/2+1)
	for _, p := range pieces {
		if !p.space {
			args = append(args, p.text)
		}
	}
	red := Args(args)
	changed := false
	for i := range args {
		if red[i] != args[i] {
			changed = true
			break
		}
	}
	if !changed {
		return s // the common case: no secret, nothing to rebuild
	}
	var b strings.Builder
	b.Grow(len(s))
	i := 0
	for _, p := range pieces {
		if p.space {
			b.WriteString(p.text)
			continue
		}
		b.WriteString(red[i])
		i++
	}
	return b.String()
}

type piece struct {
	text  string
	space bool
}

// splitShell splits s into arguments and the whitespace between them,
// keeping quoted spans whole so a quoted "Bearer xyz" stays one argument.
// An unbalanced quote falls back to plain whitespace splitting.
func splitShell(s string) []piece {
	if p, ok := split(s, true); ok {
		return p
	}
	p, _ := split(s, false)
	return p
}

func split(s string, quotes bool) ([]piece, bool) {
	var out []piece
	var quote rune
	start, inSpace := 0, false
	for i, r := range s {
		if quote != 0 {
			if r == quote {
				quote = 0
			}
			continue
		}
		sp := unicode.IsSpace(r)
		if i > 0 && sp != inSpace {
			out = append(out, piece{s[start:i], inSpace})
			start = i
		}
		inSpace = sp
		if quotes && (r == '"' || r == '\'') {
			quote = r
		}
	}
	out = append(out, piece{s[start:], inSpace})
	return out, quote == 0
}

// Args redacts a command's argument vector, where a flag's value may be the
// next argument and an argument may contain spaces.
func Args(args []string) []string {
	out := make([]string, len(args))
	shortFlag := ""   // set when the program takes a password by a short flag
	maskNext := false // the previous argument announced a secret value
	for i, a := range args {
		if maskNext {
			// "Authorization:" "Bearer" "xyz": the scheme is not the secret.
			if c := strings.Trim(a, `"'`); strings.EqualFold(c, "bearer") || strings.EqualFold(c, "basic") {
				out[i] = a
				continue
			}
			maskNext = false
			if a != "" && !strings.HasPrefix(a, "-") {
				out[i] = maskToken(a)
				continue
			}
		}
		if p, ok := isPasswordProgram(a); ok {
			shortFlag = p
		}
		out[i], maskNext = redactArg(a, shortFlag)
	}
	return out
}

// isPasswordProgram is passwordPrograms[programName(a)] without allocating for the usual
// ASCII argument.
func isPasswordProgram(a string) (string, bool) {
	base := a
	for len(base) > 0 && (base[len(base)-1] == '/' || base[len(base)-1] == '\\') {
		base = base[:len(base)-1]
	}
	if i := strings.LastIndexAny(base, `/\`); i >= 0 {
		base = base[i+1:]
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
	p, ok := passwordPrograms[string(name)]
	return p, ok
}

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
func redactArg(a, shortFlag string) (string, bool) {
	core := strings.Trim(a, `"'`)
	lead := a[:strings.Index(a, core)]
	trail := a[len(lead)+len(core):]
	orig := core
	next := false

	switch {
	case strings.HasPrefix(core, "--") || (strings.HasPrefix(core, "-") && len(core) > 2 && core[1] != '-' && !isShortPassword(core, shortFlag)):
		name, val, hasVal := strings.Cut(strings.TrimLeft(core, "-"), "=")
		if LooksSecretName(name) {
			if hasVal {
				core = core[:len(core)-len(val)] + maskValue(val)
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
			core = name + "=" + maskValue(val)
		} else if name, val, ok := cutHeaderPair(core); ok && LooksSecretName(name) {
			if val == "" {
				next = true
			} else if !authScheme.MatchString(val) {
				core = core[:len(core)-len(val)] + maskValue(val)
			}
		}
		if strings.EqualFold(core, "bearer") || strings.EqualFold(core, "basic") {
			next = true
		}
	}
	if out := scrub(core); out != orig {
		return lead + out + trail, next
	}
	return a, next
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

func isLetter(c byte) bool    { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }
func isDigit(c byte) bool     { return '0' <= c && c <= '9' }
func isNameStart(c byte) bool { return isLetter(c) || c == '_' }

// isShortPassword matches mysql's attached form, -pSECRET.
func isShortPassword(core, shortFlag string) bool {
	return shortFlag != "" && len(core) > 2 && core[0] == '-' && core[1:2] == shortFlag
}

func maskValue(v string) string {
	if v == "" || placeholder.MatchString(strings.Trim(v, `"'`)) {
		return v
	}
	return Mask
}

// scrub redacts the secrets that can sit anywhere inside an argument. Each pattern runs only when
// its prefilter (impl/redact/prefilter.go) finds one of the literals its matches contain.
func scrub(s string) string {
	if s == "" || s == Mask {
		return s
	}
	lowerSrc, lowerOf := "", ""
	lower := func() string {
		if lowerOf == "" || lowerSrc != s {
			lowerSrc, lowerOf = s, strings.ToLower(s)
		}
		return lowerOf
	}
	presentSrc, present := s, bytesOf(s)
	may := func(f prefilter) bool {
		if presentSrc != s { // an earlier pattern replaced something
			presentSrc, present = s, bytesOf(s)
		}
		return f.mayMatchIn(s, lower, present)
	}
	if may(urlPasswordFilter) {
		s = urlPassword.ReplaceAllStringFunc(s, func(m string) string {
			sub := urlPassword.FindStringSubmatch(m)
			return sub[1] + ":" + maskValue(sub[2]) + "@"
		})
	}
	if may(queryParamFilter) {
		s = queryParam.ReplaceAllStringFunc(s, func(m string) string {
			sub := queryParam.FindStringSubmatch(m)
			if !LooksSecretName(sub[2]) {
				return m
			}
			return sub[1] + sub[2] + "=" + maskValue(sub[3])
		})
	}
	if may(authSchemeFilter) {
		s = authScheme.ReplaceAllStringFunc(s, func(m string) string {
			sub := authScheme.FindStringSubmatch(m)
			// "token" is an ordinary word; only a long value after it is a credential.
			if strings.EqualFold(sub[1], "token") && len(sub[3]) < 16 {
				return m
			}
			return sub[1] + sub[2] + maskValue(sub[3])
		})
	}
	for i, re := range keyPatterns {
		if may(keyFilters[i]) {
			s = re.ReplaceAllString(s, Mask)
		}
	}
	// OpenAI-style keys share "sk-" with ordinary hyphenated words; real keys
	// are long and random, so they contain digits.
	if may(openAIKeyFilter) {
		s = openAIKey.ReplaceAllStringFunc(s, func(m string) string {
			if strings.ContainsAny(m, "0123456789") {
				return Mask
			}
			return m
		})
	}
	return s
}

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
