package redact

import (
	"embed"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// Secret formats from rule sets in gitleaks' configuration format (rules/README.md): gitleaks'
// default rules and mcpwarden's additions. A rule's regular expression runs on a value only when
// the value holds one of the rule's keywords, as in gitleaks; keywordIndex finds them all in one
// pass. What this costs against the hand-written patterns alone is in the package doc.

//go:embed rules/gitleaks.toml rules/mcpwarden.toml
var ruleFiles embed.FS

// formatRule is one secret format.
type formatRule struct {
	ID          string
	re          *regexp.Regexp
	secretGroup int
	entropy     float64
	generic     bool // gitleaks' generic rules also want a digit in the secret
	allow       []formatAllow
	filter      prefilter // literals every match holds, beyond the keywords
	keywords    []string
}

// formatAllow is an allowlist of a rule (or the global one): a match it covers is no secret.
type formatAllow struct {
	regexes     []*regexp.Regexp
	matchTarget bool // the regexes test the whole match, not the secret
	stopwords   []string
}

type ruleFile struct {
	Allowlist struct {
		Regexes   []string `toml:"regexes"`
		Stopwords []string `toml:"stopwords"`
	} `toml:"allowlist"`
	Rules []struct {
		ID          string   `toml:"id"`
		Regex       string   `toml:"regex"`
		SecretGroup int      `toml:"secretGroup"`
		Entropy     float64  `toml:"entropy"`
		Keywords    []string `toml:"keywords"`
		Allowlists  []struct {
			Condition   string   `toml:"condition"`
			RegexTarget string   `toml:"regexTarget"`
			Regexes     []string `toml:"regexes"`
			Stopwords   []string `toml:"stopwords"`
			Paths       []string `toml:"paths"`
			Commits     []string `toml:"commits"`
		} `toml:"allowlists"`
	} `toml:"rules"`
}

// formatSet is the loaded rules and the index of their keywords.
type formatSet struct {
	rules  []formatRule
	global formatAllow
	index  *keywordIndex
	line   ruleBits      // lineRules
	lineIx *keywordIndex // the keywords of lineRules alone
}

// lineRules are the formats whose secrets hold white space or follow words on their own, which a
// command line splits into several arguments; Command also reads the whole line for them.
var lineRules = []string{"curl-auth-header", "curl-auth-user", "private-key", "kubernetes-secret-yaml"}

// formats loads the rule files once, on first use: compiling some 220 expressions costs a few
// milliseconds that a process which never redacts should not pay.
var formats = sync.OnceValue(func() *formatSet {
	set, err := loadFormats("rules/gitleaks.toml", "rules/mcpwarden.toml")
	if err != nil {
		panic("redact: embedded rules: " + err.Error())
	}
	return set
})

func loadFormats(names ...string) (*formatSet, error) {
	set := &formatSet{}
	var keywords [][]string
	for _, name := range names {
		data, err := ruleFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		var f ruleFile
		if err := toml.Unmarshal(data, &f); err != nil {
			return nil, err
		}
		g, err := compileAllow(f.Allowlist.Regexes, f.Allowlist.Stopwords, false)
		if err != nil {
			return nil, err
		}
		set.global.regexes = append(set.global.regexes, g.regexes...)
		set.global.stopwords = append(set.global.stopwords, g.stopwords...)
		for _, r := range f.Rules {
			if r.Regex == "" {
				continue // a rule on file names only
			}
			re, err := regexp.Compile(r.Regex)
			if err != nil {
				return nil, err
			}
			fr := formatRule{ID: r.ID, re: re, secretGroup: r.SecretGroup, entropy: r.Entropy, generic: strings.HasPrefix(r.ID, "generic"), filter: prefilterOf(re), keywords: r.Keywords}
			for _, a := range r.Allowlists {
				if strings.EqualFold(a.Condition, "AND") && (len(a.Paths) > 0 || len(a.Commits) > 0) {
					continue // needs a file path or commit as well: never met by a command line
				}
				if a.RegexTarget == "line" {
					continue
				}
				al, err := compileAllow(a.Regexes, a.Stopwords, a.RegexTarget == "match")
				if err != nil {
					return nil, err
				}
				fr.allow = append(fr.allow, al)
			}
			set.rules = append(set.rules, fr)
			keywords = append(keywords, r.Keywords)
		}
	}
	set.index = newKeywordIndex(keywords)
	lineKeywords := make([][]string, len(keywords))
	for i, r := range set.rules {
		if slices.Contains(lineRules, r.ID) {
			set.line.set(i)
			lineKeywords[i] = keywords[i]
		}
	}
	set.lineIx = newKeywordIndex(lineKeywords)
	return set, nil
}

func compileAllow(regexes, stopwords []string, matchTarget bool) (formatAllow, error) {
	a := formatAllow{matchTarget: matchTarget}
	for _, s := range regexes {
		re, err := regexp.Compile(s)
		if err != nil {
			return a, err
		}
		a.regexes = append(a.regexes, re)
	}
	for _, w := range stopwords {
		a.stopwords = append(a.stopwords, strings.ToLower(w))
	}
	return a, nil
}

// covers reports whether the allowlist lets a match through.
func (a *formatAllow) covers(secret, match string) bool {
	target := secret
	if a.matchTarget {
		target = match
	}
	for _, re := range a.regexes {
		if re.MatchString(target) {
			return true
		}
	}
	if len(a.stopwords) > 0 {
		ls := strings.ToLower(secret)
		for _, w := range a.stopwords {
			if strings.Contains(ls, w) {
				return true
			}
		}
	}
	return false
}

// secretSpan is where a rule's match puts its secret: the secret group, else the first group
// that matched, else the whole match. A group of a few characters (the Teams webhook rule's first
// group is one piece of a UUID) says little: the whole match is masked then.
func (r *formatRule) secretSpan(m []int) (int, int) {
	start, end := m[0], m[1]
	if r.secretGroup > 0 && 2*r.secretGroup+1 < len(m) && m[2*r.secretGroup] >= 0 {
		start, end = m[2*r.secretGroup], m[2*r.secretGroup+1]
	} else {
		for g := 1; 2*g+1 < len(m); g++ {
			if m[2*g] >= 0 && m[2*g+1] > m[2*g] {
				start, end = m[2*g], m[2*g+1]
				break
			}
		}
	}
	if end-start < 8 {
		return m[0], m[1]
	}
	return start, end
}

// isSecret applies the rule's entropy floor and the allowlists to one match.
func (set *formatSet) isSecret(r *formatRule, secret, match string) bool {
	if secret == "" || secret == Mask || strings.Contains(secret, Mask) {
		return false
	}
	if r.entropy > 0 {
		if shannon(secret) <= r.entropy {
			return false
		}
		if r.generic && !strings.ContainsAny(secret, "0123456789") {
			return false
		}
	}
	if set.global.covers(secret, match) {
		return false
	}
	for i := range r.allow {
		if r.allow[i].covers(secret, match) {
			return false
		}
	}
	return true
}

// redactFormats masks the secrets of every rule whose keywords s holds. Every rule reads s as it
// came, so that one rule's mask cannot hide the context another needs (a Twilio key and the
// secret after it). Tokens end where gitleaks expects a token to end (a quote, a space, a
// semicolon, the end); in a URL's query a value ends at & or #, so each part of a query is also
// read on its own.
func redactFormats(s string) string {
	set := formats()
	may := set.index.scan(s)
	escaped := strings.ContainsAny(s, "%+")
	if may.empty() && !escaped {
		return s // the usual argument: no keyword of any format
	}
	spans := set.findAll(s, &may)
	// A percent-encoded value is read decoded, and masked whole.
	if escaped {
		start := 0
		for i := 0; i <= len(s); i++ {
			if i == len(s) || strings.IndexByte("?&#/", s[i]) >= 0 {
				if part := s[start:i]; strings.ContainsAny(part, "%+") {
					spans = set.findEscaped(part, start, spans)
				}
				start = i + 1
			}
		}
	}
	return set.redact(s, spans)
}

// findAll is find on s, then on s with the ends of path segments and query values as spaces: a
// token there ends at / or &, where gitleaks expects a quote, a space or the end.
func (set *formatSet) findAll(s string, only *ruleBits) []span {
	spans := set.find(s, 0, nil, only)
	if strings.ContainsAny(s, "&#/\\") {
		v := []byte(s)
		for i, c := range v {
			if c == '&' || c == '#' || c == '/' || c == '\\' {
				v[i] = ' '
			}
		}
		spans = set.find(string(v), 0, spans, only)
	}
	return spans
}

// redactLineFormats is redactFormats with lineRules alone. Their expressions take all they can
// (curl .* -u), so a line holding several matches is read again until nothing changes.
func redactLineFormats(s string) string {
	set := formats()
	for range 8 {
		if may := set.lineIx.scan(s); may.empty() {
			return s
		}
		out := set.redact(s, set.findAll(s, &set.line))
		if out == s {
			break
		}
		s = out
	}
	return s
}

// redact masks the spans of s.
func (set *formatSet) redact(s string, spans []span) string {
	if len(spans) == 0 {
		return s
	}
	slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
	var b strings.Builder
	last := 0
	for _, sp := range spans {
		if sp.end <= last {
			continue
		}
		if sp.start > last {
			b.WriteString(s[last:sp.start])
			b.WriteString(Mask)
		} else if last == 0 && sp.start == 0 {
			b.WriteString(Mask)
		}
		last = sp.end
	}
	b.WriteString(s[last:])
	return b.String()
}

// findEscaped looks for a secret in a percent-encoded part of a URL, name=value, decoded: the
// whole value is masked then.
func (set *formatSet) findEscaped(part string, offset int, spans []span) []span {
	decoded, err := url.QueryUnescape(part)
	if err != nil || decoded == part || len(set.find(decoded, 0, nil, nil)) == 0 {
		return spans
	}
	v := strings.IndexByte(part, '=') + 1
	return append(spans, span{offset + v, offset + len(part)})
}

// span is where a secret is in a string.
type span struct{ start, end int }

// find appends where the rules find secrets in s, which starts at offset of the whole.
func (set *formatSet) find(s string, offset int, spans []span, only *ruleBits) []span {
	may := set.index.scan(s)
	if only != nil {
		for i := range may {
			may[i] &= only[i]
		}
	}
	if may.empty() {
		return spans
	}
	var lower string
	lowered := func() string {
		if lower == "" {
			lower = strings.ToLower(s)
		}
		return lower
	}
	for i := range set.rules {
		r := &set.rules[i]
		if !may.has(i) || r.generic && r.entropy > 0 && !hasGenericSecret(s, r.entropy) || !r.filter.mayMatch(s, lowered) {
			continue
		}
		for _, m := range r.re.FindAllStringSubmatchIndex(s, -1) {
			start, end := r.secretSpan(m)
			if set.isSecret(r, s[start:end], s[m[0]:m[1]]) {
				spans = append(spans, span{offset + start, offset + end})
			}
		}
	}
	return spans
}

// hasGenericSecret reports whether s could hold the secret of a generic rule: a run of the
// characters its secrets are made of ([\w.=+/-]) with a digit in it, long enough to have more
// than minEntropy bits per byte (a string of n bytes has at most log2 n). Generic rules' long
// counted repetitions make Go's regexp slow (some 180 µs on a 40-byte argument), and most
// arguments that name a key, such as NAME=[REDACTED], have no such run.
func hasGenericSecret(s string, minEntropy float64) bool {
	minLen := max(10, int(math.Exp2(minEntropy)))
	run, digit := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isDigit(c):
			digit = true
		case isLetter(c) || c == '_' || c == '.' || c == '=' || c == '+' || c == '/' || c == '-':
		default:
			run, digit = 0, false
			continue
		}
		run++
		if digit && run >= minLen {
			return true
		}
	}
	return false
}

