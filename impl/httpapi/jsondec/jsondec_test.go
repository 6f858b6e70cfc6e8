package jsondec

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
)

// decodeStd is the decoder Value stands in for: kin-openapi's, which is encoding/json's
// Decoder with UseNumber.
func decodeStd(data []byte) (any, error) {
	return openapi3filter.JSONBodyDecoder(bytes.NewReader(data), nil, nil, nil)
}

// repeatsName reports whether an object in data, which kin-openapi decoded, names a member
// twice.
func repeatsName(t *testing.T, data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var walk func() bool
	walk = func() bool {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("Token on JSON kin-openapi decoded: %v", err)
		}
		switch tok {
		case json.Delim('['):
			for dec.More() {
				if walk() {
					return true
				}
			}
			dec.Token()
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				name, _ := dec.Token()
				if seen[name.(string)] {
					return true
				}
				seen[name.(string)] = true
				if walk() {
					return true
				}
			}
			dec.Token()
		}
		return false
	}
	return walk()
}

func depth(v any) int {
	d := 0
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			d = max(d, depth(e))
		}
		return d + 1
	case map[string]any:
		for _, e := range v {
			d = max(d, depth(e))
		}
		return d + 1
	}
	return 0
}

// check decodes data both ways: Value must give kin-openapi's tree whenever it decodes, and
// decline only what kin-openapi refuses, an object naming a member twice, or nesting beyond
// maxDepth.
func check(t *testing.T, dec *Decoder, data []byte) {
	t.Helper()
	want, err := decodeStd(data)
	got, ok := dec.Value(data)
	switch {
	case ok && err != nil:
		t.Errorf("Value(%q) = %#v, but kin-openapi says %v", data, got, err)
	case ok && !reflect.DeepEqual(got, want):
		t.Errorf("Value(%q) = %#v, kin-openapi decodes %#v", data, got, want)
	case !ok && err == nil && depth(want) <= maxDepth && !repeatsName(t, data) && !trailing(data):
		t.Errorf("Value(%q) declined what kin-openapi decodes as %#v", data, want)
	case ok && trailing(data):
		t.Errorf("Value(%q) accepted data after the first value", data)
	}
}

