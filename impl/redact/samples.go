package redact

import (
	"math/rand/v2"
	"net/url"
	"regexp/syntax"
	"strings"
	"unicode"
)

// Sample is a made-up secret in one of the recognised formats: Text is what the format's
// expression matches (the token, or a key name, an assignment and the token), Secret the part
// that must never be stored or shown. Standalone says that Secret alone is recognised, without
// the words around it.
type Sample struct {
	Rule       string
	Text       string
	Secret     string
	Standalone bool
}

// FormatSamples generates one sample of every secret format of the rule files, the same on every
// call; Missing names the formats for which none could be made. Tests put the samples wherever a
// configuration can hold them and check that redaction leaves none.
func FormatSamples() (samples []Sample, missing []string) {
	set := formats()
	for i := range set.rules {
		r := &set.rules[i]
		prog, err := syntax.Parse(r.re.String(), syntax.Perl)
		if err != nil {
			missing = append(missing, r.ID)
			continue
		}
		prog = prog.Simplify()
		found := false
		for try := 0; try < 800 && !found; try++ {
			seed := uint64(try%400 + 1)
			rng := rand.New(rand.NewPCG(seed, uint64(i)))
			var b strings.Builder
			generate(&b, prog, rng)
			text := b.String()
			// gitleaks reads a format only where one of its keywords is: give a sample that
			// lacks one (a bare 40-digit hex string for Sourcegraph) its first keyword as a name.
			if kw := set.index.scan(text); !kw.has(i) && len(r.keywords) > 0 {
				if try < 400 {
					continue // first look for a sample that holds one itself
				}
				text = r.keywords[0] + "=" + text
			}
			m := r.re.FindStringSubmatchIndex(text)
			if m == nil {
				continue
			}
			start, end := r.secretSpan(m)
			secret := text[start:end]
			if len(secret) < 6 || !set.isSecret(r, secret, text[m[0]:m[1]]) {
				continue
			}
			sm := r.re.FindStringSubmatchIndex(secret)
			standalone := false
			if kw := set.index.scan(secret); sm != nil && kw.has(i) {
				s, e := r.secretSpan(sm)
				standalone = secret[s:e] == secret
			}
			samples = append(samples, Sample{Rule: r.ID, Text: text, Secret: secret, Standalone: standalone})
			found = true
		}
		if !found {
			missing = append(missing, r.ID)
		}
	}
	return samples, missing
}

// generate writes a string that re matches (anchors and word boundaries aside, which the caller's
// check settles): optional parts are left out, repeated parts repeat a few times more than they
// must, and characters are taken from the letters and digits of a class where it has some.
func generate(b *strings.Builder, re *syntax.Regexp, rng *rand.Rand) {
	switch re.Op {
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			if re.Flags&syntax.FoldCase != 0 && rng.IntN(2) == 0 {
				r = unicode.SimpleFold(r)
				if r > unicode.MaxASCII {
					r = re.Rune[0]
				}
			}
			b.WriteRune(r)
		}
	case syntax.OpCharClass:
		b.WriteRune(pickRune(re.Rune, rng))
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		b.WriteByte(anyChar[rng.IntN(len(anyChar))])
	case syntax.OpWordBoundary:
		// Between two word characters a boundary needs something else: try a space.
		if s := b.String(); len(s) > 0 && isWordByte(s[len(s)-1]) && rng.IntN(2) == 0 {
			b.WriteByte(' ')
		}
	case syntax.OpCapture:
		generate(b, re.Sub[0], rng)
	case syntax.OpStar, syntax.OpQuest:
	case syntax.OpPlus:
		for range 1 + rng.IntN(24) {
			generate(b, re.Sub[0], rng)
		}
	case syntax.OpRepeat:
		n := re.Min
		if n > 0 {
			extra := 24
			if re.Max >= 0 {
				extra = min(extra, re.Max-re.Min)
			}
			n += rng.IntN(extra + 1)
		}
		for range n {
			generate(b, re.Sub[0], rng)
		}
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			generate(b, sub, rng)
		}
	case syntax.OpAlternate:
		generate(b, re.Sub[rng.IntN(len(re.Sub))], rng)
	}
}

func isWordByte(c byte) bool { return isLetter(c) || isDigit(c) || c == '_' }

const anyChar = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"

// pickRune takes a letter or digit of a class (ranges lo, hi, ...), else a printable ASCII
// character other than a space, else its first.
func pickRune(ranges []rune, rng *rand.Rand) rune {
	for _, want := range []func(rune) bool{
		func(r rune) bool { return r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) },
		func(r rune) bool { return r > ' ' && r < unicode.MaxASCII },
	} {
		var pool []rune
		for i := 0; i+1 < len(ranges); i += 2 {
			for r := ranges[i]; r <= ranges[i+1] && r < unicode.MaxASCII; r++ {
				if want(r) {
					pool = append(pool, r)
				}
			}
		}
		if len(pool) > 0 {
			return pool[rng.IntN(len(pool))]
		}
	}
	return ranges[0]
}

// Placement is a sample put somewhere in an argument vector.
type Placement struct {
	Name string
	Args []string
}

// SamplePlacements puts a sample in every place a launch command can hold it: a bare argument,
// a neutral flag's value (next argument and --flag=), docker's -e NAME=value, a URL's userinfo and
// query. A format recognised only with the words around it (Standalone false) is placed with
// them, its Text; the others are placed alone, their Secret.
func SamplePlacements(s Sample) []Placement {
	v := s.Text
	if s.Standalone {
		v = s.Secret
	}
	launch := []string{"npx", "-y", "@acme/some-mcp"}
	with := func(more ...string) []string { return append(append([]string{}, launch...), more...) }
	ps := []Placement{
		{"bare argument", with(v)},
		{"flag value", with("--input", v)},
		{"flag=value", with("--input=" + v)},
		{"docker -e", []string{"docker", "run", "-i", "--rm", "-e", "INPUT=" + v, "acme/mcp"}},
		{"URL userinfo", with("https://user:" + url.PathEscape(s.Secret) + "@mcp.example.com/mcp")},
	}
	switch {
	case s.Standalone:
		ps = append(ps, Placement{"URL query", with("https://mcp.example.com/mcp?q=" + url.QueryEscape(s.Secret) + "&x=1")})
	case !strings.ContainsAny(s.Text, " \t\r\n&#?\"'"):
		ps = append(ps, Placement{"URL query", with("https://mcp.example.com/mcp?" + s.Text)})
	}
	return ps
}
