package redact

import (
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Redaction runs some thirty patterns over every argument of every reported command, and most
// arguments contain none of them; Go's regexp cannot skip ahead to a pattern that starts with \b,
// so each one walks the whole string. A prefilter derived from each pattern's syntax tree lists
// sets of literals such that every match contains a literal of each set. One pass over an
// argument (scanner.scan) finds the patterns whose most selective set is present, and only those
// are checked further and run. What this saves is measured in the package doc.

// litSet is a set of literals. Literals marked fold are lowercase and compared
// case-insensitively.
type litSet struct {
	lits []string
	fold bool
}

// prefilter holds sets of literals every match has one of: lits (the most selective set, the one
// a scanner looks for; nil when no set was found and the pattern always runs) and others.
type prefilter struct {
	lits   []string
	fold   bool
	others []litSet
}

// mayMatch reports whether s could contain a match. lower returns s lowercased.
func (p prefilter) mayMatch(s string, lower func() string) bool {
	return litSet{p.lits, p.fold}.in(s, isASCII(s), lower) && p.othersIn(s, lower)
}

// othersIn is mayMatch for a string known to hold one of lits.
func (p prefilter) othersIn(s string, lower func() string) bool {
	ascii := isASCII(s)
	for _, set := range p.others {
		if !set.in(s, ascii, lower) {
			return false
		}
	}
	return true
}

// mayMatchString is mayMatch, lowercasing s if a set needs it.
func (p prefilter) mayMatchString(s string) bool {
	return p.mayMatch(s, func() string { return strings.ToLower(s) })
}

func (l litSet) in(s string, ascii bool, lower func() string) bool {
	if l.lits == nil {
		return true
	}
	if l.fold {
		if !ascii {
			return true // (?i) folds some non-ASCII letters into ASCII ones (ſ, K)
		}
		s = lower()
	}
	for _, lit := range l.lits {
		if strings.Contains(s, lit) {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// prefilterOf derives a prefilter from re's syntax; it never rules out a string re matches.
func prefilterOf(re *regexp.Regexp) prefilter {
	t, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return prefilter{}
	}
	in := analyze(t.Simplify())
	all := in.req
	if in.exact != nil {
		all = append(all, *in.exact)
	}
	var sets []litSet
	for _, set := range all {
		if len(set.lits) > 0 && !slices.Contains(set.lits, "") {
			sets = append(sets, set)
		}
	}
	best, ok := mostSelective(sets)
	if !ok {
		return prefilter{}
	}
	p := prefilter{lits: best.lits, fold: best.fold}
	for _, fold := range []bool{false, true} { // exact sets first: they need no lowercased copy
		for _, set := range sets {
			if set.fold == fold && (set.fold != best.fold || !slices.Equal(set.lits, best.lits)) {
				p.others = append(p.others, set)
			}
		}
	}
	return p
}

// Bounds on the literals derived from a pattern: more of them cost more to look for than a
// longer literal saves.
const (
	maxClass = 10 // runes of a character class spelled out as literals
	maxLits  = 16 // literals in a set
)

// facts is what the syntax of a pattern says about the strings it matches.
type facts struct {
	exact *litSet  // they are exactly these literals (nil: unknown or too many)
	req   []litSet // each contains a literal of every set
}

func analyze(t *syntax.Regexp) facts {
	switch t.Op {
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return facts{exact: &litSet{lits: []string{""}}}
	case syntax.OpLiteral:
		return literalFacts(t)
	case syntax.OpCharClass:
		return classFacts(t)
	case syntax.OpCapture:
		return analyze(t.Sub[0])
	case syntax.OpPlus:
		return atLeastOnce(analyze(t.Sub[0]))
	case syntax.OpRepeat:
		if t.Min >= 1 {
			return atLeastOnce(analyze(t.Sub[0]))
		}
	case syntax.OpConcat:
		return concatFacts(t.Sub)
	case syntax.OpAlternate:
		return alternateFacts(t.Sub)
	}
	return facts{}
}

func literalFacts(t *syntax.Regexp) facts {
	fold := false
	var b []byte
	for _, r := range t.Rune {
		if r == utf8.RuneError {
			return facts{} // matches an invalid byte too
		}
		if t.Flags&syntax.FoldCase != 0 && unicode.SimpleFold(r) != r {
			if r > unicode.MaxASCII {
				return facts{} // non-ASCII folding: ASCII lowercasing is not enough
			}
			fold = true
			r = unicode.ToLower(r)
		}
		b = utf8.AppendRune(b, r)
	}
	return facts{exact: &litSet{lits: []string{string(b)}, fold: fold}}
}

// classFacts spells a small character class out. Go folds case into a class when it parses it,
// so its runes match exactly.
func classFacts(t *syntax.Regexp) facts {
	var lits []string
	for i := 0; i+1 < len(t.Rune); i += 2 {
		lo, hi := t.Rune[i], t.Rune[i+1]
		if len(lits)+int(hi-lo)+1 > maxClass {
			return facts{}
		}
		for r := lo; r <= hi; r++ {
			if r == utf8.RuneError || !utf8.ValidRune(r) {
				return facts{}
			}
			lits = append(lits, string(r))
		}
	}
	if len(lits) == 0 {
		return facts{}
	}
	return facts{exact: &litSet{lits: lits}}
}

func atLeastOnce(sub facts) facts {
	out := facts{req: sub.req}
	if sub.exact != nil {
		out.req = append(out.req, *sub.exact)
	}
	return out
}

// concatFacts joins adjacent parts known exactly into longer literals ("gh", [pousr] and "_"
// give ghp_, gho_...); every part's sets are required.
func concatFacts(subs []*syntax.Regexp) facts {
	var out facts
	run, whole := litSet{lits: []string{""}}, true
	for _, sub := range subs {
		f := analyze(sub)
		if f.exact != nil {
			if joined, ok := join(run, *f.exact); ok {
				run = joined
				continue
			}
		}
		whole = false
		out.req = append(out.req, run)
		out.req = append(out.req, f.req...)
		run = litSet{lits: []string{""}}
		if f.exact != nil {
			run = *f.exact
		}
	}
	if whole {
		out.exact = &run
		return out
	}
	out.req = append(out.req, run)
	return out
}

// alternateFacts: a match is a match of one branch, so it contains one of the union of the
// branches' most selective sets.
func alternateFacts(subs []*syntax.Regexp) facts {
	var exact, any litSet
	allExact, allHave := true, true
	for i, sub := range subs {
		f := analyze(sub)
		if f.exact == nil {
			allExact = false
		} else if allExact {
			if i == 0 {
				exact = *f.exact
			} else {
				exact, allExact = union(exact, *f.exact)
			}
		}
		best, ok := mostSelective(slices.Concat(f.req, exactSets(f)))
		if !ok {
			allHave = false
		} else if allHave {
			if i == 0 {
				any = best
			} else {
				any, allHave = union(any, best)
			}
		}
	}
	if allExact && len(subs) > 0 {
		return facts{exact: &exact}
	}
	if allHave && len(subs) > 0 {
		return facts{req: []litSet{any}}
	}
	return facts{}
}

func exactSets(f facts) []litSet {
	if f.exact == nil {
		return nil
	}
	return []litSet{*f.exact}
}

// mostSelective is the set whose shortest literal is longest, then the one with fewest
// literals; sets holding "" rule nothing out.
func mostSelective(sets []litSet) (litSet, bool) {
	var best litSet
	bestLen := 0
	for _, s := range sets {
		if len(s.lits) == 0 || slices.Contains(s.lits, "") {
			continue
		}
		n := len(s.lits[0])
		for _, l := range s.lits {
			n = min(n, len(l))
		}
		if n > bestLen || n == bestLen && len(s.lits) < len(best.lits) {
			best, bestLen = s, n
		}
	}
	return best, bestLen > 0
}

// join is the set of a literal of a followed by one of b. Sets of different case modes give a
// folding set: comparing without case finds everything the exact comparison did.
func join(a, b litSet) (litSet, bool) {
	if len(a.lits)*len(b.lits) > maxLits {
		return litSet{}, false
	}
	out := litSet{fold: a.fold || b.fold}
	for _, x := range a.lits {
		for _, y := range b.lits {
			out.lits = appendNew(out.lits, x+y, out.fold)
		}
	}
	return out, true
}

func union(a, b litSet) (litSet, bool) {
	out := litSet{fold: a.fold || b.fold}
	for _, l := range slices.Concat(a.lits, b.lits) {
		out.lits = appendNew(out.lits, l, out.fold)
	}
	return out, len(out.lits) <= maxLits
}

func appendNew(lits []string, l string, fold bool) []string {
	if fold {
		l = asciiLower(l)
	}
	if slices.Contains(lits, l) {
		return lits
	}
	return append(lits, l)
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// scanner finds in one pass which of up to 64 prefilters' most selective set a string contains.
// Bit i of what scan returns stands for filters[i].
type scanner struct {
	always uint64          // prefilters without literals
	fold   uint64          // prefilters that fold case, which a non-ASCII string may match anyway
	single [256]uint64     // one-byte literals, by their byte
	pairs  [1 << 10]uint64 // the first two bytes of longer literals, as bits c0<<8 | c1
	longer [256][]scanLit  // longer literals, by their first byte
}

type scanLit struct {
	lit  string
	fold bool
	bit  uint64
}

func newScanner(filters []prefilter) *scanner {
	if len(filters) > 64 {
		panic("redact: a scanner takes at most 64 prefilters")
	}
	sc := &scanner{}
	for i, f := range filters {
		bit := uint64(1) << i
		if f.lits == nil {
			sc.always |= bit
			continue
		}
		if f.fold {
			sc.fold |= bit
		}
		for _, l := range f.lits {
			for _, c0 := range cases(l[0], f.fold) {
				if len(l) == 1 {
					sc.single[c0] |= bit
					continue
				}
				sc.longer[c0] = append(sc.longer[c0], scanLit{lit: l, fold: f.fold, bit: bit})
				for _, c1 := range cases(l[1], f.fold) {
					k := uint(c0)<<8 | uint(c1)
					sc.pairs[k>>6] |= 1 << (k & 63)
				}
			}
		}
	}
	return sc
}

// cases are the bytes a literal's byte c matches.
func cases(c byte, fold bool) []byte {
	if fold && 'a' <= c && c <= 'z' {
		return []byte{c, c - 'a' + 'A'}
	}
	return []byte{c}
}

// scan returns the filters whose most selective set s contains: a superset of those whose
// mayMatch(s) holds.
func (sc *scanner) scan(s string) uint64 {
	found := sc.always
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			found |= sc.fold
		}
		found |= sc.single[c]
		if i+1 == len(s) {
			break
		}
		k := uint(c)<<8 | uint(s[i+1])
		if sc.pairs[k>>6]&(1<<(k&63)) == 0 {
			continue
		}
		c1 := s[i+1]
		for _, l := range sc.longer[c] {
			if (l.lit[1] == c1 || l.fold && l.lit[1] == c1|0x20) && found&l.bit == 0 && l.at(s[i:]) {
				found |= l.bit
			}
		}
	}
	return found
}

// at reports whether s starts with the literal.
func (l scanLit) at(s string) bool {
	if len(s) < len(l.lit) {
		return false
	}
	if !l.fold {
		return s[:len(l.lit)] == l.lit
	}
	for i := 0; i < len(l.lit); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != l.lit[i] {
			return false
		}
	}
	return true
}
