// Package jsondec decodes JSON text into the generic tree encoding/json's Decoder builds with
// UseNumber, without reflection, for the request validator, which decodes every JSON body it
// checks.
//
// On an agent's 10-server report (3,318 bytes), Value takes 10,598 ns, 8,608 B and 176
// allocations; encoding/json's Decoder with UseNumber, as kin-openapi decodes a body, takes
// 27,787 ns, 17,600 B and 299 allocations: 2.6 times the time (2.0 to 2.8 times over five runs
// on a noisy 2-core machine) and 2.0 times the bytes. Medians of 10, from
//
//	go test -run '^$' -bench BenchmarkDecodeReport -benchmem -count 10 ./impl/httpapi/jsondec
//
// It decodes valid JSON only. Anything else (a syntax error, nesting deeper than maxDepth, an
// object naming a member twice) is left to the caller's decoder, which names the error or
// decides what a repeated name means, so every error a client sees is that decoder's own.
package jsondec

import (
	"encoding/json"
	"sync"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth is how deeply arrays and objects may nest here; encoding/json allows 10,000.
const maxDepth = 1000

// A Decoder decodes JSON values. It is safe for concurrent use.
type Decoder struct {
	// known holds the strings to share, each boxed once: a member name or string value equal
	// to one of them is decoded as it instead of as a new copy.
	known map[string]any
	// lengths[b] has bit n set when a known string of n bytes starts with b: most strings
	// are not known, and this rules them out without hashing them.
	lengths [256]uint64
}

// New returns a Decoder that shares the given strings (the member names and enumerated
// values an API declares), so that decoding a body allocates nothing for them.
func New(known []string) *Decoder {
	d := &Decoder{known: make(map[string]any, len(known))}
	for _, s := range known {
		if s != "" && len(s) < 64 {
			d.known[s] = s
			d.lengths[s[0]] |= 1 << len(s)
		}
	}
	return d
}

// Value decodes the first JSON value in data as encoding/json's Decoder with UseNumber does:
// objects as map[string]any, arrays as []any, numbers as json.Number, strings (invalid UTF-8
// and unpaired surrogates as U+FFFD), bools and nil. Like the Decoder, it ignores what
// follows the value. ok is false when data does not start with a valid JSON value, nests
// deeper than maxDepth or repeats a member name in an object.
func (dec *Decoder) Value(data []byte) (v any, ok bool) {
	s := states.Get().(*state)
	s.data, s.pos, s.dec = data, 0, dec
	s.skipSpace()
	v, ok = s.value(0)
	if ok {
		// One value per text: anything after it but white space is declined.
		s.skipSpace()
		ok = s.pos == len(s.data)
	}
	s.data, s.dec = nil, nil
	if cap(s.elems) > maxPooled {
		s.elems, s.names = nil, nil // a huge body's stacks are not worth keeping
	}
	states.Put(s)
	return v, ok
}

// A state decodes one value. The arrays and objects it is inside collect their members on
// one stack each, so that every []any and map is allocated once, at its final size.
type state struct {
	data  []byte
	pos   int
	dec   *Decoder
	elems []any
	names []string
}

var states = sync.Pool{New: func() any { return new(state) }}

const maxPooled = 4096

func (s *state) skipSpace() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// value decodes the value at s.pos, which is not white space.
func (s *state) value(depth int) (any, bool) {
	if s.pos >= len(s.data) {
		return nil, false
	}
	switch c := s.data[s.pos]; {
	case c == '{':
		return s.object(depth + 1)
	case c == '[':
		return s.array(depth + 1)
	case c == '"':
		return s.string()
	case c == '-' || '0' <= c && c <= '9':
		return s.number()
	case c == 't':
		return true, s.literal("true")
	case c == 'f':
		return false, s.literal("false")
	case c == 'n':
		return nil, s.literal("null")
	}
	return nil, false
}

func (s *state) literal(word string) bool {
	if len(s.data)-s.pos < len(word) || string(s.data[s.pos:s.pos+len(word)]) != word {
		return false
	}
	s.pos += len(word)
	return true
}

func (s *state) array(depth int) (any, bool) {
	if depth > maxDepth {
		return nil, false
	}
	s.pos++ // [
	s.skipSpace()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		return []any{}, true
	}
	base := len(s.elems)
	defer func() {
		clear(s.elems[base:])
		s.elems = s.elems[:base]
	}()
	for {
		v, ok := s.value(depth)
		if !ok {
			return nil, false
		}
		s.elems = append(s.elems, v)
		s.skipSpace()
		if s.pos >= len(s.data) {
			return nil, false
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
			s.skipSpace()
		case ']':
			s.pos++
			return append([]any(nil), s.elems[base:]...), true
		default:
			return nil, false
		}
	}
}