// trailing reports whether data holds anything but white space after its first JSON value,
// which kin-openapi's decoder ignores and Value declines.
func trailing(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	var v json.RawMessage
	if dec.Decode(&v) != nil {
		return false
	}
	return len(bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n")) > 0
}

var corpus = []string{
	// values and containers
	`null`, `true`, `false`, `0`, `""`, `{}`, `[]`, `[[]]`, `{"a":{}}`, `[{}, [], "", 0, null]`,
	// one value per text
	`{} {}`, `[] ,`, `{"a":1} xx`, "{}\n\t ", `1 2`,
	`{"a":1,"b":[1,2,{"c":null}],"d":{"e":"f"}}`,
	// white space, and bytes that are not white space in JSON
	" \t\r\n{ \t\r\n\"a\" \t\r\n: \t\r\n[ \t\r\n1 \t\r\n, \t\r\n2 \t\r\n] \t\r\n} \t\r\n",
	"\v{}", "\f{}", "\u00a0{}", "{\v}", "[1\f]", "\ufeff{}", "\x00{}",
	// numbers
	`-0`, `-0.0`, `0.5`, `1e5`, `1E5`, `1e+5`, `1e-5`, `-1.5E-10`, `123456789012345678901234567890`,
	`1e400`, `-1e400`, `4.9e-324`, `1.7976931348623157e308`, `[1.0,2.50,-3e0]`,
	`01`, `-01`, `00`, `[01]`, `{"a":01}`, `1.`, `.5`, `+1`, `-`, `1e`, `1e+`, `1.e5`, `0x10`, `1_000`,
	`-x`, `--1`, `1.5.3`, `1e5e5`, `Infinity`, `NaN`, `[-]`, `[1e]`, `[1.]`,
	// literals
	`tru`, `nul`, `fals`, `True`, `NULL`, `[true,false,null]`, `[truefalse]`, `[nul]`, `t`, `n`, `f`,
	// strings and escapes
	`"plain"`, `"\"\\\/\b\f\n\r\t"`, `"\u0041\u00e9\u20AC\uffff"`, `"\u0000"`, `"a\u0000b"`,
	`"\'"`, `"\x41"`, `"\U0041"`, `"\u12"`, `"\u12G4"`, `"\u"`, `"\"`, `"\`, `"abc`, `"`,
	`"tab	inside"`, "\"nl\ninside\"", "\"\x01\"", "\"\x1f\"", "\"\x7f\"", `"é ü 漢字 😀"`,
	// surrogates: a pair, halves alone, halves in the wrong order, a half before another escape
	`"\ud83d\ude00"`, `"\uD83D\uDE00"`, `"\ud83d"`, `"\ude00"`, `"\ude00\ud83d"`, `"\ud83dx"`,
	`"\ud83d\u0041"`, `"\ud83d\ud83d\ude00"`, `"\ud83d\\"`, `"\ud83d\n"`, `"\ud83d\u00"`, `"x\ud83d"`,
	// invalid UTF-8: a lone continuation byte, a truncated sequence, overlong forms, an encoded
	// surrogate, bytes that never appear in UTF-8, a correctly encoded U+FFFD
	"\"\x80\"", "\"a\xc3\"", "\"\xc3\"", "\"\xe2\x82\"", "\"\xf0\x9f\x98\"", "\"\xc0\xaf\"",
	"\"\xe0\x80\xaf\"", "\"\xed\xa0\x80\"", "\"\xed\xb2\x80\"", "\"\xff\xfe\"", "\"\xef\xbf\xbd\"",
	"\"\xf4\x90\x80\x80\"", "\"ok\xffok\\n\"", "{\"k\xff\":\"v\xfe\"}", "\"\xe2\x82\xac\\u00e9\xc3\"",
	// member names
	`{"":1}`, `{"a\nb":1}`, `{"\u0041":1}`, `{"a":1,"A":2}`, `{"é":1}`, `{1:2}`, `{"a" 1}`, `{"a":}`,
	`{"a":1,}`, `[1,]`, `[,1]`, `{,}`, `{"a":1 "b":2}`, `[1 2]`, `{"a"}`, `{"a":1`, `[1`, `[`, `{`,
	// repeated names, which encoding/json takes (the last wins) and Value leaves to it
	`{"a":1,"a":2}`, `{"a":{"b":1,"b":2}}`, `[{"x":1},{"x":1,"y":2,"x":3}]`, `{"\u0061":1,"a":2}`,
	// anything after the first value is not looked at, whatever it is
	`{"a":1} x`, `{"a":1}{"b":2}`, `[1]]`, `{}}`, `1 2`, `"a""b"`, `"a"x`, `truex`, `nullnull`,
	`123abc`, `0 garbage`, "{}\x00\xff", `[] ,`,
	// nothing at all
	``, ` `, "\n\t",
}

func TestValueDecodesAsKinOpenAPI(t *testing.T) {
	dec := New(nil)
	for _, s := range corpus {
		check(t, dec, []byte(s))
	}
	for _, n := range []int{maxDepth - 1, maxDepth, maxDepth + 1, 10000, 10001} {
		check(t, dec, []byte(strings.Repeat("[", n)+strings.Repeat("]", n)))
		check(t, dec, []byte(strings.Repeat(`{"a":`, n)+"1"+strings.Repeat("}", n)))
		check(t, dec, []byte(strings.Repeat("[", n)))
	}
}

func TestValueSharesKnownStrings(t *testing.T) {
	dec := New([]string{"servers", "stdio"})
	data := []byte(`{"servers":[{"transport":"stdio","name":"servers","\u0073tdio":"x"}]}`)
	check(t, dec, data)
	check(t, New(nil), data)
	got, _ := dec.Value(data)
	want, _ := decodeStd(data)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
}

// TestValueDecodesRandomJSONAsKinOpenAPI decodes random documents, and random corruptions
// of them, both ways.
func TestValueDecodesRandomJSONAsKinOpenAPI(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	dec := New([]string{"a", "b", "stdio", "server_name"})
	for i := 0; i < 3000; i++ {
		doc := randomJSON(rng, nil, 0)
		check(t, dec, doc)
		for j := 0; j < 5; j++ {
			check(t, dec, corrupt(rng, doc))
		}
	}
}

var (
	randomStrings = []string{"", "a", "b", "stdio", "server_name", "x y", `\"`, `\\`, `\/`, `\b\f\n\r\t`,
		`\u0041`, `\u00E9`, `\ud83d\ude00`, `\ud83d`, `\ude00`, `\ud83d\u0041`, "\xff", "\xc3", "\xed\xa0\x80",
		"é", "😀", "\u2028", "\x7f", "\xef\xbf\xbd"}
	randomNumbers = []string{"0", "-0", "1", "-1", "10", "3.25", "-0.5", "1e9", "2E-3", "6.02e+23",
		"99999999999999999999999", "1e999"}
	randomSpace = []string{"", "", "", " ", "\n", "\t", "\r\n  "}
)

func randomJSON(rng *rand.Rand, b []byte, depth int) []byte {
	space := func() { b = append(b, randomSpace[rng.IntN(len(randomSpace))]...) }
	str := func() {
		b = append(b, '"')
		for n := rng.IntN(4); n > 0; n-- {
			b = append(b, randomStrings[rng.IntN(len(randomStrings))]...)
		}
		b = append(b, '"')
	}
	space()
	k := rng.IntN(8)
	if depth > 4 {
		k = rng.IntN(6)
	}
	switch k {
	case 0:
		b = append(b, "null"...)
	case 1:
		b = append(b, []string{"true", "false"}[rng.IntN(2)]...)
	case 2, 3:
		b = append(b, randomNumbers[rng.IntN(len(randomNumbers))]...)
	case 4, 5:
		str()
	case 6:
		b = append(b, '[')
		for n := rng.IntN(4); n > 0; n-- {
			b = randomJSON(rng, b, depth+1)
			if n > 1 {
				b = append(b, ',')
			}
		}
		space()
		b = append(b, ']')
	case 7:
		b = append(b, '{')
		seen := map[string]bool{}
		for n := rng.IntN(4); n > 0; n-- {
			space()
			var name string
			for name == "" || seen[name] {
				name = []string{"a", "b", "c", "server_name", "stdio", "é", "k\\n", "\\u0062x"}[rng.IntN(8)]
				if seen[name] {
					name += "x"
				}
			}
			seen[name] = true
			b = append(b, '"')
			b = append(b, name...)
			b = append(b, '"')
			space()
			b = append(b, ':')
			b = randomJSON(rng, b, depth+1)
			if n > 1 {
				b = append(b, ',')
			}
		}
		space()
		b = append(b, '}')
	}
	space()
	return b
}

// corrupt changes, drops or inserts a byte, or cuts the document short.
func corrupt(rng *rand.Rand, doc []byte) []byte {
	out := bytes.Clone(doc)
	if len(out) == 0 {
		return out
	}
	special := []byte(`{}[]",:\ 0-.eE+tfnu` + "\x00\x80\xff\n")
	i := rng.IntN(len(out))
	switch rng.IntN(4) {
	case 0:
		out[i] = special[rng.IntN(len(special))]
	case 1:
		out = append(out[:i], out[i+1:]...)
	case 2:
		out = append(out[:i], append([]byte{special[rng.IntN(len(special))]}, out[i:]...)...)
	case 3:
		out = out[:i]
	}
	return out
}

func FuzzValue(f *testing.F) {
	for _, s := range corpus {
		f.Add([]byte(s))
	}
	dec := New([]string{"a", "stdio"})
	f.Fuzz(func(t *testing.T, data []byte) {
		check(t, dec, data)
	})
}

// Value must not keep what it decoded in its pooled state.
func TestValueLeavesNothingBehind(t *testing.T) {
	dec := New(nil)
	dec.Value([]byte(`{"secret":["s3cr3t",{"k":"v"}],"x":[1,2,3]}`))
	s := states.Get().(*state)
	defer states.Put(s)
	for _, e := range s.elems[:cap(s.elems)] {
		if e != nil {
			t.Errorf("pooled state still holds %#v", e)
		}
	}
	for _, n := range s.names[:cap(s.names)] {
		if n != "" {
			t.Errorf("pooled state still holds %q", n)
		}
	}
	if s.data != nil {
		t.Error("pooled state still holds the input")
	}
}

// A repeated name is left to the caller's decoder: encoding/json keeps the last value, and
// with the jsonv2 experiment kin-openapi refuses the body.
func TestValueDeclinesRepeatedNames(t *testing.T) {
	for _, s := range []string{`{"a":1,"a":1}`, `[{"b":{"a":1,"a":2}}]`, `{"a":1,"\u0061":2}`} {
		if v, ok := New(nil).Value([]byte(s)); ok {
			t.Errorf("Value(%s) = %#v, want it declined", s, v)
		}
	}
}

// reportBody is an agent's 10-server report, as the load generator's changed reports send it
// (impl/httpapi's tests build the same body).
func reportBody(t testing.TB) []byte {
	b, err := os.ReadFile("testdata/report.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reportStrings are the member names and enumerated values of the report's schema, which the
// request validator has its Decoder share.
var reportStrings = []string{"servers", "server_name", "server_type", "command", "client", "config_path",
	"transport", "enabled", "env_vars", "scope", "url", "stdio", "sse", "http", "streamable-http"}

// BenchmarkDecodeReport decodes an agent's report into the generic tree with Value and with
// encoding/json's Decoder and UseNumber (as kin-openapi does), side by side.
func BenchmarkDecodeReport(b *testing.B) {
	body := reportBody(b)
	dec := New(reportStrings)
	want, err := decodeStd(body)
	if err != nil {
		b.Fatal(err)
	}
	if got, ok := dec.Value(body); !ok || !reflect.DeepEqual(got, want) {
		b.Fatalf("Value = %#v, %v; encoding/json decodes %#v", got, ok, want)
	}
	b.Run("jsondec", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := dec.Value(body); !ok {
				b.Fatal("Value declined the report")
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			d := json.NewDecoder(bytes.NewReader(body))
			d.UseNumber()
			var v any
			if err := d.Decode(&v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