// shannon is the entropy of s in bits per byte, as gitleaks computes it.
func shannon(s string) float64 {
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	n := float64(len(s))
	h := 0.0
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// ruleBits is a set of rules by index.
type ruleBits [5]uint64

const maxFormatRules = 5 * 64

func (b *ruleBits) set(i int)      { b[i>>6] |= 1 << (i & 63) }
func (b *ruleBits) has(i int) bool { return b[i>>6]&(1<<(i&63)) != 0 }
func (b *ruleBits) empty() bool    { return b[0]|b[1]|b[2]|b[3]|b[4] == 0 }
func (b *ruleBits) or(o *ruleBits) {
	for i := range b {
		b[i] |= o[i]
	}
}

// keywordIndex finds, in one pass over a string and without case, which rules have a keyword in
// it. Keywords are indexed by their first two bytes; a table of those pairs rules out most
// positions with one load.
type keywordIndex struct {
	pairs    [1 << 10]uint64 // bit c0<<8|c1 set when a keyword starts with c0 c1 (lowercase)
	byPair   map[uint16][]keyword
	lists    [][]keyword // byPair's lists, indexed by listOf
	listOf   [1 << 16]uint16
	short    [256]ruleBits // one-byte keywords
	hasShort bool
	fold     ruleBits // rules with a keyword that a non-ASCII rune may fold into
}

type keyword struct {
	lit   string
	rules ruleBits
}

func newKeywordIndex(keywords [][]string) *keywordIndex {
	if len(keywords) > maxFormatRules {
		panic("redact: too many secret formats")
	}
	ix := &keywordIndex{byPair: map[uint16][]keyword{}}
	for i, kws := range keywords {
		for _, k := range kws {
			k = strings.ToLower(k)
			if k == "" {
				continue
			}
			if !isASCII(k) || strings.ContainsAny(k, "ks") {
				ix.fold.set(i) // (?i) folds ſ into s and K (Kelvin) into k
			}
			if len(k) == 1 {
				ix.short[k[0]].set(i)
				ix.hasShort = true
				continue
			}
			p := uint16(k[0])<<8 | uint16(k[1])
			ix.pairs[p>>6] |= 1 << (p & 63)
			list := ix.byPair[p]
			found := false
			for j := range list {
				if list[j].lit == k {
					list[j].rules.set(i)
					found = true
				}
			}
			if !found {
				var kw keyword
				kw.lit = k
				kw.rules.set(i)
				list = append(list, kw)
			}
			ix.byPair[p] = list
		}
	}
	ix.lists = append(ix.lists, nil) // list 0: no keyword
	for p, list := range ix.byPair {
		ix.listOf[p] = uint16(len(ix.lists))
		ix.lists = append(ix.lists, list)
	}
	return ix
}

// scan returns the rules with a keyword in s (compared lowercase).
func (ix *keywordIndex) scan(s string) ruleBits {
	var found ruleBits
	nonASCII := false
	if len(s) == 0 {
		return found
	}
	next := lowerByte[s[0]]
	for i := 0; i < len(s); i++ {
		c := next
		if c >= utf8.RuneSelf {
			nonASCII = true
		}
		if ix.hasShort {
			found.or(&ix.short[c])
		}
		if i+1 == len(s) {
			break
		}
		next = lowerByte[s[i+1]]
		p := uint16(c)<<8 | uint16(next)
		if ix.pairs[p>>6]&(1<<(p&63)) == 0 {
			continue
		}
		for j := range ix.lists[ix.listOf[p]] {
			kw := &ix.lists[ix.listOf[p]][j]
			if hasPrefixFold(s[i:], kw.lit) {
				found.or(&kw.rules)
			}
		}
	}
	if nonASCII {
		found.or(&ix.fold)
	}
	return found
}

// lowerByte is lowerASCII as a table.
var lowerByte = func() (t [256]byte) {
	for i := range t {
		t[i] = lowerASCII(byte(i))
	}
	return t
}()

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// hasPrefixFold is strings.HasPrefix(strings.ToLower(s), lit) for an ASCII-lowercase lit.
func hasPrefixFold(s, lit string) bool {
	if len(s) < len(lit) {
		return false
	}
	for i := 0; i < len(lit); i++ {
		if lowerASCII(s[i]) != lit[i] {
			return false
		}
	}
	return true
}
