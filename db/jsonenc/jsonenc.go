// Package jsonenc appends JSON text without reflection, for the few hot paths that encode
// known shapes (a report's rows, its hashes, risk explanations) thousands of times a second.
//
// Writing the text of a 10-server report's configuration hashes ([type, command, scope, env,
// transport, url] for each server) takes 975 ns and no allocation here, and 5,098 ns, 3,424 B
// and 63 allocations with encoding/json.Marshal: 5.2 times the time (4.7 to 5.3 times over
// five runs on a noisy 2-core machine). Medians of 10, from
//
//	go test -run '^$' -bench BenchmarkConfigText -benchmem -count 10 ./db/jsonenc
//
// Strings are encoded exactly as encoding/json encodes them (HTML-safe, invalid UTF-8 as
// U+FFFD, U+2028 and U+2029 escaped): configuration hashes are taken over the text
// encoding/json.Marshal writes, and the stored ones, which verification compares, depend on
// every byte of it.
package jsonenc

import "unicode/utf8"

const hex = "0123456789abcdef"

// String appends s as a JSON string, byte for byte as encoding/json.Marshal(s) would.
func String(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if plain[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default: // control characters, and <, > and & (HTML-safe)
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		// U+2028 and U+2029 end lines in JavaScript: encoding/json escapes them.
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// plain holds the ASCII bytes that encoding/json writes as they are.
var plain = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
	}
	return t
}()

// StringPtr appends *s as a JSON string, or null.
func StringPtr(dst []byte, s *string) []byte {
	if s == nil {
		return append(dst, "null"...)
	}
	return String(dst, *s)
}

// Strings appends ss as a JSON array of strings; nil is null, as with encoding/json.
func Strings(dst []byte, ss []string) []byte {
	if ss == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = String(dst, s)
	}
	return append(dst, ']')
}

// Key appends a comma unless the object is just opened, then the object key k (plain ASCII,
// written as it is) and its colon.
func Key(dst []byte, k string) []byte {
	if n := len(dst); n > 0 && dst[n-1] != '{' {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, k...)
	return append(dst, '"', ':')
}
