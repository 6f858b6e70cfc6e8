package redact

import (
	"regexp"
	"regexp/syntax"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Redaction runs some thirty patterns over every argument of every reported command, and most
// arguments contain none of them; Go's regexp cannot skip ahead to a pattern that starts with \b,
// so each one walks the whole string. A prefilter derived from each pattern's syntax tree lists
// literals of which every match must contain at least one; strings.Contains rules most
// arguments out at memory speed, and the pattern runs only when one of them is present.

// prefilter holds the literals one of which every match contains; nil means no such set was
// found and the pattern always runs. Literals marked fold are compared case-insensitively.
type prefilter struct {
	lits  []string
	bytes []byteSet // bytes[i] holds the bytes of lits[i]
	fold  bool
}

// byteSet is a set of byte values. A string cannot contain a literal holding a byte it lacks,
// which a few word operations tell before strings.Contains scans anything.
type byteSet [4]uint64

func (b *byteSet) add(c byte)                { b[c>>6] |= 1 << (c & 63) }
func (b byteSet) containsAll(o byteSet) bool { return o[0]&^b[0]|o[1]&^b[1]|o[2]&^b[2]|o[3]&^b[3] == 0 }

// bytesOf is the set of the bytes of s and of their ASCII lowercase, so that it also holds the
// bytes of strings.ToLower(s) when s is ASCII (and folding prefilters give up on other strings).
func bytesOf(s string) byteSet {
	var b byteSet
	for i := 0; i < len(s); i++ {
		c := s[i]
		b.add(c)
		if 'A' <= c && c <= 'Z' {
			b.add(c + 'a' - 'A')
		}
	}
	return b
}

// mayMatch reports whether s could contain a match. lower is s lowercased (computed once by the
// caller when any prefilter folds case).
func (p prefilter) mayMatch(s string, lower func() string) bool {
	return p.mayMatchIn(s, lower, bytesOf(s))
}

// mayMatchIn is mayMatch with the bytes of s (bytesOf) computed once for all prefilters.
func (p prefilter) mayMatchIn(s string, lower func() string, present byteSet) bool {
	if p.lits == nil {
		return true
	}
	if p.fold {
		for i := 0; i < len(s); i++ {
			if s[i] >= utf8.RuneSelf {
				return true // (?i) folds some non-ASCII letters into ASCII ones (ſ, K)
			}
		}
	}
	possible := false
	for i := range p.lits {
		if present.containsAll(p.bytes[i]) {
			possible = true
			break
		}
	}
	if !possible {
		return false
	}
	if p.fold {
		s = lower()
	}
	for _, l := range p.lits {
		if strings.Contains(s, l) {
			return true
		}
	}
	return false
}

// prefilterOf derives a prefilter from re's syntax; it never rules out a string re matches.
func prefilterOf(re *regexp.Regexp) prefilter {
	t, err := syntax.Parse(re.String(), syntax.Perl)
	if err != nil {
		return prefilter{}
	}
	lits, fold, ok := required(t.Simplify())
	if !ok || len(lits) == 0 {
		return prefilter{}
	}
	for _, l := range lits {
		if l == "" {
			return prefilter{}
		}
	}
	sets := make([]byteSet, len(lits))
	for i, l := range lits {
		for j := 0; j < len(l); j++ {
			sets[i].add(l[j])
		}
	}
	return prefilter{lits: lits, bytes: sets, fold: fold}
}

// required returns literals one of which every match of t contains (ok false: none known), and
// whether they are lowercase and must be compared case-insensitively.
func required(t *syntax.Regexp) (lits []string, fold bool, ok bool) {
	switch t.Op {
	case syntax.OpLiteral:
		s := string(t.Rune)
		if t.Flags&syntax.FoldCase == 0 {
			return []string{s}, false, true
		}
		for _, r := range t.Rune {
			if unicode.SimpleFold(r) != r && r > unicode.MaxASCII {
				return nil, false, false // non-ASCII folding: strings.ToLower is not enough
			}
		}
		return []string{strings.ToLower(s)}, true, true
	case syntax.OpCapture, syntax.OpPlus:
		return required(t.Sub[0])
	case syntax.OpRepeat:
		if t.Min >= 1 {
			return required(t.Sub[0])
		}
		return nil, false, false
	case syntax.OpConcat:
		// Every part of a concatenation is in the match: take the part whose shortest literal
		// is longest (the most selective), among parts of one case mode.
		best, bestFold, bestLen := []string(nil), false, 0
		for _, sub := range t.Sub {
			l, f, ok := required(sub)
			if !ok {
				continue
			}
			if n := minLen(l); n > bestLen {
				best, bestFold, bestLen = l, f, n
			}
		}
		return best, bestFold, best != nil
	case syntax.OpAlternate:
		// A match contains a match of one branch: the union, if every branch has literals
		// of the same case mode.
		var all []string
		var mode *bool
		for _, sub := range t.Sub {
			l, f, ok := required(sub)
			if !ok || (mode != nil && *mode != f) {
				return nil, false, false
			}
			mode = &f
			all = append(all, l...)
		}
		if mode == nil {
			return nil, false, false
		}
		return all, *mode, true
	}
	return nil, false, false
}

func minLen(lits []string) int {
	n := -1
	for _, l := range lits {
		if n < 0 || len(l) < n {
			n = len(l)
		}
	}
	return n
}
