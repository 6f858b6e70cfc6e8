package risk

import (
	"net/url"
	"regexp"
	"strings"
)

// Path classes, from the most to the least dangerous.
type pathClass int

const (
	pathProject pathClass = iota
	pathRoot
	pathCredentials
	pathHome
	pathSystem
)

// credentialDirs are path segments that hold keys and tokens.
var credentialDirs = []string{
	"/.ssh", "/.aws", "/.kube", "/.gnupg", "/.docker", "/.config/gcloud", "/.azure", "/.netrc",
	"/.npmrc", "/.pypirc", "/.git-credentials", "/.password-store", "/library/keychains",
	"/.config/gh", "/.vault-token", "/.terraform.d", "/appdata/roaming/gcloud", "/.oci",
}

var systemDirs = []string{
	"/etc", "/var", "/usr", "/bin", "/sbin", "/boot", "/lib", "/lib64", "/opt", "/proc", "/sys", "/dev",
	"/root", "/system", "/library", "/private", "/applications", "/srv",
	"c:/windows", "c:/program files", "c:/program files (x86)", "c:/programdata",
}

// classifyPath puts a scope path in one class. Paths are compared with
// forward slashes and in lower case, so Windows and Unix spellings agree.
func classifyPath(raw string) pathClass {
	p := strings.TrimSpace(raw)
	p = strings.Trim(p, `"'`)
	p = strings.ReplaceAll(p, `\`, "/")
	lp := strings.ToLower(p)
	for _, v := range []string{"$home", "${home}", "%userprofile%", "${userhome}", "%homepath%"} {
		if strings.HasPrefix(lp, v) {
			lp = "~" + lp[len(v):]
		}
	}
	if len(lp) > 1 {
		lp = strings.TrimRight(lp, "/")
		if lp == "" {
			lp = "/"
		}
	}
	lp = strings.TrimSuffix(lp, "/.")
	// Roots: "/", "C:", "C:/", "/mnt/c" (WSL's view of a whole drive).
	if lp == "/" || lp == "//" || len(lp) == 2 && isLetter(lp[0]) && lp[1] == ':' ||
		len(lp) == 6 && strings.HasPrefix(lp, "/mnt/") && isLetter(lp[5]) {
		return pathRoot
	}
	// Most credential directories start with "/.": a path without "/." in
	// "/"+lp (nor a leading ".") cannot hold them, so only the others are checked.
	dotted := strings.HasPrefix(lp, ".") || strings.Contains(lp, "/.")
	for _, d := range credentialDirs {
		if (dotted || d[1] != '.') && hasDirSegment(lp, d) {
			return pathCredentials
		}
	}
	if isHomeDir(lp) {
		return pathHome
	}
	// Windows drive letters compare as "c:/..." for any drive: past the
	// letter, so no "c"+rest string is built.
	sys, drive := lp, len(lp) > 2 && isLetter(lp[0]) && lp[1] == ':'
	for _, d := range systemDirs {
		if drive {
			if d[0] != 'c' {
				continue
			}
			sys, d = lp[1:], d[1:]
		}
		if strings.HasPrefix(sys, d) && (len(sys) == len(d) || sys[len(d)] == '/') {
			// /var/folders and /private/tmp hold per-user temporary files, /opt project installs are common,
			// but a whole system tree is still reported: a narrow subpath is the fix.
			return pathSystem
		}
	}
	return pathProject
}

// hasDirSegment reports whether d (which starts with "/") followed by "/" or
// the end occurs in "/"+strings.TrimPrefix(lp, "/"): the same as
// strings.Contains(check+"/", d+"/") without building either string.
func hasDirSegment(lp, d string) bool {
	if !strings.HasPrefix(lp, "/") {
		// The "/" put in front of lp can only start a match at position 0.
		if rest := d[1:]; strings.HasPrefix(lp, rest) && (len(lp) == len(rest) || lp[len(rest)] == '/') {
			return true
		}
	}
	for i := 0; ; {
		j := strings.Index(lp[i:], d)
		if j < 0 {
			return false
		}
		end := i + j + len(d)
		if end == len(lp) || lp[end] == '/' {
			return true
		}
		i += j + 1
	}
}

// isHomeDir recognises a home directory itself, or the parent of all homes.
func isHomeDir(lp string) bool {
	if lp == "~" || lp == "/home" || lp == "/users" || strings.HasSuffix(lp, ":/users") || lp == "/root" || lp == "/var/root" {
		return true
	}
	// The first three segments and the segment count, without strings.Split.
	s := strings.TrimPrefix(lp, "/")
	n := strings.Count(s, "/") + 1
	if n < 2 || n > 4 {
		return false
	}
	p0, rest, _ := strings.Cut(s, "/")
	p1, rest, _ := strings.Cut(rest, "/")
	p2, _, _ := strings.Cut(rest, "/")
	switch {
	case n == 2 && (p0 == "home" || p0 == "users"):
		return true
	case n == 3 && len(p0) == 2 && p0[1] == ':' && p1 == "users":
		return true
	case n == 3 && p0 == "mnt" && len(p1) == 1 && p2 == "users":
		return true
	case n == 4 && p0 == "mnt" && len(p1) == 1 && p2 == "users":
		return true // /mnt/c/Users/x
	}
	return false
}

// secretWords in an env var name mark it as a credential.
var secretWords = []string{
	"TOKEN", "SECRET", "PASSWORD", "PASSWD", "PASSPHRASE", "API_KEY", "APIKEY", "ACCESS_KEY",
	"PRIVATE_KEY", "CREDENTIAL", "AUTH", "COOKIE", "SESSION", "CONNECTION_STRING", "CONN_STR", "DSN",
	"SERVICE_ACCOUNT", "SIGNING_KEY", "HEADERS",
}

// notSecretSuffixes exempt settings that share a credential family's prefix
// (AWS_REGION, GITHUB_TOOLSETS, GITLAB_API_URL).
var notSecretSuffixes = []string{
	"_REGION", "_HOST", "_HOSTNAME", "_PORT", "_TOOLSETS", "_TOOLS", "_MODE", "_DIR", "_PATH", "_URL", "_URI",
	"_LOG_LEVEL", "_TIMEOUT", "_ENDPOINT", "_READ_ONLY", "_READONLY", "_ORG", "_OWNER", "_VERSION",
	"_ENABLED", "_DEBUG", "_PARTITION", "_ID", "_IDS", "_NAME", "_USER", "_USERNAME", "_DATABASE", "_PROJECT",
}

// looksSecret reports an env var name that usually holds a credential.
// noPasswordSuffix is redact.NoPasswordSuffix (risk imports nothing of mcpwarden's; a test
// keeps the two equal).
const noPasswordSuffix = " (no password)"

func looksSecret(name string) bool {
	// The agent marks a connection-string variable whose value holds no password.
	if strings.HasSuffix(name, noPasswordSuffix) {
		return false
	}
	// Header names ("X-API-Key") follow the same words with dashes.
	n := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(name), "-", "_"))
	for _, w := range secretWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	// Connection strings carry passwords.
	if strings.HasSuffix(n, "_URL") || strings.HasSuffix(n, "_URI") || strings.HasSuffix(n, "_DSN") {
		for _, db := range []string{"DATABASE", "POSTGRES", "PG", "MYSQL", "MONGO", "REDIS", "DB", "AMQP", "RABBIT", "SUPABASE_DB"} {
			if strings.HasPrefix(n, db) {
				return true
			}
		}
	}
	for _, s := range notSecretSuffixes {
		if strings.HasSuffix(n, s) {
			return false
		}
	}
	if strings.HasSuffix(n, "_KEY") || strings.HasSuffix(n, "_PASS") || strings.HasSuffix(n, "_PAT") || n == "AWS_PROFILE" {
		return true
	}
	// Whole families whose variables are credentials or select them.
	for _, p := range []string{"AWS_", "GITHUB_", "GH_", "GITLAB_", "GOOGLE_APPLICATION_"} {
		if strings.HasPrefix(n, p) {
			return true
		}
	}
	return false
}

// redactedEvidence quotes the arguments around each "[REDACTED]" marker.
func redactedEvidence(cmd string) string {
	if !strings.Contains(cmd, "[REDACTED]") {
		return ""
	}
	toks := strings.Fields(cmd)
	var out []string
	for i, t := range toks {
		if !strings.Contains(t, "[REDACTED]") {
			continue
		}
		q := t
		if i > 0 && strings.HasPrefix(toks[i-1], "-") && !strings.Contains(t, "=") {
			q = toks[i-1] + " " + t
		}
		out = appendUnique(out, q)
	}
	return strings.Join(out, ", ")
}

// liveKeyPattern matches well-known credential formats that should never be in a command line.
var liveKeyPattern = regexp.MustCompile(`\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,}|glpat-[A-Za-z0-9_\-]{20,}|xox[abposr]-[A-Za-z0-9\-]{10,}|sk-ant-[A-Za-z0-9_\-]{20,}|sk-(?:proj-)?[A-Za-z0-9_\-]{20,}|[sr]k_live_[A-Za-z0-9]{16,}|AKIA[0-9A-Z]{16}|AIza[0-9A-Za-z_\-]{35}|ntn_[A-Za-z0-9]{30,}|lin_api_[A-Za-z0-9]{30,}|npm_[A-Za-z0-9]{36}|hf_[A-Za-z0-9]{30,})`)

var keyPrefixes = []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-", "xox", "sk-", "sk_live_", "rk_live_", "AKIA", "AIza", "ntn_", "lin_api_", "npm_", "hf_"}

// keyPrefixesByFirst groups keyPrefixes by their first byte, so that
// hasKeyPrefix reads the command once instead of once per prefix.
var keyPrefixesByFirst = func() (m [256][]string) {
	for _, p := range keyPrefixes {
		m[p[0]] = append(m[p[0]], p)
	}
	return m
}()

// hasKeyPrefix reports whether s contains any of keyPrefixes.
func hasKeyPrefix(s string) bool {
	for i := 0; i < len(s); i++ {
		for _, p := range keyPrefixesByFirst[s[i]] {
			if strings.HasPrefix(s[i:], p) {
				return true
			}
		}
	}
	return false
}

// secretFlags take a credential as their value.
var secretFlags = []string{"token", "api-key", "apikey", "api_key", "password", "passwd", "secret", "access-token", "auth", "key", "pat", "bearer"}

// inlineSecrets finds credentials that survived redaction, masked for evidence.
func inlineSecrets(cmd string, c *Command) []string {
	var out []string
	// The regexp is the slow part of an assessment; most commands hold no key prefix at all.
	if hasKeyPrefix(cmd) {
		for _, m := range liveKeyPattern.FindAllString(cmd, 4) {
			out = appendUnique(out, mask(m))
		}
	}
	// Each field is judged when the next one is known (a flag's value may
	// follow it), without building the slice of fields.
	var prev string
	first := true
	for t := range strings.FieldsSeq(cmd) {
		if !first {
			out = flagSecret(out, prev, t, true)
		}
		prev, first = t, false
	}
	if !first {
		out = flagSecret(out, prev, "", false)
	}
	for _, kv := range c.EnvAssign {
		name, val, _ := strings.Cut(kv, "=")
		if looksSecret(name) && isLiteralValue(val) {
			out = appendUnique(out, name+"="+mask(val))
		}
	}
	for _, raw := range c.URLs {
		out = append(out, urlSecrets(raw)...)
	}
	// Connection strings given as plain arguments (postgres://user:pass@host/db).
	for _, a := range c.Args {
		if strings.Contains(a, "://") && !isURL(a) {
			out = append(out, urlSecrets(a)...)
		}
	}
	return out
}

// flagSecret appends "--name masked" when t is a secret flag with a literal
// value, given as "--name=value" or as the next field.
func flagSecret(out []string, t, next string, hasNext bool) []string {
	if !strings.HasPrefix(t, "-") {
		return out
	}
	name, val, ok := strings.Cut(strings.TrimLeft(t, "-"), "=")
	if !ok && hasNext && !strings.HasPrefix(next, "-") {
		val = next
	}
	if secretFlag(name) && isLiteralValue(val) {
		out = appendUnique(out, "--"+name+" "+mask(val))
	}
	return out
}

func urlSecrets(raw string) []string {
	// A password needs user information ("user:pass@") and a parameter a query.
	if !strings.ContainsAny(raw, "@?") {
		return nil
	}
	var out []string
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	if pw, ok := u.User.Password(); ok && isLiteralValue(pw) {
		out = append(out, u.Scheme+"://"+u.User.Username()+":"+mask(pw)+"@"+u.Host)
	}
	for k, vs := range u.Query() {
		if looksSecret(strings.ReplaceAll(k, "-", "_")) || secretFlag(strings.ToLower(k)) {
			for _, v := range vs {
				if isLiteralValue(v) {
					out = append(out, "?"+k+"="+mask(v))
				}
			}
		}
	}
	return out
}

// secretFlagsByLast groups secretFlags by their last byte, so that most flag
// names are ruled out by one lookup.
var secretFlagsByLast = func() (m [256][]string) {
	for _, f := range secretFlags {
		m[f[len(f)-1]] = append(m[f[len(f)-1]], f)
	}
	return m
}()

func secretFlag(name string) bool {
	n := strings.ToLower(name)
	if n == "" {
		return false
	}
	for _, f := range secretFlagsByLast[n[len(n)-1]] {
		// f itself, or f after "-" or "_".
		if strings.HasSuffix(n, f) && (len(n) == len(f) || n[len(n)-len(f)-1] == '-' || n[len(n)-len(f)-1] == '_') {
			return true
		}
	}
	return false
}

// isLiteralValue is false for placeholders the client fills in at launch.
func isLiteralValue(v string) bool {
	v = strings.Trim(v, `"'`)
	if len(v) < 6 || strings.Contains(v, "[REDACTED]") {
		return false
	}
	if strings.HasPrefix(v, "$") || strings.HasPrefix(v, "%") || strings.Contains(v, "${") || strings.HasPrefix(v, "<") {
		return false
	}
	// A path to a key file is a pointer, not the secret itself.
	if isPathLike(v) {
		return false
	}
	lv := strings.ToLower(v)
	for _, ph := range []string{"your", "xxx", "placeholder", "changeme", "example", "redacted", "<", "***"} {
		if strings.Contains(lv, ph) {
			return false
		}
	}
	return true
}

// mask keeps a recognisable prefix so an analyst can find the key, never the key itself.
func mask(s string) string {
	n := min(4, len(s)/4)
	return s[:n] + "…"
}