func (s *state) object(depth int) (any, bool) {
	if depth > maxDepth {
		return nil, false
	}
	s.pos++ // {
	s.skipSpace()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		return map[string]any{}, true
	}
	base, nameBase := len(s.elems), len(s.names)
	defer func() {
		clear(s.elems[base:])
		clear(s.names[nameBase:])
		s.elems, s.names = s.elems[:base], s.names[:nameBase]
	}()
	for {
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return nil, false
		}
		name, ok := s.string()
		if !ok {
			return nil, false
		}
		s.skipSpace()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return nil, false
		}
		s.pos++
		s.skipSpace()
		v, ok := s.value(depth)
		if !ok {
			return nil, false
		}
		s.names = append(s.names, name.(string))
		s.elems = append(s.elems, v)
		s.skipSpace()
		if s.pos >= len(s.data) {
			return nil, false
		}
		switch s.data[s.pos] {
		case ',':
			s.pos++
			s.skipSpace()
		case '}':
			s.pos++
			names, elems := s.names[nameBase:], s.elems[base:]
			m := make(map[string]any, len(elems))
			for i, name := range names {
				m[name] = elems[i]
			}
			if len(m) != len(elems) {
				return nil, false // a repeated name: the caller's decoder decides
			}
			return m, true
		default:
			return nil, false
		}
	}
}

// number decodes a number as its text, checked against JSON's grammar.
func (s *state) number() (any, bool) {
	data, start, i := s.data, s.pos, s.pos
	if data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && '1' <= data[i] && data[i] <= '9':
		i = digits(data, i+1)
	default:
		return nil, false
	}
	if i < len(data) && data[i] == '.' {
		j := digits(data, i+1)
		if j == i+1 {
			return nil, false
		}
		i = j
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		j := digits(data, i)
		if j == i {
			return nil, false
		}
		i = j
	}
	s.pos = i
	return json.Number(data[start:i]), true
}

func digits(data []byte, i int) int {
	for i < len(data) && '0' <= data[i] && data[i] <= '9' {
		i++
	}
	return i
}

// string decodes the string whose opening quote is at s.pos, as a string in an any.
func (s *state) string() (any, bool) {
	data := s.data
	start := s.pos + 1
	escaped, ascii := false, true
	for i := start; i < len(data); i++ {
		for i < len(data) && plain[data[i]] {
			i++
		}
		if i == len(data) {
			break
		}
		switch c := data[i]; {
		case c == '"':
			s.pos = i + 1
			raw := data[start:i]
			if escaped || !ascii && !utf8.Valid(raw) {
				return unquote(raw)
			}
			if len(raw) > 0 && len(raw) < 64 && s.dec.lengths[raw[0]]&(1<<len(raw)) != 0 {
				if v, ok := s.dec.known[string(raw)]; ok {
					return v, true
				}
			}
			return string(raw), true
		case c == '\\':
			escaped = true
			i++ // the escaped byte cannot end the string; unquote checks it
		case c < ' ':
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

// plain tells the bytes a string may hold as they are: printable ASCII but for '"' and '\\'.
var plain = func() (t [256]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// unquote decodes a string's escapes, and replaces invalid UTF-8 and unpaired surrogates with
// U+FFFD, as encoding/json does.
func unquote(s []byte) (any, bool) {
	b := make([]byte, 0, len(s)+utf8.UTFMax)
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == '\\':
			if i+1 >= len(s) {
				return nil, false
			}
			switch e := s[i+1]; e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r, ok := hex4(s[i:])
				if !ok {
					return nil, false
				}
				i += 6
				if utf16.IsSurrogate(r) {
					if r2, ok := hex4(s[i:]); ok {
						if pair := utf16.DecodeRune(r, r2); pair != unicode.ReplacementChar {
							b = utf8.AppendRune(b, pair)
							i += 6
							continue
						}
					}
					r = unicode.ReplacementChar
				}
				b = utf8.AppendRune(b, r)
				continue
			default:
				return nil, false
			}
			i += 2
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			b = utf8.AppendRune(b, r)
			i += size
		}
	}
	return string(b), true
}

// hex4 decodes the \uXXXX escape at the start of s.
func hex4(s []byte) (rune, bool) {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return 0, false
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
